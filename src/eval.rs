//! Evaluation against labels: a run directory and a truth file in; pairwise precision,
//! recall and F1, the adjusted Rand index, paragraph-level repeat scores and the worst
//! mistakes out.
//!
//! Truth comes in two shapes, told apart by the first non-blank line: JSONL with `id` and
//! `family` per line (the generators' `<corpus>.truth.jsonl`, optionally with
//! `repeated_paragraphs`), or lines of positive pairs `id_a id_b` (tab, comma or spaces),
//! whose connected components are the families and where an id never mentioned is a
//! singleton.
//!
//! Invariant: pair counts come from contingency tables (the sum of C(n, 2) over families,
//! clusters and their intersections), never from enumerating pairs, so scoring is linear
//! in the records. Only the listing of mistakes enumerates pairs, inside the intersections
//! it picks from, and at most `MISTAKE_CANDIDATES` of them.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analyze::Analyzer;
use crate::error::{Error, Result};
use crate::inspect::{DocView, Passage, compared_size, shared_passages};
use crate::output::rundir::{RunDir, Texts};
use crate::output::schema::DocLine;
use crate::paragraph::segment;
use crate::verify::score::PairScore;

/// How a truth file was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthFormat {
    /// JSONL, one `{"id", "family"}` per document.
    Families,
    /// Positive pairs, one per line.
    Pairs,
}

/// Labels: a family per document and, when the truth has them, the paragraphs of each
/// document that repeat an earlier one (indices into `text.split("\n\n")`).
#[derive(Debug, Clone)]
pub struct Truth {
    /// The truth file, for the report and for errors.
    pub path: PathBuf,
    /// Which of the two shapes it was written in.
    pub format: TruthFormat,
    family: HashMap<String, u32>,
    /// Sorted paragraph indices per id; `None` when the truth has no paragraph labels.
    pub repeated: Option<HashMap<String, Vec<u32>>>,
    families: u32,
    /// Each family's name (the id of its original, in a families file), by index.
    family_names: Vec<String>,
    /// The hard case each id is, for the ids the truth gives a `kind` (see
    /// `generate::Kind`).
    kinds: HashMap<String, String>,
}

#[derive(Deserialize)]
struct TruthLine {
    id: IdValue,
    family: IdValue,
    #[serde(default)]
    repeated_paragraphs: Option<Vec<u32>>,
    #[serde(default)]
    kind: Option<String>,
}

/// Ids and families may be strings or numbers, as record ids may.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Str(String),
    Num(serde_json::Number),
}

impl IdValue {
    fn into_string(self) -> String {
        match self {
            IdValue::Str(s) => s,
            IdValue::Num(n) => n.to_string(),
        }
    }
}

/// Words a first line of a pairs file may use as column names.
const PAIR_HEADERS: [&str; 6] = ["id_a", "id1", "a", "left", "source", "doc_a"];

impl Truth {
    /// Reads a truth file, detecting its format.
    pub fn load(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::read(path, BufReader::new(file))
    }

    /// Reads truth from `reader`; `path` names it in errors.
    pub fn read(path: &Path, reader: impl BufRead) -> Result<Self> {
        let mut lines = Vec::new();
        for line in reader.lines() {
            lines.push(line.map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?);
        }
        let first = lines.iter().map(|l| l.trim()).find(|l| !l.is_empty());
        if first.is_some_and(|l| l.starts_with('{')) {
            Self::from_families(path, &lines)
        } else {
            Self::from_pairs(path, &lines)
        }
    }

    fn from_families(path: &Path, lines: &[String]) -> Result<Self> {
        let bad = |n: usize, message: String| Error::BadLine {
            path: path.to_path_buf(),
            line: n as u64 + 1,
            message,
        };
        let mut family = HashMap::new();
        let mut family_ids: HashMap<String, u32> = HashMap::new();
        let mut repeated: HashMap<String, Vec<u32>> = HashMap::new();
        let mut any_paragraph_labels = false;
        let mut family_names = Vec::new();
        let mut kinds = HashMap::new();
        for (n, line) in lines.iter().enumerate() {
            let line = line.trim().trim_start_matches('\u{feff}');
            if line.is_empty() {
                continue;
            }
            let t: TruthLine = serde_json::from_str(line)
                .map_err(|e| bad(n, format!("not a truth line with id and family: {e}")))?;
            let id = t.id.into_string();
            let next = family_ids.len() as u32;
            let name = t.family.into_string();
            let f = *family_ids.entry(name.clone()).or_insert_with(|| {
                family_names.push(name);
                next
            });
            if family.insert(id.clone(), f).is_some() {
                return Err(bad(n, format!("id {id:?} appears twice")));
            }
            if let Some(k) = t.kind {
                kinds.insert(id.clone(), k);
            }
            if let Some(mut r) = t.repeated_paragraphs {
                any_paragraph_labels = true;
                r.sort_unstable();
                r.dedup();
                if !r.is_empty() {
                    repeated.insert(id, r);
                }
            }
        }
        Ok(Truth {
            path: path.to_path_buf(),
            format: TruthFormat::Families,
            family,
            repeated: any_paragraph_labels.then_some(repeated),
            families: family_ids.len() as u32,
            family_names,
            kinds,
        })
    }

    fn from_pairs(path: &Path, lines: &[String]) -> Result<Self> {
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut parent: Vec<u32> = Vec::new();
        let mut seen_content = false;
        for (n, line) in lines.iter().enumerate() {
            let line = line.trim().trim_start_matches('\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line
                .split(|c: char| c == '\t' || c == ',' || c.is_whitespace())
                .filter(|f| !f.is_empty())
                .map(|f| f.trim_matches('"'))
                .collect();
            let header = !seen_content && PAIR_HEADERS.contains(&&*fields[0].to_lowercase());
            seen_content = true;
            if header {
                continue;
            }
            if fields.len() != 2 {
                return Err(Error::BadLine {
                    path: path.to_path_buf(),
                    line: n as u64 + 1,
                    message: format!(
                        "expected a pair of ids (tab, comma or space separated), found {} fields",
                        fields.len()
                    ),
                });
            }
            let mut ids = [0u32; 2];
            for (slot, f) in ids.iter_mut().zip(&fields) {
                let next = index.len() as u32;
                *slot = *index.entry((*f).to_owned()).or_insert_with(|| {
                    parent.push(next);
                    next
                });
            }
            let (ra, rb) = (root(&mut parent, ids[0]), root(&mut parent, ids[1]));
            if ra != rb {
                parent[ra.max(rb) as usize] = ra.min(rb);
            }
        }
        let family = index
            .into_iter()
            .map(|(id, i)| (id, root(&mut parent, i)))
            .collect();
        Ok(Truth {
            path: path.to_path_buf(),
            format: TruthFormat::Pairs,
            family,
            repeated: None,
            families: parent.len() as u32,
            family_names: Vec::new(),
            kinds: HashMap::new(),
        })
    }

    /// The id of the original of `id`'s family, when the truth names originals (a
    /// families file) and `id` is not its own original.
    #[must_use]
    pub fn original_of(&self, id: &str) -> Option<&str> {
        if self.format != TruthFormat::Families {
            return None;
        }
        let name = self.family_names.get(*self.family.get(id)? as usize)?;
        (name != id).then_some(name.as_str())
    }

    /// The hard case `id` is (the truth's `kind`), if any.
    #[must_use]
    pub fn kind(&self, id: &str) -> Option<&str> {
        self.kinds.get(id).map(String::as_str)
    }

    /// The family of `id`; for a pairs file, `None` means a singleton.
    #[must_use]
    pub fn family(&self, id: &str) -> Option<u32> {
        self.family.get(id).copied()
    }

    /// True for a file of positive pairs, where unnamed records are singletons.
    #[must_use]
    pub fn is_pairs(&self) -> bool {
        self.format == TruthFormat::Pairs
    }

    /// Ids the truth names.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.family.keys().map(String::as_str)
    }
}

/// Union-find root with path halving (the pairs file's components).
fn root(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        parent[x as usize] = parent[parent[x as usize] as usize];
        x = parent[x as usize];
    }
    x
}

/// Pairwise scores of a predicted partition against a true one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairScores {
    /// Records scored (one label pair each).
    pub records: u64,
    /// Pairs of records in the same true family.
    pub true_pairs: u64,
    /// Pairs of records in the same predicted cluster.
    pub predicted_pairs: u64,
    /// Pairs in the same family and the same cluster.
    pub tp: u64,
    /// Pairs in one cluster but different families (false merges).
    pub fp: u64,
    /// Pairs in one family but different clusters (missed); `fn` in JSON.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// 1 when nothing is predicted (no claim is wrong).
    pub precision: f64,
    /// 1 when there is nothing to find.
    pub recall: f64,
    /// 0 when precision and recall are both 0.
    pub f1: f64,
    /// Adjusted Rand index; 1 when both partitions are all singletons or both one cluster.
    pub ari: f64,
}

fn pairs_of(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Precision, recall and F1 from the pair counts.
#[must_use]
pub fn prf(tp: u64, fp: u64, fn_: u64) -> (f64, f64, f64) {
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        1.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// Scores `(true family, predicted cluster)` labels, one per record, by contingency tables.
#[must_use]
pub fn pair_scores(labels: &[(u64, u64)]) -> PairScores {
    let mut truth: HashMap<u64, u64> = HashMap::new();
    let mut pred: HashMap<u64, u64> = HashMap::new();
    let mut cells: HashMap<(u64, u64), u64> = HashMap::new();
    for &(t, p) in labels {
        *truth.entry(t).or_default() += 1;
        *pred.entry(p).or_default() += 1;
        *cells.entry((t, p)).or_default() += 1;
    }
    let true_pairs: u64 = truth.values().map(|&n| pairs_of(n)).sum();
    let predicted_pairs: u64 = pred.values().map(|&n| pairs_of(n)).sum();
    let tp: u64 = cells.values().map(|&n| pairs_of(n)).sum();
    let (fp, fn_) = (predicted_pairs - tp, true_pairs - tp);
    let (precision, recall, f1) = prf(tp, fp, fn_);
    PairScores {
        records: labels.len() as u64,
        true_pairs,
        predicted_pairs,
        tp,
        fp,
        fn_,
        precision,
        recall,
        f1,
        ari: adjusted_rand(
            tp,
            true_pairs,
            predicted_pairs,
            pairs_of(labels.len() as u64),
        ),
    }
}

/// ARI = (index - expected) / (max - expected), with index = TP, expected = A * B / N and
/// max = (A + B) / 2, in exact integer arithmetic (times 2N): at millions of records A * B
/// no longer fits an f64 exactly, and the 0/0 case must be recognised exactly.
fn adjusted_rand(tp: u64, a: u64, b: u64, n: u64) -> f64 {
    let (tp, a, b, n) = (tp as i128, a as i128, b as i128, n as i128);
    let num = 2 * (tp * n - a * b);
    let den = (a + b) * n - 2 * a * b;
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

/// Paragraph-level repeat scores: a unit is one paragraph of one scored document.
#[derive(Debug, Clone, Serialize)]
pub struct ParagraphScores {
    /// Scored documents (ok or empty, in both truth and run).
    pub docs: u64,
    /// Paragraphs the truth labels as repeats.
    pub true_repeats: u64,
    /// Paragraphs the run marked as repeats (mapped onto the truth's indexing).
    pub predicted_repeats: u64,
    /// Paragraphs both call repeats.
    pub tp: u64,
    /// Marked by the run, not by the truth.
    pub fp: u64,
    /// Labelled by the truth, missed by the run; `fn` in JSON.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// `tp / (tp + fp)`; 1 when nothing is marked.
    pub precision: f64,
    /// `tp / (tp + fn)`; 1 when nothing is labelled.
    pub recall: f64,
    /// Harmonic mean of the two; 0 when both are 0.
    pub f1: f64,
    /// How the run's paragraph indices were matched with `text.split("\n\n")`.
    pub indexing: String,
    /// Documents whose segmentation differs from `text.split("\n\n")` (mapped by position).
    pub docs_segmented_differently: u64,
}

/// Why records were left out of scoring.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dropped {
    /// In the run, not in a families truth file.
    pub not_in_truth: u64,
    /// Skipped records (by status): they have no cluster.
    pub status: std::collections::BTreeMap<String, u64>,
    /// Every record of an id that occurs more than once in the run (the truth cannot say
    /// which is meant).
    pub duplicate_ids: u64,
    /// Ids in the truth that the run does not have.
    pub truth_not_in_run: u64,
}

/// A pair the run and the truth disagree on: a missed pair (one family, two clusters) or
/// a false merge (one cluster, two families).
#[derive(Debug, Clone, Serialize)]
pub struct Mistake {
    /// Id of one record of the pair.
    pub a: String,
    /// Id of the other.
    pub b: String,
    /// `a`'s cluster in the run.
    pub a_cluster: u64,
    /// `b`'s cluster in the run.
    pub b_cluster: u64,
    /// On the compared (cleaned) shingle sets, when the texts could be read.
    pub jaccard: Option<f64>,
    /// Containment of the smaller set in the larger, on the same sets; `None` likewise.
    pub containment: Option<f64>,
    /// Text the two share, to show why they look alike; empty without the texts.
    pub shared_passages: Vec<Passage>,
}

/// The result of `evaluate`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The truth file read.
    #[serde(with = "crate::paths::as_text")]
    pub truth: PathBuf,
    /// Its shape.
    pub truth_format: TruthFormat,
    /// The run directory scored.
    #[serde(with = "crate::paths::as_text")]
    pub run: PathBuf,
    /// Records in `docs.jsonl`.
    pub records: u64,
    /// Records of the run the truth has a label for (all, for a pairs file).
    pub labelled: u64,
    /// Records left out of scoring, by why.
    pub dropped: Dropped,
    /// Distinct families among the scored records.
    pub true_families: u64,
    /// Distinct clusters among the scored records.
    pub predicted_clusters: u64,
    /// Pairwise scores of the clusters against the families.
    pub pairs: PairScores,
    /// Paragraph repeat scores; `None` when the truth has no paragraph labels.
    pub paragraphs: Option<ParagraphScores>,
    /// The run's similarity threshold (`lsh.threshold`), for reading the mistakes.
    pub threshold: f64,
    /// Whether similarity columns could be computed.
    pub texts: Texts,
    /// Pairs of the mistakes below were chosen from this many (see `MISTAKE_CANDIDATES`).
    pub mistakes_examined: u64,
    /// Same family, different clusters: most similar first.
    pub missed: Vec<Mistake>,
    /// Same cluster, different families: least similar first.
    pub false_merges: Vec<Mistake>,
    /// Copies (records whose family's original is another record) in their original's
    /// cluster, by the copy's length in compared shingles; empty when the truth names no
    /// originals or the texts could not be read.
    pub copies_by_length: Vec<LengthBucket>,
    /// Each hard case the truth names (`kind`): lede-only copies with their original,
    /// hard negatives in no cluster with another family.
    pub hard_cases: Vec<KindScore>,
}

/// Lower bounds of the copy-length buckets, in compared shingles: a lede-only copy is
/// under 50, an article over 200.
pub const LENGTH_BUCKETS: [u64; 6] = [0, 25, 50, 100, 200, 400];

/// Copies of one length bucket and how many are with their original.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthBucket {
    /// Compared shingles of the copy: at least this ...
    pub min_shingles: u64,
    /// ... and fewer than this (`None`: no upper bound).
    pub max_shingles: Option<u64>,
    /// Copies of this length whose original is in the run.
    pub copies: u64,
    /// Of those, in their original's cluster.
    pub with_original: u64,
    /// `with_original / copies` (1 when there are none).
    pub recall: f64,
}

/// How the run placed the records of one hard case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindScore {
    /// The truth's `kind`.
    pub kind: String,
    /// Whether these records are copies (scored by being with their original) or hard
    /// negatives (scored by staying apart from every other family).
    pub copies: bool,
    /// Scored records of this kind.
    pub records: u64,
    /// Of those, placed right: a copy in its original's cluster, a negative in a cluster
    /// that holds its own family only.
    pub right: u64,
    /// `right / records`.
    pub rate: f64,
}

/// At most this many candidate pairs of each kind are examined for the mistake lists.
pub const MISTAKE_CANDIDATES: usize = 2000;
/// From one pair of intersecting cells (e.g. one family's members in two clusters), at
/// most this many members of each cell are paired: the list should show many different
/// mistakes, not every pair of one.
const PER_CELL: usize = 2;

/// What `evaluate` should do besides the metrics.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// How many mistakes of each kind to list.
    pub top: usize,
    /// Read the inputs back for Jaccard, containment and shared passages.
    pub similarity: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            top: 10,
            similarity: true,
        }
    }
}

/// One scored record.
struct Scored {
    record: usize,
    family: u64,
    cluster: u64,
}

/// Pairs `(x, y)` of records from different cells of each group, in record order, at most
/// `PER_CELL` of each cell and `MISTAKE_CANDIDATES` in all. `group` and `cell` give each
/// scored record's group (cluster or family) and cell (family or cluster) within it.
fn mistake_pairs(
    scored: &[Scored],
    group: impl Fn(&Scored) -> u64,
    cell: impl Fn(&Scored) -> u64,
) -> Vec<(usize, usize)> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    for (i, s) in scored.iter().enumerate() {
        let g = *index.entry(group(s)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut out = Vec::new();
    for members in groups.iter().filter(|m| m.len() > 1) {
        let mut cells: Vec<(u64, Vec<usize>)> = Vec::new();
        for &m in members {
            let c = cell(&scored[m]);
            match cells.iter_mut().find(|(k, _)| *k == c) {
                Some((_, v)) => {
                    if v.len() < PER_CELL {
                        v.push(m);
                    }
                }
                None => cells.push((c, vec![m])),
            }
        }
        for i in 0..cells.len() {
            for j in i + 1..cells.len() {
                for &x in &cells[i].1 {
                    for &y in &cells[j].1 {
                        if out.len() >= MISTAKE_CANDIDATES {
                            return out;
                        }
                        out.push((scored[x].record, scored[y].record));
                    }
                }
            }
        }
    }
    out
}

/// Index of the `text.split("\n\n")` part each paragraph (byte span) starts in.
#[must_use]
pub fn split_indices(text: &str, spans: &[(u32, u32)]) -> Vec<u32> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices("\n\n").map(|(i, _)| i + 2))
        .collect();
    spans
        .iter()
        .map(|&(a, _)| (starts.partition_point(|&s| s <= a as usize) - 1) as u32)
        .collect()
}

/// Scores the run in `run` against `truth`.
pub fn evaluate(run: &RunDir, truth: &Truth, opts: &EvalOptions) -> Result<Report> {
    Ok(evaluate_docs(run, &run.docs()?, truth, opts))
}

/// Scores the run whose `docs.jsonl` lines are `docs` against `truth`.
fn evaluate_docs(run: &RunDir, docs: &[DocLine<'_>], truth: &Truth, opts: &EvalOptions) -> Report {
    let mut id_count: HashMap<&str, u32> = HashMap::with_capacity(docs.len());
    for d in docs {
        *id_count.entry(&d.id).or_default() += 1;
    }
    let mut dropped = Dropped::default();
    let mut scored = Vec::new();
    let mut labelled = 0u64;
    // pairs files leave unmentioned ids as singletons: fresh families above every root
    let mut next_singleton = u64::from(truth.families);
    for (record, d) in docs.iter().enumerate() {
        let family = truth.family(&d.id);
        if family.is_some() || truth.format == TruthFormat::Pairs {
            labelled += 1;
        }
        if !d.is_scored() {
            *dropped.status.entry(d.status.to_string()).or_default() += 1;
            continue;
        }
        if id_count[&*d.id] > 1 {
            dropped.duplicate_ids += 1;
            continue;
        }
        let family = match (family, truth.format) {
            (Some(f), _) => u64::from(f),
            (None, TruthFormat::Pairs) => {
                next_singleton += 1;
                next_singleton - 1
            }
            (None, TruthFormat::Families) => {
                dropped.not_in_truth += 1;
                continue;
            }
        };
        let Some(cluster) = d.cluster else {
            *dropped.status.entry(d.status.to_string()).or_default() += 1;
            continue;
        };
        scored.push(Scored {
            record,
            family,
            cluster,
        });
    }
    dropped.truth_not_in_run = truth.ids().filter(|id| !id_count.contains_key(id)).count() as u64;
    let labels: Vec<(u64, u64)> = scored.iter().map(|s| (s.family, s.cluster)).collect();
    let pairs = pair_scores(&labels);
    let true_families = labels.iter().map(|l| l.0).collect::<HashSet<_>>().len() as u64;
    let predicted_clusters = labels.iter().map(|l| l.1).collect::<HashSet<_>>().len() as u64;

    let missed = mistake_pairs(&scored, |s| s.family, |s| s.cluster);
    let merges = mistake_pairs(&scored, |s| s.cluster, |s| s.family);
    let mut wanted: HashSet<usize> = HashSet::new();
    if opts.similarity {
        wanted.extend(missed.iter().chain(&merges).flat_map(|&(a, b)| [a, b]));
    }
    // copies with their original in the run, for recall by copy length: the copy's
    // compared size needs its text
    let record_of: HashMap<&str, usize> = scored
        .iter()
        .map(|s| (&*docs[s.record].id, s.record))
        .collect();
    let copy_pairs: Vec<(usize, usize)> = scored
        .iter()
        .filter_map(|s| {
            let original = truth.original_of(&docs[s.record].id)?;
            Some((s.record, *record_of.get(original)?))
        })
        .collect();
    wanted.extend(copy_pairs.iter().map(|&(c, _)| c));
    let copies: HashSet<usize> = copy_pairs.iter().map(|&(c, _)| c).collect();
    let mut copy_sizes: HashMap<usize, u64> = HashMap::new();
    let mut analyzer = Analyzer::default();
    // paragraph labels need the run's indices mapped onto text.split("\n\n")
    let paragraph_docs: Vec<&Scored> = if truth.repeated.is_some() {
        scored
            .iter()
            .filter(|s| !docs[s.record].repeats().is_empty())
            .collect()
    } else {
        Vec::new()
    };
    wanted.extend(paragraph_docs.iter().map(|s| s.record));
    let mistake_docs: HashSet<usize> = missed
        .iter()
        .chain(&merges)
        .flat_map(|&(a, b)| [a, b])
        .collect();
    let mut views: HashMap<usize, DocView> = HashMap::new();
    let mut mapped: HashMap<usize, (Vec<u32>, bool)> = HashMap::new();
    let split = run.params.paragraphs.split;
    let texts = if wanted.is_empty() {
        Texts::Available
    } else {
        run.read_texts(docs, &wanted, &mut |i, text| {
            let doc = &docs[i];
            if opts.similarity && mistake_docs.contains(&i) {
                views.insert(i, DocView::new(text, doc, &run.params));
            }
            if copies.contains(&i) {
                let size = compared_size(&mut analyzer, text, doc, &run.params);
                copy_sizes.insert(i, size as u64);
            }
            if !doc.repeats().is_empty() && truth.repeated.is_some() {
                let mut spans = Vec::new();
                segment(text, split, &mut spans);
                let parts = split_indices(text, &spans);
                let same = parts.len() == text.split("\n\n").count()
                    && parts.iter().enumerate().all(|(k, &p)| p as usize == k);
                let m = doc
                    .repeats()
                    .iter()
                    .filter_map(|r| parts.get(r.paragraph as usize).copied())
                    .collect();
                mapped.insert(i, (m, same));
            }
        })
    };
    let have_texts = texts == Texts::Available;
    if !have_texts {
        views.clear();
        mapped.clear();
    }

    let paragraphs = truth.repeated.as_ref().map(|repeated| {
        let (mut t, mut p, mut tp, mut differ) = (0u64, 0u64, 0u64, 0u64);
        for s in &scored {
            let d = &docs[s.record];
            let truth_set: &[u32] = repeated.get(&*d.id).map_or(&[], Vec::as_slice);
            let mut predicted: Vec<u32> = match mapped.get(&s.record) {
                Some((m, same)) => {
                    differ += u64::from(!same);
                    m.clone()
                }
                None => d.repeats().iter().map(|r| r.paragraph).collect(),
            };
            predicted.sort_unstable();
            predicted.dedup();
            t += truth_set.len() as u64;
            p += predicted.len() as u64;
            tp += predicted
                .iter()
                .filter(|x| truth_set.binary_search(x).is_ok())
                .count() as u64;
        }
        let (precision, recall, f1) = prf(tp, p - tp, t - tp);
        ParagraphScores {
            docs: scored.len() as u64,
            true_repeats: t,
            predicted_repeats: p,
            tp,
            fp: p - tp,
            fn_: t - tp,
            precision,
            recall,
            f1,
            indexing: if have_texts || paragraph_docs.is_empty() {
                "run paragraphs mapped to text.split(\"\\n\\n\") by byte offset".into()
            } else {
                "texts unavailable: run paragraph indices assumed equal to text.split(\"\\n\\n\")"
                    .into()
            },
            docs_segmented_differently: differ,
        }
    });

    let mistake = |&(a, b): &(usize, usize)| {
        let (da, db) = (&docs[a], &docs[b]);
        let mut m = Mistake {
            a: da.id.to_string(),
            b: db.id.to_string(),
            a_cluster: da.cluster.unwrap_or_default(),
            b_cluster: db.cluster.unwrap_or_default(),
            jaccard: None,
            containment: None,
            shared_passages: Vec::new(),
        };
        if let (Some(va), Some(vb)) = (views.get(&a), views.get(&b)) {
            let s = PairScore::of_sets(&va.compared, &vb.compared);
            m.jaccard = Some(s.jaccard);
            m.containment = Some(s.containment());
            m.shared_passages = shared_passages(va, vb);
        }
        m
    };
    let mut missed: Vec<Mistake> = missed.iter().map(mistake).collect();
    let mut false_merges: Vec<Mistake> = merges.iter().map(mistake).collect();
    let examined = (missed.len() + false_merges.len()) as u64;
    if have_texts {
        // the worst miss is the most similar pair; the worst merge the least similar
        let key = |m: &Mistake| m.jaccard.unwrap_or(0.0);
        missed.sort_by(|x, y| key(y).total_cmp(&key(x)));
        false_merges.sort_by(|x, y| key(x).total_cmp(&key(y)));
    }
    missed.truncate(opts.top);
    false_merges.truncate(opts.top);
    let hard_cases = hard_cases(docs, truth, &scored);
    if !have_texts {
        copy_sizes.clear();
    }
    let copies_by_length = length_buckets(docs, &copy_pairs, &copy_sizes);
    Report {
        truth: truth.path.clone(),
        truth_format: truth.format,
        run: run.dir.clone(),
        records: docs.len() as u64,
        labelled,
        dropped,
        true_families,
        predicted_clusters,
        pairs,
        paragraphs,
        threshold: run.params.lsh.threshold,
        texts,
        mistakes_examined: examined,
        missed,
        false_merges,
        copies_by_length,
        hard_cases,
    }
}

/// The copy-length buckets of the `(copy, original)` record pairs whose copy's size is
/// known.
fn length_buckets(
    docs: &[DocLine<'_>],
    copy_pairs: &[(usize, usize)],
    sizes: &HashMap<usize, u64>,
) -> Vec<LengthBucket> {
    if sizes.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<LengthBucket> = LENGTH_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, &min)| LengthBucket {
            min_shingles: min,
            max_shingles: LENGTH_BUCKETS.get(i + 1).copied(),
            copies: 0,
            with_original: 0,
            recall: 1.0,
        })
        .collect();
    for &(copy, original) in copy_pairs {
        let Some(&size) = sizes.get(&copy) else {
            continue;
        };
        let b = LENGTH_BUCKETS.partition_point(|&min| min <= size) - 1;
        out[b].copies += 1;
        out[b].with_original += u64::from(docs[copy].cluster == docs[original].cluster);
    }
    for b in &mut out {
        if b.copies > 0 {
            b.recall = b.with_original as f64 / b.copies as f64;
        }
    }
    out
}

/// How the run placed each hard case the truth names.
fn hard_cases(docs: &[DocLine<'_>], truth: &Truth, scored: &[Scored]) -> Vec<KindScore> {
    if truth.kinds.is_empty() {
        return Vec::new();
    }
    // a cluster holding more than one family
    let mut family_of_cluster: HashMap<u64, (u64, bool)> = HashMap::new();
    for s in scored {
        let e = family_of_cluster
            .entry(s.cluster)
            .or_insert((s.family, false));
        e.1 |= e.0 != s.family;
    }
    let cluster_of: HashMap<&str, Option<u64>> = scored
        .iter()
        .map(|s| (&*docs[s.record].id, docs[s.record].cluster))
        .collect();
    let mut by_kind: std::collections::BTreeMap<&str, KindScore> =
        std::collections::BTreeMap::new();
    for s in scored {
        let id = &*docs[s.record].id;
        let Some(kind) = truth.kind(id) else {
            continue;
        };
        let original = truth.original_of(id);
        let right = match original {
            Some(o) => cluster_of
                .get(o)
                .is_some_and(|&c| c.is_some() && c == docs[s.record].cluster),
            None => !family_of_cluster[&s.cluster].1,
        };
        let e = by_kind.entry(kind).or_insert_with(|| KindScore {
            kind: kind.to_owned(),
            copies: original.is_some(),
            records: 0,
            right: 0,
            rate: 1.0,
        });
        e.records += 1;
        e.right += u64::from(right);
    }
    by_kind
        .into_values()
        .map(|mut k| {
            k.rate = k.right as f64 / k.records.max(1) as f64;
            k
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from `tests/eval_reference.py`, which enumerates every pair and
    /// uses the pair form of ARI (independent of the contingency tables here).
    fn check(truth: &[u64], pred: &[u64], expect: [f64; 4], counts: [u64; 5]) {
        let labels: Vec<(u64, u64)> = truth.iter().copied().zip(pred.iter().copied()).collect();
        let s = pair_scores(&labels);
        let got = [s.precision, s.recall, s.f1, s.ari];
        for (g, e) in got.iter().zip(expect) {
            assert!((g - e).abs() < 5e-5, "{got:?} != {expect:?}");
        }
        assert_eq!([s.true_pairs, s.predicted_pairs, s.tp, s.fp, s.fn_], counts);
    }

    #[test]
    fn mixed_partition() {
        check(
            &[0, 0, 0, 1, 1, 2, 2, 2, 2, 3],
            &[0, 0, 1, 1, 1, 2, 2, 3, 3, 4],
            [0.666_667, 0.4, 0.5, 0.4],
            [10, 6, 4, 2, 6],
        );
    }

    #[test]
    fn thirty_records() {
        check(
            &[
                0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 4, 4, 4, 4, 5, 6, 6, 7, 7, 7, 8, 9, 9, 9, 10, 11,
                11, 12, 13,
            ],
            &[
                0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 4, 4, 5, 5, 6, 7, 7, 8, 8, 9, 10, 11, 11, 12, 13,
                14, 14, 14, 15,
            ],
            [0.684_211, 0.464_286, 0.553_191, 0.528_662],
            [28, 19, 13, 6, 15],
        );
    }

    #[test]
    fn all_singletons_predicted() {
        check(
            &[0, 0, 1, 1, 1, 2],
            &[0, 1, 2, 3, 4, 5],
            [1.0, 0.0, 0.0, 0.0],
            [4, 0, 0, 0, 4],
        );
    }

    #[test]
    fn one_big_cluster_predicted() {
        check(
            &[0, 0, 1, 1, 1, 2],
            &[7; 6],
            [0.266_667, 1.0, 0.421_053, 0.0],
            [4, 15, 4, 11, 0],
        );
    }

    #[test]
    fn both_all_singletons() {
        check(&[0, 1, 2, 3], &[0, 1, 2, 3], [1.0, 1.0, 1.0, 1.0], [0; 5]);
    }

    #[test]
    fn ari_exact_at_scale() {
        // two million records in pairs, predicted identically: ARI is exactly 1
        let labels: Vec<(u64, u64)> = (0..2_000_000u64).map(|i| (i / 2, i / 2 + 7)).collect();
        let s = pair_scores(&labels);
        assert_eq!(s.tp, 1_000_000);
        assert!((s.ari - 1.0).abs() < 1e-12);
    }

    #[test]
    fn truth_with_ids_missing_from_the_run() {
        let t = truth(
            "{\"id\":\"d0\",\"family\":\"f0\"}\n{\"id\":\"d1\",\"family\":\"f0\"}\n{\"id\":\"d2\",\"family\":\"f1\"}\n{\"id\":\"d3\",\"family\":\"f0\"}\n{\"id\":\"d4\",\"family\":\"f0\"}\n{\"id\":\"d5\",\"family\":\"f1\"}\n{\"id\":\"d9\",\"family\":\"f1\"}\n",
        );
        let line = |id: &str, cluster: u64| DocLine {
            id: id.to_owned().into(),
            cluster: Some(cluster),
            keep: true,
            duplicate_of: None,
            similarity: None,
            containment: None,
            split_from: None,
            provenance: None,
            status: "ok".into(),
            file: "x.jsonl".into(),
            line: Some(1),
            offset: None,
            row: None,
            repeats: None,
            repeat_blocks: None,
            boilerplate: None,
        };
        let mut docs: Vec<_> = [("d0", 5), ("d1", 5), ("d2", 5), ("d3", 6), ("d7", 5)]
            .iter()
            .map(|&(i, c)| line(i, c))
            .collect();
        docs.push(DocLine {
            status: "invalid_json".into(),
            cluster: None,
            ..line("d8", 0)
        });
        let run = RunDir {
            dir: PathBuf::from("run"),
            summary: crate::Summary::default(),
            params: crate::Params::default().validate().unwrap(),
        };
        let opts = EvalOptions {
            top: 10,
            similarity: false,
        };
        let r = evaluate_docs(&run, &docs, &t, &opts);
        assert_eq!(r.records, 6);
        assert_eq!(r.labelled, 4);
        assert_eq!(r.pairs.records, 4);
        assert_eq!(r.dropped.not_in_truth, 1);
        assert_eq!(r.dropped.truth_not_in_run, 3);
        assert_eq!(r.dropped.status.get("invalid_json"), Some(&1));
        let s = r.pairs;
        let third = 1.0 / 3.0;
        for (g, e) in [s.precision, s.recall, s.f1, s.ari]
            .into_iter()
            .zip([third, third, third, -third])
        {
            assert!((g - e).abs() < 5e-5, "{s:?}");
        }
        // d0-d2 (cluster 5, families f0/f1) and d1-d2 are false merges; d0-d3, d1-d3 missed
        assert_eq!(r.false_merges.len(), 2);
        assert_eq!(r.missed.len(), 2);
    }

    fn truth(text: &str) -> Truth {
        Truth::read(Path::new("t"), text.as_bytes()).unwrap()
    }

    #[test]
    fn truth_formats_agree() {
        let fam = truth(
            "{\"id\":\"a\",\"family\":\"a\"}\n{\"id\":\"b\",\"family\":\"a\"}\n\
             {\"id\":\"c\",\"family\":\"c\"}\n{\"id\":7,\"family\":\"a\"}\n",
        );
        assert_eq!(fam.format, TruthFormat::Families);
        assert!(fam.repeated.is_none());
        let pairs = truth("id_a\tid_b\na\tb\n# comment\n\nb,7\n");
        assert_eq!(pairs.format, TruthFormat::Pairs);
        for t in [&fam, &pairs] {
            assert_eq!(t.family("a"), t.family("b"));
            assert_eq!(t.family("a"), t.family("7"));
        }
        assert!(pairs.family("c").is_none(), "never mentioned: a singleton");
    }

    #[test]
    fn bad_truth_lines_name_the_line() {
        let e = Truth::read(Path::new("t.tsv"), "a b\na b c\n".as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.tsv:2: expected a pair of ids (tab, comma or space separated), found 3 fields"
        );
        let e = Truth::read(
            Path::new("t.jsonl"),
            "{\"id\":\"a\",\"family\":\"a\"}\n{\"id\":\"a\",\"family\":\"b\"}\n".as_bytes(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.jsonl:2: id \"a\" appears twice"),
            "{e}"
        );
        let e = Truth::read(Path::new("t.jsonl"), "{\"id\":\"a\"}\n".as_bytes()).unwrap_err();
        assert!(
            e.to_string().starts_with("t.jsonl:1: not a truth line"),
            "{e}"
        );
    }

    #[test]
    fn split_indices_follow_double_newlines() {
        let text = "a b\n\nc d\ne\n\nf";
        // line mode: four lines in three parts
        assert_eq!(
            split_indices(text, &[(0, 3), (5, 8), (9, 10), (12, 13)]),
            vec![0, 1, 1, 2]
        );
    }
}
