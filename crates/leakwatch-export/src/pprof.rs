//! A capture as a pprof profile: gzipped `profile.proto`, the format of
//! Go's `runtime/pprof`, read by `go tool pprof`, Pyroscope, Parca and
//! Grafana.
//!
//! Each live item is one sample with two values, `items/count` (1) and
//! `age/nanoseconds`, and the string labels `kind`, `scope`, `thread` and,
//! when it has one, `detail` and `file_type` (a descriptor's type of
//! file). Its locations are the frames of the stack that opened it,
//! innermost first; an item without a stack (recorded at
//! `LEAKWATCH=sites`) has its site as its one frame, named
//! `file:line:column`.
//!
//! # Sampled profiles
//!
//! At `LEAKWATCH=sampled:N` one tracked item in N is recorded, at random,
//! each independently. As Go's `runtime/pprof` scales each sample of its
//! heap profile to the allocations it stands for (`scaleHeapSample`), each
//! recorded item's values here are multiplied by its
//! [`weight`](crate::Entry::weight), N: `items` N, and `age` N times its
//! age (so that sums over samples stay item-nanoseconds). The profile's
//! `period_type` is `items/count` and its `period` the largest weight (N,
//! or 1 when nothing was sampled); a sample standing for more than one
//! item also carries the numeric label `weight`. Summed over many items,
//! the scaled counts estimate the true ones: a site with k recorded items
//! stands for about k·N, with a standard deviation of about √(k·N·(N−1))
//! (binomial).
//!
//! ```
//! use prost::Message as _;
//!
//! let conn = leakwatch_core::Tag::new("db-conn");
//! let bytes = leakwatch_export::pprof::encode(&leakwatch_export::Capture::now());
//! let profile = leakwatch_export::pprof::decode(&bytes).unwrap();
//! let types: Vec<&str> = profile
//!     .sample_type
//!     .iter()
//!     .map(|t| profile.string_table[t.r#type as usize].as_str())
//!     .collect();
//! assert_eq!(types, ["items", "age"]);
//! # drop(conn);
//! ```

use std::collections::HashMap;
use std::io::{Read as _, Write as _};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use prost::Message as _;

use std::sync::Arc;

use crate::capture::{Capture, CapturedFrame, CapturedSite, Entry};
use crate::error::{ReadError, ReadErrorKind};

pub mod proto;

/// The gzipped profile of `capture`.
///
/// ```
/// let bytes = leakwatch_export::pprof::encode(&leakwatch_export::Capture::default());
/// assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
/// ```
pub fn encode(capture: &Capture) -> Vec<u8> {
    let raw = profile(capture).encode_to_vec();
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    // Writing to a Vec cannot fail.
    gz.write_all(&raw).expect("gzip into memory");
    gz.finish().expect("gzip into memory")
}

/// Reads a profile, gzipped or not.
///
/// # Errors
///
/// [`ReadErrorKind::NotAProfile`] when the bytes are neither a gzipped nor
/// a plain protobuf `Profile`.
///
/// ```
/// let bytes = leakwatch_export::pprof::encode(&leakwatch_export::Capture::default());
/// assert!(leakwatch_export::pprof::decode(&bytes).is_ok());
/// assert!(leakwatch_export::pprof::decode(b"\x1f\x8b garbage").is_err());
/// ```
pub fn decode(bytes: &[u8]) -> Result<proto::Profile, ReadError> {
    let not_a_profile = |why: String| ReadError::new(ReadErrorKind::NotAProfile(why));
    let mut raw = Vec::new();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        GzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .map_err(|e| not_a_profile(format!("gzip: {e}")))?;
        &raw[..]
    } else {
        bytes
    };
    let profile = proto::Profile::decode(bytes).map_err(|e| not_a_profile(e.to_string()))?;
    if profile.string_table.first().is_none_or(|s| !s.is_empty()) {
        return Err(not_a_profile(
            "its string table does not start with the empty string".into(),
        ));
    }
    Ok(profile)
}

/// The capture a profile written by [`encode`] stands for, to diff or draw
/// it: each sample's `items` value, divided by its `weight` label (1 when
/// it has none), becomes that many entries of that weight, with its labels
/// and its `age` (divided likewise). A profile of sites gives each entry its site and
/// no frames; a profile of stacks gives the frames, and the innermost
/// frame's file and line (column 0) as the site. Ids are not kept.
///
/// # Errors
///
/// [`ReadErrorKind::NotAProfile`] when the profile has no `items` sample
/// type or refers to a string, location or function it does not hold.
///
/// ```
/// use leakwatch_export::{Capture, pprof};
///
/// let tag = leakwatch_core::Tag::new("db-conn");
/// let capture = Capture::now();
/// let back = pprof::to_capture(&pprof::decode(&pprof::encode(&capture)).unwrap()).unwrap();
/// assert_eq!(back.entries().len(), capture.entries().len());
/// # drop(tag);
/// ```
pub fn to_capture(profile: &proto::Profile) -> Result<Capture, ReadError> {
    let bad = |why: String| ReadError::new(ReadErrorKind::NotAProfile(why));
    let string = |i: i64| -> Result<&str, ReadError> {
        usize::try_from(i)
            .ok()
            .and_then(|i| profile.string_table.get(i))
            .map(String::as_str)
            .ok_or_else(|| bad(format!("string {i} is not in its string table")))
    };
    let value_index = |name: &str| -> Result<Option<usize>, ReadError> {
        for (i, t) in profile.sample_type.iter().enumerate() {
            if string(t.r#type)? == name {
                return Ok(Some(i));
            }
        }
        Ok(None)
    };
    let items = value_index("items")?
        .ok_or_else(|| bad("it has no `items` sample type (not written by leakwatch)".into()))?;
    let age = value_index("age")?;
    let locations: HashMap<u64, &proto::Location> =
        profile.location.iter().map(|l| (l.id, l)).collect();
    let functions: HashMap<u64, &proto::Function> =
        profile.function.iter().map(|f| (f.id, f)).collect();
    let mut stacks: HashMap<&[u64], (CapturedSite, Arc<[CapturedFrame]>)> = HashMap::new();
    let mut entries = Vec::new();
    for sample in &profile.sample {
        let (site, frames) = match stacks.get(sample.location_id.as_slice()) {
            Some(known) => known.clone(),
            None => {
                let mut frames = Vec::new();
                for id in &sample.location_id {
                    let location = locations.get(id).ok_or_else(|| {
                        bad(format!("a sample refers to location {id}, which it lacks"))
                    })?;
                    for line in &location.line {
                        let function = functions.get(&line.function_id).ok_or_else(|| {
                            bad(format!(
                                "location {id} refers to function {}, which it lacks",
                                line.function_id
                            ))
                        })?;
                        let file = string(function.filename)?;
                        frames.push(CapturedFrame::new(
                            string(function.name)?,
                            (!file.is_empty()).then_some(file),
                            u32::try_from(line.line).ok().filter(|&l| l > 0),
                        ));
                    }
                }
                let known = site_of(frames);
                stacks.insert(&sample.location_id, known.clone());
                known
            }
        };
        let (mut kind, mut scope, mut thread, mut detail) = (String::new(), 0, String::new(), None);
        let mut file_type = None;
        for label in &sample.label {
            let value = string(label.str)?;
            match string(label.key)? {
                "kind" => kind = value.to_owned(),
                "scope" => scope = value.parse().unwrap_or(0),
                "thread" => thread = value.to_owned(),
                "detail" => detail = Some(value.to_owned()),
                "file_type" => file_type = Some(value.to_owned()),
                _ => {}
            }
        }
        let weight = sample
            .label
            .iter()
            .find(|label| string(label.key).is_ok_and(|key| key == "weight"))
            .map_or(1, |label| label.num.clamp(1, i64::from(u32::MAX)));
        let count = sample.value.get(items).copied().unwrap_or(0).max(0) / weight;
        let age_nanos = age
            .and_then(|i| sample.value.get(i))
            .map_or(0, |&a| u64::try_from(a / weight).unwrap_or(0));
        for _ in 0..count {
            entries.push(
                Entry::from_parts(
                    kind.clone(),
                    site.clone(),
                    detail.clone(),
                    age_nanos,
                    thread.clone(),
                    scope,
                    frames.clone(),
                )
                .with_weight(u32::try_from(weight).unwrap_or(u32::MAX))
                .with_file_type(file_type.clone()),
            );
        }
    }
    Ok(Capture::from_parts(
        u64::try_from(profile.time_nanos).unwrap_or(0),
        entries,
    ))
}

/// A site-only stack is one frame named `file:line:column`; otherwise the
/// innermost frame is the site.
fn site_of(frames: Vec<CapturedFrame>) -> (CapturedSite, Arc<[CapturedFrame]>) {
    if let [only] = frames.as_slice()
        && let Some((file, line, column)) = parse_site(only.function())
        && only.file() == Some(file)
    {
        return (CapturedSite::new(file, line, column), Arc::from([]));
    }
    let site = frames.first().map_or_else(
        || CapturedSite::new("<unknown>", 0, 0),
        |f| CapturedSite::new(f.file().unwrap_or(f.function()), f.line().unwrap_or(0), 0),
    );
    (site, frames.into())
}

fn parse_site(name: &str) -> Option<(&str, u32, u32)> {
    let (rest, column) = name.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some((file, line.parse().ok()?, column.parse().ok()?))
}

/// The profile of `capture`, before gzip.
///
/// ```
/// let p = leakwatch_export::pprof::profile(&leakwatch_export::Capture::default());
/// assert_eq!(p.string_table[0], "");
/// ```
pub fn profile(capture: &Capture) -> proto::Profile {
    let mut b = Builder::default();
    b.string(""); // index 0 is the empty string
    let items = b.string("items");
    let count = b.string("count");
    let age = b.string("age");
    let nanoseconds = b.string("nanoseconds");
    let key_kind = b.string("kind");
    let key_scope = b.string("scope");
    let key_thread = b.string("thread");
    let key_detail = b.string("detail");
    let key_file_type = b.string("file_type");
    let key_weight = b.string("weight");
    let leakwatch = b.string("leakwatch");
    let mut period: u32 = 1;
    let mut scopes: foldhash::HashMap<u64, i64> = foldhash::HashMap::default();
    let (mut last_kind, mut last_thread) = (None, None);
    let entries = capture.entries();
    b.reserve(entries.len());
    let mut samples = Vec::with_capacity(entries.len());
    for entry in entries {
        let location_id = b.locations(entry);
        let scope = *scopes
            .entry(entry.scope())
            .or_insert_with(|| b.owned_string(entry.scope().to_string()));
        let mut label = Vec::with_capacity(4);
        label.push(label_of(key_kind, b.repeated(entry.kind(), &mut last_kind)));
        label.push(label_of(key_scope, scope));
        label.push(label_of(
            key_thread,
            b.repeated(entry.thread(), &mut last_thread),
        ));
        if let Some(detail) = entry.detail() {
            label.push(label_of(key_detail, b.string(detail)));
        }
        if let Some(file_type) = entry.file_type() {
            label.push(label_of(key_file_type, b.string(file_type)));
        }
        let weight = entry.weight();
        if weight != 1 {
            label.push(proto::Label {
                key: key_weight,
                num: i64::from(weight),
                ..Default::default()
            });
        }
        period = period.max(weight);
        let age = i64::try_from(entry.age().as_nanos()).unwrap_or(i64::MAX);
        samples.push(proto::Sample {
            location_id,
            value: vec![i64::from(weight), age.saturating_mul(i64::from(weight))],
            label,
        });
    }
    proto::Profile {
        sample_type: vec![
            proto::ValueType {
                r#type: items,
                unit: count,
            },
            proto::ValueType {
                r#type: age,
                unit: nanoseconds,
            },
        ],
        sample: samples,
        mapping: vec![proto::Mapping {
            id: 1,
            filename: leakwatch,
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            ..Default::default()
        }],
        location: b.location,
        function: b.function,
        string_table: b.strings,
        time_nanos: i64::try_from(capture.taken_at().as_nanos()).unwrap_or(i64::MAX),
        period_type: Some(proto::ValueType {
            r#type: items,
            unit: count,
        }),
        period: i64::from(period),
        default_sample_type: items,
        ..Default::default()
    }
}

fn label_of(key: i64, str: i64) -> proto::Label {
    proto::Label {
        key,
        str,
        ..Default::default()
    }
}

/// Interns strings, functions and locations. Strings borrowed from the
/// capture are looked up without copying; each is copied once, into the
/// table.
#[derive(Default)]
struct Builder<'a> {
    strings: Vec<String>,
    string_ids: foldhash::HashMap<&'a str, i64>,
    /// Strings made here (site names, scope numbers), by value.
    owned_ids: foldhash::HashMap<String, i64>,
    function: Vec<proto::Function>,
    function_ids: foldhash::HashMap<(i64, i64), u64>,
    location: Vec<proto::Location>,
    location_ids: foldhash::HashMap<(u64, i64), u64>,
    /// The locations of each distinct stack (by the address of its shared
    /// frames) and of each site without a stack.
    stacks: foldhash::HashMap<(usize, usize), Vec<u64>>,
    sites: foldhash::HashMap<&'a CapturedSite, u64>,
}

impl<'a> Builder<'a> {
    /// Room for the strings of `entries` entries: most have a detail of
    /// their own.
    fn reserve(&mut self, entries: usize) {
        self.strings.reserve(entries);
        self.string_ids.reserve(entries);
    }

    fn next_string(&mut self, s: String) -> i64 {
        let id = i64::try_from(self.strings.len()).expect("fewer than 2^63 strings");
        self.strings.push(s);
        id
    }

    fn string(&mut self, s: &'a str) -> i64 {
        let next = i64::try_from(self.strings.len()).expect("fewer than 2^63 strings");
        let id = *self.string_ids.entry(s).or_insert(next);
        if id == next {
            self.strings.push(s.to_owned());
        }
        id
    }

    /// [`string`](Self::string) for a string most entries share (a kind,
    /// a thread label): the last one's id is reused without hashing.
    fn repeated(&mut self, s: &'a str, last: &mut Option<(&'a str, i64)>) -> i64 {
        if let Some((seen, id)) = *last
            && std::ptr::eq(seen, s)
        {
            return id;
        }
        let id = self.string(s);
        *last = Some((s, id));
        id
    }

    fn owned_string(&mut self, s: String) -> i64 {
        if let Some(&id) = self.string_ids.get(s.as_str()) {
            return id;
        }
        if let Some(&id) = self.owned_ids.get(&s) {
            return id;
        }
        let id = self.next_string(s.clone());
        self.owned_ids.insert(s, id);
        id
    }

    fn location(&mut self, name: i64, filename: i64, line: Option<u32>) -> u64 {
        let next_function = self.function.len() as u64 + 1;
        let function_id = *self
            .function_ids
            .entry((name, filename))
            .or_insert(next_function);
        if function_id == next_function {
            self.function.push(proto::Function {
                id: function_id,
                name,
                system_name: name,
                filename,
                start_line: 0,
            });
        }
        let line = i64::from(line.unwrap_or(0));
        let next_location = self.location.len() as u64 + 1;
        let location_id = *self
            .location_ids
            .entry((function_id, line))
            .or_insert(next_location);
        if location_id == next_location {
            self.location.push(proto::Location {
                id: location_id,
                mapping_id: 1,
                address: 0,
                line: vec![proto::Line {
                    function_id,
                    line,
                    column: 0,
                }],
                is_folded: false,
            });
        }
        location_id
    }

    fn locations(&mut self, entry: &'a Entry) -> Vec<u64> {
        let frames = entry.frames();
        if frames.is_empty() {
            let site = entry.site();
            if let Some(&id) = self.sites.get(site) {
                return vec![id];
            }
            let name = self.owned_string(site.to_string());
            let file = self.string(site.file());
            let id = self.location(name, file, Some(site.line()));
            self.sites.insert(site, id);
            return vec![id];
        }
        let key = (frames.as_ptr() as usize, frames.len());
        if let Some(ids) = self.stacks.get(&key) {
            return ids.clone();
        }
        let ids: Vec<u64> = frames
            .iter()
            .map(|f| {
                let name = self.string(f.function());
                let file = f.file().map_or(0, |file| self.string(file));
                self.location(name, file, f.line())
            })
            .collect();
        self.stacks.insert(key, ids.clone());
        ids
    }
}
