//! The `neardup` binary: parse arguments, run the library, report, exit 0 or 2.

mod cli;
mod eval_cli;
mod tune_cli;

use std::io::{ErrorKind, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use cli::{Cli, Command, DedupArgs, GenerateArgs, IndexCommand, ReportArgs};
use neardup::{Progress, RunOptions};

/// Set by SIGINT/SIGTERM/SIGHUP; the library polls it between batches.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long a stage may take to notice the interruption before the process exits anyway
/// (a read blocked on a silent pipe never returns). Outputs are only ever renamed into
/// place, so exiting cannot leave a partial file under a final name.
const GRACE: Duration = Duration::from_secs(3);

/// The allocator: glibc's malloc kept what the earlier stages freed until the run ended,
/// over `--memory` at 1M documents (Cargo.toml says more).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Without a handler the run still dies cleanly on a signal; the handler adds the
    // message and removes temporary files.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(GRACE);
        say_error("interrupted; no output was written");
        std::process::exit(130);
    });
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // the reader of our output has gone (`neardup ... | head`): nothing left to do
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            say_error(&message(&e));
            if in_chain::<neardup::Error>(&e, |e| matches!(e, neardup::Error::Interrupted)) {
                ExitCode::from(130)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// Whether any error in `e`'s chain is an `E` that `test` accepts.
fn in_chain<E: std::error::Error + 'static>(e: &anyhow::Error, test: impl Fn(&E) -> bool) -> bool {
    e.chain().filter_map(|c| c.downcast_ref::<E>()).any(test)
}

/// Whether a write failed because the reader went away, anywhere in the chain. serde_json
/// keeps the io::Error it met out of the chain, so it is asked separately.
fn broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = Some(ErrorKind::BrokenPipe);
    in_chain::<std::io::Error>(e, |e| Some(e.kind()) == pipe)
        || in_chain::<serde_json::Error>(e, |e| e.io_error_kind() == pipe)
}

/// The error chain in one line, outermost first. The library's messages already end with
/// their cause (so `summary.json` and Python get it whole), so a cause whose text the line
/// already ends with is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// `neardup: error: ...` on stderr; if stderr is gone too there is no one left to tell.
fn say_error(message: &str) {
    let _ = writeln!(std::io::stderr(), "neardup: error: {message}");
}

/// A warning on stderr, ignoring a closed stderr as `say_error` does.
fn say_warning(message: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dedup(args) => dedup(&args),
        Command::Generate(args) => generate(&args),
        Command::Eval(args) => eval_cli::eval(&args),
        Command::Explain(args) => eval_cli::explain(&args),
        Command::Tune(args) => tune_cli::tune(&args),
        Command::Report(args) => report(&args),
        Command::Index(cmd) => index(&cmd),
    }
}

fn index(cmd: &IndexCommand) -> anyhow::Result<()> {
    if let IndexCommand::Records(a) = cmd {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        neardup::index::for_each_record(&a.dir, |r| -> anyhow::Result<()> {
            serde_json::to_writer(&mut out, &r)?;
            writeln!(out)?;
            Ok(())
        })?;
        out.flush()?;
        return Ok(());
    }
    let (info, verb) = match cmd {
        IndexCommand::Info(a) => (neardup::index::info(&a.dir)?, None),
        IndexCommand::Verify(a) => (neardup::index::verify(&a.dir)?, Some("verified")),
        IndexCommand::Compact(a) => (neardup::index::compact(&a.dir)?, Some("compacted")),
        IndexCommand::Records(_) => unreachable!("printed above"),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &info)?;
    writeln!(out)?;
    if let Some(verb) = verb {
        writeln!(
            out,
            "{verb}: {} records ({} compared) from {} runs in {} segments, {} bytes",
            info.records,
            info.docs,
            info.manifest.runs,
            info.manifest.segments.len(),
            info.bytes
        )?;
    }
    if let Some(n) = info.stale_boilerplate {
        writeln!(
            out,
            "boilerplate learned later: {n} archived documents would now compare differently \
             (their runs' decisions stand; a full run without --index gives today's answer)"
        )?;
    }
    for o in &info.orphans {
        say_warning(&format!(
            "segments/{o} is not named by the manifest (a killed run's or a compaction's \
             leftover): not part of the index; `neardup index compact` removes it"
        ));
    }
    Ok(())
}

fn dedup(args: &DedupArgs) -> anyhow::Result<()> {
    let params = args.params()?.validate()?;
    let opts = RunOptions {
        out_dir: args.out.clone(),
        threads: args.threads,
        spill_dir: args.spill_dir.clone(),
        memory: args.memory,
        emit_clean: args.emit_clean,
        output_format: args.output_format.into(),
    };
    let progress = Bars::new(args.quiet);
    let summary = match &args.index {
        None => neardup::run(&args.inputs, &params, &opts, &progress)?,
        Some(dir) => neardup::index::run(
            &args.inputs,
            &params,
            &opts,
            &neardup::index::IndexOptions {
                dir: dir.clone(),
                readonly: args.index_readonly,
            },
            &progress,
        )?,
    };
    let c = &summary.counts;
    let skipped: u64 = c.skipped.values().sum();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} records: {} compared, {} empty, {} skipped; {} clusters hold {} records; {} duplicates marked; {} kept",
        c.records,
        c.compared,
        c.empty,
        skipped,
        c.clusters,
        c.docs_in_clusters,
        c.duplicates,
        c.kept
    )?;
    let v = &summary.verification;
    // an index run's accepted pairs include the verdicts it took from the index
    let stored = summary.index.as_ref().map_or(String::new(), |i| {
        format!(", {} verdicts from the index", i.stored_verdicts)
    });
    writeln!(
        out,
        "bands x rows {} x {}, {} candidate pairs, {} verified{stored}, {} accepted ({} by \
         containment); {} split off, {} weak links; {:.2} s",
        params.bands(),
        params.rows(),
        summary.candidates.pairs,
        v.verified,
        v.accepted,
        v.by_containment,
        v.split_off,
        v.weak_links,
        summary.seconds.get("total").copied().unwrap_or_default()
    )?;
    let [docs, clusters] = neardup::OutputFormat::from(args.output_format).files();
    writeln!(
        out,
        "wrote {}/{{{docs}, {clusters}, summary.json}}",
        args.out.display()
    )?;
    if args.report {
        drop(out);
        report(&ReportArgs {
            dir: args.out.clone(),
            max_clusters: neardup::report::ReportOptions::default().max_clusters,
        })?;
    }
    Ok(())
}

fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let options = neardup::report::ReportOptions {
        max_clusters: args.max_clusters,
    };
    let outcome = neardup::report::write_report(&args.dir, &options)?;
    for notice in &outcome.notices {
        say_warning(notice);
    }
    writeln!(
        std::io::stdout(),
        "report: {} clusters ({} shown), {} copies; wrote {}/{{report.html, report.md, syndication.csv}}",
        outcome.clusters,
        outcome.shown,
        outcome.copies,
        args.dir.display()
    )?;
    Ok(())
}

fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let mut p = neardup::generate::GenParams {
        docs: args.docs,
        seed: args.seed,
        ..Default::default()
    };
    if args.profile == cli::GenProfile::Hard {
        p = p.hard();
    }
    p.short_ledes |= args.short_ledes;
    for (value, field) in [
        (args.min_words, &mut p.min_words),
        (args.max_words, &mut p.max_words),
        (args.outlets, &mut p.outlets),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    for (value, field) in [
        (args.syndicated_frac, &mut p.syndicated_frac),
        (args.max_edit_rate, &mut p.max_edit_rate),
        (args.lede_copy_frac, &mut p.lede_copy_frac),
        (args.quote_frac, &mut p.quote_frac),
        (args.followup_frac, &mut p.followup_frac),
        (args.template_frac, &mut p.template_frac),
        (args.digest_frac, &mut p.digest_frac),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    let n = neardup::generate::generate_to(&p, &args.out).context("generate")?;
    writeln!(
        std::io::stdout(),
        "wrote {n} documents to {} (+ .truth.jsonl)",
        args.out.display()
    )?;
    Ok(())
}

/// indicatif bars on a terminal; plain warnings otherwise; nothing with --quiet.
struct Bars {
    quiet: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn new(quiet: bool) -> Self {
        Bars {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &'static str, total: Option<u64>) {
        if self.quiet || !self.terminal {
            return;
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {elapsed}")
                    .expect("static template")
                    .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template(
                    "{prefix:>14} {spinner} {pos} records {per_sec} {elapsed}",
                )
                .expect("static template"),
            ),
        };
        bar.set_prefix(name);
        *self.bar.lock().expect("bar lock") = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &*self.bar.lock().expect("bar lock") {
            bar.inc(n);
        }
    }

    fn finish_stage(&self) {
        if let Some(bar) = self.bar.lock().expect("bar lock").take() {
            bar.finish();
        }
    }

    fn cancelled(&self) -> bool {
        INTERRUPTED.load(Ordering::Relaxed)
    }

    fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        match &*self.bar.lock().expect("bar lock") {
            Some(bar) => bar.println(format!("warning: {message}")),
            None => say_warning(message),
        }
    }
}
