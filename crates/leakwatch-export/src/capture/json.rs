//! The JSON form of a capture.
//!
//! Format 2 writes each distinct stack once, in a `stacks` table, and an
//! item opened through one names it by its index (`"stack": 3`): entries
//! opened at the same place share their frames, so a capture of
//! `LEAKWATCH=stacks` stays a few times smaller than one that repeats them.
//!
//! ```text
//! {"leakwatch":2,"taken_unix_nanos":1764633600000000000,
//!  "stacks":[[{"function":"app::db::connect","file":"src/db.rs","line":42}]],
//!  "items":[{"kind":"db-conn","site":{"file":"src/db.rs","line":42,"column":9},
//!            "age_nanos":1500000000,"thread":"'main'","scope":1,"stack":0}]}
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::SerializeSeq as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Capture, CapturedFrame, CapturedSite, Entry};
use crate::error::FORMAT;

impl Serialize for Capture {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The stacks in the order first met; an entry's index by the
        // address of its shared frames.
        let mut stacks: Vec<&[CapturedFrame]> = Vec::new();
        let mut index: foldhash::HashMap<usize, usize> = foldhash::HashMap::default();
        for entry in &self.items {
            if !entry.frames.is_empty() {
                index
                    .entry(entry.frames.as_ptr().addr())
                    .or_insert_with(|| {
                        stacks.push(&entry.frames);
                        stacks.len() - 1
                    });
            }
        }
        Out {
            leakwatch: self.leakwatch,
            taken_unix_nanos: self.taken_unix_nanos,
            stacks,
            items: Items {
                entries: &self.items,
                index: &index,
            },
        }
        .serialize(serializer)
    }
}

#[derive(Serialize)]
struct Out<'a> {
    leakwatch: u64,
    taken_unix_nanos: u64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stacks: Vec<&'a [CapturedFrame]>,
    items: Items<'a>,
}

/// The entries, written one by one as they are (no copy of the list).
struct Items<'a> {
    entries: &'a [Entry],
    index: &'a foldhash::HashMap<usize, usize>,
}

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.entries.len()))?;
        for e in self.entries {
            seq.serialize_element(&EntryOut {
                kind: &e.kind,
                site: &e.site,
                detail: e.detail.as_deref(),
                age_nanos: e.age_nanos,
                thread: &e.thread,
                scope: e.scope,
                id: e.id,
                stack: self.index.get(&e.frames.as_ptr().addr()).copied(),
                file_type: e.file_type.as_deref(),
                weight: e.weight,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct EntryOut<'a> {
    kind: &'a str,
    site: &'a CapturedSite,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    age_nanos: u64,
    thread: &'a str,
    scope: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_type: Option<&'a str>,
    #[serde(skip_serializing_if = "is_one")]
    weight: u32,
}

fn is_one(weight: &u32) -> bool {
    *weight == 1
}

fn one() -> u32 {
    1
}

impl<'de> Deserialize<'de> for Capture {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Capture, D::Error> {
        let wire = In::deserialize(deserializer)?;
        if wire.leakwatch != FORMAT {
            return Err(D::Error::custom(format_args!(
                "format {} is not supported (this leakwatch reads format {FORMAT})",
                wire.leakwatch
            )));
        }
        let stacks: Vec<Arc<[CapturedFrame]>> = wire.stacks.into_iter().map(Arc::from).collect();
        let no_frames: Arc<[CapturedFrame]> = Arc::from([]);
        let mut threads: foldhash::HashMap<String, Arc<str>> = foldhash::HashMap::default();
        let items = wire
            .items
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let frames = match e.stack {
                    None => no_frames.clone(),
                    Some(s) => stacks.get(s).cloned().ok_or_else(|| {
                        D::Error::custom(format_args!(
                            "item {i} names stack {s}, but there are {} stacks",
                            stacks.len()
                        ))
                    })?,
                };
                let thread = threads
                    .entry(e.thread)
                    .or_insert_with_key(|t| Arc::from(t.as_str()))
                    .clone();
                Ok(Entry {
                    kind: Cow::Owned(e.kind),
                    site: e.site,
                    detail: e.detail,
                    age_nanos: e.age_nanos,
                    thread,
                    scope: e.scope,
                    id: e.id,
                    frames,
                    file_type: e.file_type.map(Cow::Owned),
                    weight: e.weight.max(1),
                })
            })
            .collect::<Result<_, D::Error>>()?;
        Ok(Capture {
            leakwatch: wire.leakwatch,
            taken_unix_nanos: wire.taken_unix_nanos,
            items,
        })
    }
}

#[derive(Deserialize)]
struct In {
    leakwatch: u64,
    taken_unix_nanos: u64,
    #[serde(default)]
    stacks: Vec<Vec<CapturedFrame>>,
    items: Vec<EntryIn>,
}

#[derive(Deserialize)]
struct EntryIn {
    kind: String,
    site: CapturedSite,
    #[serde(default)]
    detail: Option<String>,
    age_nanos: u64,
    thread: String,
    scope: u64,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    stack: Option<usize>,
    #[serde(default)]
    file_type: Option<String>,
    #[serde(default = "one")]
    weight: u32,
}

#[cfg(test)]
mod tests {
    use super::super::{Capture, CapturedFrame, CapturedSite, Entry};
    use std::sync::Arc;

    fn entry(frames: &Arc<[CapturedFrame]>) -> Entry {
        Entry::from_parts(
            "db-conn".into(),
            CapturedSite::new("src/db.rs", 42, 9),
            Some("10.0.0.1:5432".into()),
            7,
            "'main'",
            1,
            frames.clone(),
        )
    }

    #[test]
    fn a_shared_stack_is_written_once_and_read_back_shared() {
        let frames: Arc<[CapturedFrame]> = Arc::from([CapturedFrame::new(
            "app::db::connect",
            Some("src/db.rs"),
            Some(42),
        )]);
        let none: Arc<[CapturedFrame]> = Arc::from([]);
        let capture = Capture::from_parts(5, vec![entry(&frames), entry(&frames), entry(&none)]);
        let json = capture.to_json();
        assert_eq!(json.matches("app::db::connect").count(), 1, "{json}");
        assert_eq!(json.matches(r#""stack":0"#).count(), 2, "{json}");
        let back = Capture::from_json(&json).unwrap();
        assert_eq!(back, capture);
        let [a, b, c] = back.entries() else {
            panic!("three entries")
        };
        assert!(Arc::ptr_eq(&a.frames, &b.frames));
        assert!(c.frames().is_empty());
    }

    #[test]
    fn an_item_naming_a_missing_stack_is_refused_with_its_index() {
        let json = r##"{"leakwatch":2,"taken_unix_nanos":0,"stacks":[],"items":[{"kind":"tcp","site":{"file":"a.rs","line":1,"column":1},"age_nanos":0,"thread":"#1","scope":0,"stack":4}]}"##;
        let err = Capture::from_json(json).unwrap_err().to_string();
        assert!(
            err.contains("item 0 names stack 4, but there are 0 stacks"),
            "{err}"
        );
    }
}
