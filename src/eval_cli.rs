//! `neardup eval` and `neardup explain`: arguments in, the library's report printed out.

use std::io::Write;

use anyhow::Context;

use crate::cli::{EvalArgs, ExplainArgs};
use neardup::eval::{EvalOptions, Mistake, Truth, evaluate};
use neardup::inspect::{Explanation, ParagraphFate, Side};
use neardup::output::rundir::{RunDir, Texts};
use neardup::verify::PairScore;

fn open(dir: &std::path::Path) -> anyhow::Result<RunDir> {
    RunDir::open(dir).with_context(|| format!("reading the run in {}", dir.display()))
}

/// Scores a run against labels and prints the scores and the listed mistakes.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let run = open(&args.dir)?;
    let truth = Truth::load(&args.truth)?;
    let opts = EvalOptions {
        top: args.top,
        similarity: true,
    };
    let r = evaluate(&run, &truth, &opts)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    let d = &r.dropped;
    let skipped: u64 = d.status.values().sum();
    writeln!(
        out,
        "run {}: {} records; truth {} ({}): {} of them labelled",
        r.run.display(),
        r.records,
        r.truth.display(),
        match r.truth_format {
            neardup::eval::TruthFormat::Families => "families",
            neardup::eval::TruthFormat::Pairs => "pairs",
        },
        r.labelled
    )?;
    writeln!(
        out,
        "scored {}; dropped: {} not in truth, {} with a duplicate id, {} skipped by the run; \
         {} truth ids not in the run",
        r.pairs.records, d.not_in_truth, d.duplicate_ids, skipped, d.truth_not_in_run
    )?;
    let p = &r.pairs;
    writeln!(
        out,
        "pairs: {} true, {} predicted; TP {} FP {} FN {}",
        p.true_pairs, p.predicted_pairs, p.tp, p.fp, p.fn_
    )?;
    writeln!(
        out,
        "precision {:.4}  recall {:.4}  F1 {:.4}  ARI {:.4}  ({} families, {} clusters, threshold {})",
        p.precision, p.recall, p.f1, p.ari, r.true_families, r.predicted_clusters, r.threshold
    )?;
    if let Some(pp) = &r.paragraphs {
        writeln!(
            out,
            "paragraph repeats: {} true, {} predicted; TP {} FP {} FN {}; precision {:.4}  \
             recall {:.4}  F1 {:.4}",
            pp.true_repeats,
            pp.predicted_repeats,
            pp.tp,
            pp.fp,
            pp.fn_,
            pp.precision,
            pp.recall,
            pp.f1
        )?;
        writeln!(
            out,
            "  ({}; {} documents segmented differently)",
            pp.indexing, pp.docs_segmented_differently
        )?;
    }
    let buckets: Vec<String> = r
        .copies_by_length
        .iter()
        .filter(|b| b.copies > 0)
        .map(|b| {
            let range = match b.max_shingles {
                Some(max) => format!("{}-{}", b.min_shingles, max - 1),
                None => format!("{}+", b.min_shingles),
            };
            format!(
                "{range}: {}/{} ({:.4})",
                b.with_original, b.copies, b.recall
            )
        })
        .collect();
    if !buckets.is_empty() {
        writeln!(
            out,
            "copies with their original, by compared shingles: {}",
            buckets.join(", ")
        )?;
    }
    let kinds: Vec<String> = r
        .hard_cases
        .iter()
        .map(|k| {
            let how = if k.copies {
                "with their original"
            } else {
                "apart"
            };
            format!("{} {}/{} {how} ({:.4})", k.kind, k.right, k.records, k.rate)
        })
        .collect();
    if !kinds.is_empty() {
        writeln!(out, "hard cases: {}", kinds.join(", "))?;
    }
    if let Texts::Unavailable(why) = &r.texts {
        writeln!(out, "no similarity columns: {why}")?;
    }
    let lists = [
        (
            "missed pairs (same family, different clusters), most similar first",
            &r.missed,
            p.fn_,
        ),
        (
            "false merges (same cluster, different families), least similar first",
            &r.false_merges,
            p.fp,
        ),
    ];
    for (title, list, total) in lists {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n{title}: {} of {total}", list.len())?;
        for m in list {
            print_mistake(&mut out, m)?;
        }
    }
    Ok(())
}

fn print_mistake(out: &mut impl Write, m: &Mistake) -> anyhow::Result<()> {
    let sim = match (m.jaccard, m.containment) {
        (Some(j), Some(c)) => format!("  Jaccard {j:.4}  containment {c:.4}"),
        _ => String::new(),
    };
    writeln!(
        out,
        "  {} ~ {}  clusters {} / {}{sim}",
        m.a, m.b, m.a_cluster, m.b_cluster
    )?;
    for s in m.shared_passages.iter().take(3) {
        writeln!(
            out,
            "      shares ¶{}~¶{} (J {:.2}): {}",
            s.a_paragraph, s.b_paragraph, s.jaccard, s.snippet
        )?;
    }
    if m.shared_passages.len() > 3 {
        writeln!(
            out,
            "      ... {} more shared passages",
            m.shared_passages.len() - 3
        )?;
    }
    Ok(())
}

/// Prints why two records of a run are, or are not, in one cluster.
pub fn explain(args: &ExplainArgs) -> anyhow::Result<()> {
    let run = open(&args.dir)?;
    let e = neardup::inspect::explain(&run, &args.id_a, &args.id_b)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &e)?;
        writeln!(out)?;
        return Ok(());
    }
    print_explanation(&mut out, &e)
}

fn print_side(out: &mut impl Write, s: &Side) -> anyhow::Result<()> {
    let place = match (s.line, s.offset, s.row) {
        (Some(l), _, _) => format!("{}:{l}", s.file),
        (_, Some(o), _) => format!("{}@{o}", s.file),
        (_, _, Some(r)) => format!("{}#{r}", s.file),
        _ => s.file.clone(),
    };
    let cluster = s
        .cluster
        .map_or_else(|| "none".to_owned(), |c| c.to_string());
    writeln!(
        out,
        "{}  ({place}) status {}, cluster {cluster}, representative {}",
        s.id,
        s.status,
        s.representative.as_deref().unwrap_or("-")
    )?;
    if !s.boilerplate.is_empty() || !s.repeats.is_empty() {
        let repeats: Vec<String> = s
            .repeats
            .iter()
            .map(|r| format!("¶{} (of ¶{})", r.paragraph, r.copy_of))
            .collect();
        writeln!(
            out,
            "    removed before comparing: boilerplate {:?}, repeats [{}]",
            s.boilerplate,
            repeats.join(", ")
        )?;
    }
    if s.same_id_records > 0 {
        writeln!(
            out,
            "    ({} other records have this id; the first is explained)",
            s.same_id_records
        )?;
    }
    Ok(())
}

fn sim_line(name: &str, s: &PairScore) -> String {
    format!(
        "{name}: Jaccard {:.4}, containment A in B {:.4}, B in A {:.4} ({} shared of {} / {} shingles)",
        s.jaccard,
        s.a_in_b(),
        s.b_in_a(),
        s.shared,
        s.size_a,
        s.size_b
    )
}

fn print_paragraphs(
    out: &mut impl Write,
    name: &str,
    list: &[ParagraphFate],
) -> anyhow::Result<()> {
    writeln!(out, "paragraphs of {name}:")?;
    for p in list {
        let other = match (p.other, p.jaccard) {
            (Some(o), Some(j)) => format!(" ~ ¶{o} (J {j:.2})"),
            _ => String::new(),
        };
        writeln!(
            out,
            "  ¶{:<3} {:<11}{other}  {}",
            p.paragraph, p.fate, p.snippet
        )?;
    }
    Ok(())
}

fn print_explanation(out: &mut impl Write, e: &Explanation) -> anyhow::Result<()> {
    write!(out, "A: ")?;
    print_side(out, &e.a)?;
    write!(out, "B: ")?;
    print_side(out, &e.b)?;
    if let Texts::Unavailable(why) = &e.texts {
        writeln!(out, "no similarity: {why}")?;
    }
    if let Some(c) = &e.compared {
        writeln!(out, "{}", sim_line("compared (cleaned)", c))?;
        if let Some(t) = &c.shared_text {
            use neardup::verify::rule::{MAX_LEAD, MIN_SPREAD};
            // both are counted only as far as the rule looks
            let lead = |n: u32| {
                if n > MAX_LEAD {
                    format!("more than {MAX_LEAD}")
                } else {
                    n.to_string()
                }
            };
            let spread = |n: u32| {
                if n >= MIN_SPREAD {
                    format!("{MIN_SPREAD} or more")
                } else {
                    n.to_string()
                }
            };
            writeln!(
                out,
                "shared text: starts after {} shingles of A and {} of B; paragraphs of {}+ \
                 shingles shared: {} of A, {} of B",
                lead(t.lead_a),
                lead(t.lead_b),
                neardup::verify::rule::SPREAD_MIN_SHINGLES,
                spread(t.paragraphs_a),
                spread(t.paragraphs_b)
            )?;
        }
    }
    if let Some(r) = &e.raw {
        writeln!(out, "{}", sim_line("raw (all paragraphs)", r))?;
    }
    if let Some(s) = &e.sketches {
        let bands = if s.bands_collided.is_empty() {
            "none".to_owned()
        } else {
            s.bands_collided
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "MinHash estimate {:.4}; LSH {} bands x {} rows, bands collided: {bands}; \
             P(collision at this Jaccard) {:.4}",
            s.minhash_estimate, s.bands, s.rows, s.collision_probability
        )?;
        writeln!(
            out,
            "SimHash distance {} bits{}",
            s.simhash_distance,
            if s.simhash_used {
                format!(" (candidates within {})", s.simhash_k)
            } else {
                " (the run did not use SimHash candidates)".to_owned()
            }
        )?;
        writeln!(
            out,
            "opening paragraphs (each document's first two of {}+ shingles, sketched on \
             their own): {} keys shared",
            neardup::params::OPENING_MIN_SHINGLES,
            s.opening_keys_shared
        )?;
    }
    if !e.a_paragraphs.is_empty() {
        print_paragraphs(out, "A", &e.a_paragraphs)?;
        print_paragraphs(out, "B", &e.b_paragraphs)?;
    }
    writeln!(out, "verdict: {}", e.verdict)?;
    Ok(())
}
