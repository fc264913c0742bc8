//! The run's per-record table: what became of every record, where it came from, and
//! where it ended up.
//!
//! In: one entry per input record, in input order, from the streaming pass; one placement
//! per compared document from clustering. Out: the table the outputs are written from
//! (`output`) and a sweep re-clusters (`tune`).
//!
//! Invariant: every input record has exactly one `RecordMeta` and one `Assignment`, at
//! its index in input order; nothing is dropped silently.

use std::collections::HashMap;

use compact_str::CompactString;
use serde::Serialize;

use crate::cluster::Edge;
use crate::document::PackedPosition;
use crate::error::SkipReason;
use crate::ids::{DocId, DocLists};
use crate::input::Source;
use crate::output::schema::Summary;
use crate::paragraph::Repeat;
use crate::provenance::Provenance;

/// What became of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Compared with the others.
    Ok,
    /// Read fine but has no words: kept as a cluster of its own, never compared.
    Empty,
    /// Could not be used; see the reason.
    Skipped(SkipReason),
}

impl Status {
    /// The status as `docs.jsonl` writes it: `ok`, `empty` or the skip reason.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Empty => "empty",
            Status::Skipped(r) => r.as_str(),
        }
    }
}

/// The little that is kept per record for the whole run.
///
/// Ids and dates are `CompactString`s: up to 24 bytes (a typical id, any ISO date) sit
/// inside the record itself, so a million records do not cost two million small heap
/// allocations (about 64 bytes a record with the allocator's overhead).
#[derive(Debug, Clone)]
pub struct RecordMeta {
    /// The record's id, or its name in its source when it has none.
    pub id: CompactString,
    /// The date field, when it is an ISO date.
    pub date: Option<CompactString>,
    /// Index into `Records::outlets`.
    pub outlet: Option<u32>,
    /// Index of its source in the run's list of sources.
    pub source: u32,
    /// Where the record stands in its source.
    pub position: PackedPosition,
    /// What became of it.
    pub status: Status,
    /// Index among compared documents, for `Status::Ok`.
    pub doc: Option<DocId>,
    /// `Raw::digest` of the record as the first pass read it: `--emit-clean` reads the
    /// inputs again and refuses a record whose bytes changed in between.
    pub raw_digest: u64,
}

/// Per-record table of a run, in input order.
#[derive(Debug, Default)]
pub struct Records {
    /// One per record, in input order.
    pub metas: Vec<RecordMeta>,
    /// Record index of each compared document.
    pub doc_records: Vec<u32>,
    /// Distinct outlet names, in order of first appearance.
    pub outlets: Vec<String>,
    /// Index of each outlet name in `outlets`.
    pub outlet_index: HashMap<String, u32>,
    /// Paragraph repeats of the documents that have any, sorted by document.
    pub repeats: Vec<(DocId, Box<[Repeat]>)>,
    /// Boilerplate paragraph indices of the documents that have any.
    pub boilerplate: DocLists<u32>,
}

impl Records {
    /// The index of an outlet name in `outlets`, added on first sight.
    pub fn outlet_id(&mut self, outlet: String) -> u32 {
        if let Some(&i) = self.outlet_index.get(&outlet) {
            return i;
        }
        let i = self.outlets.len() as u32;
        self.outlets.push(outlet.clone());
        self.outlet_index.insert(outlet, i);
        i
    }

    /// A record's outlet name.
    #[must_use]
    pub fn outlet(&self, meta: &RecordMeta) -> Option<&str> {
        meta.outlet.map(|o| self.outlets[o as usize].as_str())
    }

    /// The paragraph repeats of a compared document.
    #[must_use]
    pub fn repeats_of(&self, doc: DocId) -> &[Repeat] {
        self.repeats
            .binary_search_by_key(&doc, |(d, _)| *d)
            .map_or(&[], |i| &self.repeats[i].1)
    }

    /// The boilerplate paragraphs of a compared document.
    #[must_use]
    pub fn boilerplate_of(&self, doc: DocId) -> &[u32] {
        self.boilerplate.get(doc)
    }
}

/// Where each record ended up. Held for every record until the outputs are written, so
/// it is packed: absent values are sentinels inside the fields rather than `Option`s
/// (40 bytes a record instead of 72); the accessors give the `Option`s back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// `NONE_U64` for a record that could not be read.
    cluster: u64,
    /// `f64::to_bits` of the Jaccard similarity to the representative; `NONE_U64` unless
    /// a duplicate (the bits of a NaN no rounded score has).
    similarity: u64,
    /// `f64::to_bits` of |A ∩ B| / min(|A|, |B|) with the representative; as `similarity`.
    containment: u64,
    /// Record index of the representative, `NONE_U32` unless a duplicate.
    duplicate_of: u32,
    /// Record index of the representative a chain had joined it to, or `NONE_U32`.
    split_from: u32,
    keep: bool,
}

const NONE_U64: u64 = u64::MAX;
const NONE_U32: u32 = u32::MAX;

fn some_u64(v: u64) -> Option<u64> {
    (v != NONE_U64).then_some(v)
}

fn some_u32(v: u32) -> Option<u32> {
    (v != NONE_U32).then_some(v)
}

fn packed_u32(v: Option<u32>) -> u32 {
    v.unwrap_or(NONE_U32)
}

const _: () = assert!(std::mem::size_of::<Assignment>() == 40);

impl Assignment {
    /// A record that could not be read: no cluster, not kept.
    pub const UNREAD: Assignment = Assignment {
        cluster: NONE_U64,
        similarity: NONE_U64,
        containment: NONE_U64,
        duplicate_of: NONE_U32,
        split_from: NONE_U32,
        keep: false,
    };

    /// A kept record: the representative of cluster `cluster` (or a record of its own),
    /// split off the cluster of record `split_from` by the star check, if it was.
    #[must_use]
    pub fn kept(cluster: u64, split_from: Option<u32>) -> Self {
        Assignment {
            cluster,
            keep: true,
            split_from: packed_u32(split_from),
            ..Self::UNREAD
        }
    }

    /// A duplicate of record `of` in cluster `cluster`, with its scores against it.
    #[must_use]
    pub fn duplicate(
        cluster: u64,
        of: u32,
        similarity: f64,
        containment: f64,
        split_from: Option<u32>,
    ) -> Self {
        Assignment {
            cluster,
            similarity: similarity.to_bits(),
            containment: containment.to_bits(),
            duplicate_of: of,
            split_from: packed_u32(split_from),
            keep: false,
        }
    }

    /// What an earlier run decided about a record, as an index stores it: its cluster
    /// and whether it was kept, nothing else.
    #[must_use]
    pub fn stored(cluster: Option<u64>, keep: bool) -> Self {
        Assignment {
            cluster: cluster.unwrap_or(NONE_U64),
            keep,
            ..Self::UNREAD
        }
    }

    /// The same assignment in cluster `cluster`.
    #[must_use]
    pub fn in_cluster(self, cluster: u64) -> Self {
        Assignment { cluster, ..self }
    }

    /// `None` for a record that could not be read.
    #[must_use]
    pub fn cluster(&self) -> Option<u64> {
        some_u64(self.cluster)
    }

    /// The representative of its cluster (or a record of its own): kept.
    #[must_use]
    pub fn keep(&self) -> bool {
        self.keep
    }

    /// Record index of the representative, for a duplicate.
    #[must_use]
    pub fn duplicate_of(&self) -> Option<u32> {
        some_u32(self.duplicate_of)
    }

    /// Jaccard similarity to the representative, for a duplicate.
    #[must_use]
    pub fn similarity(&self) -> Option<f64> {
        some_u64(self.similarity).map(f64::from_bits)
    }

    /// |A ∩ B| / min(|A|, |B|) with the representative, for a duplicate.
    #[must_use]
    pub fn containment(&self) -> Option<f64> {
        some_u64(self.containment).map(f64::from_bits)
    }

    /// Record index of the representative of the cluster a chain of matches had joined
    /// this record to, before the star check split it off.
    #[must_use]
    pub fn split_from(&self) -> Option<u32> {
        some_u32(self.split_from)
    }
}

impl Serialize for Assignment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Assignment", 6)?;
        st.serialize_field("cluster", &self.cluster())?;
        st.serialize_field("keep", &self.keep)?;
        st.serialize_field("duplicate_of", &self.duplicate_of())?;
        st.serialize_field("similarity", &self.similarity())?;
        st.serialize_field("containment", &self.containment())?;
        st.serialize_field("split_from", &self.split_from())?;
        st.end()
    }
}

/// The result of the comparison stages, before anything is written.
pub struct Dedup {
    /// The inputs, in the order their records were read.
    pub sources: Vec<Source>,
    /// The per-record table.
    pub records: Records,
    /// Where each record ended up, in input order.
    pub assignments: Vec<Assignment>,
    /// Per record: how a duplicate relates to its representative.
    pub provenance: Vec<Option<Box<Provenance>>>,
    /// Accepted pairs (document indices, see `Records::doc_records`), in candidate order.
    pub edges: Vec<Edge>,
    /// What `summary.json` will say (timings of the write still to come).
    pub summary: Summary,
    /// For a run against an index: the records before the batch's, which came from the
    /// index and are not written to `docs.jsonl`.
    pub archived: Option<Archived>,
}

/// The archived part of a run against an index (`index`): its first `records` records,
/// what run added each and what changed for their clusters.
#[derive(Debug, Clone, Default)]
pub struct Archived {
    /// Records read from the index, before the batch's.
    pub records: usize,
    /// The run that added each archived record (1 for the run that created the index).
    pub runs: Vec<u64>,
    /// This run's number, as the index will record it.
    pub run: u64,
    /// Clusters whose representative this run changed: cluster id -> the record index
    /// of the representative before.
    pub previous_representative: std::collections::BTreeMap<u64, u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_assignments_give_back_what_they_were_built_with() {
        let dup = Assignment::duplicate(7, 3, 0.875, 1.0, Some(2));
        assert_eq!(dup.cluster(), Some(7));
        assert!(!dup.keep());
        assert_eq!(dup.duplicate_of(), Some(3));
        assert_eq!(dup.similarity(), Some(0.875));
        assert_eq!(dup.containment(), Some(1.0));
        assert_eq!(dup.split_from(), Some(2));
        assert_eq!(dup.in_cluster(9).cluster(), Some(9));
        let kept = Assignment::kept(0, None);
        assert_eq!((kept.cluster(), kept.keep()), (Some(0), true));
        assert_eq!(
            (kept.duplicate_of(), kept.similarity(), kept.split_from()),
            (None, None, None)
        );
        let unread = Assignment::UNREAD;
        assert_eq!((unread.cluster(), unread.keep()), (None, false));
        assert_eq!(Assignment::stored(None, false), unread);
        assert_eq!(Assignment::stored(Some(4), true), Assignment::kept(4, None));
        // the JSON shape is that of the unpacked fields
        assert_eq!(
            serde_json::to_string(&dup).unwrap(),
            r#"{"cluster":7,"keep":false,"duplicate_of":3,"similarity":0.875,"containment":1.0,"split_from":2}"#
        );
        assert_eq!(
            serde_json::to_string(&unread).unwrap(),
            r#"{"cluster":null,"keep":false,"duplicate_of":null,"similarity":null,"containment":null,"split_from":null}"#
        );
    }
}
