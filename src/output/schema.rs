//! The output files' formats: one serde struct per line of `docs.jsonl` and
//! `clusters.jsonl`, and one for `summary.json`, used by the writer (`output`) and by
//! every reader (`inspect`, `eval`, `report`, through `output::rundir`).
//!
//! Strings are `Cow`: the writer borrows them from the run's tables, a reader owns them
//! (`DocLine<'static>`). Unknown fields are ignored when reading, so that a newer run
//! still loads.
//!
//! Invariant: a field is added with `#[serde(default)]` so that older outputs still read;
//! anything incompatible bumps `FORMAT_VERSION`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::boilerplate::ParagraphSummary;
use crate::cluster::VerifyStats;
use crate::document::Position;
use crate::hamming::HammingStats;
use crate::input::{FileReport, UnreadInput};
use crate::lsh::CandidateStats;
use crate::paragraph::{Repeat, RepeatBlock};
use crate::params::Params;
use crate::provenance::Provenance;

/// Version of the output formats; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// One line of `docs.jsonl`: one input record, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocLine<'a> {
    /// The record's id (or its name in its source, when it has none).
    pub id: Cow<'a, str>,
    /// Its cluster; `None` for a record that could not be read.
    pub cluster: Option<u64>,
    /// The representative of its cluster, or a record of its own.
    pub keep: bool,
    /// The id of its cluster's representative, for a copy.
    #[serde(default)]
    pub duplicate_of: Option<Cow<'a, str>>,
    /// Jaccard similarity to the representative, for a copy.
    #[serde(default)]
    pub similarity: Option<f64>,
    /// |A ∩ B| / min(|A|, |B|) with the representative, for a copy.
    #[serde(default)]
    pub containment: Option<f64>,
    /// The representative whose star cluster this record was split off from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_from: Option<Cow<'a, str>>,
    /// How a copy relates to its representative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Cow<'a, Provenance>>,
    /// `ok`, `empty`, or why the record was skipped.
    pub status: Cow<'a, str>,
    /// The input the record came from, as the run was given it.
    pub file: Cow<'a, str>,
    /// Its 1-based line, in a line-delimited input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The byte offset of its `WARC/1.x` line in the (decompressed) WARC or WET file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Its 0-based row in a Parquet or Arrow file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Paragraphs that repeat an earlier one (with the paragraph stage on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Cow<'a, [Repeat]>>,
    /// Runs of consecutive repeats (with the paragraph stage on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_blocks: Option<Vec<RepeatBlock>>,
    /// Boilerplate paragraph indices (with the paragraph stage on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boilerplate: Option<Cow<'a, [u32]>>,
}

impl DocLine<'_> {
    /// Where the record stands in its input: its line, WARC offset or row, or the whole
    /// file for a text file.
    #[must_use]
    pub fn position(&self) -> Position {
        match (self.line, self.offset, self.row) {
            (Some(n), _, _) => Position::Line(n),
            (_, Some(n), _) => Position::Offset(n),
            (_, _, Some(n)) => Position::Row(n),
            _ => Position::File,
        }
    }

    /// Compared or empty: the records that have a cluster and can be scored.
    #[must_use]
    pub fn is_scored(&self) -> bool {
        self.status == "ok" || self.status == "empty"
    }

    /// Its repeated paragraphs; none without the paragraph stage.
    #[must_use]
    pub fn repeats(&self) -> &[Repeat] {
        self.repeats.as_deref().unwrap_or_default()
    }

    /// Its boilerplate paragraphs; none without the paragraph stage.
    #[must_use]
    pub fn boilerplate(&self) -> &[u32] {
        self.boilerplate.as_deref().unwrap_or_default()
    }
}

/// One line of `clusters.jsonl`: one cluster of two or more records, in cluster order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterLine<'a> {
    /// The cluster's id, as in `docs.jsonl`.
    pub cluster: u64,
    /// Members, the representative included.
    pub size: usize,
    /// The representative's id.
    pub representative: Cow<'a, str>,
    /// Every member, the representative included, in input order.
    pub members: Vec<ClusterMember<'a>>,
    /// Members that do not match the representative by the pair rule.
    #[serde(default)]
    pub weak_links: Vec<Cow<'a, str>>,
    /// Records a chain of matches had joined to this cluster and the star check split off.
    #[serde(default)]
    pub split_off: Vec<Cow<'a, str>>,
    /// Runs against an index only: the id of the cluster's representative before this
    /// run, when this run changed it (an earlier-dated original arrived late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_representative: Option<Cow<'a, str>>,
}

impl ClusterLine<'_> {
    /// The representative's place in `members`: the member with its id and without
    /// provenance (every copy has one). Ids need not be unique (a page crawled twice), so
    /// members are told apart by place, never by id alone.
    #[must_use]
    pub fn original_index(&self) -> Option<usize> {
        let is_rep = |m: &ClusterMember<'_>| m.id == self.representative;
        self.members
            .iter()
            .position(|m| is_rep(m) && m.provenance.is_none())
            .or_else(|| self.members.iter().position(is_rep))
    }

    /// The representative's member entry.
    #[must_use]
    pub fn original(&self) -> Option<&ClusterMember<'_>> {
        self.original_index().map(|i| &self.members[i])
    }

    /// Every member but the representative, with its place in `members`, in the file's
    /// order; a copy that shares the representative's id is a copy like any other.
    pub fn copies(&self) -> impl Iterator<Item = (usize, &ClusterMember<'_>)> {
        let original = self.original_index();
        self.members
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != original)
    }
}

/// A member of a cluster, as `clusters.jsonl` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMember<'a> {
    /// Its id.
    pub id: Cow<'a, str>,
    /// Jaccard similarity to the representative (1 for the representative).
    pub similarity: f64,
    /// Its outlet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlet: Option<Cow<'a, str>>,
    /// Its date, when it is an ISO date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Cow<'a, str>>,
    /// How it relates to the representative; `None` for the representative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Cow<'a, Provenance>>,
    /// Runs against an index only: the run that added the member to the index (1 for the
    /// run that created it); absent for the members this run brought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u64>,
}

/// Counts of a run, written to `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Records read.
    pub records: u64,
    /// Records compared (status `ok`).
    pub compared: u64,
    /// Records without words: kept, never compared.
    pub empty: u64,
    /// Records skipped, by reason (WARC records that are not documents, `not_html` and
    /// `http_status`, among them).
    pub skipped: BTreeMap<String, u64>,
    /// WARC and WET records read, by WARC-Type (`response`, `request`, `metadata`,
    /// `warcinfo`...; `malformed` for a record that could not be read): the `response`,
    /// `resource` and `conversion` records are records of the run, the others are only
    /// counted here.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub warc_records: BTreeMap<String, u64>,
    /// Records whose id an earlier record had.
    pub duplicate_ids: u64,
    /// Records whose date is not ISO (ignored for ordering).
    pub dates_not_iso: u64,
    /// Inputs not read, or not to their end, by reason (`dangling_link`, `link_loop`,
    /// `unreadable`, `truncated`).
    pub input_errors: BTreeMap<String, u64>,
    /// Directory entries skipped by design, by reason (`fifo`, `socket`, `device`).
    pub inputs_skipped: BTreeMap<String, u64>,
    /// Clusters of two or more records.
    pub clusters: u64,
    /// Records in those clusters.
    pub docs_in_clusters: u64,
    /// Records marked as copies.
    pub duplicates: u64,
    /// Records kept.
    pub kept: u64,
}

/// `summary.json`: what a run did, with which parameters, on which inputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// `FORMAT_VERSION` of the writer.
    pub format_version: u32,
    /// The version of neardup that wrote it.
    pub neardup_version: Cow<'static, str>,
    /// The directory the run was started in: relative input paths (kept as typed in
    /// `inputs` and `docs.jsonl`, so they join back) are relative to it.
    #[serde(with = "crate::paths::as_text_opt")]
    pub working_dir: Option<PathBuf>,
    /// `working_dir`'s exact bytes, when it is not UTF-8 (see `crate::paths`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir_hex: Option<String>,
    /// The parameters, as validated (`Params::validate` gives them back validated).
    pub params: Params,
    /// Every input file, in the order read.
    pub inputs: Vec<FileReport>,
    /// Directory entries that were not read: walk errors and skipped special files.
    pub unread_inputs: Vec<UnreadInput>,
    /// What became of the records.
    pub counts: Counts,
    /// The candidate stage.
    pub candidates: CandidateStats,
    /// The SimHash index, when the candidate method uses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simhash: Option<HammingStats>,
    /// The verification stage.
    pub verification: VerifyStats,
    /// Bytes of paragraph records spilled to disk.
    pub spill_bytes: u64,
    /// The paragraph stage, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paragraphs: Option<ParagraphSummary>,
    /// Wall-clock seconds of each stage and of the whole run.
    pub seconds: BTreeMap<String, f64>,
    /// Bytes of temporary disk: `spill` (paragraph records), `band_runs` (band keys
    /// sorted into runs under `--memory`), `paragraph_runs` (boilerplate keys counted
    /// into runs under `--memory`), `texts` (a run adding to an index: its documents'
    /// texts, compressed), `records`, `accepted_pairs`, `placements`, `provenance`,
    /// `assignments` and `duplicates` (the record table, the accepted pairs, the members'
    /// placements, the duplicates' provenance, where each record ended up and the
    /// duplicates grouped by cluster for `clusters.jsonl`) and `peak` (the most held at
    /// once). Like
    /// `seconds`, a figure of how the run went, which `--memory` changes, not of its
    /// result. Empty in runs written before it existed.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub disk: BTreeMap<String, u64>,
    /// The first messages about skipped records and inputs (all are counted above).
    pub warnings: Vec<String>,
    /// Every other file written with this summary (`docs.jsonl`, `clusters.jsonl`,
    /// `clean.jsonl`), by name, with the xxh3-128 digest of its bytes in hex: readers
    /// (`RunDir::open`) refuse a file whose digest differs, as a mixture of two runs.
    /// Empty in runs written before it existed, which are read unchecked.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// Runs against an index only: the index and what this run did to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexRun>,
}

/// `summary.json`'s `index`: a run against a persistent index (`--index`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexRun {
    /// The index directory, as given.
    #[serde(with = "crate::paths::as_text")]
    pub dir: PathBuf,
    /// This run's number: 1 for the run that created the index.
    pub run: u64,
    /// False for a read-only run (`--index-readonly`): the batch was compared, not added.
    pub added: bool,
    /// Records and compared documents the index held before this run.
    pub archived_records: u64,
    /// Compared documents among `archived_records`.
    pub archived_docs: u64,
    /// Archived documents that share a bucket (a band key or an opening key) with a
    /// document of this run: what the probe of the index's band runs found.
    pub probe_hits: u64,
    /// Archived documents this run loaded and compared: the members of the components
    /// of `probe_hits`. The others were not read.
    pub loaded_docs: u64,
    /// Candidate pairs whose verdict this run took from the index (earlier runs scored
    /// them) instead of scoring them again; `verification.verified` counts those it
    /// scored.
    pub stored_verdicts: u64,
    /// Clusters whose representative this run changed (see `clusters.jsonl`'s
    /// `previous_representative`).
    pub representative_changes: u64,
}
