//! Every knob of a run, in one serializable value. `Params::validate` is the only place
//! that checks them; the stages receive a validated copy and never re-check. The
//! validated parameters are embedded in `summary.json`, and that object can be fed back
//! through `--config` to repeat a run exactly.
//!
//! A config file and the command-line flags are overrides, [`ParamsPatch`](crate::overrides::ParamsPatch)es applied to
//! the defaults in that order; [`FLAGS`](crate::overrides::FLAGS) says which field each flag sets.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest `input.max_doc_bytes`: 4,294,836,223 bytes (4 GiB - 128 KiB - 1), which
/// `Params::validate` accepts and `docs/cli.md` states. Byte offsets inside a document
/// are u32, which keeps per-paragraph state small; the limit keeps 128 KiB of headroom
/// below `u32::MAX`.
pub const MAX_DOC_BYTES: u64 = u32::MAX as u64 - (1 << 17);

/// Every parameter of a run, in sections; `Default` is what `neardup dedup` runs with.
/// Build one from a config file and flags with [`Params::from_config_and_flags`], and
/// check it with [`Params::validate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Which fields of an input record hold what, and what a bad record does.
    pub input: InputParams,
    /// How the compared text is cut into shingles.
    pub shingle: ShingleParams,
    /// The MinHash signatures.
    pub minhash: MinHashParams,
    /// The Jaccard threshold and the LSH banding that finds candidates for it.
    pub lsh: LshParams,
    /// How candidate pairs are scored.
    pub verify: VerifyParams,
    /// The paragraph stage: repeats and boilerplate.
    pub paragraphs: ParagraphParams,
    /// Where candidate pairs come from.
    pub candidates: CandidateParams,
    /// Article-level SimHash candidates.
    pub simhash: SimHashParams,
    /// Matching by containment as well as by Jaccard.
    pub containment: ContainmentParams,
    /// The shape of clusters and the choice of their representative.
    pub cluster: ClusterParams,
}

/// Which fields of an input record hold what, and what a bad record does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputParams {
    /// JSONL field holding the record id; a record without it gets `<file>:<line>`.
    pub id_field: String,
    /// JSONL field holding the document text.
    pub text_field: String,
    /// JSONL field holding the publication date (ISO 8601), used to pick the representative.
    pub date_field: String,
    /// JSONL field naming the outlet, carried into `clusters.jsonl`; boilerplate is
    /// counted per outlet.
    pub outlet_field: String,
    /// JSONL field with the page URL; its host stands in for a missing outlet.
    pub url_field: String,
    /// What a bad record or unreadable file does to the run.
    pub on_error: ErrorPolicy,
    /// Documents longer than this (in bytes of text) are skipped with status `too_large`.
    pub max_doc_bytes: u64,
    /// Which WARC `response` records are documents: only HTTP status 200, or any status.
    pub warc_status: WarcStatus,
}

impl Default for InputParams {
    fn default() -> Self {
        InputParams {
            id_field: "id".into(),
            text_field: "text".into(),
            date_field: "date".into(),
            outlet_field: "outlet".into(),
            url_field: "url".into(),
            on_error: ErrorPolicy::Skip,
            max_doc_bytes: 64 << 20,
            warc_status: WarcStatus::Ok,
        }
    }
}

/// Which WARC `response` records are documents, by their HTTP status (`--warc-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WarcStatus {
    /// Only status 200; any other gets the status `http_status` in `docs.jsonl`.
    #[serde(rename = "200")]
    Ok,
    /// Any status: error pages and redirects with an HTML body are documents too.
    #[serde(rename = "any")]
    Any,
}

impl FromStr for WarcStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// What a bad record or an unreadable file does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorPolicy {
    /// Give the record a status naming the reason, count it, go on.
    Skip,
    /// Stop at the first bad record or unreadable file; write no outputs.
    Stop,
}

impl FromStr for ErrorPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// What a shingle is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShingleKind {
    /// k consecutive normalized words.
    Word,
    /// k consecutive characters of the normalized text (spaces included).
    Char,
}

/// How the compared text is cut into shingles (`word:5` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShingleParams {
    /// Words or characters.
    pub kind: ShingleKind,
    /// How many words or characters make one shingle (k).
    pub size: usize,
    /// Seed of the xxh3 hash applied to each shingle.
    pub seed: u64,
}

impl Default for ShingleParams {
    fn default() -> Self {
        ShingleParams {
            kind: ShingleKind::Word,
            size: 5,
            seed: 0x6e65_6172_6475_7031,
        }
    }
}

impl fmt::Display for ShingleParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ShingleKind::Word => "word",
            ShingleKind::Char => "char",
        };
        write!(f, "{kind}:{}", self.size)
    }
}

/// Parses a flag value by the same names the config file uses (serde's), so the two can
/// never disagree.
fn from_name<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| Error::value(s, e.to_string()))
}

/// Parses the `--shingle` syntax: `word:5`, `char:9`.
impl FromStr for ShingleParams {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (kind, size) = s
            .split_once(':')
            .ok_or_else(|| Error::value(s, format!("expected KIND:SIZE, got {s:?}")))?;
        let kind = match kind {
            "word" => ShingleKind::Word,
            "char" => ShingleKind::Char,
            _ => {
                return Err(Error::value(
                    s,
                    format!("shingle kind must be word or char, got {kind:?}"),
                ));
            }
        };
        let size = size.parse().map_err(|_| {
            Error::value(
                s,
                format!("shingle size must be a whole number, got {size:?}"),
            )
        })?;
        Ok(ShingleParams {
            kind,
            size,
            ..ShingleParams::default()
        })
    }
}

/// The MinHash signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MinHashParams {
    /// Signature length (number of one-permutation-hashing bins).
    pub num_perm: usize,
    /// Seed of the hash that assigns shingles to bins.
    pub seed: u64,
}

impl Default for MinHashParams {
    fn default() -> Self {
        MinHashParams {
            num_perm: 128,
            seed: 0x6d69_6e68_6173_6831,
        }
    }
}

/// The Jaccard threshold and the LSH banding that finds candidates for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LshParams {
    /// Jaccard similarity at or above which two documents are near-duplicates.
    pub threshold: f64,
    /// Number of bands; derived from the threshold when absent.
    pub bands: Option<usize>,
    /// Rows per band; derived from the threshold when absent.
    pub rows: Option<usize>,
    /// Weight of the false-negative area when bands and rows are derived. Candidates are
    /// verified exactly, so a false positive costs one comparison while a false negative
    /// is a missed duplicate: the default leans heavily towards recall.
    pub recall_weight: f64,
    /// A bucket larger than this pairs each member only with its next `max_bucket - 1`
    /// neighbours (in input order) instead of with every member, so a thousand exact
    /// copies cost linear, not quadratic, work. Components are still found through chains.
    pub max_bucket: usize,
}

impl Default for LshParams {
    fn default() -> Self {
        LshParams {
            threshold: 0.8,
            bands: None,
            rows: None,
            recall_weight: 0.98,
            max_bucket: 256,
        }
    }
}

/// Where candidate pairs come from; every candidate is then verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateMethod {
    /// MinHash LSH bands.
    MinHash,
    /// SimHash fingerprints within `simhash.max_hamming` bits.
    SimHash,
    /// Both: the union of the two candidate sets.
    Both,
}

impl FromStr for CandidateMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// Where candidate pairs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CandidateParams {
    /// MinHash LSH, SimHash, or both.
    pub method: CandidateMethod,
}

impl Default for CandidateParams {
    fn default() -> Self {
        CandidateParams {
            method: CandidateMethod::MinHash,
        }
    }
}

/// How SimHash features are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimHashWeights {
    /// By how often the shingle occurs in the document.
    Tf,
    /// By occurrences times the shingle's inverse document frequency in the input.
    Tfidf,
}

impl FromStr for SimHashWeights {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// Article-level SimHash (used when `candidates.method` is `simhash` or `both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimHashParams {
    /// Fingerprints within this many bits are candidates (0..=8: the index is exact).
    pub max_hamming: u32,
    /// How features are weighted.
    pub weights: SimHashWeights,
}

impl Default for SimHashParams {
    fn default() -> Self {
        SimHashParams {
            max_hamming: 6,
            weights: SimHashWeights::Tf,
        }
    }
}

/// How a document is cut into paragraphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitMode {
    /// Paragraphs are separated by blank (or whitespace-only) lines.
    Blank,
    /// Every non-blank line is a paragraph.
    Line,
    /// `blank` when the document has a blank line, else `line`.
    Auto,
}

impl FromStr for SplitMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// The paragraph stage: repeats inside a document and boilerplate across documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParagraphParams {
    /// Run the paragraph stage at all.
    pub enabled: bool,
    /// How a document is cut into paragraphs.
    pub split: SplitMode,
    /// Compare articles with their repeats and boilerplate removed.
    pub clean_articles: bool,
    /// Paragraphs with fewer normalized words are never reported as repeats (a repeated
    /// "Advertisement" or "Share" line is layout, not content).
    pub repeat_min_words: usize,
    /// Near repeats: SimHash (over char 5-grams) within this Hamming distance ...
    pub repeat_max_hamming: u32,
    /// ... and exact Jaccard of the char 5-gram sets at least this.
    pub repeat_threshold: f64,
    /// Boilerplate: a paragraph in at least this many documents of one outlet ...
    pub boilerplate_min_docs: u64,
    /// ... and in at least this fraction of the outlet's documents.
    pub boilerplate_min_fraction: f64,
}

impl Default for ParagraphParams {
    fn default() -> Self {
        ParagraphParams {
            enabled: true,
            split: SplitMode::Auto,
            clean_articles: true,
            repeat_min_words: 4,
            repeat_max_hamming: 14,
            repeat_threshold: 0.7,
            boilerplate_min_docs: 3,
            boilerplate_min_fraction: 0.005,
        }
    }
}

/// How candidate pairs are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyMethod {
    /// Exact Jaccard of the shingle sets (read back from a spill file).
    Exact,
    /// The MinHash estimate; no spill file, signatures kept in memory instead.
    Estimate,
}

impl FromStr for VerifyMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// How candidate pairs are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyParams {
    /// Exact Jaccard or the MinHash estimate.
    pub method: VerifyMethod,
}

impl Default for VerifyParams {
    fn default() -> Self {
        VerifyParams {
            method: VerifyMethod::Exact,
        }
    }
}

/// Containment: a pair also matches when most of the smaller document is inside the
/// larger one. This is what joins a syndicated copy cut from the bottom, or wrapped in
/// another outlet's byline and footer, to its original, whose Jaccard is far below any
/// near-duplicate threshold (a copy keeping half the original is near 0.5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainmentParams {
    /// Match by containment at all.
    pub enabled: bool,
    /// |A ∩ B| / min(|A|, |B|) on the compared (boilerplate-free) shingles, at least this.
    pub min_containment: f64,
    /// ... and at least this many shared shingles, so a short page does not attach to
    /// every long article that happens to contain its few sentences.
    pub min_shared: u64,
    /// Rows per LSH band while containment is on (bands = num_perm / rows), unless bands
    /// and rows are given explicitly. Pairs passing by containment alone have Jaccard
    /// far below `lsh.threshold`: with 2 rows and 128 values a pair at Jaccard 0.3 is a
    /// candidate with probability 0.998 (0.98 at 0.25, 0.93 at 0.2), an unrelated pair at 0.01 with
    /// 0.006. One row would make nearly every pair sharing a common phrase a candidate.
    pub rows: usize,
    /// Short copies: a pair also matches when nearly all of the smaller document lies in
    /// the larger and the shared text opens both (a copy keeps its original's headline
    /// and lede; a quoted statement, a reused background paragraph or one item of a
    /// digest sits after a document's own headline and lede; see `verify::rule`), however
    /// few shingles they share.
    pub short_copies: bool,
    /// ... at least this share of the smaller document in the larger ...
    pub short_min_containment: f64,
    /// ... and they share at least this many shingles: a headline alone is not evidence.
    pub short_min_shared: u64,
    /// Opening candidates: each document's first `OPENING_PARAGRAPHS` paragraphs with at
    /// least `OPENING_MIN_SHINGLES` shingles (its lede, where a copy's shared text begins)
    /// are sketched on their own into this many LSH bands of `OPENING_ROWS` rows, so that
    /// a short copy, whose Jaccard with its original is far below what the article bands
    /// find (0.02-0.1), is still a candidate. 0 turns them off.
    pub opening_bands: usize,
}

/// Most opening bands: 8 bytes of memory per band and opening paragraph.
pub const MAX_OPENING_BANDS: usize = 32;

/// Rows per band of the opening candidates: a verbatim lede collides in every band, one
/// with a word edited (Jaccard 0.8 between the two paragraphs) in at least one of 4 bands
/// with probability 0.98.
pub const OPENING_ROWS: usize = 2;
/// Paragraphs with fewer distinct shingles are not sketched as openings: a headline, a
/// byline, or a dateline such as `Filed via The Ilford Record for The Farrow Journal,
/// 2024-01-13` (8 shingles), which every copy one outlet takes from another repeats with
/// only its date changed, would put unrelated documents in one bucket. A lede is 15 words
/// and more.
pub const OPENING_MIN_SHINGLES: usize = 12;
/// Paragraphs of a document sketched as its opening: the lede and the one after it (a
/// copy's own byline or dateline may come first when it is long enough to count).
pub const OPENING_PARAGRAPHS: usize = 2;

impl Default for ContainmentParams {
    fn default() -> Self {
        ContainmentParams {
            enabled: true,
            min_containment: 0.5,
            min_shared: 50,
            rows: 2,
            short_copies: true,
            short_min_containment: 0.9,
            short_min_shared: 8,
            opening_bands: 4,
        }
    }
}

/// The shape of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterShape {
    /// Every member is checked against the representative; members linked only through
    /// a chain of others (A~B~C with A and C unrelated) are split off and clustered on
    /// their own.
    Star,
    /// Connected components of the matching pairs, chains included.
    Components,
}

impl FromStr for ClusterShape {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// One criterion of the representative order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepresentativeRule {
    /// Earliest ISO date first; undated records last.
    Date,
    /// Outlets in `cluster.prefer_outlets`, in that order, before all others.
    Outlet,
    /// Most compared shingles first (boilerplate and repeats do not count).
    Longest,
    /// Smallest id (byte order) first.
    Id,
}

impl FromStr for RepresentativeRule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        from_name(s)
    }
}

/// The shape of clusters and the choice of their representative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterParams {
    /// Star or connected components.
    pub shape: ClusterShape,
    /// Star clusters: a member whose containment with the representative is below this
    /// is split off even though a chain of matches joined it.
    pub star_min_containment: f64,
    /// The representative (the original) is the first member in this order; input
    /// order breaks any remaining tie.
    pub representative: Vec<RepresentativeRule>,
    /// Outlets whose copy is the original (rule `outlet`), first preferred.
    pub prefer_outlets: Vec<String>,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            shape: ClusterShape::Star,
            star_min_containment: 0.2,
            representative: vec![
                RepresentativeRule::Date,
                RepresentativeRule::Outlet,
                RepresentativeRule::Longest,
                RepresentativeRule::Id,
            ],
            prefer_outlets: Vec::new(),
        }
    }
}

/// Parameters after validation: bands and rows are always present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidParams(Params);

impl ValidParams {
    /// The parameters, bands and rows filled in.
    #[must_use]
    pub fn get(&self) -> &Params {
        &self.0
    }
    /// LSH bands.
    #[must_use]
    pub fn bands(&self) -> usize {
        self.0
            .lsh
            .bands
            .expect("validated params always carry bands")
    }
    /// LSH rows per band.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.0.lsh.rows.expect("validated params always carry rows")
    }
}

impl std::ops::Deref for ValidParams {
    type Target = Params;
    fn deref(&self) -> &Params {
        &self.0
    }
}

impl Params {
    /// Checks every field once and fills in bands and rows.
    pub fn validate(mut self) -> Result<ValidParams> {
        let t = self.lsh.threshold;
        if !(t > 0.0 && t <= 1.0) {
            return Err(Error::params(
                "lsh.threshold",
                format!("must be in (0, 1], got {t}"),
            ));
        }
        if !(1..=64).contains(&self.shingle.size) {
            return Err(Error::params(
                "shingle.size",
                format!("must be 1..=64, got {}", self.shingle.size),
            ));
        }
        let k = self.minhash.num_perm;
        if !(8..=4096).contains(&k) {
            return Err(Error::params(
                "minhash.num_perm",
                format!("must be 8..=4096, got {k}"),
            ));
        }
        let w = self.lsh.recall_weight;
        if !(0.0..=1.0).contains(&w) {
            return Err(Error::params(
                "lsh.recall_weight",
                format!("must be in [0, 1], got {w}"),
            ));
        }
        if self.lsh.max_bucket < 2 {
            return Err(Error::params("lsh.max_bucket", "must be at least 2"));
        }
        if self.input.max_doc_bytes == 0 || self.input.max_doc_bytes > MAX_DOC_BYTES {
            return Err(Error::params(
                "input.max_doc_bytes",
                format!("must be between 1 and {MAX_DOC_BYTES} (4 GiB - 128 KiB - 1)"),
            ));
        }
        if self.simhash.max_hamming > 8 {
            return Err(Error::params(
                "simhash.max_hamming",
                format!("must be 0..=8, got {}", self.simhash.max_hamming),
            ));
        }
        let pp = &self.paragraphs;
        if !(0.0..=1.0).contains(&pp.repeat_threshold) {
            return Err(Error::params(
                "paragraphs.repeat_threshold",
                "must be in [0, 1]",
            ));
        }
        if pp.repeat_max_hamming > 64 {
            return Err(Error::params(
                "paragraphs.repeat_max_hamming",
                "must be at most 64",
            ));
        }
        if pp.boilerplate_min_docs < 2 {
            return Err(Error::params(
                "paragraphs.boilerplate_min_docs",
                "must be at least 2: one document alone is never evidence of boilerplate",
            ));
        }
        if !(0.0..=1.0).contains(&pp.boilerplate_min_fraction) {
            return Err(Error::params(
                "paragraphs.boilerplate_min_fraction",
                "must be in [0, 1]",
            ));
        }
        if self.input.text_field.is_empty() {
            return Err(Error::params("input.text_field", "must not be empty"));
        }
        let c = &self.containment;
        for (field, v) in [
            ("containment.min_containment", c.min_containment),
            ("containment.short_min_containment", c.short_min_containment),
            (
                "cluster.star_min_containment",
                self.cluster.star_min_containment,
            ),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(Error::params(field, format!("must be in (0, 1], got {v}")));
            }
        }
        let mut seen = Vec::new();
        for rule in &self.cluster.representative {
            if seen.contains(rule) {
                return Err(Error::params(
                    "cluster.representative",
                    format!("{rule:?} is listed twice"),
                ));
            }
            seen.push(*rule);
        }
        if c.opening_bands > MAX_OPENING_BANDS {
            return Err(Error::params(
                "containment.opening_bands",
                format!(
                    "must be at most {MAX_OPENING_BANDS}, got {}",
                    c.opening_bands
                ),
            ));
        }
        if c.enabled && !(1..=k).contains(&c.rows) {
            return Err(Error::params(
                "containment.rows",
                format!("must be 1..=minhash.num_perm, got {}", c.rows),
            ));
        }
        let (bands, rows) = match (self.lsh.bands, self.lsh.rows) {
            (Some(b), Some(r)) => (b, r),
            (Some(b), None) => (b, k / b.max(1)),
            (None, Some(r)) => (k / r.max(1), r),
            // containment needs candidates far below the Jaccard threshold
            (None, None) if c.enabled => (k / c.rows, c.rows),
            (None, None) => optimal_bands_rows(t, k, w),
        };
        if bands == 0 || rows == 0 {
            return Err(Error::params(
                "lsh.bands",
                format!("bands ({bands}) and rows ({rows}) must be positive"),
            ));
        }
        if bands * rows > k {
            return Err(Error::params(
                "lsh.bands",
                format!(
                    "bands x rows = {} exceeds minhash.num_perm = {k}",
                    bands * rows
                ),
            ));
        }
        self.lsh.bands = Some(bands);
        self.lsh.rows = Some(rows);
        Ok(ValidParams(self))
    }
}

/// Probability that a pair with Jaccard `s` shares at least one band.
#[must_use]
pub fn candidate_probability(s: f64, bands: usize, rows: usize) -> f64 {
    let rows = i32::try_from(rows).unwrap_or(i32::MAX);
    let bands = i32::try_from(bands).unwrap_or(i32::MAX);
    1.0 - (1.0 - s.powi(rows)).powi(bands)
}

fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    // Simpson's rule; the integrands are smooth polynomials in s.
    let n = 200;
    let h = (b - a) / f64::from(n);
    let mut sum = f(a) + f(b);
    for i in 1..n {
        let x = a + h * f64::from(i);
        sum += if i % 2 == 1 { 4.0 } else { 2.0 } * f(x);
    }
    sum * h / 3.0
}

/// Bands and rows minimising `(1-w)*FP + w*FN`, where FP is the area under the S-curve
/// below the threshold and FN the area above it missing from 1. Among equal scores the
/// smaller `bands * rows` wins, which keeps band-key memory down.
///
/// ```
/// let (b, r) = neardup::params::optimal_bands_rows(0.8, 128, 0.98);
/// assert!(b * r <= 128);
/// // a pair at Jaccard 0.85 is almost surely a candidate
/// assert!(neardup::params::candidate_probability(0.85, b, r) > 0.99);
/// ```
#[must_use]
pub fn optimal_bands_rows(threshold: f64, num_perm: usize, recall_weight: f64) -> (usize, usize) {
    let mut best = (1, num_perm);
    let mut best_score = f64::INFINITY;
    for bands in 1..=num_perm {
        for rows in 1..=num_perm / bands {
            let fp = integrate(|s| candidate_probability(s, bands, rows), 0.0, threshold);
            let fneg = integrate(
                |s| 1.0 - candidate_probability(s, bands, rows),
                threshold,
                1.0,
            );
            let score = (1.0 - recall_weight) * fp + recall_weight * fneg;
            if score < best_score - 1e-12 {
                best_score = score;
                best = (bands, rows);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_derive_bands() {
        // containment on: 2 rows, so pairs far below the Jaccard threshold are candidates
        let p = Params::default().validate().unwrap();
        assert_eq!((p.bands(), p.rows()), (64, 2));
        assert!(candidate_probability(0.3, p.bands(), p.rows()) > 0.99);
        assert!(candidate_probability(0.01, p.bands(), p.rows()) < 0.01);
        let mut p = Params::default();
        p.containment.enabled = false;
        let p = p.validate().unwrap();
        assert!(p.bands() * p.rows() <= 128);
        assert!(candidate_probability(0.85, p.bands(), p.rows()) > 0.995);
        // and the curve is actually selective below the threshold
        assert!(candidate_probability(0.4, p.bands(), p.rows()) < 0.2);
    }

    #[test]
    fn rejects_bad_values() {
        let mut p = Params::default();
        p.lsh.threshold = 1.5;
        assert!(matches!(
            p.validate(),
            Err(Error::Params {
                field: "lsh.threshold",
                ..
            })
        ));
        let mut p = Params::default();
        p.lsh.bands = Some(20);
        p.lsh.rows = Some(8);
        assert!(matches!(
            p.validate(),
            Err(Error::Params {
                field: "lsh.bands",
                ..
            })
        ));
        let mut p = Params::default();
        p.shingle.size = 0;
        assert!(p.validate().is_err());
        let mut p = Params::default();
        p.input.max_doc_bytes = MAX_DOC_BYTES;
        assert!(
            p.clone().validate().is_ok(),
            "the documented maximum is accepted"
        );
        p.input.max_doc_bytes = MAX_DOC_BYTES + 1;
        assert!(matches!(
            p.validate(),
            Err(Error::Params {
                field: "input.max_doc_bytes",
                ..
            })
        ));
    }

    #[test]
    fn shingle_syntax() {
        let s: ShingleParams = "char:9".parse().unwrap();
        assert_eq!((s.kind, s.size), (ShingleKind::Char, 9));
        assert_eq!(s.to_string(), "char:9");
        assert!("word".parse::<ShingleParams>().is_err());
        assert!("line:3".parse::<ShingleParams>().is_err());
    }

    #[test]
    fn params_round_trip_through_json() {
        let p = Params::default();
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Params>(&j).unwrap(), p);
        // partial configs fill the rest with defaults
        let q: Params = serde_json::from_str(r#"{"lsh": {"threshold": 0.7}}"#).unwrap();
        assert!((q.lsh.threshold - 0.7).abs() < 1e-12);
        assert_eq!(q.minhash, MinHashParams::default());
        assert!(serde_json::from_str::<Params>(r#"{"lsh": {"treshold": 0.7}}"#).is_err());
    }
}
