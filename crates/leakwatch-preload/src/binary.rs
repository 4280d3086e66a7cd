//! What the preloading process's executable is: a libtest test binary or
//! not, and where its std's `Once::call` lies.

use std::ops::Range;
use std::path::Path;

use object::{Object, ObjectSymbol};

/// The executable's facts, read from its symbol table.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Binary {
    /// Whether libtest runs its `main`: only then is each thread the main
    /// thread starts a test.
    pub(crate) libtest: bool,
    /// Where its std's `Once::call` lies in memory, relocated: what a
    /// static's initializer creates has a frame there.
    pub(crate) once_call: Vec<Range<usize>>,
}

/// Why an executable's symbols could not be read.
#[derive(Debug)]
pub(crate) struct BinaryError {
    path: String,
    why: String,
}

impl BinaryError {
    fn new(path: &Path, why: impl std::fmt::Display) -> BinaryError {
        BinaryError {
            path: path.display().to_string(),
            why: why.to_string(),
        }
    }
}

impl std::fmt::Display for BinaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read the symbols of {}: {}", self.path, self.why)
    }
}

impl Binary {
    /// Reads `path`'s symbol table; `bias` is what its addresses were moved
    /// by at load (the entry point in memory minus the file's).
    pub(crate) fn read(path: &Path, entry_in_memory: usize) -> Result<Binary, BinaryError> {
        let map = map(path)?;
        let elf = parse(path, &map)?;
        let bias = entry_in_memory.wrapping_sub(elf.entry() as usize);
        Ok(Binary::from_symbols(
            elf.symbols()
                .filter_map(|s| Some((s.name().ok()?, s.address(), s.size()))),
            bias,
        ))
    }

    /// The facts from `(name, address, size)` symbols, relocated by `bias`.
    pub(crate) fn from_symbols<'a>(
        symbols: impl Iterator<Item = (&'a str, u64, u64)>,
        bias: usize,
    ) -> Binary {
        let mut binary = Binary::default();
        for (name, address, size) in symbols {
            // Cheap filters on the mangled name first: a test binary has
            // tens of thousands of symbols, and few of these.
            if name.contains("test_main") {
                let plain = format!("{:#}", rustc_demangle::demangle(name));
                binary.libtest |= plain == "test::test_main_static" || plain == "test::test_main";
            } else if name.contains("Once4call") && size > 0 {
                // `<std::sys::sync::once::futex::Once>::call` in v0
                // mangling, `std::sys::..::Once::call` in the legacy one.
                let plain = format!("{:#}", rustc_demangle::demangle(name)).replace(['<', '>'], "");
                if plain.starts_with("std::") && plain.ends_with("::Once::call") {
                    let start = (address as usize).wrapping_add(bias);
                    binary.once_call.push(start..start + size as usize);
                }
            }
        }
        binary
    }
}

/// The paths, without their crate, of the functions in `path`'s symbol
/// table that start with `prefix` (closures counted as the function they
/// are in, generic ones left out): the tests a name cut to `prefix` may be.
/// Demangles every symbol, so it is for a report's name, not for each test.
pub(crate) fn functions_starting(path: &Path, prefix: &str) -> Result<Vec<String>, BinaryError> {
    let map = map(path)?;
    let elf = parse(path, &map)?;
    Ok(paths_starting(
        elf.symbols().filter_map(|s| s.name().ok()),
        prefix,
    ))
}

/// `path`'s bytes, mapped.
fn map(path: &Path) -> Result<memmap2::Mmap, BinaryError> {
    let file = std::fs::File::open(path).map_err(|e| BinaryError::new(path, e))?;
    // SAFETY: the mapping is read-only and private; cargo does not rewrite
    // a test binary while it runs (it writes a new file and renames it), so
    // the bytes do not change under the parse.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| BinaryError::new(path, e))
}

/// `map`'s bytes (of `path`) as an object file.
fn parse<'a>(path: &Path, map: &'a [u8]) -> Result<object::File<'a>, BinaryError> {
    object::File::parse(map).map_err(|e| BinaryError::new(path, e))
}

/// [`functions_starting`] over symbol names.
fn paths_starting<'a>(symbols: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<String> {
    let mut paths: Vec<String> = symbols
        .filter_map(|name| {
            let plain = format!("{:#}", rustc_demangle::try_demangle(name).ok()?);
            let path = crate::name::test_path(&plain)?;
            path.starts_with(prefix).then(|| path.to_owned())
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_found_by_the_start_of_their_path() {
        let symbols = [
            "_ZN7scratch5tests18leaks_a_file_twice17h0123456789abcdefE",
            "_ZN7scratch5tests18leaks_a_file_twice27_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE",
            "_ZN7scratch5tests13leaks_nothing17h0123456789abcdefE",
            "not_rust",
        ];
        assert_eq!(
            paths_starting(symbols.into_iter(), "tests::leaks_a_"),
            ["tests::leaks_a_file_twice"]
        );
    }

    #[test]
    fn this_test_is_found_in_its_binary() {
        let exe = std::env::current_exe().unwrap();
        let found = functions_starting(&exe, "binary::tests::this_test_is_fou").unwrap();
        assert_eq!(found, ["binary::tests::this_test_is_found_in_its_binary"]);
    }

    #[test]
    fn libtest_and_once_call_are_told_from_mangled_names() {
        let symbols = [
            ("_RNvCs3mSbOeLENLV_4test16test_main_static", 0x100, 10),
            (
                "_RNvMs0_NtNtNtNtCsjrHSEGnQ3l9_3std3sys4sync4once5futexNtB5_4Once4call",
                0x2000,
                0x40,
            ),
            ("_ZN5mycrate4Once4call17h0123456789abcdefE", 0x3000, 0x10),
        ];
        let binary = Binary::from_symbols(symbols.into_iter(), 0x1000);
        assert!(binary.libtest);
        assert_eq!(
            binary.once_call,
            vec![Range {
                start: 0x3000,
                end: 0x3040
            }]
        );
    }

    #[test]
    fn a_binary_without_libtest_is_no_test_binary() {
        let symbols = [("_ZN4main4main17h0123456789abcdefE", 0x100, 10)];
        assert_eq!(
            Binary::from_symbols(symbols.into_iter(), 0),
            Binary::default()
        );
    }

    #[test]
    fn this_test_binary_is_read() {
        let exe = std::env::current_exe().unwrap();
        // SAFETY: `getauxval` has no preconditions.
        let entry = unsafe { libc::getauxval(libc::AT_ENTRY) } as usize;
        let binary = Binary::read(&exe, entry).unwrap();
        assert!(binary.libtest);
        assert!(!binary.once_call.is_empty());
        // The range holds std's `Once::call` as this process runs it.
        let mut seen = None;
        std::sync::Once::new().call_once(|| {
            let mut ips = Vec::new();
            backtrace::trace(|frame| {
                ips.push(frame.ip() as usize);
                true
            });
            seen = Some(ips);
        });
        let ips = seen.unwrap();
        assert!(
            ips.iter()
                .any(|ip| binary.once_call.iter().any(|r| r.contains(ip)))
        );
    }

    #[test]
    fn an_unreadable_binary_is_named() {
        let err = Binary::read(Path::new("/nonexistent/x"), 0).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x"), "{err}");
    }
}
