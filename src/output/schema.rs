//! The output files' formats: one serde struct per line of `docs.jsonl` and
//! `clusters.jsonl`, and one for `summary.json`, used by the writer (`output`) and by
//! every reader (`inspect`, `eval`, `report`, through `output::rundir`).
//!
//! Invariant: a field is added with `#[serde(default)]` so that older outputs still read;
//! anything incompatible bumps `FORMAT_VERSION`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::boilerplate::ParagraphSummary;
use crate::cluster::VerifyStats;
use crate::hamming::HammingStats;
use crate::input::FileReport;
use crate::lsh::CandidateStats;
use crate::params::ValidParams;

/// Version of the output formats; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Counts of a run, written to `summary.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Records read.
    pub records: u64,
    /// Records compared (status `ok`).
    pub compared: u64,
    /// Records without words: kept, never compared.
    pub empty: u64,
    /// Records skipped, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Records whose id an earlier record had.
    pub duplicate_ids: u64,
    /// Records whose date is not ISO (ignored for ordering).
    pub dates_not_iso: u64,
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
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `FORMAT_VERSION` of the writer.
    pub format_version: u32,
    /// The version of neardup that wrote it.
    pub neardup_version: &'static str,
    /// The directory the run was started in: relative input paths (kept as typed in
    /// `inputs` and `docs.jsonl`, so they join back) are relative to it.
    pub working_dir: Option<PathBuf>,
    /// The parameters, validated.
    pub params: ValidParams,
    /// Every input file, in the order read.
    pub inputs: Vec<FileReport>,
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
    pub seconds: BTreeMap<&'static str, f64>,
    /// The first messages about skipped records and inputs (all are counted above).
    pub warnings: Vec<String>,
}
