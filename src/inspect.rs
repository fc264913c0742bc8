//! Looking into a finished run: its output directory in; its parameters, its per-record
//! lines, the texts of chosen records, and what the run compared for any two of them out.
//!
//! A run directory (`output::rundir::RunDir`) holds `summary.json` (the validated
//! parameters and the input files) and `docs.jsonl` (one line per input record, in input
//! order). Texts are not stored there: they are read back from the inputs named in the
//! summary, in one streaming pass with the run's own reader (`RunDir::read_texts`), and
//! only the records asked for are kept. If the inputs are gone or differ from what the run
//! read (record count, bytes, ids), the texts are reported as unavailable and nothing
//! computed from them is used.
//!
//! Invariant: a document's compared shingle set is rebuilt with the same library
//! functions the run used (segmentation, normalization, `Shingler`,
//! `ParagraphRecord::kept_shingles`), with the paragraphs `docs.jsonl` lists as
//! boilerplate and repeats removed, so the Jaccard shown here is the Jaccard the run
//! verified, and whether it matches is decided by the run's own `MatchRule`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::analyze::Analyzer;
use crate::document::Compared;
use crate::document::ParagraphRecord;
use crate::error::{Error, Result};
use crate::lsh::band_keys;
use crate::output::rundir::{RunDir, Texts};
use crate::output::schema::DocLine;
use crate::paragraph::{Repeat, Span, segment, snippet};
use crate::params::{CandidateMethod, ValidParams, VerifyMethod, candidate_probability};
use crate::sketch::pass::{opening_hasher, opening_keys};
use crate::sketch::{MinHasher, estimate_jaccard, hamming, simhash};
use crate::verify::rule::{self, MatchRule};
use crate::verify::score::PairScore;

/// One document as the run compared it.
#[derive(Debug, Clone)]
pub struct DocView {
    /// The record's text as read back from the input.
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

/// The paragraphs the run left out of `doc`'s compared set (boilerplate and repeats),
/// sorted, as `docs.jsonl` lists them.
fn removed_of(doc: &DocLine<'_>, params: &ValidParams) -> Vec<u32> {
    let mut removed = Vec::new();
    if params.paragraphs.enabled && params.paragraphs.clean_articles {
        removed.extend_from_slice(doc.boilerplate());
        removed.extend(doc.repeats().iter().map(|r| r.paragraph));
        removed.sort_unstable();
        removed.dedup();
    }
    removed
}

/// The number of distinct shingles the run compared for `doc`, from its text: the size
/// of its compared set, without building the rest of a `DocView`. `analyzer` is reused
/// across calls.
#[must_use]
pub fn compared_size(
    analyzer: &mut Analyzer,
    text: &str,
    doc: &DocLine<'_>,
    params: &ValidParams,
) -> usize {
    let removed = removed_of(doc, params);
    analyzer.record_of(text, params).article_set(&removed).len()
}

impl DocView {
    /// The document as the run compared it.
    #[must_use]
    pub fn as_compared(&self) -> Compared<'_> {
        Compared {
            record: &self.record,
            removed: &self.removed,
            set: &self.compared,
        }
    }

    /// Rebuilds what the run compared for `doc`, from its text.
    #[must_use]
    pub fn new(text: &str, doc: &DocLine<'_>, params: &ValidParams) -> Self {
        // the run's own analysis; with the paragraph stage off the whole text is one
        // paragraph
        let record = Analyzer::default().record_of(text, params).clone();
        let mut spans = Vec::new();
        if params.paragraphs.enabled {
            segment(text, params.paragraphs.split, &mut spans);
        } else {
            spans.push((0, text.len() as u32));
        }
        let removed = removed_of(doc, params);
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

    /// Whether paragraph `i` was left out of the compared set (boilerplate or a repeat).
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

/// A paragraph of one document with a near-identical paragraph in the other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    /// 0-based paragraph index in A.
    pub a_paragraph: u32,
    /// 0-based index of its best match in B.
    pub b_paragraph: u32,
    /// Jaccard of the two paragraphs' shingle sets, to 4 decimals.
    pub jaccard: f64,
    /// Share of the smaller paragraph's shingles found in the larger, to 4 decimals.
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
    /// The id asked about.
    pub id: String,
    /// 0-based record index in `docs.jsonl`.
    pub record: usize,
    /// `ok`, `empty`, or the skip reason, as `docs.jsonl` gives it.
    pub status: String,
    /// Its cluster; `None` for a record that was not read.
    pub cluster: Option<u64>,
    /// The representative of its cluster (itself when kept).
    pub representative: Option<String>,
    /// The input it came from, as the run was given it.
    pub file: String,
    /// Its 1-based line, in a line-delimited input.
    pub line: Option<u64>,
    /// Its byte offset, in a WARC or WET input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Its row, in a Parquet or Arrow input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Paragraphs flagged as boilerplate (0-based indices).
    pub boilerplate: Vec<u32>,
    /// Paragraphs that repeat an earlier one of the same document.
    pub repeats: Vec<Repeat>,
    /// The representative the star check split this record off from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_from: Option<String>,
    /// Other records with the same id, when ids repeat (the first is explained).
    pub same_id_records: usize,
}

/// What happened to one paragraph when the pair was compared.
#[derive(Debug, Clone, Serialize)]
pub struct ParagraphFate {
    /// 0-based paragraph index in this document.
    pub paragraph: u32,
    /// `shared`, `only_here`, `boilerplate`, `repeat`.
    pub fate: &'static str,
    /// The matching paragraph of the other document, for a shared one (or a removed one
    /// that has a match).
    pub other: Option<u32>,
    /// Jaccard with `other`'s shingles, to 4 decimals.
    pub jaccard: Option<f64>,
    /// The paragraph's first 80 characters, whitespace folded.
    pub snippet: String,
}

/// The LSH and SimHash view of the pair, from signatures computed with the run's params.
#[derive(Debug, Clone, Serialize)]
pub struct Sketches {
    /// Share of equal MinHash positions of the compared sets: what an `estimate` run scores.
    pub minhash_estimate: f64,
    /// LSH bands of the run.
    pub bands: usize,
    /// Rows (signature positions) per band.
    pub rows: usize,
    /// Indices (0-based) of the bands whose keys are equal.
    pub bands_collided: Vec<usize>,
    /// Probability that a pair at this (compared) Jaccard collides in at least one band.
    pub collision_probability: f64,
    /// Hamming distance in bits between the two SimHash fingerprints.
    pub simhash_distance: u32,
    /// Whether the run took candidates from SimHash (alone or with MinHash).
    pub simhash_used: bool,
    /// The most bits two fingerprints may differ in and be candidates (`max_hamming`).
    pub simhash_k: u32,
    /// Opening keys (each document's lede sketched on its own, see
    /// `sketch::pass::opening_keys`) the two share: the candidates of short copies.
    pub opening_keys_shared: usize,
}

/// Why two documents are, or are not, in one cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The first id asked about.
    pub a: Side,
    /// The second.
    pub b: Side,
    /// Whether the run put both in one cluster.
    pub same_cluster: bool,
    /// The run's similarity threshold.
    pub threshold: f64,
    /// Whether the two texts could be read back; without them only the placement is told.
    pub texts: Texts,
    /// On the compared (cleaned) sets; `None` without texts or for an uncompared record.
    pub compared: Option<PairScore>,
    /// On every paragraph's shingles.
    pub raw: Option<PairScore>,
    /// The candidate stage's view; `None` when `compared` is.
    pub sketches: Option<Sketches>,
    /// What happened to each of A's paragraphs; empty when `compared` is `None`.
    pub a_paragraphs: Vec<ParagraphFate>,
    /// The same for B.
    pub b_paragraphs: Vec<ParagraphFate>,
    /// The answer in one sentence: the placement and, when both were compared, the match
    /// rule's decision with its numbers and how the pair was (or was not) found.
    pub verdict: String,
}

/// Record indices of the lines with this id (more than one when ids repeat).
fn find(docs: &[DocLine<'_>], id: &str) -> Vec<usize> {
    (0..docs.len()).filter(|&i| docs[i].id == id).collect()
}

fn side(run: &RunDir, docs: &[DocLine<'_>], id: &str) -> Result<Side> {
    let found = find(docs, id);
    let Some(&record) = found.first() else {
        return Err(Error::UnknownId {
            path: run.docs_path(),
            id: id.to_owned(),
        });
    };
    let d = &docs[record];
    let representative = match (&d.duplicate_of, d.cluster) {
        (Some(r), _) => Some(r.to_string()),
        (None, Some(_)) => Some(d.id.to_string()),
        (None, None) => None,
    };
    Ok(Side {
        id: d.id.to_string(),
        record,
        status: d.status.to_string(),
        cluster: d.cluster,
        representative,
        file: d.file.to_string(),
        line: d.line,
        offset: d.offset,
        row: d.row,
        boilerplate: d.boilerplate().to_vec(),
        repeats: d.repeats().to_vec(),
        split_from: d.split_from.as_deref().map(str::to_owned),
        same_id_records: found.len() - 1,
    })
}

fn fates(this: &DocView, doc: &DocLine<'_>, other: &DocView) -> Vec<ParagraphFate> {
    let matches = match_paragraphs(this, other);
    matches
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let fate = if doc.boilerplate().contains(&(i as u32)) && this.is_removed(i) {
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
    let docs = run.docs()?;
    let (a, b) = (side(run, &docs, id_a)?, side(run, &docs, id_b)?);
    let same_cluster = a.cluster.is_some() && a.cluster == b.cluster;
    let wanted: HashSet<usize> = [a.record, b.record].into_iter().collect();
    let mut texts: HashMap<usize, String> = HashMap::new();
    let state = run.read_texts(&docs, &wanted, &mut |i, t| {
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
        let (da, db) = (&docs[out.a.record], &docs[out.b.record]);
        let va = DocView::new(&texts[&out.a.record], da, params);
        let vb = DocView::new(&texts[&out.b.record], db, params);
        let compared = rule::score(va.as_compared(), vb.as_compared());
        out.raw = Some(PairScore::of_sets(&va.raw, &vb.raw));
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
            opening_keys_shared: {
                let mut opener = opening_hasher(params);
                let (mut oa, mut ob) = (Vec::new(), Vec::new());
                opening_keys(&va.record, &va.removed, &mut opener, params, &mut oa);
                opening_keys(&vb.record, &vb.removed, &mut opener, params, &mut ob);
                oa.iter().filter(|k| ob.contains(k)).count()
            },
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
    // an estimating run scored from signatures alone, without where the shared text sits
    let pair = PairScore {
        jaccard: score,
        shared_text: c.shared_text.filter(|_| !estimate),
        ..*c
    };
    let matches = rule.accepts(&pair);
    // the rule says which clause decided, with the numbers it compared
    let why = rule.describe(&pair, score_name);
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
    let opening_hit = sk.opening_keys_shared > 0;
    let found = (lsh && !sk.bands_collided.is_empty()) || simhash_hit || opening_hit;
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
    let how = if opening_hit {
        format!(
            "{how}; their opening paragraphs collided ({} keys)",
            sk.opening_keys_shared
        )
    } else {
        how
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
