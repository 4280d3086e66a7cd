//! The tasks one [`install`](super::install) tracks, by tokio task id.
//!
//! Every poll of every task looks its task up here, so lookups must be cheap,
//! also with a hundred thousand tasks alive. tokio hands out task ids from
//! one counter and never reuses them, so the table is paged by id: task `id`
//! has its own slot in the page that covers it, found with one small map
//! lookup and an index, and tasks spawned one after another sit side by side
//! in memory. The [`SHARDS`] locks split consecutive ids, so worker threads
//! polling neighbouring tasks rarely wait for each other. A page is freed
//! when its last task ends.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use spin::mutex::SpinMutex;
use spin::relax::Yield;

use crate::{ScopeId, Tag};

/// Locks, so the worker threads of a runtime rarely wait for each other.
const SHARDS: usize = 32;
/// Slots per page: a page covers `SHARDS * PAGE` consecutive ids and takes
/// under 400 bytes, the most a long-lived task can keep alive on its own.
const PAGE: usize = 16;

/// A tracked task.
pub(super) struct Task {
    /// The scope the task runs in.
    pub(super) scope: ScopeId,
    /// Its record, closed when the task is dropped.
    pub(super) _tag: Tag,
}

/// Tracked tasks by id.
#[derive(Default)]
pub(super) struct Table {
    shards: [SpinMutex<Shard, Yield>; SHARDS],
}

#[derive(Default)]
struct Shard {
    /// The page of the newest ids, where most spawns and polls land.
    hot: Option<(u64, Box<Page>)>,
    /// Older pages that still hold tasks.
    cold: HashMap<u64, Box<Page>, BuildHasherDefault<IdHasher>>,
    /// Emptied pages, kept to spare allocations.
    #[allow(
        clippy::vec_box,
        reason = "pages move between here, `hot` and `cold`: boxed, a move copies a pointer"
    )]
    spare: Vec<Box<Page>>,
}

/// Emptied pages kept per shard.
const SPARE: usize = 4;

#[derive(Default)]
struct Page {
    /// Tasks in `slots`.
    live: usize,
    slots: [Option<Task>; PAGE],
}

impl Table {
    /// Adds task `id`, which must not be in the table.
    pub(super) fn insert(&self, id: u64, task: Task) {
        let (shard, number, slot) = place(id);
        let mut shard = self.shards[shard].lock();
        let page = match shard.page(number) {
            Some(page) => page,
            None => shard.add_page(number),
        };
        debug_assert!(page.slots[slot].is_none(), "task {id} added twice");
        page.live += usize::from(page.slots[slot].is_none());
        page.slots[slot] = Some(task);
    }

    /// The scope of task `id`, if the table has it.
    pub(super) fn scope(&self, id: u64) -> Option<ScopeId> {
        let (shard, number, slot) = place(id);
        let mut shard = self.shards[shard].lock();
        let task = shard.page(number)?.slots[slot].as_ref()?;
        Some(task.scope)
    }

    /// Takes task `id` out of the table. The caller drops it, closing its
    /// record outside the lock.
    pub(super) fn remove(&self, id: u64) -> Option<Task> {
        let (shard, number, slot) = place(id);
        let mut shard = self.shards[shard].lock();
        let hot = shard.hot.as_ref().is_some_and(|(hot, _)| *hot == number);
        let page = shard.page(number)?;
        let task = page.slots[slot].take()?;
        page.live -= 1;
        // An empty hot page stays: the next ids may land in it.
        if page.live == 0
            && !hot
            && let Some(page) = shard.cold.remove(&number)
        {
            shard.keep_spare(page);
        }
        Some(task)
    }

    #[cfg(test)]
    fn pages(&self) -> usize {
        let hot = |s: &Shard| s.hot.as_ref().is_some_and(|(_, page)| page.live > 0);
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.cold.len() + usize::from(hot(&s))
            })
            .sum()
    }
}

impl Shard {
    /// Page `number`, if it exists.
    #[inline]
    fn page(&mut self, number: u64) -> Option<&mut Page> {
        match &mut self.hot {
            Some((hot, page)) if *hot == number => Some(page),
            _ => self.cold.get_mut(&number).map(|page| &mut **page),
        }
    }

    /// Makes page `number`, which does not exist. A page for newer ids than
    /// the hot one becomes the hot one.
    fn add_page(&mut self, number: u64) -> &mut Page {
        let page = self.spare.pop().unwrap_or_default();
        if self.hot.as_ref().is_some_and(|(hot, _)| *hot > number) {
            return self.cold.entry(number).or_insert(page);
        }
        if let Some((old, old_page)) = self.hot.take() {
            if old_page.live == 0 {
                self.keep_spare(old_page);
            } else {
                self.cold.insert(old, old_page);
            }
        }
        &mut self.hot.insert((number, page)).1
    }

    fn keep_spare(&mut self, page: Box<Page>) {
        if self.spare.len() < SPARE {
            self.spare.push(page);
        }
    }
}

/// The shard, page and slot of task `id`: consecutive ids go to consecutive
/// shards, then to consecutive slots of one page.
#[inline]
fn place(id: u64) -> (usize, u64, usize) {
    let shard = (id % SHARDS as u64) as usize;
    let in_shard = id / SHARDS as u64;
    (
        shard,
        in_shard / PAGE as u64,
        (in_shard % PAGE as u64) as usize,
    )
}

/// Task ids are sequential: no need for SipHash in the overflow map.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::{PAGE, SHARDS, Table, Task};
    use crate::{Scope, Tag};

    fn task(scope: &Scope) -> Task {
        Task {
            scope: scope.id(),
            _tag: Tag::new("task"),
        }
    }

    #[test]
    fn finds_and_removes_tasks_by_id() {
        let (a, b) = (Scope::new("a"), Scope::new("b"));
        let table = Table::default();
        let far = 1 << 40;
        table.insert(7, task(&a));
        table.insert(8, task(&b));
        table.insert(far, task(&b));
        assert_eq!(table.scope(7), Some(a.id()));
        assert_eq!(table.scope(8), Some(b.id()));
        assert_eq!(table.scope(far), Some(b.id()));
        assert_eq!(table.scope(9), None, "same page, no task");
        assert_eq!(table.scope(far + 1), None, "no page");

        assert_eq!(table.remove(7).map(|t| t.scope), Some(a.id()));
        assert_eq!(table.scope(7), None);
        assert!(table.remove(7).is_none());
        assert!(table.remove(9).is_none());
        assert!(table.remove(far).is_some());
        assert!(table.remove(8).is_some());
        assert_eq!(table.pages(), 0, "empty pages are freed");
    }

    #[test]
    fn holds_many_tasks_alive_at_once() {
        let scope = Scope::new("many");
        let table = Table::default();
        let ids: Vec<u64> = (1..=10_000).collect();
        for &id in &ids {
            table.insert(id, task(&scope));
        }
        assert_eq!(table.pages(), 10_000usize.div_ceil(SHARDS * PAGE) * SHARDS);
        assert!(ids.iter().all(|&id| table.scope(id) == Some(scope.id())));
        // Every other one ends, then the rest, in reverse.
        for &id in ids.iter().step_by(2) {
            assert!(table.remove(id).is_some(), "task {id}");
        }
        assert!(
            ids.iter()
                .all(|&id| table.scope(id).is_some() == (id % 2 == 0))
        );
        for &id in ids.iter().rev().filter(|&&id| id % 2 == 0) {
            assert!(table.remove(id).is_some(), "task {id}");
        }
        assert_eq!(table.pages(), 0);
    }
}
