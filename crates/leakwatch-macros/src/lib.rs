//! The `#[leakwatch::test]` attribute. Use it through the `leakwatch` crate,
//! which re-exports it and documents it; the expansion calls into
//! `leakwatch`.

use proc_macro::TokenStream;

mod entry;

/// Runs a test in a fresh leakwatch scope and fails it if anything it opened
/// is still open at the end. See `leakwatch::test` for the arguments.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::test(args.into(), item.into()).into()
}
