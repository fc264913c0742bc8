//! `neardup tune`: arguments in, the sweep's table, plot and recommendation out.

use std::io::Write;

use crate::cli::TuneArgs;
use neardup::NoProgress;
use neardup::eval::Truth;
use neardup::tune::{SweepRow, TuneOptions, plot, tune as sweep};

fn containment_label(c: Option<f64>) -> String {
    c.map_or_else(|| "off".to_owned(), |c| format!("{c}"))
}

/// Runs the sweep and prints its table, plot and recommendation (or one JSON object).
pub fn tune(args: &TuneArgs) -> anyhow::Result<()> {
    let params = args.params()?;
    let truth = Truth::load(&args.truth)?;
    let opts = TuneOptions {
        thresholds: args.thresholds.clone(),
        shingles: args.shingles.clone(),
        containments: args.containments.iter().map(|c| c.0).collect(),
        threads: args.threads,
        ..TuneOptions::default()
    };
    let scratch =
        neardup::spill::Scratch::new(args.spill_dir.clone().unwrap_or_else(std::env::temp_dir));
    let report = sweep(&args.inputs, &params, &truth, &opts, &scratch, &NoProgress)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    for s in &report.sketches {
        writeln!(
            out,
            "{}: {} records ({} labelled), {} candidate pairs; read and sketched once in \
             {:.2} s, every candidate scored once in {:.2} s",
            s.shingle, s.records, s.labelled, s.candidate_pairs, s.sketch_seconds, s.score_seconds
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "shingle   threshold  containment  precision  recall  F1      ARI     clusters  seconds"
    )?;
    for (i, r) in report.rows.iter().enumerate() {
        let mark = match (i == report.recommended, i == report.best) {
            (true, true) => "  <- best, recommended",
            (true, false) => "  <- recommended",
            (false, true) => "  <- best F1",
            _ => "",
        };
        writeln!(
            out,
            "{:<9} {:<10} {:<12} {:<10.4} {:<7.4} {:<7.4} {:<7.4} {:<9} {:.3}{mark}",
            r.shingle,
            r.threshold,
            containment_label(r.min_containment),
            r.scores.precision,
            r.scores.recall,
            r.scores.f1,
            r.scores.ari,
            r.clusters,
            r.seconds,
        )?;
    }
    let rec = &report.rows[report.recommended];
    let series: Vec<&SweepRow> = report
        .rows
        .iter()
        .filter(|r| r.shingle == rec.shingle && r.min_containment == rec.min_containment)
        .collect();
    if series.len() > 1 {
        writeln!(
            out,
            "\n{} with containment {}:",
            rec.shingle,
            containment_label(rec.min_containment)
        )?;
        write!(out, "{}", plot(&series, 50, 11))?;
    }
    writeln!(out, "\nrecommended: {}", report.flags)?;
    writeln!(out, "because: {}", report.reason)?;
    Ok(())
}
