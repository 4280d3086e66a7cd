//! `cfg` helpers: one place says when tracking is compiled in.

/// Items compiled only when tracking is on (debug builds, or the
/// `production` feature).
macro_rules! cfg_on {
    ($($item:item)*) => {
        $(
            #[cfg(any(debug_assertions, feature = "production"))]
            $item
        )*
    };
}

/// Items compiled only when tracking is compiled out.
macro_rules! cfg_off {
    ($($item:item)*) => {
        $(
            #[cfg(not(any(debug_assertions, feature = "production")))]
            $item
        )*
    };
}
