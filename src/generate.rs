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
//! Each article has a [`TruthRecord`]: `family` is the id of the original an article was made
//! from (an original is its own family), so two articles are planted near-duplicates exactly
//! when they share a family. Paragraph indices in the truth are positions in
//! `text.split("\n\n")`.
//!
//! Output is a pure function of [`GenParams`]: all randomness comes from one `ChaCha8Rng`
//! seeded with `seed`, integers are drawn with our own portable routines (not `rand`'s
//! distributions, whose algorithms may change between versions), nothing is iterated in hash
//! order, and floats only decide draws, never get printed except the 4-decimal `edit_rate`.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Generation parameters; the defaults are those of `gen_corpus.py`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GenParams {
    /// Total articles (originals + copies).
    pub docs: usize,
    pub seed: u64,
    /// Number of synthetic pronounceable words, Zipf-weighted with exponent `zipf_s`.
    pub vocab: usize,
    pub zipf_s: f64,
    /// Number of outlets, at most [`MAX_OUTLETS`] (the number of distinct outlet names).
    pub outlets: usize,
    pub min_words: usize,
    pub max_words: usize,
    pub min_paras: usize,
    pub max_paras: usize,
    /// Probability that an original gets copies.
    pub syndicated_frac: f64,
    pub max_copies: usize,
    /// A copy's edit rate is drawn from U(0, `max_edit_rate`).
    pub max_edit_rate: f64,
    /// Probability that an article gets a repetition (half doubled, half paragraphs).
    pub repeat_frac: f64,
    /// Probability that an article ends with its outlet's boilerplate.
    pub boilerplate_prob: f64,
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
        }
    }
}

impl GenParams {
    /// Checks the parameters [`generate`] cannot work with (it would loop forever or panic);
    /// the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.vocab == 0 {
            return Err(Error::params("vocab", "must be at least 1"));
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
    pub id: String,
    pub outlet: String,
    /// ISO date, `yyyy-mm-dd`.
    pub date: String,
    pub text: String,
}

/// One line of the truth file; field names and meaning exactly as `gen_corpus.py` writes them,
/// plus `boilerplate_paragraphs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthRecord {
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
}

/// Generated articles and their truth, both in output order (ids `d0000000`, `d0000001`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    pub docs: Vec<GeneratedDoc>,
    pub truth: Vec<TruthRecord>,
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

/// Generates the corpus described by `params`.
///
/// # Panics
/// If `params` fails [`GenParams::validate`].
#[must_use]
pub fn generate(params: &GenParams) -> Corpus {
    if let Err(e) = params.validate() {
        panic!("invalid GenParams: {e}");
    }
    let mut g = Gen::new(params);
    let articles = g.articles();

    // Assemble texts before shuffling, like the Python, so the rng stream order matches it.
    let mut assembled: Vec<Option<Assembled>> =
        articles.into_iter().map(|a| Some(g.assemble(a))).collect();

    let mut order: Vec<usize> = (0..assembled.len()).collect();
    g.rng.shuffle(&mut order);
    let mut ids = vec![String::new(); order.len()];
    for (pos, &i) in order.iter().enumerate() {
        ids[i] = format!("d{pos:07}");
    }

    let mut docs = Vec::with_capacity(order.len());
    let mut truth = Vec::with_capacity(order.len());
    for &i in &order {
        let a = assembled[i]
            .take()
            .expect("order is a permutation, so each slot is taken once");
        truth.push(TruthRecord {
            id: ids[i].clone(),
            family: ids[a.family].clone(),
            role: if a.family == i { "original" } else { "copy" }.to_owned(),
            edit_rate: a.edit_rate,
            trimmed_paragraphs: a.trimmed,
            header: a.header,
            footer: a.footer,
            repeat_mode: a.repeat_mode.map(str::to_owned),
            repeated_paragraphs: a.repeated,
            repeat_of: a.repeat_of,
            boilerplate_paragraphs: a.boilerplate,
        });
        docs.push(GeneratedDoc {
            id: ids[i].clone(),
            outlet: g.outlets[a.outlet].name.clone(),
            date: iso_date(a.day),
            text: a.text,
        });
    }
    Corpus { docs, truth }
}

/// Writes `out` (JSONL: id, outlet, date, text) and `<out>.truth.jsonl`, each atomically.
pub fn write_corpus(corpus: &Corpus, out: &Path) -> Result<()> {
    let mut truth_path = out.as_os_str().to_owned();
    truth_path.push(".truth.jsonl");
    let truth_path = Path::new(&truth_path);
    // Truth first: whoever sees the corpus file appear can rely on its truth being there.
    write_jsonl_atomic(&corpus.truth, truth_path).map_err(|e| Error::output(truth_path, e))?;
    write_jsonl_atomic(&corpus.docs, out).map_err(|e| Error::output(out, e))
}

fn write_jsonl_atomic<T: Serialize>(records: &[T], path: &Path) -> io::Result<()> {
    let dir: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    // Same directory, so the final rename cannot cross filesystems.
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        for r in records {
            serde_json::to_writer(&mut w, r)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    // tempfile creates files 0600; a data file should be readable like any other.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
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
}

struct Gen<'p> {
    p: &'p GenParams,
    rng: PortableRng,
    vocab: Vec<String>,
    /// Zipf weights of `vocab`.
    word_cdf: Cdf,
    outlets: Vec<Outlet>,
    outlet_cdf: Cdf,
}

impl<'p> Gen<'p> {
    fn new(p: &'p GenParams) -> Self {
        let mut rng = PortableRng(ChaCha8Rng::seed_from_u64(p.seed));
        let vocab = build_vocab(&mut rng, p.vocab);
        // powf is libm's and may differ by an ulp across platforms; that could only change a
        // draw landing within an ulp of a bucket edge (~2^-52 per draw). Exact for zipf_s = 1.
        let word_cdf = Cdf::new((1..=vocab.len()).map(|r| 1.0 / (r as f64).powf(p.zipf_s)));
        let mut g = Self {
            p,
            rng,
            vocab,
            word_cdf,
            outlets: Vec::with_capacity(p.outlets),
            outlet_cdf: Cdf::new((1..=p.outlets).map(|r| 1.0 / (r as f64).powf(0.8))),
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
                g.sentence(k, &mut b);
                boiler.push(b);
            }
            let header = g.rng.pick(HEADER_TEMPLATES);
            let footer = g.rng.pick(FOOTER_TEMPLATES);
            let mut author = String::new();
            let first = g.word();
            push_capitalized(&mut author, &g.vocab[first]);
            author.push(' ');
            let last = g.word();
            push_capitalized(&mut author, &g.vocab[last]);
            g.outlets.push(Outlet {
                name,
                city,
                boiler,
                header,
                footer,
                author,
            });
        }
        g
    }

    /// Index of a Zipf-distributed vocabulary word.
    fn word(&mut self) -> usize {
        self.word_cdf.draw(self.rng.unit())
    }

    fn push_word(&mut self, out: &mut String) {
        let i = self.word();
        out.push_str(&self.vocab[i]);
    }

    /// Appends a sentence of `k` words: capitalised, maybe one comma, then '.' or '?'.
    fn sentence(&mut self, k: usize, out: &mut String) {
        let comma_after = (k > 8 && self.rng.chance(0.4)).then(|| self.rng.range(3, k - 3));
        for j in 0..k {
            if j == 0 {
                let i = self.word();
                push_capitalized(out, &self.vocab[i]);
            } else {
                out.push(' ');
                self.push_word(out);
            }
            if comma_after == Some(j) {
                out.push(',');
            }
        }
        out.push(if self.rng.chance(0.03) { '?' } else { '.' });
    }

    fn paragraph(&mut self, mut nwords: usize) -> String {
        let mut out = String::with_capacity(nwords * 8);
        while nwords > 0 {
            let mut k = nwords.min(self.rng.range(8, 30));
            // No stub sentence of 1-3 words at the end.
            if nwords - k < 4 {
                k = nwords;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            self.sentence(k, &mut out);
            nwords -= k;
        }
        out
    }

    fn pick_outlet(&mut self, exclude: &[bool]) -> usize {
        loop {
            let i = self.outlet_cdf.draw(self.rng.unit());
            if !exclude.get(i).copied().unwrap_or(false) {
                return i;
            }
        }
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
        let mut title = String::new();
        for j in 0..ntitle {
            if j > 0 {
                title.push(' ');
            }
            let i = self.word();
            push_capitalized(&mut title, &self.vocab[i]);
        }
        let mut body = Vec::with_capacity(npara + 1);
        body.push(title);
        for s in sizes {
            body.push(self.paragraph(s));
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
                self.push_word(&mut out);
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
                self.push_word(&mut out);
            }
        }
        out
    }

    /// Originals, each directly followed by its copies (generation order).
    fn articles(&mut self) -> Vec<Article> {
        let p = self.p;
        let mut arts: Vec<Article> = Vec::with_capacity(p.docs);
        let mut used = vec![false; self.outlets.len()];
        while arts.len() < p.docs {
            let oi = self.pick_outlet(&[]);
            let body = self.original_body();
            let day = BASE_DAY + self.rng.below(366) as u32;
            let orig = arts.len();
            arts.push(Article {
                outlet: oi,
                day,
                body,
                family: orig,
                edit_rate: 0.0,
                trimmed: 0,
                header: None,
                footer: None,
            });
            if p.max_copies == 0 || !self.rng.chance(p.syndicated_frac) {
                continue;
            }
            let ncopies = self.rng.range(1, p.max_copies);
            used.fill(false);
            used[oi] = true;
            let mut nused = 1;
            for _ in 0..ncopies {
                if arts.len() >= p.docs {
                    break;
                }
                // Every outlet used once: allow repeats rather than loop forever.
                if nused >= self.outlets.len() {
                    used.fill(false);
                    used[oi] = true;
                    nused = 1;
                }
                let ci = self.pick_outlet(&used);
                used[ci] = true;
                nused += 1;

                let src_body = &arts[orig].body;
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
                arts.push(Article {
                    outlet: ci,
                    day: cday,
                    body: cbody,
                    family: orig,
                    edit_rate: (rate * 10_000.0).round() / 10_000.0,
                    trimmed,
                    header,
                    footer,
                });
            }
        }
        arts
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
