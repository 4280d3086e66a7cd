//! Tracked files: `std::fs::File` that reports where it was opened.
//!
//! [`File`] is [`Tracked<std::fs::File>`](crate::Tracked), with `open`,
//! `create` and [`OpenOptions`] that record the path. Everything else of
//! `std::fs::File` is there through `Deref`, and `Read`, `Write` and `Seek`
//! work on `File` and `&File` alike.
//!
//! ```
//! use std::io::{Read, Write};
//! use leakwatch::fs::File;
//!
//! let path = std::env::temp_dir().join("leakwatch-fs-doc.txt");
//! File::create(&path)?.write_all(b"hello")?;
//! let mut text = String::new();
//! File::open(&path)?.read_to_string(&mut text)?;
//! assert_eq!(text, "hello");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::path::Path;

use crate::Tracked;

/// The kind of tracked files in reports.
///
/// ```
/// assert_eq!(leakwatch::fs::KIND, "file");
/// ```
pub const KIND: &str = "file";

/// A tracked `std::fs::File`; the detail in reports is its path.
///
/// ```
/// use std::io::Read;
///
/// let mut text = String::new();
/// leakwatch::fs::File::open("Cargo.toml")?.read_to_string(&mut text)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub type File = Tracked<std::fs::File>;

impl Tracked<std::fs::File> {
    /// Opens `path` read-only, like [`std::fs::File::open`].
    ///
    /// ```
    /// let file = leakwatch::fs::File::open("Cargo.toml")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates or truncates `path` for writing, like
    /// [`std::fs::File::create`].
    ///
    /// ```
    /// let path = std::env::temp_dir().join("leakwatch-create-doc.txt");
    /// let file = leakwatch::fs::File::create(&path)?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates `path` for reading and writing, failing if it exists, like
    /// [`std::fs::File::create_new`].
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("leakwatch-create-new-{}.txt", std::process::id()));
    /// let file = leakwatch::fs::File::create_new(&path)?;
    /// assert!(leakwatch::fs::File::create_new(&path).is_err(), "it exists now");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// Options to open a file with, like [`std::fs::File::options`].
    ///
    /// ```
    /// let opts = leakwatch::fs::File::options();
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// A second handle to the same file, tracked on its own from the
    /// caller's line.
    ///
    /// ```
    /// let a = leakwatch::fs::File::open("Cargo.toml")?;
    /// let b = a.try_clone()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn try_clone(&self) -> io::Result<File> {
        let file = (**self).try_clone()?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return Ok(track(file, Path::new("")));
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Ok(Tracked::new(file, KIND))
    }
}

/// [`std::fs::OpenOptions`] whose `open` returns a tracked [`File`].
///
/// ```
/// let path = std::env::temp_dir().join("leakwatch-options-doc.log");
/// let log = leakwatch::fs::OpenOptions::new().append(true).create(true).open(&path)?;
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// All options off, like [`std::fs::OpenOptions::new`].
    ///
    /// ```
    /// let opts = leakwatch::fs::OpenOptions::new();
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// See [`std::fs::OpenOptions::read`].
    ///
    /// ```
    /// leakwatch::fs::OpenOptions::new().read(true);
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// See [`std::fs::OpenOptions::write`].
    ///
    /// ```
    /// leakwatch::fs::OpenOptions::new().write(true);
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// See [`std::fs::OpenOptions::append`].
    ///
    /// ```
    /// leakwatch::fs::OpenOptions::new().append(true);
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// See [`std::fs::OpenOptions::truncate`].
    ///
    /// ```
    /// leakwatch::fs::OpenOptions::new().write(true).truncate(true);
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// See [`std::fs::OpenOptions::create`].
    ///
    /// ```
    /// leakwatch::fs::OpenOptions::new().write(true).create(true);
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// See [`std::fs::OpenOptions::create_new`].
    ///
    /// ```
    /// leakwatch::fs::OpenOptions::new().write(true).create_new(true);
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// Opens `path`, tracking the file from the caller's line.
    ///
    /// ```
    /// let file = leakwatch::fs::OpenOptions::new().read(true).open("Cargo.toml")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let path = path.as_ref();
        let file = self.0.open(path).map_err(crate::exhausted::note)?;
        Ok(track(file, path))
    }
}

/// On Linux the path is read from `/proc/self/fd` only when a report is
/// made, so opening allocates nothing: a formatted path would cost every
/// tracked open an allocation for what only a failing check reads.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn track(file: std::fs::File, _path: &Path) -> File {
    use std::os::fd::AsFd;
    let tag = crate::Tag::for_fd(KIND, file.as_fd());
    Tracked::from_parts(file, tag)
}

/// Elsewhere the path is recorded at open.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn track(file: std::fs::File, path: &Path) -> File {
    Tracked::with_detail(file, KIND, path.display())
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

/// Unix's `mode` and `custom_flags`, as on [`std::fs::OpenOptions`].
///
/// ```
/// # #[cfg(unix)] {
/// use std::os::unix::fs::OpenOptionsExt;
///
/// let path = std::env::temp_dir().join(format!("leakwatch-mode-doc-{}", std::process::id()));
/// let file = leakwatch::fs::OpenOptions::new().write(true).create(true).mode(0o600).open(&path)?;
/// # std::fs::remove_file(&path)?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(unix)]
impl std::os::unix::fs::OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.0.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(options)
    }
}
