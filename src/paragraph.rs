//! Paragraphs: one document's text in; its paragraphs, their fingerprints, and the
//! paragraphs that repeat an earlier one of the same document out.
//!
//! Segmentation (`SplitMode`): with `blank`, a paragraph is a run of non-blank lines and
//! blank (or whitespace-only) lines separate paragraphs; with `line`, every non-blank line
//! is a paragraph; `auto` picks `blank` when a blank line stands between two non-blank
//! lines, else `line`. Paragraph indices are 0-based in this order, and the byte ranges
//! point into the original text so a cleaned text can be rebuilt with the original
//! separators.
//!
//! Repeats: a paragraph repeats an earlier one when their normalized texts are equal, or
//! when their SimHash fingerprints (over the paragraph's word bigrams) are within
//! `repeat_max_hamming` and the exact Jaccard of their char 5-gram sets is at least
//! `repeat_threshold`. The char 5-grams, robust to changed words and OCR noise, are
//! computed only for the pairs the fingerprints let through. A
//! repeat always points at the first occurrence (`copy_of` is never itself a repeat).
//! Consecutive repeats of consecutive paragraphs form a block: the doubled-body bug.

use rustc_hash::{FxBuildHasher, FxHashMap};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::document::{ParagraphRecord, sort_run};
use crate::hamming::NearIndex;
use crate::params::{ParagraphParams, ShingleKind, ShingleParams, SplitMode};
use crate::shingle::{Shingler, fold_windows};
use crate::sketch::simhash;
use crate::text::{Normalized, normalize_into};
use crate::verify::score::{jaccard_at_least, round6};

/// Byte range of one paragraph in its document.
pub type Span = (u32, u32);

fn lines(text: &str) -> impl Iterator<Item = Span> + '_ {
    let mut start = 0usize;
    let bytes = text.as_bytes();
    std::iter::from_fn(move || {
        if start > bytes.len() || (start == bytes.len() && start > 0 && bytes[start - 1] == b'\n') {
            return None;
        }
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let mut content_end = end;
        if content_end > start && bytes[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        let line = (start as u32, content_end as u32);
        start = end + 1;
        Some(line)
    })
}

fn is_blank(text: &str, (a, b): Span) -> bool {
    text[a as usize..b as usize].trim().is_empty()
}

/// Cuts `text` into paragraphs (byte ranges, in order), written into `out`.
pub fn segment(text: &str, mode: SplitMode, out: &mut Vec<Span>) {
    out.clear();
    let mode = match mode {
        SplitMode::Auto => {
            // a blank line with content on both sides
            let mut seen_content = false;
            let mut blank_after_content = false;
            let mut found = false;
            for l in lines(text) {
                if is_blank(text, l) {
                    blank_after_content |= seen_content;
                } else {
                    if blank_after_content {
                        found = true;
                        break;
                    }
                    seen_content = true;
                }
            }
            if found {
                SplitMode::Blank
            } else {
                SplitMode::Line
            }
        }
        m => m,
    };
    match mode {
        SplitMode::Line => out.extend(lines(text).filter(|&l| !is_blank(text, l))),
        SplitMode::Blank | SplitMode::Auto => {
            let mut current: Option<Span> = None;
            for l in lines(text) {
                if is_blank(text, l) {
                    if let Some(p) = current.take() {
                        out.push(p);
                    }
                } else {
                    current = Some(match current {
                        Some((a, _)) => (a, l.1),
                        None => l,
                    });
                }
            }
            if let Some(p) = current {
                out.push(p);
            }
        }
    }
}

/// The text without the paragraphs for which `removed` is true. What stood before the first
/// paragraph and after the last stays; a kept paragraph is followed by the separator that
/// followed it in the original whenever another kept paragraph comes after it.
#[must_use]
pub fn rebuild(text: &str, paragraphs: &[Span], removed: impl Fn(usize) -> bool) -> String {
    let Some(first) = paragraphs.first() else {
        return text.to_owned();
    };
    let last = paragraphs.last().expect("non-empty");
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first.0 as usize]);
    let mut pending_sep: Option<&str> = None;
    for (i, &(a, b)) in paragraphs.iter().enumerate() {
        if removed(i) {
            continue;
        }
        if let Some(sep) = pending_sep {
            out.push_str(sep);
        }
        out.push_str(&text[a as usize..b as usize]);
        let next_start = paragraphs.get(i + 1).map_or(b, |n| n.0);
        pending_sep = Some(&text[b as usize..next_start as usize]);
    }
    out.push_str(&text[last.1 as usize..]);
    out
}

/// What is kept of one paragraph for repeat detection.
#[derive(Debug, Clone, Default)]
pub struct ParagraphSketch {
    /// xxh3 of the normalized text: equal for exact repeats and for boilerplate.
    pub hash: u64,
    /// Tokens of the normalized paragraph: near repeats are compared only between
    /// paragraphs of similar length, and short ones get no fingerprint.
    pub words: u32,
    /// SimHash of the paragraph's word bigrams (0 below `repeat_min_words`).
    pub simhash: u64,
}

/// A paragraph that repeats an earlier paragraph of the same document.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Repeat {
    /// The repeating paragraph.
    pub paragraph: u32,
    /// The earlier paragraph it repeats (never itself a repeat).
    pub copy_of: u32,
    /// Jaccard of the char 5-gram sets (1.0 for an exact repeat).
    pub similarity: f64,
}

/// A run of consecutive repeats of consecutive paragraphs (first..=last repeat
/// copy_of..=copy_of + last - first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatBlock {
    /// The first repeat of the run.
    pub first: u32,
    /// The last repeat of the run.
    pub last: u32,
    /// The paragraph `first` repeats.
    pub copy_of: u32,
}

const CHAR_GRAMS: ShingleParams = ShingleParams {
    kind: ShingleKind::Char,
    size: 5,
    seed: 0x7061_7261,
};

/// Seed of the paragraph hash; fixed so that boilerplate keys are comparable across runs.
pub const PARAGRAPH_HASH_SEED: u64 = 0x7061_7261_6772_6170;

/// Paragraph-level processing of one document, reusing buffers across documents.
#[derive(Default)]
pub struct ParagraphWorker {
    /// The paragraphs of the text last given to `process`, as byte ranges; kept for
    /// `find_repeats`, and as a buffer reused across documents.
    pub spans: Vec<Span>,
    /// Scratch: the paragraph last normalized.
    pub normalized: Normalized,
    shingler: Shingler,
    words: Vec<u64>,
    bigrams: Vec<u64>,
}

impl ParagraphWorker {
    /// Segments `text`, fingerprints each paragraph and appends each paragraph's article
    /// shingles (unsorted) to `record`, which is cleared first.
    pub fn process(
        &mut self,
        text: &str,
        params: &ParagraphParams,
        article: &ShingleParams,
        record: &mut ParagraphRecord,
    ) -> Vec<ParagraphSketch> {
        record.clear();
        let mut spans = std::mem::take(&mut self.spans);
        segment(text, params.split, &mut spans);
        let mut out = Vec::with_capacity(spans.len());
        for &(a, b) in &spans {
            let paragraph = &text[a as usize..b as usize];
            normalize_into(paragraph, &mut self.normalized);
            let n = &self.normalized;
            let start = record.shingles.len();
            self.shingler.append(n, article, &mut record.shingles);
            // sorted here, in the parallel streaming pass, once per paragraph: an article
            // set is then a merge of sorted runs, which verification and placement rebuild
            // for every pair and member (repeats are kept: they are SimHash's frequencies)
            sort_run(&mut record.shingles[start..]);
            record.offsets.push(record.shingles.len() as u32);
            let words = n.spans.len();
            let fingerprint = if words < params.repeat_min_words.max(1) {
                0
            } else {
                // Word bigrams: the unigram bags of two unrelated paragraphs share too many
                // frequent words to be told apart, while a changed word breaks only two.
                // with word shingles, the shingler's token hashes as they are (no copy)
                let tokens: &[u64] = if article.kind == ShingleKind::Word {
                    self.shingler.token_hashes()
                } else {
                    self.words.clear();
                    self.words.extend(
                        n.tokens()
                            .map(|t| xxh3_64_with_seed(t.as_bytes(), PARAGRAPH_HASH_SEED)),
                    );
                    &self.words
                };
                self.bigrams.clear();
                fold_windows(tokens, 2, &mut self.bigrams);
                simhash(&self.bigrams)
            };
            let hash = xxh3_64_with_seed(n.text.as_bytes(), PARAGRAPH_HASH_SEED);
            record.hashes.push(hash);
            record.push_snippet(paragraph);
            out.push(ParagraphSketch {
                hash,
                words: words as u32,
                simhash: fingerprint,
            });
        }
        self.spans = spans;
        out
    }
}

impl ParagraphWorker {
    /// The paragraph hashes of `text` (those `process` gives `record.hashes`, in paragraph
    /// order, repeats included) appended to `out`; `true` when some paragraph has words
    /// (when `process` would give the record shingles). Only segments, normalizes and
    /// hashes: no shingles, fingerprints or snippets, which a pass counting boilerplate
    /// keys does not read.
    pub fn hashes(&mut self, text: &str, params: &ParagraphParams, out: &mut Vec<u64>) -> bool {
        let mut spans = std::mem::take(&mut self.spans);
        segment(text, params.split, &mut spans);
        let mut words = false;
        for &(a, b) in &spans {
            normalize_into(&text[a as usize..b as usize], &mut self.normalized);
            let n = &self.normalized.text;
            // the shingler gives a normalized text at least one shingle unless it is empty
            words |= !n.is_empty();
            out.push(xxh3_64_with_seed(n.as_bytes(), PARAGRAPH_HASH_SEED));
        }
        self.spans = spans;
        words
    }
}

/// Near repeats differ by a few words: paragraphs whose word counts differ by more than
/// this ratio are not compared.
const MIN_WORD_RATIO: f64 = 0.75;

/// Above this many paragraphs, only exact repeats are searched.
const NEAR_REPEAT_LIMIT: usize = 2000;

impl ParagraphWorker {
    /// Repeats among the paragraphs of `text` (as last segmented by `process`).
    pub fn find_repeats(
        &mut self,
        text: &str,
        sketches: &[ParagraphSketch],
        params: &ParagraphParams,
    ) -> Vec<Repeat> {
        let spans = std::mem::take(&mut self.spans);
        let mut char_set = |i: u32| -> Vec<u64> {
            let (a, b) = spans[i as usize];
            normalize_into(&text[a as usize..b as usize], &mut self.normalized);
            let mut set = Vec::new();
            self.shingler
                .shingles(&self.normalized, &CHAR_GRAMS, &mut set);
            set
        };
        let repeats = find_repeats(sketches, params, &mut char_set);
        self.spans = spans;
        repeats
    }
}

/// Repeats among one document's paragraphs, in paragraph order. `char_set(i)` gives the
/// sorted char 5-gram set of paragraph `i`; it is asked only for near-repeat candidates,
/// and at most once a paragraph.
///
/// A paragraph is compared only with the earlier originals within `repeat_max_hamming` of
/// its fingerprint, which a `NearIndex` finds without looking at the others, and each
/// comparison stops once the pair cannot beat the best one so far; the answer is the one
/// comparing every pair in order gives.
pub fn find_repeats(
    paragraphs: &[ParagraphSketch],
    params: &ParagraphParams,
    char_set: &mut dyn FnMut(u32) -> Vec<u64>,
) -> Vec<Repeat> {
    // paragraph hashes are xxh3 values already: a multiply mixes them enough, where the
    // default SipHash cost about 1% of a run (one map a document)
    // sized once, where grown from empty it rehashed at 3, 7 and 14 paragraphs; it is
    // only looked up, so its capacity changes no answer
    let mut first_by_hash: FxHashMap<u64, u32> =
        FxHashMap::with_capacity_and_hasher(paragraphs.len(), FxBuildHasher);
    let mut repeats = Vec::new();
    let near = paragraphs.len() <= NEAR_REPEAT_LIMIT;
    let mut originals = NearIndex::new(
        params.repeat_max_hamming,
        if near { paragraphs.len() } else { 0 },
    );
    let mut sets: Vec<Option<Vec<u64>>> = Vec::new();
    let mut candidates = Vec::new();
    for (j, p) in paragraphs.iter().enumerate() {
        if (p.words as usize) < params.repeat_min_words.max(1) {
            continue;
        }
        if let Some(&i) = first_by_hash.get(&p.hash) {
            repeats.push(Repeat {
                paragraph: j as u32,
                copy_of: i,
                similarity: 1.0,
            });
            continue;
        }
        if near {
            if sets.is_empty() {
                sets.resize(paragraphs.len(), None);
            }
            let mut best: Option<(f64, u32)> = None;
            originals.near(p.simhash, &mut candidates);
            for &i in &candidates {
                let o = &paragraphs[i as usize];
                let (small, large) = (o.words.min(p.words), o.words.max(p.words));
                if f64::from(small) < MIN_WORD_RATIO * f64::from(large) {
                    continue;
                }
                for k in [i, j as u32] {
                    if sets[k as usize].is_none() {
                        sets[k as usize] = Some(char_set(k));
                    }
                }
                let a = sets[i as usize].as_deref().expect("filled above");
                let b = sets[j].as_deref().expect("filled above");
                // a later original replaces the best only when strictly more similar
                let floor = best.map_or(params.repeat_threshold, |(s, _)| {
                    s.max(params.repeat_threshold)
                });
                if let Some(sim) = jaccard_at_least(a, b, floor)
                    && best.is_none_or(|(s, _)| sim > s)
                {
                    best = Some((sim, i));
                }
            }
            if let Some((sim, i)) = best {
                repeats.push(Repeat {
                    paragraph: j as u32,
                    copy_of: i,
                    similarity: round6(sim),
                });
                continue;
            }
            originals.insert(j as u32, p.simhash);
        }
        first_by_hash.insert(p.hash, j as u32);
    }
    repeats
}

/// Blocks of two or more consecutive repeats of consecutive paragraphs.
#[must_use]
pub fn blocks(repeats: &[Repeat]) -> Vec<RepeatBlock> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < repeats.len() {
        let mut j = i;
        while j + 1 < repeats.len()
            && repeats[j + 1].paragraph == repeats[j].paragraph + 1
            && repeats[j + 1].copy_of == repeats[j].copy_of + 1
        {
            j += 1;
        }
        if j > i {
            out.push(RepeatBlock {
                first: repeats[i].paragraph,
                last: repeats[j].paragraph,
                copy_of: repeats[i].copy_of,
            });
        }
        i = j + 1;
    }
    out
}

/// The first 80 characters of a paragraph with whitespace folded, for reports (its home
/// is `document`, beside the records that store it).
pub use crate::document::snippet;

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(text: &'a str, spans: &[Span]) -> Vec<&'a str> {
        spans
            .iter()
            .map(|&(a, b)| &text[a as usize..b as usize])
            .collect()
    }

    #[test]
    fn segmentation_modes() {
        let t = "Title\n\nFirst para\nstill first\r\n\n \nSecond\n";
        let mut s = Vec::new();
        segment(t, SplitMode::Auto, &mut s);
        assert_eq!(texts(t, &s), ["Title", "First para\nstill first", "Second"]);
        segment(t, SplitMode::Line, &mut s);
        assert_eq!(
            texts(t, &s),
            ["Title", "First para", "still first", "Second"]
        );
        let lines_only = "a\nb\n\n";
        segment(lines_only, SplitMode::Auto, &mut s);
        assert_eq!(texts(lines_only, &s), ["a", "b"]);
        segment("", SplitMode::Auto, &mut s);
        assert!(s.is_empty());
    }

    #[test]
    fn rebuild_keeps_separators() {
        let t = "lead\n\nA\n\nB\n\nC\n";
        let mut s = Vec::new();
        segment(t, SplitMode::Blank, &mut s);
        assert_eq!(rebuild(t, &s, |i| i == 2), "lead\n\nA\n\nC\n");
        assert_eq!(rebuild(t, &s, |i| i == 3), "lead\n\nA\n\nB\n");
        assert_eq!(rebuild(t, &s, |i| i == 0), "A\n\nB\n\nC\n");
        assert_eq!(rebuild(t, &s, |_| false), t);
    }

    fn repeats(paras: &[&str]) -> Vec<Repeat> {
        let text = paras.join("\n\n");
        let mut w = ParagraphWorker::default();
        let params = ParagraphParams::default();
        let mut record = ParagraphRecord::default();
        let sketches = w.process(&text, &params, &ShingleParams::default(), &mut record);
        w.find_repeats(&text, &sketches, &params)
    }

    #[test]
    fn exact_near_and_short_repeats() {
        let a = "The city council voted on Thursday to expand the northern tram line by four \
                 stations, a project that planners say will cut commuting times for thirty \
                 thousand residents. Construction is due to start next spring and to finish \
                 within three years, according to the transport department.";
        // two words changed, one misspelt as OCR would
        let a_near = "The city council voted on Thursday to expand the northen tram line by four \
                 stations, a project that planners say will cut commuting times for 30 \
                 thousand residents. Construction is due to start next spring and to finish \
                 within three years, according to the transport department.";
        let b = "Heavy rain flooded several streets in the old town overnight, officials said.";
        let r = repeats(&[a, b, "Share", a, "Share", a_near]);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].paragraph, r[0].copy_of, r[0].similarity), (3, 0, 1.0));
        assert_eq!((r[1].paragraph, r[1].copy_of), (5, 0));
        assert!(r[1].similarity > 0.7 && r[1].similarity < 1.0);
        // different paragraphs are not repeats
        assert!(repeats(&[a, b]).is_empty());
    }

    /// The search before the index: every earlier original, in order, full Jaccard.
    fn scan_every_pair(
        paragraphs: &[ParagraphSketch],
        params: &ParagraphParams,
        sets: &[Vec<u64>],
    ) -> Vec<Repeat> {
        let mut first_by_hash: std::collections::HashMap<u64, u32> =
            std::collections::HashMap::new();
        let mut originals: Vec<u32> = Vec::new();
        let mut repeats = Vec::new();
        for (j, p) in paragraphs.iter().enumerate() {
            if (p.words as usize) < params.repeat_min_words.max(1) {
                continue;
            }
            if let Some(&i) = first_by_hash.get(&p.hash) {
                repeats.push(Repeat {
                    paragraph: j as u32,
                    copy_of: i,
                    similarity: 1.0,
                });
                continue;
            }
            let mut best: Option<(f64, u32)> = None;
            for &i in &originals {
                let o = &paragraphs[i as usize];
                if crate::sketch::hamming(o.simhash, p.simhash) > params.repeat_max_hamming {
                    continue;
                }
                let (small, large) = (o.words.min(p.words), o.words.max(p.words));
                if f64::from(small) < MIN_WORD_RATIO * f64::from(large) {
                    continue;
                }
                let sim = crate::verify::score::jaccard(&sets[i as usize], &sets[j]);
                if sim >= params.repeat_threshold && best.is_none_or(|(s, _)| sim > s) {
                    best = Some((sim, i));
                }
            }
            if let Some((sim, i)) = best {
                repeats.push(Repeat {
                    paragraph: j as u32,
                    copy_of: i,
                    similarity: round6(sim),
                });
                continue;
            }
            originals.push(j as u32);
            first_by_hash.insert(p.hash, j as u32);
        }
        repeats
    }

    #[test]
    fn the_indexed_search_finds_what_comparing_every_pair_finds() {
        let mut next = crate::testing::xorshift(0x0dd_ba11_u64);
        let mut near_repeats = 0;
        for doc in 0..12u64 {
            // a few themes; each paragraph is a theme with some bits and some grams changed
            let themes: Vec<(u64, Vec<u64>)> = (0..4)
                .map(|_| (next(), (0..40).map(|_| next() % 200).collect()))
                .collect();
            let n = 150 + 10 * doc as usize;
            let mut sketches = Vec::new();
            let mut sets = Vec::new();
            for _ in 0..n {
                let (print, grams) = &themes[(next() % 4) as usize];
                let mut flipped = *print;
                for _ in 0..next() % 20 {
                    flipped ^= 1 << (next() % 64);
                }
                let mut set: Vec<u64> = grams
                    .iter()
                    .map(|&g| {
                        if next().is_multiple_of(4) {
                            next() % 200
                        } else {
                            g
                        }
                    })
                    .collect();
                set.sort_unstable();
                set.dedup();
                sketches.push(ParagraphSketch {
                    // a few exact repeats
                    hash: next() % (n as u64 * 4),
                    words: 3 + (next() % 8) as u32,
                    simhash: flipped,
                });
                sets.push(set);
            }
            for (max_hamming, threshold) in [(0, 0.7), (4, 0.5), (14, 0.7), (14, 0.9), (64, 0.3)] {
                let params = ParagraphParams {
                    repeat_max_hamming: max_hamming,
                    repeat_threshold: threshold,
                    ..ParagraphParams::default()
                };
                let mut asked = vec![0u32; n];
                let got = find_repeats(&sketches, &params, &mut |i| {
                    asked[i as usize] += 1;
                    sets[i as usize].clone()
                });
                assert_eq!(
                    got,
                    scan_every_pair(&sketches, &params, &sets),
                    "document {doc}, hamming {max_hamming}, threshold {threshold}"
                );
                assert!(asked.iter().all(|&a| a <= 1), "a set is computed once");
                near_repeats += got.iter().filter(|r| r.similarity < 1.0).count();
            }
        }
        assert!(near_repeats > 100, "{near_repeats}");
    }

    #[test]
    fn blocks_of_consecutive_repeats() {
        let rep = |paragraph, copy_of| Repeat {
            paragraph,
            copy_of,
            similarity: 1.0,
        };
        let r = [
            rep(5, 1),
            rep(6, 2),
            rep(7, 3),
            rep(9, 0),
            rep(11, 4),
            rep(12, 6),
        ];
        assert_eq!(
            blocks(&r),
            vec![RepeatBlock {
                first: 5,
                last: 7,
                copy_of: 1
            }]
        );
    }

    #[test]
    fn snippets_are_short_and_folded() {
        assert_eq!(snippet("  a\n b  "), "a b");
        assert_eq!(snippet(&"word ".repeat(40)).chars().count(), 80);
    }
}
#[cfg(test)]
mod discrimination {
    use super::*;
    use crate::sketch::hamming;

    /// The fingerprints must keep unrelated paragraphs of one article out of the near-repeat
    /// check: in 200 generated articles no pair of different paragraphs of comparable length
    /// comes within the default Hamming bound.
    #[test]
    fn unrelated_paragraphs_are_far_apart() {
        let corpus = crate::generate::generate(&crate::generate::GenParams {
            docs: 200,
            seed: 5,
            ..Default::default()
        });
        let params = ParagraphParams::default();
        let mut w = ParagraphWorker::default();
        let mut record = ParagraphRecord::default();
        let (mut compared, mut close) = (0, 0);
        for d in &corpus.docs {
            let s = w.process(&d.text, &params, &ShingleParams::default(), &mut record);
            for i in 0..s.len() {
                for j in 0..i {
                    let (a, b) = (s[i].words.min(s[j].words), s[i].words.max(s[j].words));
                    if s[i].hash == s[j].hash
                        || a < 4
                        || f64::from(a) < MIN_WORD_RATIO * f64::from(b)
                    {
                        continue;
                    }
                    compared += 1;
                    close +=
                        u32::from(hamming(s[i].simhash, s[j].simhash) <= params.repeat_max_hamming);
                }
            }
        }
        assert!(compared > 5000, "{compared}");
        assert_eq!(close, 0);
    }
}
