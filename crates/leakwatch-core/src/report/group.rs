//! Grouping items that share a finding, a kind and an open site.

use std::collections::HashMap;
use std::time::Duration;

use super::Finding;
use crate::snapshot::{Item, Site};
use crate::stack::{Stack, UserCall};

/// How many distinct details and threads a group lists before "and N more".
pub(super) const SHOWN: usize = 3;

/// Items with the same finding, kind and open site, and, for items a
/// dependency opened, the same call in the user's code that led there.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// let tags: Vec<_> = scope.run(|| (0..3).map(|_| leakwatch_core::Tag::new("conn")).collect());
/// if let Err(report) = scope.check_now() {
///     let group = &report.groups()[0];
///     assert_eq!((group.kind(), group.count()), ("conn", 3));
/// }
/// # drop(tags);
/// ```
#[derive(Clone, Debug)]
pub struct Group {
    finding: Finding,
    kind: &'static str,
    site: Site,
    count: usize,
    oldest: Duration,
    details: Vec<String>,
    more_details: usize,
    threads: Vec<String>,
    stack: Option<Stack>,
    via: Option<UserCall>,
    ids: Vec<u64>,
    waiting: Option<Waiting>,
    /// [`Report::with_traces`](super::Report::with_traces) looked for
    /// where these items are stuck.
    traced: bool,
}

/// Where one item of a group is stuck: a task's await chain.
#[derive(Clone, Debug)]
pub(super) struct Waiting {
    pub(super) id: u64,
    pub(super) trace: String,
}

impl Group {
    /// Why these items are reported.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// println!("{}", group.finding());
    /// # }
    /// ```
    pub fn finding(&self) -> Finding {
        self.finding
    }

    /// Their kind.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// println!("{}", group.kind());
    /// # }
    /// ```
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Where they were opened: the line in the user's code, or, for items a
    /// dependency opened, the dependency's line (see [`Group::via`]).
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// println!("{}:{}", group.site().file(), group.site().line());
    /// # }
    /// ```
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// How many items.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// assert!(group.count() >= 1);
    /// # }
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// The age of the oldest.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// println!("{:?}", group.oldest());
    /// # }
    /// ```
    pub fn oldest(&self) -> Duration {
        self.oldest
    }

    /// Up to three distinct details, oldest item's first.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// for detail in group.details() {
    ///     println!("{detail}");
    /// }
    /// # }
    /// ```
    pub fn details(&self) -> &[String] {
        &self.details
    }

    /// Up to three distinct threads that opened them.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// println!("{}", group.threads().join(", "));
    /// # }
    /// ```
    pub fn threads(&self) -> &[String] {
        &self.threads
    }

    /// The oldest item's stack, if stacks were captured (at
    /// `LEAKWATCH=stacks`, or because a dependency opened the items: see
    /// [`Stack::is_full`]).
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// let frames = group.stack().map(|s| s.frames()).unwrap_or_default();
    /// # }
    /// ```
    pub fn stack(&self) -> Option<&Stack> {
        self.stack.as_ref()
    }

    /// For items whose site is in a dependency, the user's call that led
    /// there: the first frame of the user's code on the stack captured when
    /// they were opened. Items are grouped by it, so each of the user's
    /// lines that leaks through a library is a group of its own.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// if let Some(call) = group.via() {
    ///     println!("opened at {} via {}", group.site(), call.location());
    /// }
    /// # }
    /// ```
    pub fn via(&self) -> Option<&UserCall> {
        self.via.as_ref()
    }

    /// The ids of the group's items that have one (task ids), oldest first.
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// for id in group.ids() {
    ///     println!("task {id}");
    /// }
    /// # }
    /// ```
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// Where the group's oldest item with a known trace is stuck, and its
    /// id: a task's await chain, added by [`Report::with_traces`](super::Report::with_traces).
    ///
    /// ```
    /// # fn show(group: &leakwatch_core::Group) {
    /// if let Some((id, trace)) = group.waiting() {
    ///     println!("task {id} is waiting at:\n{trace}");
    /// }
    /// # }
    /// ```
    pub fn waiting(&self) -> Option<(u64, &str)> {
        self.waiting.as_ref().map(|w| (w.id, w.trace.as_str()))
    }

    pub(super) fn set_waiting(&mut self, waiting: Option<Waiting>) {
        self.waiting = waiting;
        self.traced = true;
    }

    /// A trace was looked for and none of the items had one.
    pub(super) fn untraced(&self) -> bool {
        self.traced && self.waiting.is_none() && !self.ids.is_empty()
    }

    /// Distinct details beyond those in [`Group::details`].
    pub(super) fn more_details(&self) -> usize {
        self.more_details
    }
}

type Key = (Finding, &'static str, Site, Option<UserCall>);

/// Groups `items`, most items first, then oldest first.
pub(super) fn group(items: &[Item]) -> Vec<Group> {
    let mut by_key: HashMap<Key, Vec<&Item>> = HashMap::new();
    for item in items {
        by_key
            .entry((
                item.finding(),
                item.kind(),
                item.site().clone(),
                user_call(item),
            ))
            .or_default()
            .push(item);
    }
    let mut groups: Vec<Group> = by_key
        .into_iter()
        .map(|(key, items)| build(items, key.3))
        .collect();
    groups.sort_by(|a, b| {
        (b.count, b.oldest, a.finding, &a.site).cmp(&(a.count, a.oldest, b.finding, &b.site))
    });
    groups
}

/// The user's call that led a dependency to open `item`, from the stack
/// captured for it (symbolized once per distinct address).
fn user_call(item: &Item) -> Option<UserCall> {
    let in_dependency = match item.location() {
        Some(location) => crate::stack::in_dependency(location),
        // An item seen from outside names its site by file.
        None => item.site().is_known() && crate::stack::in_dependency_file(item.site().file()),
    };
    if !in_dependency {
        return None;
    }
    item.stack().and_then(Stack::user_call)
}

fn build(mut items: Vec<&Item>, via: Option<UserCall>) -> Group {
    // Oldest first; items of one coarse clock tick by id (tasks' ids are
    // their spawn order), then by detail, not by where the snapshot happened
    // to find them (a thread's ring wraps).
    items.sort_by(|a, b| {
        (std::cmp::Reverse(a.age()), a.id(), a.detail()).cmp(&(
            std::cmp::Reverse(b.age()),
            b.id(),
            b.detail(),
        ))
    });
    let first = items[0];
    let mut details: Vec<String> = Vec::new();
    let mut more_details = 0;
    let mut threads: Vec<String> = Vec::new();
    for item in &items {
        if let Some(detail) = item.detail() {
            if details.iter().any(|d| d == detail) {
                continue;
            } else if details.len() < SHOWN {
                details.push(detail.to_owned());
            } else {
                more_details += 1;
            }
        }
    }
    for item in &items {
        if threads.len() < SHOWN && !threads.iter().any(|t| t == item.thread()) {
            threads.push(item.thread().to_owned());
        }
    }
    Group {
        finding: first.finding(),
        kind: first.kind(),
        site: first.site().clone(),
        count: items.len(),
        oldest: first.age(),
        details,
        more_details,
        threads,
        stack: items.iter().find_map(|i| i.stack().cloned()),
        via,
        ids: items.iter().filter_map(|i| i.id()).collect(),
        waiting: None,
        traced: false,
    }
}
