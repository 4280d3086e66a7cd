//! The `#[leakwatch::test]` attribute. Use it through the `leakwatch` crate,
//! which re-exports it; the expansion calls into `leakwatch`.

use proc_macro::TokenStream;

mod entry;

/// Runs a test in a fresh leakwatch scope and fails it if anything it opened
/// is still open at the end. See `leakwatch::test` for the full docs.
///
/// ```ignore
/// #[leakwatch::test]
/// fn no_leaks() {}
///
/// #[leakwatch::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn no_async_leaks() {}
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::test(args.into(), item.into()).into()
}
