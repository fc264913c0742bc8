//! Command-line arguments: what the user typed, turned into `Params` once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use neardup::params::{
    CandidateMethod, ClusterShape, ErrorPolicy, Params, RepresentativeRule, ShingleParams,
    SimHashWeights, SplitMode, VerifyMethod,
};

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
    pub fields: FieldArgs,
    /// skip: bad records get a status and are counted; stop: exit 2 at the first one.
    #[arg(long, value_name = "skip|stop")]
    pub on_error: Option<ErrorPolicy>,
    /// Records longer than this many bytes are skipped as too_large.
    #[arg(long)]
    pub max_doc_bytes: Option<u64>,
    /// Shingles: word:K or char:K.
    #[arg(long, value_name = "KIND:K")]
    pub shingle: Option<ShingleParams>,
    /// MinHash signature length.
    #[arg(long)]
    pub num_perm: Option<usize>,
    /// Seed of the MinHash bins (the shingle hash seed is in the config).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Jaccard similarity at or above which documents are duplicates.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// LSH bands (derived from the threshold when absent).
    #[arg(long)]
    pub bands: Option<usize>,
    /// LSH rows per band (derived from the threshold when absent).
    #[arg(long)]
    pub rows: Option<usize>,
    /// Buckets larger than this are paired as a sliding window.
    #[arg(long)]
    pub max_bucket: Option<usize>,
    /// exact: Jaccard of the shingle sets; estimate: the MinHash estimate.
    #[arg(long, value_name = "exact|estimate")]
    pub verify: Option<VerifyMethod>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where candidate pairs come from: MinHash LSH, SimHash fingerprints, or both.
    #[arg(long, value_name = "minhash|simhash|both")]
    pub method: Option<CandidateMethod>,
    /// SimHash candidates: fingerprints within this many bits (0..=8).
    #[arg(long)]
    pub simhash_k: Option<u32>,
    /// SimHash feature weights: tf, or tf-idf with document frequencies from the input.
    #[arg(long, value_name = "tf|tfidf")]
    pub simhash_weights: Option<SimHashWeights>,
    /// The paragraph stage (repeats inside documents, boilerplate across them).
    #[arg(long, value_name = "on|off")]
    pub paragraphs: Option<OnOff>,
    /// How documents are cut into paragraphs.
    #[arg(long, value_name = "blank|line|auto")]
    pub paragraph_split: Option<SplitMode>,
    /// Compare articles with repeats and boilerplate removed (clean) or as they are (raw).
    #[arg(long, value_name = "clean|raw")]
    pub compare: Option<CompareText>,
    /// Field with the page URL (its host stands in for a missing outlet).
    #[arg(long)]
    pub url_field: Option<String>,
    /// Boilerplate: in at least this many documents of one outlet ...
    #[arg(long)]
    pub boilerplate_min_docs: Option<u64>,
    /// ... and at least this fraction of them.
    #[arg(long)]
    pub boilerplate_min_fraction: Option<f64>,
    /// Near-repeat paragraphs: minimum Jaccard of their char 5-gram sets.
    #[arg(long)]
    pub repeat_threshold: Option<f64>,
    /// Near-repeat paragraphs: maximum SimHash Hamming distance.
    #[arg(long)]
    pub repeat_max_hamming: Option<u32>,
    /// Paragraphs with fewer words are never reported as repeats.
    #[arg(long)]
    pub repeat_min_words: Option<usize>,
    /// Also match pairs by containment (|A ∩ B| / |smaller|): trimmed and wrapped copies.
    #[arg(long, value_name = "on|off")]
    pub containment: Option<OnOff>,
    /// Containment at or above which a pair matches.
    #[arg(long)]
    pub min_containment: Option<f64>,
    /// A pair matching by containment shares at least this many shingles.
    #[arg(long)]
    pub min_shared: Option<u64>,
    /// star: members are checked against the representative (chains split);
    /// components: connected components of the matching pairs.
    #[arg(long, value_name = "star|components")]
    pub cluster_shape: Option<ClusterShape>,
    /// Star clusters: members with less containment with the representative split off.
    #[arg(long)]
    pub star_min_containment: Option<f64>,
    /// Order that picks the representative (the original), comma-separated.
    #[arg(long, value_name = "date,outlet,longest,id", value_delimiter = ',')]
    pub representative: Option<Vec<RepresentativeRule>>,
    /// Outlets whose copy is the original when dates tie, first preferred; comma-separated.
    #[arg(long, value_name = "OUTLET,...", value_delimiter = ',')]
    pub prefer_outlets: Option<Vec<String>>,
    /// Also write clean.jsonl: kept records with repeats and boilerplate removed.
    #[arg(long)]
    pub emit_clean: bool,
    /// Directory for the temporary shingle spill (default: the output directory).
    #[arg(long)]
    pub spill_dir: Option<PathBuf>,
    /// No progress bars and no warnings on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// After the run, also write the report (report.html, report.md, syndication.csv).
    #[arg(long)]
    pub report: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The output directory of a `neardup dedup` run.
    pub dir: PathBuf,
    /// Clusters shown in detail, largest first.
    #[arg(long, default_value_t = 100)]
    pub max_clusters: usize,
}

impl DedupArgs {
    /// Defaults, then the config file, then the flags.
    pub fn params(&self) -> anyhow::Result<Params> {
        let mut p = config_params(self.config.as_deref())?;
        self.fields.apply(&mut p);
        if let Some(v) = self.on_error {
            p.input.on_error = v;
        }
        if let Some(v) = self.max_doc_bytes {
            p.input.max_doc_bytes = v;
        }
        if let Some(v) = self.shingle {
            p.shingle.kind = v.kind;
            p.shingle.size = v.size;
        }
        if let Some(v) = self.num_perm {
            p.minhash.num_perm = v;
        }
        if let Some(v) = self.seed {
            p.minhash.seed = v;
        }
        if let Some(v) = self.threshold {
            p.lsh.threshold = v;
        }
        if self.bands.is_some()
            || self.rows.is_some()
            || self.threshold.is_some()
            || self.num_perm.is_some()
        {
            // bands/rows in a config were derived for its threshold; new flags re-derive
            p.lsh.bands = self.bands;
            p.lsh.rows = self.rows;
        }
        if let Some(v) = self.max_bucket {
            p.lsh.max_bucket = v;
        }
        if let Some(v) = self.verify {
            p.verify.method = v;
        }
        if let Some(v) = self.method {
            p.candidates.method = v;
        }
        if let Some(v) = self.simhash_k {
            p.simhash.max_hamming = v;
        }
        if let Some(v) = self.simhash_weights {
            p.simhash.weights = v;
        }
        if let Some(v) = &self.url_field {
            p.input.url_field.clone_from(v);
        }
        let pp = &mut p.paragraphs;
        if let Some(v) = self.paragraphs {
            pp.enabled = v == OnOff::On;
        }
        if let Some(v) = self.paragraph_split {
            pp.split = v;
        }
        if let Some(v) = self.compare {
            pp.clean_articles = v == CompareText::Clean;
        }
        if let Some(v) = self.boilerplate_min_docs {
            pp.boilerplate_min_docs = v;
        }
        if let Some(v) = self.boilerplate_min_fraction {
            pp.boilerplate_min_fraction = v;
        }
        if let Some(v) = self.repeat_threshold {
            pp.repeat_threshold = v;
        }
        if let Some(v) = self.repeat_max_hamming {
            pp.repeat_max_hamming = v;
        }
        if let Some(v) = self.repeat_min_words {
            pp.repeat_min_words = v;
        }
        if let Some(v) = self.containment {
            p.containment.enabled = v == OnOff::On;
        }
        if let Some(v) = self.min_containment {
            p.containment.min_containment = v;
        }
        if let Some(v) = self.min_shared {
            p.containment.min_shared = v;
        }
        if self.containment.is_some() && self.bands.is_none() && self.rows.is_none() {
            // bands in a config were derived with containment as it was; re-derive
            p.lsh.bands = None;
            p.lsh.rows = None;
        }
        if let Some(v) = self.cluster_shape {
            p.cluster.shape = v;
        }
        if let Some(v) = self.star_min_containment {
            p.cluster.star_min_containment = v;
        }
        if let Some(v) = &self.representative {
            p.cluster.representative.clone_from(v);
        }
        if let Some(v) = &self.prefer_outlets {
            p.cluster.prefer_outlets = v.iter().map(|s| s.trim().to_owned()).collect();
        }
        let pp = &p.paragraphs;
        if self.emit_clean && !pp.enabled {
            anyhow::bail!("--emit-clean needs the paragraph stage (--paragraphs on)");
        }
        Ok(p)
    }
}

/// Which JSONL fields hold the id, text, date and outlet (dedup and tune alike).
#[derive(Args, Debug)]
#[allow(clippy::struct_field_names)] // the field names are the flags: --id-field, ...
pub struct FieldArgs {
    #[arg(long)]
    pub id_field: Option<String>,
    #[arg(long)]
    pub text_field: Option<String>,
    #[arg(long)]
    pub date_field: Option<String>,
    #[arg(long)]
    pub outlet_field: Option<String>,
}

impl FieldArgs {
    fn apply(&self, p: &mut Params) {
        for (slot, v) in [
            (&mut p.input.id_field, &self.id_field),
            (&mut p.input.text_field, &self.text_field),
            (&mut p.input.date_field, &self.date_field),
            (&mut p.input.outlet_field, &self.outlet_field),
        ] {
            if let Some(v) = v {
                slot.clone_from(v);
            }
        }
    }
}

/// The defaults, overridden by a JSON config file when one is given.
fn config_params(config: Option<&std::path::Path>) -> anyhow::Result<Params> {
    let Some(path) = config else {
        return Ok(Params::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareText {
    Clean,
    Raw,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of articles (originals and copies).
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
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.6,0.7,0.8,0.9")]
    pub thresholds: Vec<f64>,
    /// Containment settings to try: off, or minimum containments.
    #[arg(long, value_delimiter = ',', default_value = "off,0.3,0.5,0.7")]
    pub containments: Vec<SweepContainment>,
    /// Shingle settings to try (each is read and sketched once).
    #[arg(long, value_delimiter = ',', default_value = "word:5")]
    pub shingles: Vec<ShingleParams>,
    #[command(flatten)]
    pub fields: FieldArgs,
    /// The paragraph stage (repeats inside documents, boilerplate across them).
    #[arg(long, value_name = "on|off")]
    pub paragraphs: Option<OnOff>,
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
    pub fn params(&self) -> anyhow::Result<Params> {
        let mut p = config_params(self.config.as_deref())?;
        self.fields.apply(&mut p);
        if let Some(v) = self.paragraphs {
            p.paragraphs.enabled = v == OnOff::On;
        }
        Ok(p)
    }
}
