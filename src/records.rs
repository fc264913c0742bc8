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

/// Where each record ended up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Assignment {
    /// `None` for a record that could not be read.
    pub cluster: Option<u64>,
    /// The representative of its cluster (or a record of its own): kept.
    pub keep: bool,
    /// Record index of the representative, for a duplicate.
    pub duplicate_of: Option<u32>,
    /// Jaccard similarity to the representative, for a duplicate.
    pub similarity: Option<f64>,
    /// |A ∩ B| / min(|A|, |B|) with the representative, for a duplicate.
    pub containment: Option<f64>,
    /// Record index of the representative of the cluster a chain of matches had joined
    /// this record to, before the star check split it off.
    pub split_from: Option<u32>,
}

impl Assignment {
    /// A record that could not be read: no cluster, not kept.
    pub const UNREAD: Assignment = Assignment {
        cluster: None,
        keep: false,
        duplicate_of: None,
        similarity: None,
        containment: None,
        split_from: None,
    };
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
