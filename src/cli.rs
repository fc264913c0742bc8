//! Command-line arguments: what the user typed, turned into `Params` once. The parameter
//! flags are the library's table (`neardup::overrides::FLAGS`), read into a `ParamsPatch`;
//! the flags declared here are about this process (where to write, threads, output).

use std::fmt::Display;
use std::marker::PhantomData;
use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use neardup::overrides::{FLAGS, Flag, ParamsPatch};
use neardup::params::{Params, ShingleParams};
use neardup::report::ReportOptions;
use neardup::tune::TuneOptions;

#[derive(Parser, Debug)]
#[command(
    name = "neardup",
    version,
    about = "Find near-duplicate documents in large text collections"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find near-duplicate documents and write docs.jsonl, clusters.jsonl, summary.json.
    Dedup(DedupArgs),
    /// Write report.html, report.md and syndication.csv for the run in a dedup output directory.
    Report(ReportArgs),
    /// Write a seeded synthetic news corpus with ground truth (for tests and benchmarks).
    Generate(GenerateArgs),
    /// Score a run's docs.jsonl against labels: pairwise precision, recall, F1, ARI, mistakes.
    Eval(EvalArgs),
    /// Explain why two documents of a run are, or are not, in one cluster.
    Explain(ExplainArgs),
    /// Sweep threshold, containment and shingles on labelled input; recommend settings.
    Tune(TuneArgs),
    /// Look after a persistent index made by `dedup --index`: info, verify, compact.
    #[command(subcommand)]
    Index(IndexCommand),
}

#[derive(Subcommand, Debug)]
pub enum IndexCommand {
    /// Print the index's documents, runs, segments, bytes, parameters and orphans (JSON).
    Info(IndexDirArg),
    /// Check every checksum and that every record of every run is in exactly one segment;
    /// count the archived documents boilerplate learned later would compare differently.
    Verify(IndexDirArg),
    /// Print every record of the index (JSONL: id, run, status, cluster, keep) as it stands.
    Records(IndexDirArg),
    /// Merge the segments into one and remove orphans (takes the index's lock).
    Compact(IndexDirArg),
}

#[derive(Args, Debug)]
pub struct IndexDirArg {
    /// The index directory.
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct DedupArgs {
    /// JSONL files (optionally .gz/.zst), text files, directories, or - for JSONL on stdin.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output directory (created if missing).
    #[arg(long, short)]
    pub out: PathBuf,
    /// JSON file of parameters (the `params` object of a summary.json works); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub params: ParamFlags<AllFlags>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also write clean.jsonl: kept records with repeats and boilerplate removed.
    #[arg(long)]
    pub emit_clean: bool,
    /// Directory for the temporary shingle spill (default: the output directory).
    #[arg(long)]
    pub spill_dir: Option<PathBuf>,
    /// Memory for what grows with the documents, e.g. 512M or 2G [default: 256M]; beyond
    /// it the band keys go to the spill directory. Results do not depend on it.
    #[arg(long, value_name = "SIZE", value_parser = memory_size)]
    pub memory: Option<u64>,
    /// No progress bars and no warnings on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// After the run, also write the report (report.html, report.md, syndication.csv).
    #[arg(long)]
    pub report: bool,
    /// Persistent index: compare the inputs with every document of earlier runs and with
    /// each other, write the outputs for the inputs' records, then add them to the index
    /// (created if DIR does not exist).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// With --index: compare with the index without adding the inputs to it.
    #[arg(long, requires = "index")]
    pub index_readonly: bool,
    /// Format of the docs and clusters files: docs.jsonl and clusters.jsonl, or
    /// docs.parquet and clusters.parquet (summary.json stays JSON).
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub output_format: FormatArg,
}

/// `--output-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// docs.jsonl and clusters.jsonl.
    Jsonl,
    /// docs.parquet and clusters.parquet.
    Parquet,
}

impl From<FormatArg> for neardup::OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Jsonl => neardup::OutputFormat::Jsonl,
            FormatArg::Parquet => neardup::OutputFormat::Parquet,
        }
    }
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The output directory of a `neardup dedup` run.
    pub dir: PathBuf,
    /// Clusters shown in detail, largest first.
    #[arg(long, default_value_t = ReportOptions::default().max_clusters)]
    pub max_clusters: usize,
}

impl DedupArgs {
    /// Defaults, then the config file, then the flags.
    pub fn params(&self) -> anyhow::Result<Params> {
        let p = Params::from_config_and_flags(self.config.as_deref(), self.params.patch.clone())?;
        if self.emit_clean && !p.paragraphs.enabled {
            anyhow::bail!("--emit-clean needs the paragraph stage (--paragraphs on)");
        }
        if self.report && self.output_format == FormatArg::Parquet {
            anyhow::bail!(
                "--report reads docs.jsonl and clusters.jsonl; it does not read the Parquet \
                 outputs of --output-format parquet: drop one of the two"
            );
        }
        neardup::OutputFormat::from(self.output_format).check()?;
        Ok(p)
    }
}

/// Which of the library's parameter flags a subcommand takes.
pub trait FlagSet {
    /// Whether the subcommand takes `flag`.
    fn takes(flag: &Flag) -> bool;
}

/// `dedup`: every parameter flag.
#[derive(Debug, Clone)]
pub struct AllFlags;

impl FlagSet for AllFlags {
    fn takes(_: &Flag) -> bool {
        true
    }
}

/// `tune`: the input fields and the paragraph stage; it sweeps shingles, threshold and
/// containment itself.
#[derive(Debug, Clone)]
pub struct TuneFlags;

impl FlagSet for TuneFlags {
    fn takes(flag: &Flag) -> bool {
        matches!(
            flag.name,
            "id-field" | "text-field" | "date-field" | "outlet-field" | "paragraphs"
        )
    }
}

/// The parameter flags of a subcommand, as the patch they make.
#[derive(Debug, Clone)]
pub struct ParamFlags<S> {
    /// What the flags given set.
    pub patch: ParamsPatch,
    set: PhantomData<S>,
}

fn memory_size(value: &str) -> Result<u64, String> {
    neardup::spill::parse_memory(value).map_err(|e| e.to_string())
}

/// A clap argument for one parameter flag. Values are checked while parsing, by the
/// table's own reader, so a bad one gets clap's usual error naming the flag.
fn flag_arg(flag: &'static Flag) -> Arg {
    let arg = Arg::new(flag.name)
        .long(flag.name)
        .value_name(flag.value_name)
        .help(flag.help);
    let arg = if flag.choices.is_empty() {
        arg.value_parser(move |v: &str| {
            flag.set(&mut ParamsPatch::default(), v)
                .map(|()| v.to_owned())
        })
    } else {
        arg.value_parser(PossibleValuesParser::new(flag.choices))
    };
    if flag.list {
        arg.action(ArgAction::Append).value_delimiter(',')
    } else {
        arg.action(ArgAction::Set)
    }
}

impl<S: FlagSet> FromArgMatches for ParamFlags<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut patch = ParamsPatch::default();
        for flag in FLAGS.iter().filter(|f| S::takes(f)) {
            for value in matches.get_many::<String>(flag.name).into_iter().flatten() {
                flag.set(&mut patch, value)
                    .map_err(|e| clap::Error::raw(ErrorKind::ValueValidation, e))?;
            }
        }
        Ok(ParamFlags {
            patch,
            set: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<S: FlagSet> Args for ParamFlags<S> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        FLAGS
            .iter()
            .filter(|f| S::takes(f))
            .fold(cmd, |cmd, f| cmd.arg(flag_arg(f)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of articles (originals, copies and hard cases), at most 4294967295.
    #[arg(long)]
    pub docs: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output JSONL; the truth goes to <OUT>.truth.jsonl.
    #[arg(long, short)]
    pub out: PathBuf,
    #[arg(long)]
    pub min_words: Option<usize>,
    #[arg(long)]
    pub max_words: Option<usize>,
    #[arg(long)]
    pub outlets: Option<usize>,
    #[arg(long)]
    pub syndicated_frac: Option<f64>,
    #[arg(long)]
    pub max_edit_rate: Option<f64>,
    /// `hard` adds the hard cases at the rates the benchmarks use: news ledes, lede-only
    /// copies, shared statements, follow-ups, template items and digests (the flags below
    /// override single rates).
    #[arg(long, value_enum, default_value_t = GenProfile::Default)]
    pub profile: GenProfile,
    /// Originals open with a one- or two-sentence lede.
    #[arg(long)]
    pub short_ledes: bool,
    /// Share of copies that keep only the headline and the first one or two paragraphs.
    #[arg(long)]
    pub lede_copy_frac: Option<f64>,
    /// Share of originals quoting a statement that 1-3 short briefs carry too.
    #[arg(long)]
    pub quote_frac: Option<f64>,
    /// Share of originals with a follow-up story reusing their background paragraph.
    #[arg(long)]
    pub followup_frac: Option<f64>,
    /// Chance, per original, of a batch of 2-4 template items.
    #[arg(long)]
    pub template_frac: Option<f64>,
    /// Chance, per original, of a digest page listing 5-8 recent stories.
    #[arg(long)]
    pub digest_frac: Option<f64>,
}

/// The mix of articles `generate` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GenProfile {
    /// Originals, copies, repeats and boilerplate, as `gen_corpus.py` makes them.
    Default,
    /// The default corpus plus every hard case.
    Hard,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Labels: JSONL with id and family per line, or lines of positive pairs `id_a id_b`.
    #[arg(long)]
    pub truth: PathBuf,
    /// The run's output directory (docs.jsonl, summary.json).
    pub dir: PathBuf,
    /// How many missed pairs and false merges to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The run's output directory (docs.jsonl, summary.json).
    pub dir: PathBuf,
    pub id_a: String,
    pub id_b: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A containment setting of the sweep: `off`, or a minimum containment.
#[derive(Debug, Clone, Copy)]
pub struct SweepContainment(pub Option<f64>);

impl std::str::FromStr for SweepContainment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(SweepContainment(None));
        }
        s.parse::<f64>()
            .map(|c| SweepContainment(Some(c)))
            .map_err(|_| format!("expected off or a number, got {s:?}"))
    }
}

#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Labels: JSONL with id and family per line, or lines of positive pairs `id_a id_b`.
    #[arg(long)]
    pub truth: PathBuf,
    /// The labelled input: JSONL files (optionally .gz/.zst), text files, directories.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// JSON file of parameters (as for dedup); the sweep varies the rest.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Jaccard thresholds to try.
    #[arg(long, value_delimiter = ',', default_value = joined(&TuneOptions::default().thresholds))]
    pub thresholds: Vec<f64>,
    /// Containment settings to try: off, or minimum containments.
    #[arg(long, value_delimiter = ',', default_value = joined(&default_containments()))]
    pub containments: Vec<SweepContainment>,
    /// Shingle settings to try (each is read and sketched once).
    #[arg(long, value_delimiter = ',', default_value = joined(&TuneOptions::default().shingles))]
    pub shingles: Vec<ShingleParams>,
    #[command(flatten)]
    pub params: ParamFlags<TuneFlags>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Directory for the temporary shingle spill (default: the system's temp directory).
    #[arg(long)]
    pub spill_dir: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl TuneArgs {
    /// Defaults, then the config file, then the flags; the sweep varies the rest.
    pub fn params(&self) -> anyhow::Result<Params> {
        Ok(Params::from_config_and_flags(
            self.config.as_deref(),
            self.params.patch.clone(),
        )?)
    }
}

/// A list default as the user would type it: `0.5,0.6,0.7`.
fn joined<T: Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn default_containments() -> Vec<SweepContainment> {
    TuneOptions::default()
        .containments
        .into_iter()
        .map(SweepContainment)
        .collect()
}

impl Display for SweepContainment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(c) => write!(f, "{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neardup::params::RepresentativeRule;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["neardup"].iter().chain(args))
    }

    fn dedup_params(args: &[&str]) -> anyhow::Result<Params> {
        let mut argv = vec!["dedup", "-", "--out", "o"];
        argv.extend(args);
        let Command::Dedup(d) = parse(&argv)?.command else {
            unreachable!("parsed as dedup")
        };
        d.params()
    }

    #[test]
    fn flags_override_the_config_and_rederive_its_banding() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.json");
        std::fs::write(
            &config,
            r#"{"lsh": {"threshold": 0.7, "bands": 64, "rows": 2}, "paragraphs": {"enabled": false}}"#,
        )
        .unwrap();
        let config = config.to_str().unwrap();
        let p = dedup_params(&["--config", config]).unwrap();
        assert_eq!(
            (p.lsh.threshold, p.lsh.bands, p.lsh.rows),
            (0.7, Some(64), Some(2))
        );
        assert!(!p.paragraphs.enabled);
        // a flag the banding depends on drops the config's bands and rows
        for flags in [
            &["--threshold", "0.9"][..],
            &["--num-perm", "256"],
            &["--containment", "off"],
        ] {
            let mut args = vec!["--config", config];
            args.extend(flags);
            let p = dedup_params(&args).unwrap();
            assert_eq!((p.lsh.bands, p.lsh.rows), (None, None), "{flags:?}");
        }
        let p = dedup_params(&["--config", config, "--bands", "10"]).unwrap();
        assert_eq!((p.lsh.bands, p.lsh.rows), (Some(10), None));
        // other flags keep them, and the flag wins over the config
        let p = dedup_params(&[
            "--config",
            config,
            "--paragraphs",
            "on",
            "--max-bucket",
            "9",
        ])
        .unwrap();
        assert_eq!(
            (p.lsh.bands, p.lsh.rows, p.lsh.max_bucket),
            (Some(64), Some(2), 9)
        );
        assert!(p.paragraphs.enabled);
    }

    #[test]
    fn list_flags_split_at_commas_and_add_up() {
        let p = dedup_params(&[
            "--representative",
            "id",
            "--representative",
            "date,longest",
            "--prefer-outlets",
            " wire , paper",
        ])
        .unwrap();
        assert_eq!(
            p.cluster.representative,
            [
                RepresentativeRule::Id,
                RepresentativeRule::Date,
                RepresentativeRule::Longest
            ]
        );
        assert_eq!(p.cluster.prefer_outlets, ["wire", "paper"]);
    }

    #[test]
    fn bad_values_are_clap_errors_naming_the_flag() {
        let e = parse(&["dedup", "-", "--out", "o", "--threshold", "high"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        let text = e.to_string();
        assert!(
            text.contains(
                "invalid value 'high' for '--threshold <THRESHOLD>': invalid float literal"
            ),
            "{text}"
        );
        let e = parse(&["dedup", "-", "--out", "o", "--paragraphs", "maybe"]).unwrap_err();
        assert!(e.to_string().contains("[possible values: on, off]"), "{e}");
        let e = parse(&[
            "dedup",
            "-",
            "--out",
            "o",
            "--threshold",
            "0.5",
            "--threshold",
            "0.6",
        ])
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ArgumentConflict);
        // tune takes only its share of the parameter flags
        assert!(parse(&["tune", "--truth", "t", "in", "--threshold", "0.5"]).is_err());
        assert!(dedup_params(&["--emit-clean", "--paragraphs", "off"]).is_err());
    }

    #[test]
    fn tune_takes_fields_and_paragraphs_and_the_library_defaults() {
        let Command::Tune(t) = parse(&[
            "tune",
            "--truth",
            "t",
            "in",
            "--paragraphs",
            "off",
            "--text-field",
            "body",
        ])
        .unwrap()
        .command
        else {
            unreachable!("parsed as tune")
        };
        let p = t.params().unwrap();
        assert!(!p.paragraphs.enabled);
        assert_eq!(p.input.text_field, "body");
        let d = TuneOptions::default();
        assert_eq!(t.thresholds, d.thresholds);
        assert_eq!(t.shingles, d.shingles);
        assert_eq!(
            t.containments.iter().map(|c| c.0).collect::<Vec<_>>(),
            d.containments
        );
    }
}
