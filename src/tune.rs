//! Parameter sweep against labels: which threshold and containment setting to use.
//!
//! Sketching is the expensive part of a run and does not depend on the match rule, so
//! each shingle setting is read and sketched once, with the candidate bands that catch
//! the lowest similarity in the sweep (containment's 2-row bands). Every candidate pair
//! is scored exactly once; each setting of the sweep then only re-runs the match rule,
//! union-find and star placement over those scores, and is scored against the labels by
//! contingency tables (`eval::pair_scores`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::cluster::score_pairs;
use crate::error::{Error, Result};
use crate::eval::{PairScores, Truth, pair_scores};
use crate::input::{expand_inputs, read_sources};
use crate::params::{Params, ShingleParams};
use crate::pipeline::{Sketched, capped_threads, cluster_stage, sketch_stream, with_threads};
use crate::progress::{NoProgress, Progress};
use crate::spill::Scratch;

/// What to sweep.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// Jaccard thresholds (`lsh.threshold`) to try with every other setting.
    pub thresholds: Vec<f64>,
    /// Shingle settings, each read and sketched once; only the kind and size are taken.
    pub shingles: Vec<ShingleParams>,
    /// `None` is containment off; `Some(c)` containment on at `min_containment = c`.
    pub containments: Vec<Option<f64>>,
    /// Settings whose F1 is within this of the best count as equally good; among them the
    /// one with the highest precision is recommended.
    pub f1_tolerance: f64,
    /// Worker threads; `None` uses every core.
    pub threads: Option<usize>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            thresholds: vec![0.5, 0.6, 0.7, 0.8, 0.9],
            shingles: vec![ShingleParams::default()],
            containments: vec![None, Some(0.3), Some(0.5), Some(0.7)],
            f1_tolerance: 0.005,
            threads: None,
        }
    }
}

/// One setting of the sweep and how it scored.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// The shingle setting as `--shingle` takes it, e.g. `word:5`.
    pub shingle: String,
    /// The Jaccard threshold.
    pub threshold: f64,
    /// `None`: containment off.
    pub min_containment: Option<f64>,
    /// Pairwise scores against the truth, over the labelled records.
    pub scores: PairScores,
    /// Clusters of two or more records the setting made.
    pub clusters: u64,
    /// Match rule, union-find and placement over the stored scores.
    pub seconds: f64,
}

/// Read and sketched once per shingle setting.
#[derive(Debug, Clone, Serialize)]
pub struct SketchCost {
    /// The shingle setting, e.g. `word:5`.
    pub shingle: String,
    /// Records read, scored or not.
    pub records: u64,
    /// Records the truth gives a family (every record, for a pairs file).
    pub labelled: u64,
    /// Candidate pairs from the containment bands, shared by every row of this setting.
    pub candidate_pairs: u64,
    /// Reading, sketching and finding candidates.
    pub sketch_seconds: f64,
    /// Scoring every candidate pair exactly, once.
    pub score_seconds: f64,
}

/// The sweep's result: every setting's scores, and which one to use.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// One per setting: by shingle, then containment, then threshold, as given.
    pub rows: Vec<SweepRow>,
    /// One per shingle setting, in the order given.
    pub sketches: Vec<SketchCost>,
    /// Index into `rows` of the highest F1 (the earlier row on a tie).
    pub best: usize,
    /// Index into `rows` of the recommended setting: the highest precision among rows
    /// within `f1_tolerance` of the best F1, then the one nearest the defaults.
    pub recommended: usize,
    /// Why it was recommended, with its scores, in one sentence.
    pub reason: String,
    /// The flags that reproduce the recommended setting with `neardup dedup`.
    pub flags: String,
}

/// Sweeps `opts` over `inputs`, scoring every setting against `truth`, on `opts.threads`
/// worker threads.
pub fn tune(
    inputs: &[PathBuf],
    base: &Params,
    truth: &Truth,
    opts: &TuneOptions,
    scratch: &Scratch,
    progress: &dyn Progress,
) -> Result<TuneReport> {
    let (threads, lowered) = capped_threads(opts.threads);
    if let Some(msg) = lowered {
        progress.warn(&msg);
    }
    with_threads(threads, || {
        sweep(inputs, base, truth, opts, scratch, progress)
    })
}

fn sweep(
    inputs: &[PathBuf],
    base: &Params,
    truth: &Truth,
    opts: &TuneOptions,
    scratch: &Scratch,
    progress: &dyn Progress,
) -> Result<TuneReport> {
    if opts.thresholds.is_empty() || opts.shingles.is_empty() || opts.containments.is_empty() {
        return Err(Error::params(
            "tune",
            "every swept list needs at least one value",
        ));
    }
    let mut rows = Vec::new();
    let mut sketches = Vec::new();
    for &shingle in &opts.shingles {
        let mut p = base.clone();
        p.shingle.kind = shingle.kind;
        p.shingle.size = shingle.size;
        // the 2-row bands catch the low-similarity pairs containment accepts; the
        // Jaccard-only settings just use fewer of the candidates
        p.containment.enabled = true;
        p.lsh.bands = None;
        p.lsh.rows = None;
        let sketch_params = p.validate()?;
        let t = Instant::now();
        let sources = expand_inputs(inputs, sketch_params.input.on_error)?.sources;
        let reader_sources = sources.clone();
        let input = sketch_params.input.clone();
        let sketched: Sketched = sketch_stream(
            sources,
            |sink| read_sources(&reader_sources, &input, sink),
            &sketch_params,
            scratch,
            progress,
        )?;
        let sketch_seconds = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let scores = score_pairs(&sketched.pairs, &sketched.verifier)?;
        let score_seconds = t.elapsed().as_secs_f64();
        // families per record; unlabelled records are not scored, and a pairs file's
        // unnamed records are singletons of their own
        let mut families: Vec<Option<u64>> = Vec::with_capacity(sketched.records.metas.len());
        sketched.records.metas.scan(|i, m| {
            families.push(match truth.family(&m.id) {
                Some(f) => Some(u64::from(f)),
                None if truth.is_pairs() => Some((1 << 40) + i as u64),
                None => None,
            });
            Ok(())
        })?;
        sketches.push(SketchCost {
            shingle: shingle.to_string(),
            records: sketched.records.metas.len() as u64,
            labelled: families.iter().filter(|f| f.is_some()).count() as u64,
            candidate_pairs: sketched.pairs.len() as u64,
            sketch_seconds,
            score_seconds,
        });
        for &containment in &opts.containments {
            for &threshold in &opts.thresholds {
                let mut v = sketch_params.get().clone();
                v.lsh.threshold = threshold;
                v.containment.enabled = containment.is_some();
                if let Some(c) = containment {
                    v.containment.min_containment = c;
                }
                let v = v.validate()?;
                let t = Instant::now();
                let clustered = cluster_stage(&sketched, Some(&scores), &v, &NoProgress)?;
                let labels: Vec<(u64, u64)> = families
                    .iter()
                    .zip(clustered.assignments.to_vec()?)
                    .filter_map(|(f, a)| Some(((*f)?, a.cluster()?)))
                    .collect();
                rows.push(SweepRow {
                    shingle: shingle.to_string(),
                    threshold,
                    min_containment: containment,
                    scores: pair_scores(&labels),
                    clusters: clustered.counts.clusters,
                    seconds: t.elapsed().as_secs_f64(),
                });
            }
        }
    }
    let (best, recommended, reason) = recommend(&rows, opts.f1_tolerance);
    let flags = dedup_flags(&rows[recommended]);
    Ok(TuneReport {
        rows,
        sketches,
        best,
        recommended,
        reason,
        flags,
    })
}

/// The `neardup dedup` flags (names from `overrides::FLAGS`) that reproduce a setting.
fn dedup_flags(r: &SweepRow) -> String {
    format!(
        "--shingle {} --threshold {} {}",
        r.shingle,
        r.threshold,
        match r.min_containment {
            None => "--containment off".to_owned(),
            Some(c) => format!("--containment on --min-containment {c}"),
        }
    )
}

/// The best row by F1, and the recommended one: among rows within `tolerance` of the best
/// F1, the highest precision (a false merge removes a document that should have stayed;
/// a miss keeps a copy), then the one nearest the defaults (a plateau of equal scores on
/// a sample says nothing about which end generalises), then the earlier row.
fn recommend(rows: &[SweepRow], tolerance: f64) -> (usize, usize, String) {
    let best = (0..rows.len())
        .max_by(|&a, &b| {
            rows[a]
                .scores
                .f1
                .total_cmp(&rows[b].scores.f1)
                .then(b.cmp(&a))
        })
        .expect("the sweep has rows");
    let best_f1 = rows[best].scores.f1;
    let recommended = (0..rows.len())
        .filter(|&i| rows[i].scores.f1 >= best_f1 - tolerance)
        .max_by(|&a, &b| {
            let (x, y) = (&rows[a], &rows[b]);
            x.scores
                .precision
                .total_cmp(&y.scores.precision)
                .then(distance_to_defaults(y).total_cmp(&distance_to_defaults(x)))
                .then(b.cmp(&a))
        })
        .expect("the best row qualifies");
    let r = &rows[recommended];
    let reason = if recommended == best {
        format!(
            "the best F1 of the sweep ({:.4}), with precision {:.4} and recall {:.4}",
            r.scores.f1, r.scores.precision, r.scores.recall
        )
    } else {
        format!(
            "F1 {:.4}, within {tolerance} of the best ({best_f1:.4}), with the highest \
             precision among those ({:.4}, recall {:.4}): a false merge removes a document \
             that should stay, a miss only keeps a copy",
            r.scores.f1, r.scores.precision, r.scores.recall
        )
    };
    (best, recommended, reason)
}

fn distance_to_defaults(r: &SweepRow) -> f64 {
    let p = Params::default();
    let c = match r.min_containment {
        Some(c) => (c - p.containment.min_containment).abs(),
        None => 1.0,
    };
    let shingle = if r.shingle == p.shingle.to_string() {
        0.0
    } else {
        0.5
    };
    (r.threshold - p.lsh.threshold).abs() + c + shingle
}

/// A small text plot of precision (P), recall (R) and F1 (F) against the threshold, for
/// the rows of one shingle and containment setting.
#[must_use]
pub fn plot(rows: &[&SweepRow], width: usize, height: usize) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let (lo, hi) = rows.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| {
        (lo.min(r.threshold), hi.max(r.threshold))
    });
    let mut grid = vec![vec![' '; width]; height];
    let col = |t: f64| {
        if hi > lo {
            ((t - lo) / (hi - lo) * (width - 1) as f64).round() as usize
        } else {
            width / 2
        }
    };
    let row = |v: f64| ((1.0 - v.clamp(0.0, 1.0)) * (height - 1) as f64).round() as usize;
    for r in rows {
        let c = col(r.threshold);
        for (mark, v) in [
            ('F', r.scores.f1),
            ('R', r.scores.recall),
            ('P', r.scores.precision),
        ] {
            let cell = &mut grid[row(v)][c];
            *cell = if *cell == ' ' || *cell == mark {
                mark
            } else {
                '*'
            };
        }
    }
    let mut out = String::new();
    for (i, line) in grid.iter().enumerate() {
        let label = if i == 0 {
            "1.0 |"
        } else if i == height - 1 {
            "0.0 |"
        } else {
            "    |"
        };
        out.push_str(label);
        out.extend(line.iter());
        out.push('\n');
    }
    out.push_str("    +");
    out.push_str(&"-".repeat(width));
    out.push('\n');
    let _ = writeln!(
        out,
        "     threshold {lo} .. {hi}   P precision, R recall, F F1, * overlap"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(threshold: f64, precision: f64, recall: f64) -> SweepRow {
        let f1 = 2.0 * precision * recall / (precision + recall);
        SweepRow {
            shingle: "word:5".into(),
            threshold,
            min_containment: None,
            scores: PairScores {
                records: 10,
                true_pairs: 10,
                predicted_pairs: 10,
                tp: 5,
                fp: 5,
                fn_: 5,
                precision,
                recall,
                f1,
                ari: 0.0,
            },
            clusters: 1,
            seconds: 0.0,
        }
    }

    #[test]
    fn the_recommended_flags_are_parameter_flags_giving_the_setting() {
        for containment in [None, Some(0.3)] {
            let mut r = row(0.65, 0.9, 0.9);
            r.shingle = "char:7".into();
            r.min_containment = containment;
            let flags = dedup_flags(&r);
            let words: Vec<&str> = flags.split(' ').collect();
            let mut patch = crate::overrides::ParamsPatch::default();
            for pair in words.chunks(2) {
                let name = pair[0].strip_prefix("--").unwrap();
                patch.set_flag(name, pair[1]).unwrap();
            }
            let p = patch.apply(Params::default());
            assert_eq!(p.shingle.to_string(), "char:7");
            assert!((p.lsh.threshold - 0.65).abs() < 1e-12);
            assert_eq!(p.containment.enabled, containment.is_some());
            if let Some(c) = containment {
                assert!((p.containment.min_containment - c).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn recommends_the_most_precise_setting_close_to_the_best_f1() {
        let rows = vec![
            row(0.5, 0.90, 0.99),  // F1 0.9429
            row(0.6, 0.95, 0.945), // F1 0.9475: best
            row(0.7, 0.99, 0.90),  // F1 0.9429: 0.0046 below, most precise
            row(0.8, 1.00, 0.80),  // F1 0.8889
        ];
        let (best, rec, reason) = recommend(&rows, 0.005);
        assert_eq!(best, 1);
        assert_eq!(rec, 2);
        assert!(reason.contains("highest precision"), "{reason}");
        let (_, rec, _) = recommend(&rows, 0.0);
        assert_eq!(rec, 1);
        // a plateau: the setting nearest the defaults
        let flat = vec![row(0.5, 1.0, 1.0), row(0.8, 1.0, 1.0), row(0.9, 1.0, 1.0)];
        assert_eq!(recommend(&flat, 0.005).1, 1);
    }

    #[test]
    fn plot_marks_every_series() {
        let rows = [row(0.5, 0.5, 1.0), row(0.9, 1.0, 0.5)];
        let refs: Vec<&SweepRow> = rows.iter().collect();
        let p = plot(&refs, 20, 5);
        assert!(p.contains('P') && p.contains('R') && p.contains('F'), "{p}");
        assert_eq!(p.lines().count(), 7);
    }
}
