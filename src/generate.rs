//! Seeded synthetic news corpus with planted near-duplicate structure and ground truth.
//!
//! A Rust port of the Python benchmark generator `gen_corpus.py` (same spirit, same truth
//! format, different random stream). [`generate`] makes articles from outlets that each own a
//! header line, a syndication footer and 1-3 boilerplate paragraphs. It plants three kinds of
//! structure:
//!
//! * syndication: a fraction of originals get 1..=`max_copies` copies at other outlets, each
//!   with word substitutions/deletions at a per-copy rate, an optional header line and footer
//!   paragraph, and sometimes its last body paragraphs dropped (containment);
//! * repetition: some articles have their whole body printed twice ("doubled") or 1-3 body
//!   paragraphs repeated later in the body ("paragraphs");
//! * boilerplate: most articles end with their outlet's boilerplate paragraphs.
//!
//! Hard cases, all off by default (`GenParams::hard` turns them on): lede-only copies (the
//! headline and the first one or two paragraphs, verbatim, under the copying outlet's own
//! byline and footer), and hard negatives that share text without being copies: short
//! briefs carrying a statement a long story also quotes in full, follow-up stories reusing an
//! earlier story's background paragraph, template items (results, prices, weather) that
//! differ in their few variable words, and digest pages listing the headlines and ledes of
//! several stories. Each is its own family, named in the truth's `kind`, with the articles
//! it shares text with in `related`.
//!
//! Each article has a [`TruthRecord`]: `family` is the id of the original an article was made
//! from (an original is its own family), so two articles are planted near-duplicates exactly
//! when they share a family. Paragraph indices in the truth are positions in
//! `text.split("\n\n")`.
//!
//! Output is a pure function of [`GenParams`]: the base corpus draws from one `ChaCha8Rng`
//! seeded with `seed`, the hard cases from a second stream of the same seed (so turning them
//! off leaves the first stream, and every corpus made before they existed, untouched);
//! integers are drawn with our own portable routines (not `rand`'s distributions, whose
//! algorithms may change between versions), nothing is iterated in hash order, and floats only
//! decide draws, never get printed except the 4-decimal `edit_rate`.
//!
//! Memory does not grow with the text: articles are made in generation order and spilled to
//! unnamed temporary files beside the output, then written in the shuffled order the ids
//! follow. What stays in memory is 16 bytes per article (its place in the shuffle, and in
//! the scratch file) and the last few stories the hard cases draw on.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spill::{ShingleSets, ShingleSpill};

/// Generation parameters; the defaults are those of `gen_corpus.py`, with every hard case
/// off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GenParams {
    /// Total articles (originals + copies + hard cases), at most [`MAX_DOCS`].
    pub docs: usize,
    /// Seed of both random streams.
    pub seed: u64,
    /// Number of synthetic pronounceable words, Zipf-weighted with exponent `zipf_s`.
    pub vocab: usize,
    /// Zipf exponent of the word frequencies.
    pub zipf_s: f64,
    /// Number of outlets, at most [`MAX_OUTLETS`] (the number of distinct outlet names).
    pub outlets: usize,
    /// Fewest words of an original's body.
    pub min_words: usize,
    /// Most words of an original's body.
    pub max_words: usize,
    /// Fewest body paragraphs of an original.
    pub min_paras: usize,
    /// Most body paragraphs of an original.
    pub max_paras: usize,
    /// Probability that an original gets copies.
    pub syndicated_frac: f64,
    /// Most copies of one original.
    pub max_copies: usize,
    /// A copy's edit rate is drawn from U(0, `max_edit_rate`).
    pub max_edit_rate: f64,
    /// Probability that an article gets a repetition (half doubled, half paragraphs).
    pub repeat_frac: f64,
    /// Probability that an article ends with its outlet's boilerplate.
    pub boilerplate_prob: f64,
    /// Originals open with a news lede: one or two sentences (18-35 words) after the
    /// headline, the paragraph lede-only copies and digests carry.
    pub short_ledes: bool,
    /// Probability that a copy is lede-only: the headline and the first one or two body
    /// paragraphs, verbatim, between the copying outlet's own byline and footer.
    pub lede_copy_frac: f64,
    /// Probability that an original quotes a 40-70 word statement in full, which 1-3 short
    /// briefs (originals of their own) carry too.
    pub quote_frac: f64,
    /// Probability that an original gets a follow-up story (an original of its own) that
    /// reuses its background paragraph.
    pub followup_frac: f64,
    /// Probability, per original, of a batch of 2-4 template items (results, prices,
    /// weather) differing in their variable words.
    pub template_frac: f64,
    /// Probability, per original, of a digest page listing the headlines and ledes of 5-8
    /// recent stories.
    pub digest_frac: f64,
}

impl Default for GenParams {
    fn default() -> Self {
        Self {
            // The Python script has no default here (--docs is required); 1000 is a quick corpus.
            docs: 1000,
            seed: 1,
            vocab: 50_000,
            zipf_s: 1.0,
            outlets: 40,
            min_words: 300,
            max_words: 1500,
            min_paras: 4,
            max_paras: 20,
            syndicated_frac: 0.20,
            max_copies: 6,
            max_edit_rate: 0.10,
            repeat_frac: 0.05,
            boilerplate_prob: 0.85,
            short_ledes: false,
            lede_copy_frac: 0.0,
            quote_frac: 0.0,
            followup_frac: 0.0,
            template_frac: 0.0,
            digest_frac: 0.0,
        }
    }
}

/// Most articles one corpus can hold: generation order is indexed with 32 bits.
pub const MAX_DOCS: usize = u32::MAX as usize;
/// Largest vocabulary: every word is held in memory.
pub const MAX_VOCAB: usize = 10_000_000;
/// Most words of one original (a million words is a 6 MB article).
pub const MAX_WORDS: usize = 1_000_000;
/// Most body paragraphs of one original, and most copies of one original.
pub const MAX_PARAS: usize = 100_000;

impl GenParams {
    /// The hard cases at the rates the benchmarks use: 30% of copies lede-only, and per
    /// original a 5% chance of a quoted statement with briefs, 5% of a follow-up, 3% of a
    /// batch of template items and 2% of a digest page; originals open with a news lede.
    #[must_use]
    pub fn hard(self) -> Self {
        Self {
            short_ledes: true,
            lede_copy_frac: 0.3,
            quote_frac: 0.05,
            followup_frac: 0.05,
            template_frac: 0.03,
            digest_frac: 0.02,
            ..self
        }
    }

    /// Checks the parameters [`generate`] cannot work with (it would loop forever, panic or
    /// run out of memory); the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.docs > MAX_DOCS {
            return Err(Error::params(
                "docs",
                format!("must be at most {MAX_DOCS} (articles are numbered with 32 bits)"),
            ));
        }
        if self.vocab == 0 || self.vocab > MAX_VOCAB {
            return Err(Error::params(
                "vocab",
                format!("must be in 1..={MAX_VOCAB}"),
            ));
        }
        if !self.zipf_s.is_finite() {
            return Err(Error::params("zipf_s", "must be finite"));
        }
        if self.outlets == 0 || self.outlets > MAX_OUTLETS {
            return Err(Error::params(
                "outlets",
                format!("must be in 1..={MAX_OUTLETS}"),
            ));
        }
        if self.outlets < 2 && self.syndicated_frac > 0.0 && self.max_copies > 0 {
            return Err(Error::params(
                "outlets",
                "copies need at least 2 outlets (set syndicated_frac = 0)",
            ));
        }
        for (name, n, max) in [
            ("min_words", self.min_words, MAX_WORDS),
            ("max_words", self.max_words, MAX_WORDS),
            ("min_paras", self.min_paras, MAX_PARAS),
            ("max_paras", self.max_paras, MAX_PARAS),
            ("max_copies", self.max_copies, MAX_PARAS),
        ] {
            if n > max {
                return Err(Error::params(name, format!("must be at most {max}")));
            }
        }
        if self.min_words > self.max_words {
            return Err(Error::params("min_words", "must not exceed max_words"));
        }
        if self.min_paras > self.max_paras {
            return Err(Error::params("min_paras", "must not exceed max_paras"));
        }
        for (name, p) in [
            ("syndicated_frac", self.syndicated_frac),
            ("max_edit_rate", self.max_edit_rate),
            ("repeat_frac", self.repeat_frac),
            ("boilerplate_prob", self.boilerplate_prob),
            ("lede_copy_frac", self.lede_copy_frac),
            ("quote_frac", self.quote_frac),
            ("followup_frac", self.followup_frac),
            ("template_frac", self.template_frac),
            ("digest_frac", self.digest_frac),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::params(name, "must be in [0, 1]"));
            }
        }
        Ok(())
    }
}

/// One article, in the JSONL field order `id, outlet, date, text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedDoc {
    /// `d` and its position in the output, 7 digits or more.
    pub id: String,
    /// The outlet's name.
    pub outlet: String,
    /// ISO date, `yyyy-mm-dd`.
    pub date: String,
    /// Paragraphs separated by a blank line.
    pub text: String,
}

/// One line of the truth file; field names and meaning exactly as `gen_corpus.py` writes them,
/// plus `boilerplate_paragraphs` and, for the hard cases only, `kind` and `related`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthRecord {
    /// The article's id.
    pub id: String,
    /// Id of the original this article was made from (its own id for an original).
    pub family: String,
    /// `"original"` or `"copy"`.
    pub role: String,
    /// Per-copy word edit rate rounded to 4 decimals; 0 for originals.
    pub edit_rate: f64,
    /// Body paragraphs (counting the title) dropped from the end of a copy.
    pub trimmed_paragraphs: usize,
    /// Whether a copy got an outlet header line (paragraph 0).
    pub header: bool,
    /// Whether a copy got a syndication footer paragraph after its body.
    pub footer: bool,
    /// `None`, `"doubled"` or `"paragraphs"`.
    pub repeat_mode: Option<String>,
    /// Paragraph indices that are repeats ...
    pub repeated_paragraphs: Vec<usize>,
    /// ... of the paragraph at the same position here.
    pub repeat_of: Vec<usize>,
    /// Indices of the outlet boilerplate paragraphs. Not in the Python truth, hence the serde
    /// default: its files still parse (with this left empty).
    #[serde(default)]
    pub boilerplate_paragraphs: Vec<usize>,
    /// A hard case's kind (see [`Kind`]); absent for the base corpus's articles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Ids of the articles a hard negative shares text with without being a copy of them
    /// (the story whose statement a brief carries, the story a follow-up reuses, the other
    /// items of a template batch, the stories a digest lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
}

/// Generated articles and their truth, both in output order (ids `d0000000`, `d0000001`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// The articles.
    pub docs: Vec<GeneratedDoc>,
    /// One truth line per article, in the same order.
    pub truth: Vec<TruthRecord>,
}

/// The hard cases, as the truth's `kind` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A copy holding the headline and the first one or two paragraphs.
    Lede,
    /// A short original carrying a statement a longer story quotes too.
    Brief,
    /// An original reusing an earlier story's background paragraph.
    Followup,
    /// One item of a batch made from one template.
    Template,
    /// A page listing the headlines and ledes of several stories.
    Digest,
}

impl Kind {
    /// Every kind, in the order of their codes.
    pub const ALL: [Kind; 5] = [
        Kind::Lede,
        Kind::Brief,
        Kind::Followup,
        Kind::Template,
        Kind::Digest,
    ];

    /// The name the truth file uses.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lede => "lede",
            Kind::Brief => "brief",
            Kind::Followup => "followup",
            Kind::Template => "template",
            Kind::Digest => "digest",
        }
    }
}

/// Distinct outlet names: 2 prefixes ("The", none) x cities x kinds.
pub const MAX_OUTLETS: usize = 2 * CITIES.len() * OUTLET_KIND.len();

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "y", "z",
    "br", "bl", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "kl", "pl", "pr", "sh", "sk", "sl",
    "sm", "sn", "sp", "st", "str", "sw", "th", "tr", "tw", "wh", "", "", "", "", "", "",
];
const VOWELS: &[&str] = &[
    "a", "e", "i", "o", "u", "a", "e", "i", "o", "u", "ai", "ea", "ee", "ie", "oa", "oo", "ou",
    "ay", "ey",
];
const CODAS: &[&str] = &[
    "n", "r", "s", "t", "l", "m", "d", "k", "nd", "nt", "st", "ng", "rk", "rt", "ll", "ss", "ck",
    "sh", "th", "ft", "mp", "ld", "rn", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
];
const CITIES: &[&str] = &[
    "Arlen",
    "Bexford",
    "Calder",
    "Dunmore",
    "Elston",
    "Farrow",
    "Glenbrook",
    "Harwick",
    "Ilford",
    "Jarrow",
    "Kelby",
    "Lowick",
    "Marden",
    "Norcott",
    "Oakham",
    "Penrith",
    "Quarry",
    "Redvale",
    "Selby",
    "Thorne",
    "Upwell",
    "Varley",
    "Wexcombe",
    "Yarmont",
];
const OUTLET_PREFIX: &[&str] = &["The", "The", "", ""];
const OUTLET_KIND: &[&str] = &[
    "Herald",
    "Gazette",
    "Chronicle",
    "Courier",
    "Tribune",
    "Post",
    "Times",
    "Observer",
    "Ledger",
    "Sentinel",
    "Dispatch",
    "Record",
    "Journal",
    "Standard",
    "Examiner",
    "Bulletin",
    "Monitor",
    "Press",
    "Star",
    "Beacon",
];
const HEADER_TEMPLATES: &[&str] = &[
    "{outlet} \u{2014} {city} ({src})",
    "By {author} | {src} | {date}",
    "Republished from {src} \u{2014} {outlet} wire desk",
    "{CITY} ({SRC}) \u{2014}",
    "Filed via {src} for {outlet}, {date}",
];
const FOOTER_TEMPLATES: &[&str] = &[
    "This article originally appeared in {src} and is republished by {outlet} under a \
     content-sharing agreement.",
    "\u{a9} {src}. Distributed by the {outlet} syndication service; reuse requires permission \
     from the original publisher.",
    "{outlet} republishes stories from partner newsrooms including {src}. Corrections should be \
     sent to the original publisher.",
];
const BOILER_TEMPLATES: &[&str] = &[
    "Comments on {outlet} are moderated and must follow our community guidelines. We review \
     every comment before it is published.",
    "Subscribe to {outlet} for unlimited access to local reporting, the morning briefing and our \
     weekend edition.",
    "\u{a9} {year} {outlet}. All rights reserved. This material may not be published, \
     broadcast, rewritten or redistributed.",
    "Sign up for the {outlet} newsletter to get the day\u{2019}s top stories delivered to your \
     inbox every morning.",
    "Have a news tip? Contact the {outlet} newsroom. Our journalists read every message we \
     receive.",
];

/// 2024-01-01 as days since 1970-01-01.
const BASE_DAY: u32 = 19_723;
const HEADER_PROB: f64 = 0.85;
const FOOTER_PROB: f64 = 0.85;
const TRIM_PROB: f64 = 0.30;

/// Team, ground and organisation words of the hard cases' names.
const TEAM_KINDS: &[&str] = &[
    "Rovers",
    "United",
    "City",
    "Town",
    "Athletic",
    "Wanderers",
    "Albion",
    "Harriers",
];
const GROUND_KINDS: &[&str] = &["Park", "Road", "Lane", "Stadium", "Meadow"];
const ORGS: &[&str] = &[
    "Council",
    "Trust",
    "Association",
    "Board",
    "Federation",
    "Authority",
    "Union",
];
const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const CONDITIONS: &[&str] = &[
    "sunshine",
    "light rain",
    "heavy showers",
    "low cloud",
    "fog",
    "strong winds",
    "sleet",
    "clear skies",
];
const DIRECTIONS: &[&str] = &[
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
];
const COMMODITIES: &[&str] = &[
    "wheat", "barley", "diesel", "milk", "beef", "timber", "copper", "wool",
];
/// Recent stories a digest may list: a wide pool, so that two digests rarely list the
/// same few stories.
const RECENT: usize = 128;
/// Fewest stories a digest lists (a page listing two stories is not a digest).
const DIGEST_MIN: usize = 5;
const DIGEST_MAX: usize = 8;

/// Generates the corpus described by `params`, in memory (for tests and small corpora;
/// `generate_to` writes any size without holding it).
///
/// # Panics
/// If `params` fails [`GenParams::validate`].
#[must_use]
pub fn generate(params: &GenParams) -> Corpus {
    if let Err(e) = params.validate() {
        panic!("invalid GenParams: {e}");
    }
    let mut corpus = Corpus {
        docs: Vec::new(),
        truth: Vec::new(),
    };
    build(
        params,
        Memory::default(),
        Memory::default(),
        |doc, truth| {
            corpus.docs.push(doc);
            corpus.truth.push(truth);
            Ok(())
        },
    )
    .expect("generating in memory does no I/O");
    corpus
}

/// Generates the corpus described by `params` into `out` (JSONL: id, outlet, date, text)
/// and `<out>.truth.jsonl`, streaming: the articles wait in unnamed temporary files in
/// `out`'s directory, so memory stays at 16 bytes per article whatever their text. Both
/// files appear whole or not at all, the truth first. Returns the number of articles.
pub fn generate_to(params: &GenParams, out: &Path) -> Result<u64> {
    params.validate()?;
    let dir = parent_dir(out);
    fs::create_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
    let truth_path = truth_path(out);
    let mut docs = AtomicJsonl::create(out)?;
    let mut truth = AtomicJsonl::create(&truth_path)?;
    let n = build(params, Disk::create(&dir)?, Disk::create(&dir)?, |d, t| {
        docs.write(&d)?;
        truth.write(&t)
    })?;
    // Truth first: whoever sees the corpus file appear can rely on its truth being there.
    truth.persist()?;
    docs.persist()?;
    Ok(n)
}

/// Writes `out` (JSONL: id, outlet, date, text) and `<out>.truth.jsonl`, each atomically.
pub fn write_corpus(corpus: &Corpus, out: &Path) -> Result<()> {
    let dir = parent_dir(out);
    fs::create_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
    let mut truth = AtomicJsonl::create(&truth_path(out))?;
    for t in &corpus.truth {
        truth.write(t)?;
    }
    let mut docs = AtomicJsonl::create(out)?;
    for d in &corpus.docs {
        docs.write(d)?;
    }
    truth.persist()?;
    docs.persist()
}

fn truth_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".truth.jsonl");
    PathBuf::from(p)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A JSONL file written under a temporary name in its directory (so the final rename
/// cannot cross filesystems) and renamed into place when complete.
struct AtomicJsonl {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    writer: BufWriter<fs::File>,
}

impl AtomicJsonl {
    fn create(path: &Path) -> Result<Self> {
        let dir = parent_dir(path);
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::output(&dir, e))?;
        let file = tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::output(path, e))?;
        Ok(AtomicJsonl {
            path: path.to_owned(),
            tmp,
            writer: BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        serde_json::to_writer(&mut self.writer, record)
            .map_err(|e| Error::output(&self.path, io::Error::from(e)))?;
        self.writer
            .write_all(b"\n")
            .map_err(|e| Error::output(&self.path, e))
    }

    fn persist(mut self) -> Result<()> {
        let path = self.path;
        self.writer.flush().map_err(|e| Error::output(&path, e))?;
        drop(self.writer);
        // tempfile creates files 0600; a data file should be readable like any other.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.tmp
                .as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(|e| Error::output(&path, e))?;
        }
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::output(&path, e))?;
        self.tmp
            .persist(&path)
            .map_err(|e| Error::output(&path, e.error))?;
        Ok(())
    }
}

/// Makes every article in generation order, assembles them in the same order, then hands
/// them to `emit` in the shuffled output order with their ids. `articles` and `assembled`
/// hold them in between.
fn build<A, B>(
    p: &GenParams,
    mut articles: A,
    mut assembled: B,
    mut emit: impl FnMut(GeneratedDoc, TruthRecord) -> Result<()>,
) -> Result<u64>
where
    A: Scratch<Article>,
    B: Scratch<Assembled>,
{
    let mut g = Gen::new(p);
    let mut n = 0usize;
    while n < p.docs {
        for a in g.family(n) {
            articles.push(a)?;
            n += 1;
        }
    }
    articles.seal()?;
    // Assemble in generation order before shuffling, like the Python, so the rng stream
    // order matches it.
    for i in 0..n {
        let a = articles.take(i)?;
        assembled.push(g.assemble(a))?;
    }
    drop(articles);
    assembled.seal()?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    g.rng.shuffle(&mut order);
    let mut pos_of = vec![0u32; n];
    for (pos, &i) in order.iter().enumerate() {
        pos_of[i as usize] = pos as u32;
    }
    let id = |i: usize| format!("d{:07}", pos_of[i]);
    for &i in &order {
        let i = i as usize;
        let a = assembled.take(i)?;
        let truth = TruthRecord {
            id: id(i),
            family: id(a.family),
            role: if a.family == i { "original" } else { "copy" }.to_owned(),
            edit_rate: a.edit_rate,
            trimmed_paragraphs: a.trimmed,
            header: a.header,
            footer: a.footer,
            repeat_mode: a.repeat_mode.map(str::to_owned),
            repeated_paragraphs: a.repeated,
            repeat_of: a.repeat_of,
            boilerplate_paragraphs: a.boilerplate,
            kind: a.kind.map(|k| k.as_str().to_owned()),
            related: a.related.iter().map(|&r| id(r)).collect(),
        };
        let doc = GeneratedDoc {
            id: id(i),
            outlet: g.outlets[a.outlet].name.clone(),
            date: iso_date(a.day),
            text: a.text,
        };
        emit(doc, truth)?;
    }
    Ok(n as u64)
}

/// Where articles wait, by generation index, between the stages of `build`.
trait Scratch<T> {
    /// Appends the next article.
    fn push(&mut self, item: T) -> Result<()>;
    /// Every article is in: the store is read from now on.
    fn seal(&mut self) -> Result<()>;
    /// Article `i`; each is taken once.
    fn take(&mut self, i: usize) -> Result<T>;
}

/// Articles held in memory.
struct Memory<T>(Vec<Option<T>>);

impl<T> Default for Memory<T> {
    fn default() -> Self {
        Memory(Vec::new())
    }
}

impl<T> Scratch<T> for Memory<T> {
    fn push(&mut self, item: T) -> Result<()> {
        self.0.push(Some(item));
        Ok(())
    }

    fn seal(&mut self) -> Result<()> {
        Ok(())
    }

    fn take(&mut self, i: usize) -> Result<T> {
        Ok(self.0[i].take().expect("each article is taken once"))
    }
}

/// Articles encoded in an unnamed temporary file (removed by the OS even after a crash),
/// 8 bytes of offset each in memory.
enum Disk {
    Writing(ShingleSpill),
    Reading(ShingleSets),
    Sealing,
}

impl Disk {
    fn create(dir: &Path) -> Result<Self> {
        Ok(Disk::Writing(ShingleSpill::create_in(dir)?))
    }
}

impl<T: Codec> Scratch<T> for Disk {
    fn push(&mut self, item: T) -> Result<()> {
        let Disk::Writing(spill) = self else {
            unreachable!("articles are pushed before the store is sealed")
        };
        let mut bytes = Vec::new();
        item.encode(&mut Encoder(&mut bytes));
        spill.push_bytes(&bytes)
    }

    fn seal(&mut self) -> Result<()> {
        if let Disk::Writing(spill) = std::mem::replace(self, Disk::Sealing) {
            *self = Disk::Reading(spill.finish()?);
        }
        Ok(())
    }

    fn take(&mut self, i: usize) -> Result<T> {
        let Disk::Reading(sets) = self else {
            unreachable!("articles are taken after the store is sealed")
        };
        let bytes = sets.read_bytes(i as u32)?;
        Ok(T::decode(&mut Decoder(&bytes)).expect("the scratch file holds what this run wrote"))
    }
}

/// A scratch record's byte layout (little-endian, lengths as u64): exact, floats by their
/// bits, so a round trip cannot change an edit rate's last digit.
trait Codec: Sized {
    fn encode(&self, out: &mut Encoder<'_>);
    fn decode(input: &mut Decoder<'_>) -> Option<Self>;
}

struct Encoder<'a>(&'a mut Vec<u8>);

impl Encoder<'_> {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }
    fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        self.u64(u64::from(s.is_some()));
        if let Some(s) = s {
            self.str(s);
        }
    }
    fn usizes(&mut self, v: &[usize]) {
        self.usize(v.len());
        for &x in v {
            self.usize(x);
        }
    }
    fn kind(&mut self, k: Option<Kind>) {
        let code = k.map_or(0, |k| {
            1 + Kind::ALL
                .iter()
                .position(|&x| x == k)
                .expect("every kind is listed")
        });
        self.usize(code);
    }
}

struct Decoder<'a>(&'a [u8]);

impl Decoder<'_> {
    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_at_checked(8)?;
        self.0 = rest;
        Some(u64::from_le_bytes(head.try_into().ok()?))
    }
    fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }
    fn str(&mut self) -> Option<String> {
        let n = self.usize()?;
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        String::from_utf8(head.to_vec()).ok()
    }
    // outer: whether the bytes parse; inner: whether the field is there
    #[allow(clippy::option_option)]
    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u64()? {
            0 => Some(None),
            _ => self.str().map(Some),
        }
    }
    fn usizes(&mut self) -> Option<Vec<usize>> {
        let n = self.usize()?;
        (0..n).map(|_| self.usize()).collect()
    }
    #[allow(clippy::option_option)] // as `opt_str`
    fn kind(&mut self) -> Option<Option<Kind>> {
        match self.usize()? {
            0 => Some(None),
            c => Kind::ALL.get(c - 1).copied().map(Some),
        }
    }
}

/// Portable draws on top of the raw `ChaCha8Rng` stream.
struct PortableRng(ChaCha8Rng);

impl PortableRng {
    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in 0..n (Lemire's multiply-and-reject, unbiased).
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0) has no values to draw");
        let n = n as u64;
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.0.next_u64()) * u128::from(n);
            if m as u64 >= threshold {
                return (m >> 64) as usize;
            }
        }
    }

    /// Uniform in lo..=hi (Python's `randint`).
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// Fisher-Yates, as Python's `shuffle`.
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }

    /// `k` distinct indices of 0..n in draw order (partial Fisher-Yates).
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }
}

struct Outlet {
    name: String,
    city: &'static str,
    boiler: Vec<String>,
    header: &'static str,
    footer: &'static str,
    author: String,
    /// The byline of the outlet's lede-only copies: the same on every one of them, so the
    /// boilerplate stage can learn it.
    byline: String,
    /// The footer of its lede-only copies, likewise.
    lede_footer: String,
}

struct Article {
    outlet: usize,
    day: u32,
    /// Title then body paragraphs.
    body: Vec<String>,
    /// Index (in generation order) of the original.
    family: usize,
    edit_rate: f64,
    trimmed: usize,
    header: Option<String>,
    footer: Option<String>,
    kind: Option<Kind>,
    /// Generation indices of the articles a hard negative shares text with.
    related: Vec<usize>,
}

impl Codec for Article {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.usize(self.outlet);
        out.u64(u64::from(self.day));
        out.usize(self.body.len());
        for p in &self.body {
            out.str(p);
        }
        out.usize(self.family);
        out.u64(self.edit_rate.to_bits());
        out.usize(self.trimmed);
        out.opt_str(self.header.as_deref());
        out.opt_str(self.footer.as_deref());
        out.kind(self.kind);
        out.usizes(&self.related);
    }

    fn decode(input: &mut Decoder<'_>) -> Option<Self> {
        let outlet = input.usize()?;
        let day = u32::try_from(input.u64()?).ok()?;
        let n = input.usize()?;
        let body = (0..n).map(|_| input.str()).collect::<Option<_>>()?;
        Some(Article {
            outlet,
            day,
            body,
            family: input.usize()?,
            edit_rate: f64::from_bits(input.u64()?),
            trimmed: input.usize()?,
            header: input.opt_str()?,
            footer: input.opt_str()?,
            kind: input.kind()?,
            related: input.usizes()?,
        })
    }
}

struct Assembled {
    outlet: usize,
    day: u32,
    family: usize,
    edit_rate: f64,
    trimmed: usize,
    header: bool,
    footer: bool,
    text: String,
    repeat_mode: Option<&'static str>,
    repeated: Vec<usize>,
    repeat_of: Vec<usize>,
    boilerplate: Vec<usize>,
    kind: Option<Kind>,
    related: Vec<usize>,
}

/// The repeat modes `Gen::repeat` plants, by their scratch codes 1 and 2.
const REPEAT_MODES: [&str; 2] = ["doubled", "paragraphs"];

impl Codec for Assembled {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.usize(self.outlet);
        out.u64(u64::from(self.day));
        out.usize(self.family);
        out.u64(self.edit_rate.to_bits());
        out.usize(self.trimmed);
        out.u64(u64::from(self.header));
        out.u64(u64::from(self.footer));
        out.str(&self.text);
        out.usize(self.repeat_mode.map_or(0, |m| {
            1 + REPEAT_MODES
                .iter()
                .position(|&x| x == m)
                .expect("every mode is listed")
        }));
        out.usizes(&self.repeated);
        out.usizes(&self.repeat_of);
        out.usizes(&self.boilerplate);
        out.kind(self.kind);
        out.usizes(&self.related);
    }

    fn decode(input: &mut Decoder<'_>) -> Option<Self> {
        Some(Assembled {
            outlet: input.usize()?,
            day: u32::try_from(input.u64()?).ok()?,
            family: input.usize()?,
            edit_rate: f64::from_bits(input.u64()?),
            trimmed: input.usize()?,
            header: input.u64()? != 0,
            footer: input.u64()? != 0,
            text: input.str()?,
            repeat_mode: match input.usize()? {
                0 => None,
                c => Some(*REPEAT_MODES.get(c - 1)?),
            },
            repeated: input.usizes()?,
            repeat_of: input.usizes()?,
            boilerplate: input.usizes()?,
            kind: input.kind()?,
            related: input.usizes()?,
        })
    }
}

/// What the items of one template batch share, and the city each has of its own.
#[derive(Clone, Copy)]
struct Slots {
    /// 0 results, 1 prices, 2 weather.
    which: usize,
    weekday: &'static str,
    /// The commodity of a prices batch.
    what: &'static str,
    city: &'static str,
}

/// A story the hard cases draw on: what a digest lists of it.
struct Story {
    index: usize,
    title: String,
    lede: String,
    day: u32,
}

/// The vocabulary and its Zipf sampler; every draw takes the stream it comes from.
struct Words {
    vocab: Vec<String>,
    cdf: Cdf,
}

impl Words {
    /// Index of a Zipf-distributed vocabulary word.
    fn word(&self, rng: &mut PortableRng) -> usize {
        self.cdf.draw(rng.unit())
    }

    fn push_word(&self, rng: &mut PortableRng, out: &mut String) {
        let i = self.word(rng);
        out.push_str(&self.vocab[i]);
    }

    fn push_capitalized_word(&self, rng: &mut PortableRng, out: &mut String) {
        let i = self.word(rng);
        push_capitalized(out, &self.vocab[i]);
    }

    /// A capitalised word: a name.
    fn name(&self, rng: &mut PortableRng) -> String {
        let mut out = String::new();
        self.push_capitalized_word(rng, &mut out);
        out
    }

    /// `n` capitalised words: a headline.
    fn title(&self, rng: &mut PortableRng, n: usize) -> String {
        let mut title = String::new();
        for j in 0..n {
            if j > 0 {
                title.push(' ');
            }
            self.push_capitalized_word(rng, &mut title);
        }
        title
    }

    /// Appends a sentence of `k` words: capitalised, maybe one comma, then '.' or '?'.
    fn sentence(&self, rng: &mut PortableRng, k: usize, out: &mut String) {
        let comma_after = (k > 8 && rng.chance(0.4)).then(|| rng.range(3, k - 3));
        for j in 0..k {
            if j == 0 {
                self.push_capitalized_word(rng, out);
            } else {
                out.push(' ');
                self.push_word(rng, out);
            }
            if comma_after == Some(j) {
                out.push(',');
            }
        }
        out.push(if rng.chance(0.03) { '?' } else { '.' });
    }

    fn paragraph(&self, rng: &mut PortableRng, mut nwords: usize) -> String {
        let mut out = String::with_capacity(nwords * 8);
        while nwords > 0 {
            let mut k = nwords.min(rng.range(8, 30));
            // No stub sentence of 1-3 words at the end.
            if nwords - k < 4 {
                k = nwords;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            self.sentence(rng, k, &mut out);
            nwords -= k;
        }
        out
    }
}

fn pick_outlet(cdf: &Cdf, rng: &mut PortableRng, exclude: &[bool]) -> usize {
    loop {
        let i = cdf.draw(rng.unit());
        if !exclude.get(i).copied().unwrap_or(false) {
            return i;
        }
    }
}

struct Gen<'p> {
    p: &'p GenParams,
    /// The base corpus's stream.
    rng: PortableRng,
    /// The hard cases' stream: the base corpus never draws from it.
    hard: PortableRng,
    words: Words,
    outlets: Vec<Outlet>,
    outlet_cdf: Cdf,
    /// The last `RECENT` stories, oldest first.
    recent: VecDeque<Story>,
}

impl<'p> Gen<'p> {
    fn new(p: &'p GenParams) -> Self {
        let mut rng = PortableRng(ChaCha8Rng::seed_from_u64(p.seed));
        let mut hard = ChaCha8Rng::seed_from_u64(p.seed);
        hard.set_stream(1);
        let vocab = build_vocab(&mut rng, p.vocab);
        // powf is libm's and may differ by an ulp across platforms; that could only change a
        // draw landing within an ulp of a bucket edge (~2^-52 per draw). Exact for zipf_s = 1.
        let cdf = Cdf::new((1..=vocab.len()).map(|r| 1.0 / (r as f64).powf(p.zipf_s)));
        let mut g = Self {
            p,
            rng,
            hard: PortableRng(hard),
            words: Words { vocab, cdf },
            outlets: Vec::with_capacity(p.outlets),
            outlet_cdf: Cdf::new((1..=p.outlets).map(|r| 1.0 / (r as f64).powf(0.8))),
            recent: VecDeque::with_capacity(RECENT),
        };
        let mut names = HashSet::new();
        while g.outlets.len() < p.outlets {
            let pre = g.rng.pick(OUTLET_PREFIX);
            let city = g.rng.pick(CITIES);
            let kind = g.rng.pick(OUTLET_KIND);
            let name = [pre, city, kind]
                .iter()
                .filter(|x| !x.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            if !names.insert(name.clone()) {
                continue;
            }
            let nb = g.rng.range(1, 3);
            let mut boiler = Vec::with_capacity(nb);
            for t in g.rng.sample(BOILER_TEMPLATES.len(), nb) {
                let mut b = fill(BOILER_TEMPLATES[t], &[("outlet", &name), ("year", "2024")]);
                b.push(' ');
                let k = g.rng.range(8, 30);
                g.words.sentence(&mut g.rng, k, &mut b);
                boiler.push(b);
            }
            let header = g.rng.pick(HEADER_TEMPLATES);
            let footer = g.rng.pick(FOOTER_TEMPLATES);
            let mut author = String::new();
            g.words.push_capitalized_word(&mut g.rng, &mut author);
            author.push(' ');
            g.words.push_capitalized_word(&mut g.rng, &mut author);
            let byline = format!("By {author}, {name} wire desk");
            let lede_footer = format!(
                "{name} carries the opening of stories from partner newsrooms. The full \
                 report is available from the original publisher."
            );
            g.outlets.push(Outlet {
                name,
                city,
                boiler,
                header,
                footer,
                author,
                byline,
                lede_footer,
            });
        }
        g
    }

    /// Title paragraph followed by body paragraphs.
    fn original_body(&mut self) -> Vec<String> {
        let p = self.p;
        let nwords = self.rng.range(p.min_words, p.max_words);
        let per_para = self.rng.range(40, 110);
        let npara = (py_round(nwords as f64 / per_para as f64))
            .min(p.max_paras)
            .max(p.min_paras);
        // Uneven but sane paragraph sizes (at least 12 words).
        let weights: Vec<f64> = (0..npara).map(|_| 0.4 + 1.2 * self.rng.unit()).collect();
        let total: f64 = weights.iter().sum();
        let nwords_f = nwords as f64;
        let sizes: Vec<usize> = weights
            .iter()
            .map(|w| py_round(nwords_f * w / total).max(12))
            .collect();
        let ntitle = self.rng.range(5, 11);
        let title = self.words.title(&mut self.rng, ntitle);
        let mut body = Vec::with_capacity(npara + 1);
        body.push(title);
        for s in sizes {
            body.push(self.words.paragraph(&mut self.rng, s));
        }
        body
    }

    /// Deletes or substitutes each word with probability `rate` (half each).
    fn edit_paragraph(&mut self, p: &str, rate: f64) -> String {
        if rate <= 0.0 {
            return p.to_owned();
        }
        let mut out = String::with_capacity(p.len());
        for w in p.split(' ') {
            if self.rng.chance(rate) {
                if self.rng.chance(0.5) {
                    continue;
                }
                if !out.is_empty() {
                    out.push(' ');
                }
                self.words.push_word(&mut self.rng, &mut out);
            } else {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(w);
            }
        }
        // Never leave an empty paragraph: it would merge separators into "\n\n\n\n".
        if out.is_empty() {
            for j in 0..3 {
                if j > 0 {
                    out.push(' ');
                }
                self.words.push_word(&mut self.rng, &mut out);
            }
        }
        out
    }

    /// The next family in generation order, `produced` articles having come before: an
    /// original directly followed by its copies, then the hard negatives it occasions, at
    /// most `docs - produced` articles in all.
    fn family(&mut self, produced: usize) -> Vec<Article> {
        let p = self.p;
        let room = p.docs - produced;
        let mut fam: Vec<Article> = Vec::new();
        let oi = pick_outlet(&self.outlet_cdf, &mut self.rng, &[]);
        let mut body = self.original_body();
        let day = BASE_DAY + self.rng.below(366) as u32;
        let orig = produced;
        if p.short_ledes {
            let n = self.hard.range(18, 35);
            body.insert(1, self.words.paragraph(&mut self.hard, n));
        }
        let statement = self.hard.chance(p.quote_frac).then(|| self.statement());
        if let Some(q) = &statement {
            // after the headline and the lede: a statement quoted in the body
            let at = self.hard.range(2.min(body.len()), body.len());
            body.insert(at, q.clone());
        }
        fam.push(Article {
            outlet: oi,
            day,
            body,
            family: orig,
            edit_rate: 0.0,
            trimmed: 0,
            header: None,
            footer: None,
            kind: None,
            related: Vec::new(),
        });
        if p.max_copies > 0 && self.rng.chance(p.syndicated_frac) {
            self.copies(&mut fam, room, oi, day);
        }
        if fam[0].body.len() > 1 {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(Story {
                index: orig,
                title: fam[0].body[0].clone(),
                lede: fam[0].body[1].clone(),
                day,
            });
        }
        if let Some(q) = statement {
            let n = self.hard.range(1, 3);
            let first = produced + fam.len();
            let briefs = n.min(room - fam.len());
            for j in 0..briefs {
                let mut related = vec![orig];
                related.extend((first..first + briefs).filter(|&b| b != first + j));
                let brief = self.brief(&q, day, first + j, related);
                fam.push(brief);
            }
        }
        if self.hard.chance(p.followup_frac) && fam.len() < room && fam[0].body.len() > 2 {
            let index = produced + fam.len();
            let background = fam[0].body[2.max(fam[0].body.len() / 2)].clone();
            let f = self.followup(&background, oi, day, index, orig);
            fam.push(f);
        }
        if self.hard.chance(p.template_frac) {
            let n = self.hard.range(2, 4).min(room - fam.len());
            let first = produced + fam.len();
            let which = self.hard.below(3);
            let weekday = self.hard.pick(WEEKDAYS);
            let what = self.hard.pick(COMMODITIES);
            // one city each: items of a batch differ in their variable words
            let cities = self.hard.sample(CITIES.len(), n);
            for (j, &city) in cities.iter().enumerate() {
                let related = (first..first + n).filter(|&t| t != first + j).collect();
                let slots = Slots {
                    which,
                    weekday,
                    what,
                    city: CITIES[city],
                };
                let item = self.template(slots, day, first + j, related);
                fam.push(item);
            }
        }
        if self.hard.chance(p.digest_frac) && self.recent.len() >= DIGEST_MIN && fam.len() < room {
            let index = produced + fam.len();
            let d = self.digest(index);
            fam.push(d);
        }
        fam
    }

    /// Appends the copies of `fam[0]` (the original, from outlet `oi`, dated `day`).
    fn copies(&mut self, fam: &mut Vec<Article>, room: usize, oi: usize, day: u32) {
        let p = self.p;
        let orig = fam[0].family;
        let ncopies = self.rng.range(1, p.max_copies);
        let mut used = vec![false; self.outlets.len()];
        used[oi] = true;
        let mut nused = 1;
        for _ in 0..ncopies {
            if fam.len() >= room {
                break;
            }
            // Every outlet used once: allow repeats rather than loop forever.
            if nused >= self.outlets.len() {
                used.fill(false);
                used[oi] = true;
                nused = 1;
            }
            let ci = pick_outlet(&self.outlet_cdf, &mut self.rng, &used);
            used[ci] = true;
            nused += 1;

            let src_body = &fam[0].body;
            let mut keep = src_body.len();
            let mut trimmed = 0;
            if self.rng.chance(TRIM_PROB) && keep > 3 {
                trimmed = self.rng.range(1, ((keep - 1) / 3).max(1));
                keep -= trimmed;
            }
            let rate = p.max_edit_rate * self.rng.unit();
            let cbody: Vec<String> = src_body[..keep]
                .iter()
                .map(|para| self.edit_paragraph(para, rate))
                .collect();
            let cday = day + self.rng.range(0, 3) as u32;
            let co = &self.outlets[ci];
            let src = self.outlets[oi].name.as_str();
            let header = self.rng.chance(HEADER_PROB).then(|| {
                fill(
                    co.header,
                    &[
                        ("outlet", &co.name),
                        ("city", co.city),
                        ("src", src),
                        ("SRC", &src.to_uppercase()),
                        ("CITY", &co.city.to_uppercase()),
                        ("author", &co.author),
                        ("date", &iso_date(cday)),
                    ],
                )
            });
            let footer = self
                .rng
                .chance(FOOTER_PROB)
                .then(|| fill(co.footer, &[("outlet", &co.name), ("src", src)]));
            let mut copy = Article {
                outlet: ci,
                day: cday,
                body: cbody,
                family: orig,
                edit_rate: (rate * 10_000.0).round() / 10_000.0,
                trimmed,
                header,
                footer,
                kind: None,
                related: Vec::new(),
            };
            // decided after every draw of the regular copy, so the base stream is the same
            if self.hard.chance(p.lede_copy_frac) {
                let src_body = &fam[0].body;
                let keep = (1 + self.hard.range(1, 2)).min(src_body.len());
                copy.body = src_body[..keep].to_vec();
                copy.trimmed = src_body.len() - keep;
                copy.edit_rate = 0.0;
                copy.header = Some(self.outlets[ci].byline.clone());
                copy.footer = Some(self.outlets[ci].lede_footer.clone());
                copy.kind = Some(Kind::Lede);
            }
            fam.push(copy);
        }
    }

    /// A 40-70 word statement, quoted in full with its speaker.
    fn statement(&mut self) -> String {
        let n = self.hard.range(40, 70);
        let words = self.words.paragraph(&mut self.hard, n);
        let first = self.words.name(&mut self.hard);
        let last = self.words.name(&mut self.hard);
        let org = self.words.name(&mut self.hard);
        let kind = self.hard.pick(ORGS);
        format!("\u{201c}{words}\u{201d} said {first} {last} of the {org} {kind}.")
    }

    /// A short original around `statement`: a headline, a one-sentence lede, the statement,
    /// maybe a closing line.
    fn brief(&mut self, statement: &str, day: u32, index: usize, related: Vec<usize>) -> Article {
        let nt = self.hard.range(5, 11);
        let title = self.words.title(&mut self.hard, nt);
        let nl = self.hard.range(15, 30);
        let lede = self.words.paragraph(&mut self.hard, nl);
        let mut body = vec![title, lede, statement.to_owned()];
        if self.hard.chance(0.5) {
            let n = self.hard.range(8, 20);
            body.push(self.words.paragraph(&mut self.hard, n));
        }
        Article {
            outlet: pick_outlet(&self.outlet_cdf, &mut self.hard, &[]),
            day: day + self.hard.range(0, 2) as u32,
            body,
            family: index,
            edit_rate: 0.0,
            trimmed: 0,
            header: None,
            footer: None,
            kind: Some(Kind::Brief),
            related,
        }
    }

    /// A new story of the same outlet, days later, reusing `background` verbatim between
    /// paragraphs of its own.
    fn followup(
        &mut self,
        background: &str,
        outlet: usize,
        day: u32,
        index: usize,
        story: usize,
    ) -> Article {
        let nt = self.hard.range(5, 11);
        let mut body = vec![self.words.title(&mut self.hard, nt)];
        let nl = self.hard.range(18, 35);
        body.push(self.words.paragraph(&mut self.hard, nl));
        for _ in 0..self.hard.range(0, 2) {
            let n = self.hard.range(30, 80);
            body.push(self.words.paragraph(&mut self.hard, n));
        }
        body.push(background.to_owned());
        for _ in 0..self.hard.range(0, 2) {
            let n = self.hard.range(30, 80);
            body.push(self.words.paragraph(&mut self.hard, n));
        }
        Article {
            outlet,
            day: day + self.hard.range(1, 7) as u32,
            body,
            family: index,
            edit_rate: 0.0,
            trimmed: 0,
            header: None,
            footer: None,
            kind: Some(Kind::Followup),
            related: vec![story],
        }
    }

    /// One item of a template batch: a headline and a paragraph whose fixed words every
    /// item of the batch shares.
    fn template(&mut self, slots: Slots, day: u32, index: usize, related: Vec<usize>) -> Article {
        let Slots {
            which,
            weekday,
            what,
            city,
        } = slots;
        let day = day + self.hard.range(0, 1) as u32;
        let date = iso_date(day);
        let h = &mut self.hard;
        let w = &self.words;
        let team = |h: &mut PortableRng| format!("{} {}", w.name(h), h.pick(TEAM_KINDS));
        let (title, text) = match which {
            0 => {
                let (t1, t2, t3) = (team(h), team(h), team(h));
                let s1 = h.range(1, 5);
                let s2 = h.below(s1);
                let ground = format!("{} {}", w.name(h), h.pick(GROUND_KINDS));
                let scorer = format!("{} {}", w.name(h), w.name(h));
                let (minute, place, left) = (h.range(50, 89), h.range(1, 20), h.range(2, 12));
                (
                    format!("{t1} {s1} {t2} {s2}"),
                    format!(
                        "{t1} beat {t2} {s1}-{s2} at {ground} on {weekday} {date}. {scorer} scored \
                         the winner {minute} minutes into the game. The result leaves {t1} in \
                         {place}th place with {left} games of the season left to play, and \
                         {t2} are at home to {t3} next week. Full match reports, line-ups and \
                         reaction from both managers follow in the sports section."
                    ),
                )
            }
            1 => {
                let (price, change) = (h.range(100, 900), h.range(1, 40));
                let dir = if h.chance(0.5) { "up" } else { "down" };
                (
                    format!("{} prices in {city}, {weekday}", capitalized(what)),
                    format!(
                        "Wholesale {what} in {city} closed at {price} a tonne on {weekday} {date}, \
                         {dir} {change} on the week. Dealers at the {city} market reported \
                         steady demand from local buyers and said supplies were adequate for \
                         the time of year. Prices are indicative and are collected from \
                         traders at the close of business each day."
                    ),
                )
            }
            _ => {
                let cond = h.pick(CONDITIONS);
                let (high, low) = (h.range(8, 30), h.range(0, 7));
                let (dir, wind) = (h.pick(DIRECTIONS), h.range(5, 60));
                (
                    format!("Weather for {city}, {weekday}"),
                    format!(
                        "{city} can expect {cond} on {weekday} {date}, with a high of {high} degrees \
                         and a low of {low} overnight. Winds will blow from the {dir} at {wind} \
                         kilometres an hour. The regional forecast service says the outlook \
                         for the rest of the week remains changeable, with further spells of \
                         rain likely."
                    ),
                )
            }
        };
        Article {
            outlet: pick_outlet(&self.outlet_cdf, &mut self.hard, &[]),
            day,
            body: vec![title, text],
            family: index,
            edit_rate: 0.0,
            trimmed: 0,
            header: None,
            footer: None,
            kind: Some(Kind::Template),
            related,
        }
    }

    /// A page listing the headlines and ledes of `DIGEST_MIN..=DIGEST_MAX` recent stories,
    /// dated no earlier than the latest of them.
    fn digest(&mut self, index: usize) -> Article {
        let m = self
            .hard
            .range(DIGEST_MIN, DIGEST_MAX)
            .min(self.recent.len());
        let mut picked = self.hard.sample(self.recent.len(), m);
        picked.sort_unstable();
        let outlet = pick_outlet(&self.outlet_cdf, &mut self.hard, &[]);
        let latest = picked
            .iter()
            .map(|&i| self.recent[i].day)
            .max()
            .expect("a digest lists stories");
        let day = latest + self.hard.range(0, 1) as u32;
        let mut body = vec![format!(
            "{} briefing for {}: the stories you need to know today",
            self.outlets[outlet].name,
            iso_date(day)
        )];
        let mut related = Vec::with_capacity(m);
        for &i in &picked {
            let s = &self.recent[i];
            body.push(s.title.clone());
            body.push(s.lede.clone());
            related.push(s.index);
        }
        Article {
            outlet,
            day,
            body,
            family: index,
            edit_rate: 0.0,
            trimmed: 0,
            header: None,
            footer: None,
            kind: Some(Kind::Digest),
            related,
        }
    }

    /// Lays out header, body, footer, boilerplate, then maybe plants a repetition.
    fn assemble(&mut self, a: Article) -> Assembled {
        let has_header = a.header.is_some();
        let has_footer = a.footer.is_some();
        let mut paras: Vec<String> = Vec::with_capacity(a.body.len() * 2 + 6);
        paras.extend(a.header);
        let body_start = paras.len();
        paras.extend(a.body);
        let body_end = paras.len();
        paras.extend(a.footer);
        let boiler_start = paras.len();
        if self.rng.chance(self.p.boilerplate_prob) {
            paras.extend(self.outlets[a.outlet].boiler.iter().cloned());
        }
        let nboiler = paras.len() - boiler_start;

        let (mut repeat_mode, mut repeated, mut repeat_of) = (None, Vec::new(), Vec::new());
        let len_before = paras.len();
        if self.rng.chance(self.p.repeat_frac) {
            let (mode, rep, of) = self.repeat(&mut paras, body_start, body_end);
            (repeat_mode, repeated, repeat_of) = (Some(mode), rep, of);
        }
        // Repetition only inserts paragraphs before the footer, so boilerplate moves by the
        // number inserted.
        let shift = paras.len() - len_before;
        let boilerplate = (boiler_start + shift..boiler_start + shift + nboiler).collect();

        Assembled {
            outlet: a.outlet,
            day: a.day,
            family: a.family,
            edit_rate: a.edit_rate,
            trimmed: a.trimmed,
            header: has_header,
            footer: has_footer,
            text: paras.join("\n\n"),
            repeat_mode,
            repeated,
            repeat_of,
            boilerplate,
            kind: a.kind,
            related: a.related,
        }
    }

    /// Plants a repetition in `paras[start..end]` (the body); returns mode, repeated indices
    /// and the index each one repeats, all in the final list.
    fn repeat(
        &mut self,
        paras: &mut Vec<String>,
        start: usize,
        end: usize,
    ) -> (&'static str, Vec<usize>, Vec<usize>) {
        let n = end - start;
        // Scrape-doubling bug: the whole body again right after itself.
        if self.rng.chance(0.5) || n < 3 {
            let copy: Vec<String> = paras[start..end].to_vec();
            paras.splice(end..end, copy);
            return ("doubled", (end..end + n).collect(), (start..end).collect());
        }
        // Repeat 1-3 distinct body paragraphs, each somewhere after its first occurrence.
        let k = self.rng.range(1, 3.min(n - 1));
        let mut sources = self.rng.sample(n, k);
        sources.sort_unstable();
        // (body index, is a repeat)
        let mut seq: Vec<(usize, bool)> = (0..n).map(|i| (i, false)).collect();
        for &s in &sources {
            let first = seq
                .iter()
                .position(|&e| e == (s, false))
                .expect("every body index has its first occurrence in seq");
            let at = self.rng.range(first + 1, seq.len());
            seq.insert(at, (s, true));
        }
        let mut first_pos = vec![0; n];
        for (j, &(i, is_rep)) in seq.iter().enumerate() {
            if !is_rep {
                first_pos[i] = start + j;
            }
        }
        let (mut rep, mut of) = (Vec::with_capacity(k), Vec::with_capacity(k));
        for (j, &(i, is_rep)) in seq.iter().enumerate() {
            if is_rep {
                rep.push(start + j);
                of.push(first_pos[i]);
            }
        }
        let new_body: Vec<String> = seq.iter().map(|&(i, _)| paras[start + i].clone()).collect();
        paras.splice(start..end, new_body);
        ("paragraphs", rep, of)
    }
}

/// ~`size` distinct pronounceable words, roughly shortest first (the frequent end of Zipf).
fn build_vocab(rng: &mut PortableRng, size: usize) -> Vec<String> {
    // The set is only for membership; order comes from the Vec, so it is deterministic.
    let mut seen = HashSet::with_capacity(size);
    let mut words = Vec::with_capacity(size);
    while words.len() < size {
        let nsyl = match rng.below(100) {
            0..30 => 1,
            30..70 => 2,
            70..92 => 3,
            _ => 4,
        };
        let mut w = String::new();
        for _ in 0..nsyl {
            w.push_str(rng.pick(ONSETS));
            w.push_str(rng.pick(VOWELS));
            w.push_str(rng.pick(CODAS));
        }
        if (2..=16).contains(&w.len()) && seen.insert(w.clone()) {
            words.push(w);
        }
    }
    // Frequent words tend to be short: sort by length plus noise. Words are already in random
    // (generation) order, so the Python's extra shuffle would add nothing.
    let mut keyed: Vec<(f64, String)> = words
        .into_iter()
        .map(|w| (w.len() as f64 + rng.unit() * 4.0, w))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, w)| w).collect()
}

/// Inverse-CDF sampler over positive weights. The guide table only speeds up the search (a
/// word draw is the hot loop); results are exactly Python's `bisect(cum, u * total)`, clamped
/// to the last index.
struct Cdf {
    cum: Vec<f64>,
    /// `guide[b]`: roughly the answer for `u = b / guide.len()`, a start for the local search.
    guide: Vec<u32>,
}

impl Cdf {
    fn new(weights: impl Iterator<Item = f64>) -> Self {
        let mut acc = 0.0;
        let cum: Vec<f64> = weights
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        assert!(!cum.is_empty(), "a distribution needs at least one weight");
        let total = acc;
        let buckets = cum.len();
        let guide = (0..buckets)
            .map(|b| Self::bisect(&cum, total * (b as f64 / buckets as f64)) as u32)
            .collect();
        Self { cum, guide }
    }

    fn bisect(cum: &[f64], x: f64) -> usize {
        cum.partition_point(|&c| c <= x).min(cum.len() - 1)
    }

    /// Index for `u` in [0, 1).
    fn draw(&self, u: f64) -> usize {
        let cum = &self.cum;
        let x = u * cum[cum.len() - 1];
        let b = ((u * self.guide.len() as f64) as usize).min(self.guide.len() - 1);
        let mut i = self.guide[b] as usize;
        // Walk to the bisect answer from either side, so rounding in the guide cannot matter.
        while i > 0 && cum[i - 1] > x {
            i -= 1;
        }
        while i < cum.len() - 1 && cum[i] <= x {
            i += 1;
        }
        i
    }
}

/// Python's `round()` to an integer: ties to even.
fn py_round(x: f64) -> usize {
    x.round_ties_even() as usize
}

fn push_capitalized(out: &mut String, w: &str) {
    let mut chars = w.chars();
    if let Some(c) = chars.next() {
        out.extend(c.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// Substitutes `{key}` placeholders; every placeholder must have a value.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("templates close every '{'");
        let key = &rest[open + 1..close];
        let value = vars
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .expect("every template placeholder is given a value");
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `yyyy-mm-dd` for days since 1970-01-01 (Howard Hinnant's civil-from-days).
fn iso_date(days: u32) -> String {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `s` with its first letter in upper case.
fn capitalized(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_capitalized(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn small(seed: u64) -> GenParams {
        GenParams {
            docs: 1500,
            seed,
            repeat_frac: 0.3,
            ..GenParams::default()
        }
    }

    fn paragraphs(text: &str) -> Vec<&str> {
        text.split("\n\n").collect()
    }

    #[test]
    fn cdf_draw_matches_bisect() {
        let mut rng = PortableRng(ChaCha8Rng::seed_from_u64(1));
        for (n, s) in [
            (1, 1.0),
            (2, 0.8),
            (40, 0.8),
            (5000, 1.0),
            (5000, 1.7),
            (300, 0.0),
        ] {
            let cdf = Cdf::new((1..=n).map(|r| 1.0 / f64::from(r).powf(s)));
            let mut us: Vec<f64> = (0..20_000).map(|_| rng.unit()).collect();
            us.extend([0.0, 1.0 - f64::EPSILON / 2.0]);
            // Exact bucket and cum boundaries are where the guide could be off by one.
            us.extend((0..n).map(|b| f64::from(b) / f64::from(n)));
            let total = cdf.cum[cdf.cum.len() - 1];
            us.extend(cdf.cum.iter().map(|c| c / total));
            for u in us.into_iter().filter(|u| (0.0..1.0).contains(u)) {
                assert_eq!(
                    cdf.draw(u),
                    Cdf::bisect(&cdf.cum, u * total),
                    "n={n} s={s} u={u}"
                );
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(BASE_DAY), "2024-01-01");
        assert_eq!(iso_date(BASE_DAY + 59), "2024-02-29");
        assert_eq!(iso_date(BASE_DAY + 365), "2024-12-31");
        assert_eq!(iso_date(BASE_DAY + 366), "2025-01-01");
    }

    #[test]
    fn deterministic_and_seed_sensitive() {
        let a = generate(&small(7));
        let b = generate(&small(7));
        assert_eq!(a, b);
        let c = generate(&small(8));
        assert_ne!(a.docs[0].text, c.docs[0].text);
        assert_ne!(a.docs, c.docs);
    }

    #[test]
    fn ids_counts_roles_families() {
        let p = small(3);
        let c = generate(&p);
        assert_eq!(c.docs.len(), p.docs);
        assert_eq!(c.truth.len(), p.docs);
        let originals: BTreeSet<&str> = c
            .truth
            .iter()
            .filter(|t| t.role == "original")
            .map(|t| t.id.as_str())
            .collect();
        let mut copies = 0;
        for (pos, (d, t)) in c.docs.iter().zip(&c.truth).enumerate() {
            assert_eq!(d.id, format!("d{pos:07}"));
            assert_eq!(d.id, t.id);
            assert!(d.date.starts_with("2024-") || d.date.starts_with("2025-01-0"));
            match t.role.as_str() {
                "original" => {
                    assert_eq!(t.family, t.id);
                    assert!(t.edit_rate.abs() < f64::EPSILON);
                    assert!(!t.header && !t.footer && t.trimmed_paragraphs == 0);
                }
                "copy" => {
                    copies += 1;
                    assert!(originals.contains(t.family.as_str()), "{t:?}");
                    assert!((0.0..=p.max_edit_rate).contains(&t.edit_rate));
                    let o = &c.docs[c.truth.iter().position(|x| x.id == t.family).unwrap()];
                    assert_ne!(o.outlet, d.outlet, "copies go to other outlets");
                    assert!(d.date >= o.date);
                }
                r => panic!("bad role {r}"),
            }
        }
        assert_eq!(originals.len() + copies, p.docs);
        assert!(copies > 100, "syndication planted: {copies}");
    }

    #[test]
    fn repeats_point_at_equal_paragraphs() {
        let c = generate(&small(11));
        let mut modes = BTreeMap::new();
        for (d, t) in c.docs.iter().zip(&c.truth) {
            let paras = paragraphs(&d.text);
            assert!(paras.iter().all(|p| !p.is_empty()));
            assert_eq!(t.repeated_paragraphs.len(), t.repeat_of.len());
            assert_eq!(t.repeat_mode.is_some(), !t.repeated_paragraphs.is_empty());
            for (&r, &o) in t.repeated_paragraphs.iter().zip(&t.repeat_of) {
                assert!(o < r, "{t:?}");
                assert_eq!(paras[r], paras[o], "{t:?}");
            }
            *modes.entry(t.repeat_mode.clone()).or_insert(0) += 1;
        }
        assert!(modes[&Some("doubled".to_owned())] > 50, "{modes:?}");
        assert!(modes[&Some("paragraphs".to_owned())] > 50, "{modes:?}");
    }

    #[test]
    fn boilerplate_indices_are_outlet_boilerplate() {
        let p = small(5);
        let c = generate(&p);
        let g = Gen::new(&p);
        let boiler: BTreeMap<&str, &[String]> = g
            .outlets
            .iter()
            .map(|o| (o.name.as_str(), o.boiler.as_slice()))
            .collect();
        let mut with = 0;
        for (i, (d, t)) in c.docs.iter().zip(&c.truth).enumerate() {
            let paras = paragraphs(&d.text);
            let own = boiler[d.outlet.as_str()];
            if t.boilerplate_paragraphs.is_empty() {
                assert!(paras.iter().all(|p| !own.iter().any(|b| b == p)));
                continue;
            }
            with += 1;
            let got: Vec<&str> = t.boilerplate_paragraphs.iter().map(|&j| paras[j]).collect();
            assert_eq!(got, *own, "{t:?}");
            // Not reused in the body, and shared with another article of the same outlet.
            let flagged: BTreeSet<usize> = t.boilerplate_paragraphs.iter().copied().collect();
            for (j, para) in paras.iter().enumerate() {
                assert_eq!(flagged.contains(&j), own.iter().any(|b| b == para));
            }
            let shared = c.docs.iter().enumerate().any(|(k, e)| {
                k != i && e.outlet == d.outlet && paragraphs(&e.text).contains(&got[0])
            });
            assert!(shared, "boilerplate of {} is not shared", d.id);
        }
        assert!(with > p.docs / 2);
    }

    #[test]
    fn write_round_trip() {
        let c = generate(&GenParams {
            docs: 200,
            seed: 9,
            ..GenParams::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub").join("corpus.jsonl");
        write_corpus(&c, &out).unwrap();
        let docs: Vec<GeneratedDoc> = fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let truth: Vec<TruthRecord> =
            fs::read_to_string(dir.path().join("sub/corpus.jsonl.truth.jsonl"))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
        assert_eq!(Corpus { docs, truth }, c);
        let first = fs::read_to_string(&out).unwrap();
        assert!(first.starts_with(r#"{"id":"d0000000","outlet":"#));
        // Only the two files, no leftover temporaries.
        assert_eq!(fs::read_dir(dir.path().join("sub")).unwrap().count(), 2);
    }

    #[test]
    fn python_truth_lines_parse() {
        let line = r#"{"id": "d0000001", "family": "d0000000", "role": "copy", "edit_rate": 0.0123, "trimmed_paragraphs": 1, "header": true, "footer": false, "repeat_mode": null, "repeated_paragraphs": [], "repeat_of": []}"#;
        let t: TruthRecord = serde_json::from_str(line).unwrap();
        assert_eq!(t.family, "d0000000");
        assert!(t.boilerplate_paragraphs.is_empty());
    }

    #[test]
    fn the_sample_corpus_is_what_generate_writes() {
        // data/sample.jsonl was written before the hard cases and the streaming writer
        // existed: the same flags must still give the same bytes, truth included
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sample.jsonl");
        let n = generate_to(
            &GenParams {
                docs: 1000,
                seed: 1,
                ..GenParams::default()
            },
            &out,
        )
        .unwrap();
        assert_eq!(n, 1000);
        for name in ["sample.jsonl", "sample.jsonl.truth.jsonl"] {
            let want = fs::read(root.join(name)).unwrap();
            assert!(
                fs::read(dir.path().join(name)).unwrap() == want,
                "{name} differs"
            );
        }
        // nothing left beside them: the scratch files are unnamed
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn streaming_and_in_memory_agree() {
        for p in [small(21), hard(22, 800)] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("c.jsonl");
            generate_to(&p, &out).unwrap();
            let lines = |path: &Path| -> Vec<String> {
                fs::read_to_string(path)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect()
            };
            let c = generate(&p);
            let docs: Vec<String> = c
                .docs
                .iter()
                .map(|d| serde_json::to_string(d).unwrap())
                .collect();
            let truth: Vec<String> = c
                .truth
                .iter()
                .map(|t| serde_json::to_string(t).unwrap())
                .collect();
            assert_eq!(lines(&out), docs);
            assert_eq!(lines(&dir.path().join("c.jsonl.truth.jsonl")), truth);
        }
    }

    fn hard(seed: u64, docs: usize) -> GenParams {
        GenParams {
            docs,
            seed,
            lede_copy_frac: 0.5,
            quote_frac: 0.3,
            followup_frac: 0.3,
            template_frac: 0.2,
            digest_frac: 0.2,
            ..GenParams::default().hard()
        }
    }

    #[test]
    fn hard_cases_are_what_their_truth_says() {
        let c = generate(&hard(31, 3000));
        let by_id: BTreeMap<&str, (&GeneratedDoc, &TruthRecord)> = c
            .docs
            .iter()
            .zip(&c.truth)
            .map(|(d, t)| (d.id.as_str(), (d, t)))
            .collect();
        let mut seen = BTreeMap::new();
        for (d, t) in c.docs.iter().zip(&c.truth) {
            let Some(kind) = t.kind.as_deref() else {
                assert!(t.related.is_empty());
                continue;
            };
            *seen.entry(kind).or_insert(0) += 1;
            let paras = paragraphs(&d.text);
            let related = |i: usize| paragraphs(&by_id[t.related[i].as_str()].0.text);
            match kind {
                "lede" => {
                    // byline, headline, one or two paragraphs verbatim, footer
                    assert_eq!(t.role, "copy");
                    assert!(t.header && t.footer && t.edit_rate == 0.0);
                    let (orig, ot) = by_id[t.family.as_str()];
                    let op = paragraphs(&orig.text);
                    let body = &paras[1..paras.len() - 1 - t.boilerplate_paragraphs.len()];
                    let body: Vec<&str> = body
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !t.repeated_paragraphs.contains(&(i + 1)))
                        .map(|(_, p)| *p)
                        .collect();
                    assert!((2..=3).contains(&body.len()), "{t:?}");
                    let start = usize::from(ot.header);
                    assert_eq!(body, op[start..start + body.len()], "{t:?}");
                    assert!(paras[0].starts_with("By "), "{}", paras[0]);
                }
                "brief" => {
                    // the statement the related story quotes in full
                    assert_eq!(t.family, t.id);
                    let statement = paras
                        .iter()
                        .find(|p| p.starts_with('\u{201c}'))
                        .expect("a brief carries a statement");
                    assert!(related(0).contains(statement), "{t:?}");
                    let own = paras.len() - t.boilerplate_paragraphs.len();
                    assert!(own - t.repeated_paragraphs.len() <= 4, "{t:?}");
                }
                "followup" => {
                    // besides the boilerplate of the outlet both come from
                    let story = related(0);
                    // (and counted once when a repetition printed it twice)
                    let shared: BTreeSet<&str> = paras
                        .iter()
                        .enumerate()
                        .filter(|(i, p)| !t.boilerplate_paragraphs.contains(i) && story.contains(p))
                        .map(|(_, p)| *p)
                        .collect();
                    assert_eq!(shared.len(), 1, "one background paragraph: {t:?}");
                    assert_eq!(d.outlet, by_id[t.related[0].as_str()].0.outlet);
                    assert!(d.date > by_id[t.related[0].as_str()].0.date);
                }
                "template" => {
                    assert!(!t.related.is_empty());
                    for r in &t.related {
                        let (other, ot) = by_id[r.as_str()];
                        assert_eq!(ot.kind.as_deref(), Some("template"));
                        assert_ne!(paragraphs(&other.text)[0], paras[0], "{t:?}");
                    }
                }
                "digest" => {
                    // a title, then each listed story's headline and lede (repeats planted
                    // later left out)
                    let listed: Vec<&str> = paras
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !t.repeated_paragraphs.contains(i))
                        .map(|(_, p)| *p)
                        .collect();
                    assert!((DIGEST_MIN..=DIGEST_MAX).contains(&t.related.len()));
                    for (i, r) in t.related.iter().enumerate() {
                        let story = paragraphs(&by_id[r.as_str()].0.text);
                        assert_eq!(&listed[1 + 2 * i..3 + 2 * i], &story[..2], "{t:?}");
                        assert!(d.date >= by_id[r.as_str()].0.date);
                    }
                }
                k => panic!("unknown kind {k}"),
            }
        }
        for kind in ["lede", "brief", "followup", "template", "digest"] {
            assert!(
                seen.get(kind).copied().unwrap_or(0) >= 20,
                "{kind}: {seen:?}"
            );
        }
    }

    #[test]
    fn bounds_are_errors_not_panics() {
        for (p, field) in [
            (
                GenParams {
                    docs: MAX_DOCS + 1,
                    ..GenParams::default()
                },
                "docs",
            ),
            (
                GenParams {
                    max_words: usize::MAX,
                    ..GenParams::default()
                },
                "max_words",
            ),
            (
                GenParams {
                    vocab: MAX_VOCAB + 1,
                    ..GenParams::default()
                },
                "vocab",
            ),
            (
                GenParams {
                    digest_frac: 1.5,
                    ..GenParams::default()
                },
                "digest_frac",
            ),
        ] {
            let e = p.validate().unwrap_err();
            assert!(
                matches!(e, Error::Params { field: f, .. } if f == field),
                "{e}"
            );
            let dir = tempfile::tempdir().unwrap();
            assert!(generate_to(&p, &dir.path().join("x.jsonl")).is_err());
            assert_eq!(
                fs::read_dir(dir.path()).unwrap().count(),
                0,
                "nothing written"
            );
        }
    }

    #[test]
    fn edge_params() {
        let c = generate(&GenParams {
            docs: 0,
            ..GenParams::default()
        });
        assert!(c.docs.is_empty());
        let c = generate(&GenParams {
            docs: 300,
            outlets: 2,
            vocab: 10,
            min_words: 0,
            max_words: 20,
            min_paras: 0,
            max_paras: 1,
            syndicated_frac: 1.0,
            max_edit_rate: 1.0,
            repeat_frac: 1.0,
            ..GenParams::default()
        });
        assert_eq!(c.docs.len(), 300);
        assert!(
            GenParams {
                outlets: MAX_OUTLETS + 1,
                ..GenParams::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            GenParams {
                outlets: MAX_OUTLETS,
                ..GenParams::default()
            }
            .validate()
            .is_ok()
        );
    }
}
