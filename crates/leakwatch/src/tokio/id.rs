//! Task ids as numbers.
//!
//! `tokio::task::Id` is opaque: it can be printed, compared and hashed, but
//! not turned into the `u64` behind it without formatting. Its `Hash` writes
//! that number whole, so a hasher that keeps what it is given reads it for
//! free. A test checks the result against the printed form, so a change in
//! tokio shows up as a failing test, not as wrong ids.

use std::hash::{Hash, Hasher};

use ::tokio::task::Id;

/// The number tokio prints for task `id`, the id leakwatch's reports show:
/// for your own runtime hooks keeping tasks in an
/// [`IdTable`](crate::integration::IdTable).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let task = tokio::spawn(async {});
/// let id = task.id();
/// assert_eq!(leakwatch::tokio::task_id_as_u64(id).to_string(), id.to_string());
/// # task.await.unwrap();
/// # });
/// ```
#[inline]
pub fn number(id: Id) -> u64 {
    let mut keep = KeepLast(0);
    id.hash(&mut keep);
    keep.0
}

/// A "hasher" whose result is the last integer written to it.
struct KeepLast(u64);

impl Hasher for KeepLast {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut buf = [0; 8];
        let n = bytes.len().min(8);
        buf[..n].copy_from_slice(&bytes[..n]);
        self.0 = u64::from_ne_bytes(buf);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_are_what_tokio_prints() {
        let rt = ::tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for _ in 0..3 {
                let handle = ::tokio::spawn(async {});
                let id = handle.id();
                assert_eq!(number(id).to_string(), id.to_string());
                handle.await.unwrap();
            }
        });
    }
}
