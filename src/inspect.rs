//! Looking into a finished run: its output directory in; its parameters, its per-record
//! lines, the texts of chosen records, and what the run compared for any two of them out.
//!
//! A run directory holds `summary.json` (the validated parameters and the input files) and
//! `docs.jsonl` (one line per input record, in input order). Texts are not stored there:
//! they are read back from the inputs named in the summary, in one streaming pass with the
//! run's own reader, and only the records asked for are kept. If the inputs are gone or
//! differ from what the run read (record count, bytes, ids), the texts are reported as
//! unavailable and nothing computed from them is used.
//!
//! Invariant: a document's compared shingle set is rebuilt with the same library
//! functions the run used (segmentation, normalization, `Shingler`, `ParagraphRecord::kept_shingles`), with
//! the paragraphs `docs.jsonl` lists as boilerplate and repeats removed, so the Jaccard
//! shown here is the Jaccard the run verified.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::document::ParagraphRecord;
use crate::input::{Source, SourceKind, parse_record, read_sources};
use crate::lsh::band_keys;
use crate::paragraph::{ParagraphWorker, Span, segment, snippet};
use crate::params::{CandidateMethod, Params, ValidParams, VerifyMethod, candidate_probability};
use crate::shingle::Shingler;
use crate::sketch::{MinHasher, estimate_jaccard, hamming, simhash};
use crate::text::{Normalized, normalize_into};
use crate::verify::rule::{Match, MatchRule};
use crate::verify::score::{PairScore, intersection_size, jaccard};

/// Errors of reading a run directory or a truth file. Each names the file and, for a bad
/// line, its 1-based line number.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("{path}: no record with id {id:?}")]
    UnknownId { path: PathBuf, id: String },
    #[error(transparent)]
    Run(#[from] crate::Error),
}

pub type Result<T, E = InspectError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InspectError + '_ {
    move |source| InspectError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A paragraph repeat as `docs.jsonl` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RepeatLine {
    pub paragraph: u32,
    pub copy_of: u32,
    pub similarity: f64,
}

/// One line of `docs.jsonl`. Unknown fields are ignored so that newer runs still load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocLine {
    pub id: String,
    pub cluster: Option<u64>,
    pub keep: bool,
    #[serde(default)]
    pub duplicate_of: Option<String>,
    #[serde(default)]
    pub similarity: Option<f64>,
    pub status: String,
    pub file: String,
    #[serde(default)]
    pub line: Option<u64>,
    #[serde(default)]
    pub repeats: Vec<RepeatLine>,
    #[serde(default)]
    pub boilerplate: Vec<u32>,
    /// The representative whose star cluster this record was split off from.
    #[serde(default)]
    pub split_from: Option<String>,
}

impl DocLine {
    /// Compared or empty: the records that have a cluster and can be scored.
    #[must_use]
    pub fn is_scored(&self) -> bool {
        self.status == "ok" || self.status == "empty"
    }
}

/// One input file as `summary.json` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputReport {
    pub path: PathBuf,
    pub records: u64,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub error: Option<String>,
}

/// A loaded run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub dir: PathBuf,
    pub params: ValidParams,
    pub inputs: Vec<InputReport>,
    /// Where the run was started (relative input paths are relative to it).
    pub working_dir: Option<PathBuf>,
    pub docs: Vec<DocLine>,
}

impl RunDir {
    /// Reads `summary.json` and `docs.jsonl` from `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let summary_path = dir.join("summary.json");
        let text = std::fs::read_to_string(&summary_path).map_err(io_err(&summary_path))?;
        let bad = |message: String| InspectError::BadFile {
            path: summary_path.clone(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let params: Params = serde_json::from_value(value["params"].clone())
            .map_err(|e| bad(format!("params: {e}")))?;
        let params = params.validate()?;
        let inputs: Vec<InputReport> = serde_json::from_value(value["inputs"].clone())
            .map_err(|e| bad(format!("inputs: {e}")))?;
        let docs = read_docs(&dir.join("docs.jsonl"))?;
        let working_dir = value["working_dir"].as_str().map(PathBuf::from);
        Ok(RunDir {
            dir: dir.to_path_buf(),
            params,
            inputs,
            working_dir,
            docs,
        })
    }

    /// Record indices of the lines with this id (more than one when ids repeat).
    #[must_use]
    pub fn find(&self, id: &str) -> Vec<usize> {
        (0..self.docs.len())
            .filter(|&i| self.docs[i].id == id)
            .collect()
    }

    fn docs_path(&self) -> PathBuf {
        self.dir.join("docs.jsonl")
    }
}

/// Reads every line of a `docs.jsonl`.
pub fn read_docs(path: &Path) -> Result<Vec<DocLine>> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut docs = Vec::new();
    for (n, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc: DocLine = serde_json::from_str(&line).map_err(|e| InspectError::BadLine {
            path: path.to_path_buf(),
            line: n as u64 + 1,
            message: e.to_string(),
        })?;
        docs.push(doc);
    }
    Ok(docs)
}

/// Whether the texts read back are the ones the run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum Texts {
    Available,
    /// Why not: the inputs are gone, were standard input, or changed since the run.
    Unavailable(String),
}

/// An input path as the run saw it: relative paths are relative to the directory the run
/// was started in (`summary.json`'s `working_dir`, absent in older runs: then the current
/// directory).
#[must_use]
pub fn resolve(working_dir: Option<&Path>, path: &Path) -> PathBuf {
    match working_dir {
        Some(dir) if path.is_relative() && path.as_os_str() != "-" => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Streams the run's inputs once and calls `visit(record, text)` for every record index
/// in `wanted` whose status is ok or empty. Texts passed to `visit` can only be trusted
/// when the result is `Texts::Available`: a change is sometimes noticed only at the end
/// (a file grew), so callers keep what they collect until then and drop it otherwise.
pub fn read_texts<S: std::hash::BuildHasher>(
    run: &RunDir,
    wanted: &HashSet<usize, S>,
    visit: &mut dyn FnMut(usize, &str),
) -> Texts {
    if wanted.is_empty() {
        return Texts::Available;
    }
    if run.inputs.iter().any(|i| i.path.as_os_str() == "-") {
        return Texts::Unavailable("the run read standard input".into());
    }
    // Sources are rebuilt from the run's own account rather than by expanding the paths
    // again: a directory's text files were named relative to the directory, and a file
    // found in a directory is JSONL by its name alone, not by its first byte.
    let mut sources = Vec::with_capacity(run.inputs.len());
    let mut first_doc: HashMap<&str, &DocLine> = HashMap::new();
    for d in &run.docs {
        first_doc.entry(d.file.as_str()).or_insert(d);
    }
    for input in &run.inputs {
        let name = input.path.display().to_string();
        let doc = first_doc.get(name.as_str()).copied();
        let text_file = doc.is_some_and(|d| d.line.is_none());
        let path = resolve(run.working_dir.as_deref(), &input.path);
        if !path.exists() {
            return Texts::Unavailable(format!("{name}: no longer exists"));
        }
        sources.push(Source {
            path,
            kind: if text_file {
                SourceKind::Text
            } else {
                SourceKind::Jsonl
            },
            doc_id: doc.filter(|_| text_file).map(|d| d.id.clone()),
        });
    }
    // the names the run wrote into docs.jsonl: the paths as typed
    let names: Vec<String> = run
        .inputs
        .iter()
        .map(|i| i.path.display().to_string())
        .collect();
    let mut next = 0usize;
    let mut changed: Option<String> = None;
    let input = &run.params.input;
    let result = read_sources(&sources, input, |batch| {
        for rec in batch.records {
            let index = next;
            next += 1;
            if changed.is_some() {
                continue;
            }
            let Some(doc) = run.docs.get(index) else {
                changed = Some(format!(
                    "more records than the {} of docs.jsonl",
                    run.docs.len()
                ));
                continue;
            };
            let name = &names[rec.source as usize];
            let line = rec.position.line().unwrap_or(0);
            if doc.file != *name || doc.line.unwrap_or(0) != line {
                changed = Some(format!(
                    "record {} is {name}:{} now, {}:{} in the run",
                    index + 1,
                    line,
                    doc.file,
                    doc.line.unwrap_or(0)
                ));
                continue;
            }
            if !wanted.contains(&index) || !doc.is_scored() {
                continue;
            }
            let parsed = parse_record(rec.raw, input);
            if parsed.skip.is_some() || parsed.id.as_ref().is_some_and(|id| *id != doc.id) {
                changed = Some(format!(
                    "{name}:{}: not the record {:?} any more",
                    line, doc.id
                ));
                continue;
            }
            visit(index, &parsed.text);
        }
        Ok(())
    });
    let reports = match result {
        Ok(r) => r,
        Err(e) => return Texts::Unavailable(e.to_string()),
    };
    if let Some(why) = changed {
        return Texts::Unavailable(format!("the inputs changed since the run: {why}"));
    }
    if next != run.docs.len() {
        return Texts::Unavailable(format!(
            "the inputs changed since the run: {next} records now, {} then",
            run.docs.len()
        ));
    }
    for (now, then) in reports.iter().zip(&run.inputs) {
        if now.bytes != then.bytes || now.records != then.records {
            return Texts::Unavailable(format!(
                "the inputs changed since the run: {} has {} bytes now, {} then",
                then.path.display(),
                now.bytes,
                then.bytes
            ));
        }
    }
    Texts::Available
}

/// One document as the run compared it.
#[derive(Debug, Clone)]
pub struct DocView {
    pub text: String,
    /// Paragraph byte ranges in `text` (the whole text when the paragraph stage is off).
    pub spans: Vec<Span>,
    /// Each paragraph's shingles, as the run spilled them.
    pub record: ParagraphRecord,
    /// Paragraphs left out of the compared set (boilerplate and repeats), sorted.
    pub removed: Vec<u32>,
    /// The compared set, sorted and de-duplicated.
    pub compared: Vec<u64>,
    /// Every paragraph's shingles, sorted and de-duplicated.
    pub raw: Vec<u64>,
    /// SimHash of the compared shingles with their term frequencies, as the run computed it.
    pub simhash: u64,
}

impl DocView {
    /// Rebuilds what the run compared for `doc`, from its text.
    #[must_use]
    pub fn new(text: &str, doc: &DocLine, params: &ValidParams) -> Self {
        let mut record = ParagraphRecord::default();
        let mut spans = Vec::new();
        if params.paragraphs.enabled {
            ParagraphWorker::default().process(
                text,
                &params.paragraphs,
                &params.shingle,
                &mut record,
            );
            segment(text, params.paragraphs.split, &mut spans);
        } else {
            // the run's whole-text path: one paragraph, shingled as one normalized text
            let mut normalized = Normalized::default();
            normalize_into(text, &mut normalized);
            Shingler::default().append(&normalized, &params.shingle, &mut record.shingles);
            record.offsets.push(record.shingles.len() as u32);
            record.hashes.push(0);
            record.push_snippet("");
            spans.push((0, text.len() as u32));
        }
        let mut removed = Vec::new();
        if params.paragraphs.enabled && params.paragraphs.clean_articles {
            removed.extend_from_slice(&doc.boilerplate);
            removed.extend(doc.repeats.iter().map(|r| r.paragraph));
            removed.sort_unstable();
            removed.dedup();
        }
        let mut multiset = Vec::with_capacity(record.shingles.len());
        record.kept_shingles(&removed, &mut multiset);
        let simhash = simhash(&multiset);
        let mut compared = multiset;
        compared.sort_unstable();
        compared.dedup();
        let mut raw = record.shingles.clone();
        raw.sort_unstable();
        raw.dedup();
        DocView {
            text: text.to_owned(),
            spans,
            record,
            removed,
            compared,
            raw,
            simhash,
        }
    }

    /// Paragraph `i`'s text.
    #[must_use]
    pub fn paragraph(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        &self.text[a as usize..b as usize]
    }

    #[must_use]
    pub fn is_removed(&self, i: usize) -> bool {
        self.removed.binary_search(&(i as u32)).is_ok()
    }

    fn paragraph_set(&self, i: usize) -> Vec<u64> {
        let mut s = self.record.paragraph_shingles(i).to_vec();
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// Set similarity of two sorted shingle sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Similarity {
    pub jaccard: f64,
    /// |A ∩ B| / min(|A|, |B|): high when one document is (mostly) inside the other.
    pub containment: f64,
    /// |A ∩ B| / |A|.
    pub a_in_b: f64,
    /// |A ∩ B| / |B|.
    pub b_in_a: f64,
    pub shared: usize,
    pub a_shingles: usize,
    pub b_shingles: usize,
}

impl Similarity {
    #[must_use]
    pub fn of(a: &[u64], b: &[u64]) -> Self {
        let shared = intersection_size(a, b);
        let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        Similarity {
            jaccard: jaccard(a, b),
            containment: ratio(shared, a.len().min(b.len())),
            a_in_b: ratio(shared, a.len()),
            b_in_a: ratio(shared, b.len()),
            shared,
            a_shingles: a.len(),
            b_shingles: b.len(),
        }
    }
}

/// A paragraph of one document with a near-identical paragraph in the other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    pub a_paragraph: u32,
    pub b_paragraph: u32,
    pub jaccard: f64,
    pub containment: f64,
    /// The first 80 characters of A's paragraph.
    pub snippet: String,
}

/// Paragraph pairs at or above this shingle Jaccard are the same passage ...
pub const PASSAGE_MIN_JACCARD: f64 = 0.5;
/// ... and so are pairs where the smaller is this much inside the larger (a trimmed copy).
pub const PASSAGE_MIN_CONTAINMENT: f64 = 0.8;

/// For each paragraph of `a`, its best match in `b` (highest Jaccard) when they are the
/// same passage. An inverted index over `b`'s shingles keeps this linear in the shingles,
/// so documents with thousands of paragraphs cost no more than their length.
#[must_use]
pub fn match_paragraphs(a: &DocView, b: &DocView) -> Vec<Option<Passage>> {
    let b_sets: Vec<Vec<u64>> = (0..b.spans.len()).map(|j| b.paragraph_set(j)).collect();
    let mut index: HashMap<u64, Vec<u32>> = HashMap::new();
    for (j, set) in b_sets.iter().enumerate() {
        for &s in set {
            index.entry(s).or_default().push(j as u32);
        }
    }
    (0..a.spans.len())
        .map(|i| {
            let set = a.paragraph_set(i);
            let mut overlap: HashMap<u32, usize> = HashMap::new();
            for s in &set {
                for &j in index.get(s).map_or(&[][..], Vec::as_slice) {
                    *overlap.entry(j).or_default() += 1;
                }
            }
            let mut best: Option<Passage> = None;
            let mut candidates: Vec<(u32, usize)> = overlap.into_iter().collect();
            candidates.sort_unstable();
            for (j, shared) in candidates {
                let other = b_sets[j as usize].len();
                let jaccard = shared as f64 / (set.len() + other - shared) as f64;
                let containment = shared as f64 / set.len().min(other) as f64;
                let same = jaccard >= PASSAGE_MIN_JACCARD || containment >= PASSAGE_MIN_CONTAINMENT;
                if same && best.as_ref().is_none_or(|p| jaccard > p.jaccard) {
                    best = Some(Passage {
                        a_paragraph: i as u32,
                        b_paragraph: j,
                        jaccard: round4(jaccard),
                        containment: round4(containment),
                        snippet: snippet(a.paragraph(i)),
                    });
                }
            }
            best
        })
        .collect()
}

/// The passages two documents share among the paragraphs both compared.
#[must_use]
pub fn shared_passages(a: &DocView, b: &DocView) -> Vec<Passage> {
    match_paragraphs(a, b)
        .into_iter()
        .flatten()
        .filter(|p| !a.is_removed(p.a_paragraph as usize) && !b.is_removed(p.b_paragraph as usize))
        .collect()
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// One side of an explained pair.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub id: String,
    /// 0-based record index in `docs.jsonl`.
    pub record: usize,
    pub status: String,
    pub cluster: Option<u64>,
    /// The representative of its cluster (itself when kept).
    pub representative: Option<String>,
    pub file: String,
    pub line: Option<u64>,
    pub boilerplate: Vec<u32>,
    pub repeats: Vec<RepeatLine>,
    /// The representative the star check split this record off from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_from: Option<String>,
    /// Other records with the same id, when ids repeat (the first is explained).
    pub same_id_records: usize,
}

/// What happened to one paragraph when the pair was compared.
#[derive(Debug, Clone, Serialize)]
pub struct ParagraphFate {
    pub paragraph: u32,
    /// `shared`, `only_here`, `boilerplate`, `repeat`.
    pub fate: &'static str,
    /// The matching paragraph of the other document, for a shared one (or a removed one
    /// that has a match).
    pub other: Option<u32>,
    pub jaccard: Option<f64>,
    pub snippet: String,
}

/// The LSH and SimHash view of the pair, from signatures computed with the run's params.
#[derive(Debug, Clone, Serialize)]
pub struct Sketches {
    pub minhash_estimate: f64,
    pub bands: usize,
    pub rows: usize,
    /// Indices (0-based) of the bands whose keys are equal.
    pub bands_collided: Vec<usize>,
    /// Probability that a pair at this (compared) Jaccard collides in at least one band.
    pub collision_probability: f64,
    pub simhash_distance: u32,
    /// Whether the run used SimHash candidates, and within how many bits.
    pub simhash_used: bool,
    pub simhash_k: u32,
}

/// Why two documents are, or are not, in one cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub a: Side,
    pub b: Side,
    pub same_cluster: bool,
    pub threshold: f64,
    pub texts: Texts,
    /// On the compared (cleaned) sets; `None` without texts or for an uncompared record.
    pub compared: Option<Similarity>,
    /// On every paragraph's shingles.
    pub raw: Option<Similarity>,
    pub sketches: Option<Sketches>,
    pub a_paragraphs: Vec<ParagraphFate>,
    pub b_paragraphs: Vec<ParagraphFate>,
    pub verdict: String,
}

fn side(run: &RunDir, id: &str) -> Result<Side> {
    let found = run.find(id);
    let Some(&record) = found.first() else {
        return Err(InspectError::UnknownId {
            path: run.docs_path(),
            id: id.to_owned(),
        });
    };
    let d = &run.docs[record];
    let representative = match (&d.duplicate_of, d.cluster) {
        (Some(r), _) => Some(r.clone()),
        (None, Some(_)) => Some(d.id.clone()),
        (None, None) => None,
    };
    Ok(Side {
        id: d.id.clone(),
        record,
        status: d.status.clone(),
        cluster: d.cluster,
        representative,
        file: d.file.clone(),
        line: d.line,
        boilerplate: d.boilerplate.clone(),
        repeats: d.repeats.clone(),
        split_from: d.split_from.clone(),
        same_id_records: found.len() - 1,
    })
}

fn fates(this: &DocView, doc: &DocLine, other: &DocView) -> Vec<ParagraphFate> {
    let matches = match_paragraphs(this, other);
    matches
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let fate = if doc.boilerplate.contains(&(i as u32)) && this.is_removed(i) {
                "boilerplate"
            } else if this.is_removed(i) {
                "repeat"
            } else if m
                .as_ref()
                .is_some_and(|p| !other.is_removed(p.b_paragraph as usize))
            {
                "shared"
            } else {
                "only_here"
            };
            ParagraphFate {
                paragraph: i as u32,
                fate,
                other: m.as_ref().map(|p| p.b_paragraph),
                jaccard: m.as_ref().map(|p| p.jaccard),
                snippet: snippet(this.paragraph(i)),
            }
        })
        .collect()
}

/// Explains the pair `(id_a, id_b)` of the run in `run`.
pub fn explain(run: &RunDir, id_a: &str, id_b: &str) -> Result<Explanation> {
    let params = &run.params;
    let (a, b) = (side(run, id_a)?, side(run, id_b)?);
    let same_cluster = a.cluster.is_some() && a.cluster == b.cluster;
    let wanted: HashSet<usize> = [a.record, b.record].into_iter().collect();
    let mut texts: HashMap<usize, String> = HashMap::new();
    let state = read_texts(run, &wanted, &mut |i, t| {
        texts.insert(i, t.to_owned());
    });
    let mut out = Explanation {
        same_cluster,
        threshold: params.lsh.threshold,
        texts: state.clone(),
        compared: None,
        raw: None,
        sketches: None,
        a_paragraphs: Vec::new(),
        b_paragraphs: Vec::new(),
        verdict: String::new(),
        a,
        b,
    };
    let both_ok = out.a.status == "ok" && out.b.status == "ok";
    if state == Texts::Available && both_ok {
        let (da, db) = (&run.docs[out.a.record], &run.docs[out.b.record]);
        let va = DocView::new(&texts[&out.a.record], da, params);
        let vb = DocView::new(&texts[&out.b.record], db, params);
        let compared = Similarity::of(&va.compared, &vb.compared);
        out.raw = Some(Similarity::of(&va.raw, &vb.raw));
        let mut hasher = MinHasher::new(&params.minhash);
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        hasher.sketch(&va.compared, &mut sa);
        hasher.sketch(&vb.compared, &mut sb);
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        band_keys(&sa, params.bands(), params.rows(), &mut ka);
        band_keys(&sb, params.bands(), params.rows(), &mut kb);
        out.sketches = Some(Sketches {
            minhash_estimate: estimate_jaccard(&sa, &sb),
            bands: params.bands(),
            rows: params.rows(),
            bands_collided: (0..ka.len()).filter(|&i| ka[i] == kb[i]).collect(),
            collision_probability: candidate_probability(
                compared.jaccard,
                params.bands(),
                params.rows(),
            ),
            simhash_distance: hamming(va.simhash, vb.simhash),
            simhash_used: params.candidates.method != CandidateMethod::MinHash,
            simhash_k: params.simhash.max_hamming,
        });
        out.compared = Some(compared);
        out.a_paragraphs = fates(&va, da, &vb);
        out.b_paragraphs = fates(&vb, db, &va);
    }
    out.verdict = verdict(&out, params, &MatchRule::new(params));
    Ok(out)
}

/// The representative a side was split off from, if the star check split it.
fn run_split_from<'a>(e: &'a Explanation, s: &Side) -> Option<&'a str> {
    if s.id == e.a.id {
        e.a.split_from.as_deref()
    } else {
        e.b.split_from.as_deref()
    }
}

fn verdict(e: &Explanation, params: &ValidParams, rule: &MatchRule) -> String {
    let t = rule.threshold;
    let placement = if e.same_cluster {
        "same cluster"
    } else {
        "different clusters"
    };
    for s in [&e.a, &e.b] {
        if s.status != "ok" {
            return format!(
                "{placement}: {} has status {:?} and was never compared",
                s.id, s.status
            );
        }
    }
    if e.a.record == e.b.record {
        return "same record".into();
    }
    let (Some(c), Some(sk)) = (&e.compared, &e.sketches) else {
        return format!("{placement} (no similarity: texts unavailable)");
    };
    let estimate = params.verify.method == VerifyMethod::Estimate;
    let (score, score_name) = if estimate {
        (sk.minhash_estimate, "MinHash estimate")
    } else {
        (c.jaccard, "Jaccard")
    };
    let pair = PairScore {
        jaccard: score,
        shared: c.shared as u64,
        size_a: c.a_shingles as u64,
        size_b: c.b_shingles as u64,
        shared_text: None,
    };
    let matched = rule.matches(&pair);
    let matches = matched.is_some();
    let why = if matched == Some(Match::Jaccard) {
        format!("{score_name} {score:.4} >= threshold {t}")
    } else if matches {
        let min_c = rule
            .min_containment
            .expect("a containment match needs containment on");
        format!(
            "containment {:.4} >= {min_c} with {} shared shingles ({score_name} {score:.4} \
             below {t})",
            c.containment, c.shared
        )
    } else if let Some(min_c) = rule.min_containment {
        let min_shared = rule.min_shared;
        format!(
            "{score_name} {score:.4} below {t}, containment {:.4} (needs {min_c}) with {} \
             shared shingles (needs {min_shared})",
            c.containment, c.shared
        )
    } else {
        format!("{score_name} {score:.4} below {t}")
    };
    let lsh = params.candidates.method != CandidateMethod::SimHash;
    let collided = match sk.bands_collided.as_slice() {
        [] => "no band collided".to_owned(),
        [one] => format!("band {one} collided"),
        many => format!(
            "bands {} collided",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let simhash_hit = sk.simhash_used && sk.simhash_distance <= sk.simhash_k;
    let found = (lsh && !sk.bands_collided.is_empty()) || simhash_hit;
    let how = match (lsh, sk.simhash_used) {
        (true, false) => collided,
        (false, _) => format!(
            "SimHash distance {} {} k = {}",
            sk.simhash_distance,
            if simhash_hit { "<=" } else { ">" },
            sk.simhash_k
        ),
        (true, true) => format!(
            "{collided}; SimHash distance {} (k = {})",
            sk.simhash_distance, sk.simhash_k
        ),
    };
    let split = |x: &Side, y: &Side| {
        run_split_from(e, x).is_some_and(|from| y.representative.as_deref() == Some(from))
    };
    if e.same_cluster {
        if matches && found {
            format!("same cluster: {why}, {how}")
        } else if matches {
            format!("same cluster: {why}; {how}, so they were joined through other members")
        } else {
            format!(
                "same cluster without matching each other: {why}; each matches the \
                 cluster's representative, or stays with it as a weak link ({how})"
            )
        }
    } else if !matches {
        let rejected = if found {
            " (a candidate, verified and rejected)"
        } else {
            ""
        };
        format!("different clusters: {why}; {how}{rejected}")
    } else if split(&e.a, &e.b) || split(&e.b, &e.a) {
        format!(
            "different clusters: {why}, but the star check split one off: it shares too \
             little with the other's representative (a chain of matches, not one story)"
        )
    } else if !found {
        format!(
            "different clusters: {why} but missed: {how} (collision probability at this \
             similarity: {:.4})",
            sk.collision_probability
        )
    } else {
        format!(
            "different clusters: {why} and {how}, but each was placed in a star around a \
             representative it matches better, or the pair was never verified (a bucket \
             larger than max_bucket = {} pairs only neighbours)",
            params.lsh.max_bucket
        )
    }
}
