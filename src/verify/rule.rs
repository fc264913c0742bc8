//! The match rule: a pair's score in; whether the two documents are copies of one story,
//! and why, out. Clustering, provenance and `explain` all ask here, so the rule is written
//! once, with the evidence it looks at beyond the score's ratios: where the shared text
//! sits in each document (`shared_text`).
//!
//! A pair matches when
//! * its Jaccard is at or above the threshold (`Match::Jaccard`); or, with containment on,
//! * enough of the smaller document is inside the larger (`min_containment`), they share
//!   at least `min_shared` shingles, and the shared text is more than one passage: it
//!   opens both documents, or spans at least two paragraphs of the smaller
//!   (`Match::Containment`); or
//! * nearly all of the smaller document (`short_min_containment`, 0.9) is inside the
//!   larger, they share at least `short_min_shared` shingles, and the shared text opens
//!   both documents (`Match::Short`): a copy that kept the headline and the lede of a
//!   long story, too short for `min_shared`.
//!
//! The shared text *opens* a document when at most `MAX_LEAD` of its compared shingles
//! come before its first paragraph that the other document has (a quarter of its shingles
//! there): a copy keeps its original's headline and lede, and adds at most a byline or a
//! dateline in front. A statement quoted in full by two different stories, a background
//! paragraph a follow-up reuses, one story's lede on a digest page listing many: each is
//! one passage, after a headline and a lede of the document's own in at least one of the
//! two. Where the shared text sits is unknown when scores come from MinHash signatures or
//! from bare sets, or when documents are not cut into paragraphs; the containment clause
//! then decides without it and the short clause does not apply.
//!
//! A star cluster keeps a member that does not match its representative as a weak link
//! when they still share `min_shared` shingles and `star_min_containment` of the smaller.

use crate::document::{Compared, ParagraphRecord};
use crate::params::ValidParams;
use crate::params::{OPENING_MIN_SHINGLES, OPENING_PARAGRAPHS};
use crate::verify::score::{PairScore, SharedText};

/// Paragraphs with fewer distinct shingles are not counted as a passage the shared text
/// spans: a headline or a byline is not one.
pub const SPREAD_MIN_SHINGLES: usize = 8;

/// A paragraph counts as present in the other document when at least this fraction of
/// its shingles occur there. Word edits at 10% leave about 60% of 5-word shingles, while
/// unrelated paragraphs share almost none, so a quarter separates them with room.
pub const PARAGRAPH_PRESENT: f64 = 0.25;

/// Compared shingles that may come before the shared text while it still opens the
/// document: a byline or a dateline (`By Jane Doe | The Calder Herald` is 4 word
/// 5-shingles, a full `Filed via ... for ..., 2024-03-05` line 8). A headline and a lede
/// of the document's own are more: a one-sentence lede of 15 words is 11.
pub const MAX_LEAD: u32 = 10;

/// Paragraphs of the smaller document the shared text must span, when it does not open
/// both, for a containment match: one paragraph is one passage (a quote, a reused
/// background paragraph).
pub const MIN_SPREAD: u32 = 2;

/// Why a pair matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Jaccard at or above the threshold.
    Jaccard,
    /// Jaccard below the threshold, but the smaller document is inside the larger, with
    /// at least `min_shared` shingles in common, in more than one passage.
    Containment,
    /// A short copy: nearly all of the smaller document is inside the larger, the shared
    /// text opens both, with fewer than `min_shared` shingles in common.
    Short,
}

impl Match {
    /// The clause as `explain` names it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Jaccard => "jaccard",
            Match::Containment => "containment",
            Match::Short => "short copy",
        }
    }
}

/// When two documents match, and when a member may stay in a star cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchRule {
    /// Jaccard at or above this matches.
    pub threshold: f64,
    /// With containment on, the share of the smaller document that must be in the larger.
    pub min_containment: Option<f64>,
    /// Shared shingles a containment match and a weak link need at least.
    pub min_shared: u64,
    /// With containment on, the share of the smaller document a short copy needs in the
    /// larger; `None`: no short clause.
    pub short_min_containment: Option<f64>,
    /// Shared shingles a short copy needs at least.
    pub short_min_shared: u64,
    /// Whether documents are cut into paragraphs, so that where their shared text starts
    /// is known.
    pub positions: bool,
    /// The share of the smaller document a weak link needs in the representative.
    pub star_min_containment: f64,
}

impl MatchRule {
    /// The rule of a run's parameters.
    #[must_use]
    pub fn new(params: &ValidParams) -> Self {
        let c = &params.containment;
        MatchRule {
            threshold: params.lsh.threshold,
            min_containment: c.enabled.then_some(c.min_containment),
            min_shared: c.min_shared,
            short_min_containment: (c.enabled && c.short_copies).then_some(c.short_min_containment),
            short_min_shared: c.short_min_shared,
            positions: params.paragraphs.enabled,
            star_min_containment: params.cluster.star_min_containment,
        }
    }

    /// Whether the text the pair shares opens both documents (see the module docs);
    /// `None` when where it sits is not known.
    #[must_use]
    pub fn opens_both(&self, s: &PairScore) -> Option<bool> {
        self.known(s)
            .map(|t| t.lead_a <= MAX_LEAD && t.lead_b <= MAX_LEAD)
    }

    /// Whether the shared text spans at least `MIN_SPREAD` substantial paragraphs of the
    /// smaller document; `None` when not known.
    #[must_use]
    pub fn spans_paragraphs(&self, s: &PairScore) -> Option<bool> {
        self.known(s).map(|t| {
            let smaller = if s.size_a <= s.size_b {
                t.paragraphs_a
            } else {
                t.paragraphs_b
            };
            smaller >= MIN_SPREAD
        })
    }

    fn known(&self, s: &PairScore) -> Option<SharedText> {
        s.shared_text.filter(|_| self.positions)
    }

    /// Whether the pair matches, and by which clause: Jaccard first, then containment,
    /// then the short copy.
    #[must_use]
    pub fn matches(&self, s: &PairScore) -> Option<Match> {
        if s.jaccard >= self.threshold {
            return Some(Match::Jaccard);
        }
        let min_containment = self.min_containment?;
        let opens = self.opens_both(s);
        let containment = s.containment();
        let passages = opens.zip(self.spans_paragraphs(s)).map(|(o, p)| o || p);
        if s.shared >= self.min_shared && containment >= min_containment && passages != Some(false)
        {
            return Some(Match::Containment);
        }
        let short = self.short_min_containment?;
        (opens == Some(true) && s.shared >= self.short_min_shared && containment >= short)
            .then_some(Match::Short)
    }

    /// Which clause decided, in words, with the numbers it compared: what `explain`
    /// prints. `score_name` names the score's Jaccard (`Jaccard`, or `MinHash estimate`).
    #[must_use]
    pub fn describe(&self, s: &PairScore, score_name: &str) -> String {
        let (t, j, c, shared) = (self.threshold, s.jaccard, s.containment(), s.shared);
        let below = format!("{score_name} {j:.4} below {t}");
        let leads = |x: SharedText| format!("leads {} and {} <= {MAX_LEAD}", x.lead_a, x.lead_b);
        match self.matches(s) {
            Some(Match::Jaccard) => format!("{score_name} {j:.4} >= threshold {t}"),
            Some(Match::Containment) => {
                let min_c = self.min_containment.unwrap_or_default();
                let passages = match (self.known(s), self.opens_both(s)) {
                    (Some(x), Some(true)) => {
                        format!(", the shared text opening both ({})", leads(x))
                    }
                    (Some(_), _) => {
                        format!(", the shared text spanning {MIN_SPREAD} paragraphs of the smaller")
                    }
                    (None, _) => String::new(),
                };
                format!(
                    "containment {c:.4} >= {min_c} with {shared} shared shingles{passages} \
                     ({below})"
                )
            }
            Some(Match::Short) => {
                let x = self.known(s).unwrap_or_default();
                format!(
                    "short copy: containment {c:.4} >= {} with {shared} shared shingles, the \
                     shared text opening both ({}) ({below})",
                    self.short_min_containment.unwrap_or_default(),
                    leads(x)
                )
            }
            None => {
                let Some(min_c) = self.min_containment else {
                    return below;
                };
                let x = self.known(s);
                let one_passage = match x {
                    Some(x) if shared >= self.min_shared && c >= min_c => format!(
                        ", but in one passage: not opening both (leads {} and {}, at most \
                         {MAX_LEAD}), nor spanning {MIN_SPREAD} paragraphs of the smaller",
                        x.lead_a, x.lead_b
                    ),
                    _ => String::new(),
                };
                let not_short = match (self.short_min_containment, x) {
                    (None, _) => String::new(),
                    (Some(_), None) => {
                        "; not a short copy: where the shared text sits is unknown".to_owned()
                    }
                    (Some(short), Some(_)) if c < short => {
                        format!("; not a short copy: containment below {short}")
                    }
                    (Some(_), Some(_)) if shared < self.short_min_shared => format!(
                        "; not a short copy: fewer than {} shared shingles",
                        self.short_min_shared
                    ),
                    (Some(_), Some(x)) => format!(
                        "; not a short copy: the shared text does not open both (leads {} and \
                         {}, at most {MAX_LEAD})",
                        x.lead_a, x.lead_b
                    ),
                };
                format!(
                    "{below}, containment {c:.4} (needs {min_c}) with {shared} shared shingles \
                     (needs {}){one_passage}{not_short}",
                    self.min_shared
                )
            }
        }
    }

    /// The pair matches, by any clause.
    #[must_use]
    pub fn accepts(&self, s: &PairScore) -> bool {
        self.matches(s).is_some()
    }

    /// A member matches its representative, or shares enough with it to stay in its
    /// star as a weak link: two copies of one original, each cut and edited, overlap
    /// less than either does with the original, yet an unrelated story chained in
    /// through one of them shares next to nothing with the original.
    #[must_use]
    pub fn stays(&self, s: &PairScore) -> bool {
        self.accepts(s)
            || (s.shared >= self.min_shared && s.containment() >= self.star_min_containment)
    }
}

/// Distinct shingles of a paragraph's sorted run (which may repeat a shingle), and how
/// many of them occur in `other` (sorted, distinct).
///
/// A run at least an eighth the size of `other` (with `--paragraphs off` the one
/// paragraph is the whole document, as large as the set it is looked up in) is merged
/// with it, a step a value of either, without a branch; a shorter one (a paragraph
/// against an article) takes a binary search a shingle, `log2` of the set's size in
/// steps, fewer than a merge's. A run out of order (no version writes one) is searched.
#[must_use]
pub fn overlap(paragraph: &[u64], other: &[u64]) -> (u64, u64) {
    if paragraph.len() >= other.len() / 8 && paragraph.is_sorted() {
        return (distinct(paragraph), found_by_merge(paragraph, other));
    }
    let (mut distinct, mut found) = (0u64, 0u64);
    let mut prev = None;
    for &s in paragraph {
        if prev == Some(s) {
            continue;
        }
        prev = Some(s);
        distinct += 1;
        found += u64::from(other.binary_search(&s).is_ok());
    }
    (distinct, found)
}

/// A sorted set with where each range of values starts in it, for looking up every
/// shingle of a document's compared paragraphs: shingles are hashes, spread evenly, so a
/// set of `n` cut into about `2n` ranges by their top bits has one value a range or none,
/// and a lookup reads the range's two bounds and a value or two, where a binary search
/// of the whole set is `log2 n` dependent loads. `align` looks up each side's whole text
/// in the other side's set. Made in one pass over the set; values that are not spread
/// (a test's small integers) fall into few ranges and are searched there.
pub struct SetIndex<'a> {
    set: &'a [u64],
    /// `starts[r]`: the first position of a value of range `r` or above; one more entry
    /// than ranges, the last `set.len()`.
    starts: Vec<u32>,
    /// `64 - log2(ranges)`: a value's range is its top bits.
    shift: u32,
}

impl<'a> SetIndex<'a> {
    /// The index of `set`, sorted and distinct.
    #[must_use]
    pub fn new(set: &'a [u64]) -> Self {
        let bits = (set.len() * 2)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(1, 25);
        let shift = 64 - bits;
        // how many values each range holds, then where each starts: two passes without a
        // branch on the values
        let mut starts = vec![0u32; (1 << bits) + 1];
        for &v in set {
            starts[(v >> shift) as usize + 1] += 1;
        }
        for r in 1..starts.len() {
            starts[r] += starts[r - 1];
        }
        SetIndex { set, starts, shift }
    }

    /// Whether `v` is in the set.
    #[must_use]
    #[inline]
    pub fn contains(&self, v: u64) -> bool {
        let r = (v >> self.shift) as usize;
        let (from, to) = (self.starts[r] as usize, self.starts[r + 1] as usize);
        // with twice as many ranges as values, nine ranges in ten hold one value or none:
        // that case is a comparison, not a loop (the value read past the set's end is
        // none of its values, and is only read when the range is empty)
        if to - from <= 1 {
            let first = self.set.get(from).is_some_and(|&x| x == v);
            return to > from && first;
        }
        self.set[from..to].binary_search(&v).is_ok()
    }
}

/// `overlap` against a set's index: the same counts, a lookup a distinct shingle.
#[must_use]
pub fn overlap_in(paragraph: &[u64], other: &SetIndex<'_>) -> (u64, u64) {
    let (mut distinct, mut found) = (0u64, 0u64);
    let mut prev = None;
    for &s in paragraph {
        let new = prev != Some(s);
        prev = Some(s);
        distinct += u64::from(new);
        // looked up even when repeated: a branch on the repeat would cost more than it spares
        found += u64::from(new) & u64::from(other.contains(s));
    }
    (distinct, found)
}

/// The values of the sorted `run` (repeats counted once) that occur in the sorted,
/// distinct `other`: a merge whose steps advance by comparisons, not branches.
fn found_by_merge(run: &[u64], other: &[u64]) -> u64 {
    let (mut i, mut j, mut found) = (0usize, 0usize, 0u64);
    while i < run.len() && j < other.len() {
        let (a, b) = (run[i], other[j]);
        found += u64::from(a == b);
        // a match moves both on, so a repeat of it in `run` meets a larger value next
        i += usize::from(a <= b);
        j += usize::from(b <= a);
    }
    found
}

/// Distinct shingles of a paragraph's sorted run.
#[must_use]
pub fn distinct(paragraph: &[u64]) -> u64 {
    // the first value, then every value that differs from the one before it: a count of
    // comparisons that vectorises, where a branch a value mispredicted on random hashes
    let changes = paragraph.windows(2).filter(|w| w[0] != w[1]).count();
    u64::from(!paragraph.is_empty()) + changes as u64
}

/// Whether a paragraph with `distinct` shingles, `found` of them in the other document,
/// is present there (see `PARAGRAPH_PRESENT`). A paragraph without shingles is.
#[must_use]
pub fn is_present(distinct: u64, found: u64) -> bool {
    distinct == 0 || found as f64 >= PARAGRAPH_PRESENT * distinct as f64
}

/// Where the text `doc` shares with `other` (a sorted set) sits in `doc`: `(lead,
/// paragraphs)`. The lead is the distinct shingles of `doc`'s compared paragraphs before
/// the first one present in `other`, paragraphs without shingles skipped, counted to just
/// past `MAX_LEAD` (a larger lead only says the shared text does not open `doc`). The
/// paragraphs are those with at least `SPREAD_MIN_SHINGLES` present in `other`, counted
/// up to `MIN_SPREAD`. The walk stops as soon as both are known.
#[must_use]
pub fn placement(doc: Compared<'_>, other: &[u64]) -> (u32, u32) {
    let (mut lead, mut paragraphs) = (0u64, 0u32);
    let mut lead_known = false;
    for i in doc.record.compared_paragraphs(doc.removed) {
        let run = doc.record.paragraph_shingles(i as usize);
        // nothing shared: no paragraph can be present, only the lead is counted
        let (distinct, found) = if other.is_empty() {
            (distinct(run), 0)
        } else {
            overlap(run, other)
        };
        if distinct == 0 {
            continue;
        }
        let present = is_present(distinct, found);
        if !lead_known {
            if present {
                lead_known = true;
            } else {
                lead += distinct;
                lead_known = lead > u64::from(MAX_LEAD);
            }
        }
        if present && distinct >= SPREAD_MIN_SHINGLES as u64 {
            paragraphs += 1;
        }
        if lead_known && (paragraphs >= MIN_SPREAD || other.is_empty()) {
            break;
        }
    }
    (u32::try_from(lead).unwrap_or(u32::MAX), paragraphs)
}

/// How far into `doc` the text it shares with `other` starts (see `placement`).
#[must_use]
pub fn lead(doc: Compared<'_>, other: &[u64]) -> u32 {
    placement(doc, other).0
}

/// The first `OPENING_PARAGRAPHS` compared paragraphs with at least
/// `OPENING_MIN_SHINGLES` distinct shingles, with their distinct shingles: where the text a
/// document shares with a match of the short or the containment clause begins (a headline
/// and a byline are smaller; what follows them is the lede). The opening candidates
/// (`sketch::pass::opening_keys`) sketch these.
#[must_use]
pub fn opening_paragraphs(record: &ParagraphRecord, removed: &[u32]) -> Vec<(u32, u64)> {
    record
        .compared_paragraphs(removed)
        .map(|i| (i, distinct(record.paragraph_shingles(i as usize))))
        .filter(|&(_, n)| n >= OPENING_MIN_SHINGLES as u64)
        .take(OPENING_PARAGRAPHS)
        .collect()
}

/// Where the shared text sits in each of `a` and `b`.
#[must_use]
pub fn shared_text(a: Compared<'_>, b: Compared<'_>) -> SharedText {
    shared_text_of(a, b, true)
}

/// `shared_text`, told whether the two share anything at all: when they do not, no
/// paragraph needs looking up in the other (most candidate pairs of unrelated documents).
fn shared_text_of(a: Compared<'_>, b: Compared<'_>, any_shared: bool) -> SharedText {
    let (set_a, set_b): (&[u64], &[u64]) = if any_shared {
        (a.set, b.set)
    } else {
        (&[], &[])
    };
    let (lead_a, paragraphs_a) = placement(a, set_b);
    let (lead_b, paragraphs_b) = placement(b, set_a);
    SharedText {
        lead_a,
        lead_b,
        paragraphs_a,
        paragraphs_b,
    }
}

/// The exact score of two documents as compared, with where their shared text sits: what
/// the rule decides on.
#[must_use]
pub fn score(a: Compared<'_>, b: Compared<'_>) -> PairScore {
    let s = PairScore::of_sets(a.set, b.set);
    PairScore {
        shared_text: Some(shared_text_of(a, b, s.shared > 0)),
        ..s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_counts_like_a_search_of_the_whole_set() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15u64);
        for round in 0..600u64 {
            let universe = [6, 60, 600, u64::MAX][round as usize % 4];
            let mut other: Vec<u64> = (0..round % 97).map(|_| next() % universe).collect();
            other.sort_unstable();
            other.dedup();
            // a sorted run with repeats, as the streaming pass writes it; every fifth one
            // out of order, as no version writes it
            let mut run: Vec<u64> = (0..round % 41).map(|_| next() % universe).collect();
            if round % 5 != 0 {
                run.sort_unstable();
            }
            let mut distinct = 0;
            let mut found = 0;
            for (i, s) in run.iter().enumerate() {
                if i > 0 && run[i - 1] == *s {
                    continue;
                }
                distinct += 1;
                found += u64::from(other.contains(s));
            }
            assert_eq!(
                overlap(&run, &other),
                (distinct, found),
                "{run:?} {other:?}"
            );
        }
    }

    /// The search `overlap` replaced: a binary search of the whole set a distinct shingle.
    fn overlap_by_binary_search(paragraph: &[u64], other: &[u64]) -> (u64, u64) {
        let (mut distinct, mut found) = (0u64, 0u64);
        let mut prev = None;
        for &s in paragraph {
            if prev == Some(s) {
                continue;
            }
            prev = Some(s);
            distinct += 1;
            found += u64::from(other.binary_search(&s).is_ok());
        }
        (distinct, found)
    }

    #[test]
    fn overlap_counts_like_a_binary_search_at_every_size_and_density() {
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1du64);
        // a paragraph against its article (short run, long set), a whole document against
        // another (`--paragraphs off`: both long), sets sharing most, some or none
        for round in 0..1500u64 {
            let universe = [8, 100, 3000, 1 << 20, u64::MAX][round as usize % 5];
            let other_len = [0, 1, 7, 64, 1000, 2500][(round / 5) as usize % 6];
            let run_len = [1, 2, 30, 300, 2000][(round / 30) as usize % 5];
            let mut other: Vec<u64> = (0..other_len).map(|_| next() % universe).collect();
            other.sort_unstable();
            other.dedup();
            let mut run: Vec<u64> = (0..run_len)
                .map(|_| {
                    let r = next();
                    // a third of the run drawn from the set itself, so that there are hits
                    if r.is_multiple_of(3) && !other.is_empty() {
                        other[(r >> 8) as usize % other.len()]
                    } else {
                        r % universe
                    }
                })
                .collect();
            run.sort_unstable();
            assert_eq!(
                overlap(&run, &other),
                overlap_by_binary_search(&run, &other),
                "round {round}"
            );
            // the merge, whatever the sizes
            assert_eq!(
                (distinct(&run), found_by_merge(&run, &other)),
                overlap_by_binary_search(&run, &other),
                "round {round}"
            );
            // the first and the last value of the set, and values past either end
            let mut edges = vec![0, u64::MAX];
            edges.extend(other.first());
            edges.extend(other.last());
            edges.sort_unstable();
            assert_eq!(
                overlap(&edges, &other),
                overlap_by_binary_search(&edges, &other)
            );
        }
    }

    #[test]
    fn overlap_in_an_index_counts_like_overlap_at_every_size_and_density() {
        let mut next = crate::testing::xorshift(0x5851_f42d_4c95_7f2du64);
        // small universes put every value in one range of the index, the largest spread them;
        // every seventh run is out of order
        for round in 0..3000u64 {
            let universe = [3, 8, 100, 3000, 1 << 20, u64::MAX][round as usize % 6];
            let other_len = [0, 1, 2, 7, 64, 1000, 2500][(round / 6) as usize % 7];
            let run_len = [0, 1, 2, 30, 300, 2000][(round / 42) as usize % 6];
            let mut other: Vec<u64> = (0..other_len).map(|_| next() % universe).collect();
            other.sort_unstable();
            other.dedup();
            let mut run: Vec<u64> = (0..run_len)
                .map(|_| {
                    let r = next();
                    if r.is_multiple_of(3) && !other.is_empty() {
                        other[(r >> 8) as usize % other.len()]
                    } else {
                        r % universe
                    }
                })
                .collect();
            if round % 7 != 0 {
                run.sort_unstable();
            }
            let index = SetIndex::new(&other);
            assert_eq!(
                overlap_in(&run, &index),
                overlap_by_binary_search(&run, &other),
                "round {round}"
            );
            for v in [0, 1, u64::MAX].into_iter().chain(run.iter().copied()) {
                assert_eq!(index.contains(v), other.binary_search(&v).is_ok(), "{v}");
            }
        }
    }

    /// `placement` as it was before the merge: a binary search of `other` a shingle.
    fn placement_by_search(doc: Compared<'_>, other: &[u64]) -> (u32, u32) {
        let (mut lead, mut paragraphs) = (0u64, 0u32);
        let mut lead_known = false;
        for i in doc.record.compared_paragraphs(doc.removed) {
            let run = doc.record.paragraph_shingles(i as usize);
            let (distinct, found) = if other.is_empty() {
                (distinct(run), 0)
            } else {
                overlap_by_binary_search(run, other)
            };
            if distinct == 0 {
                continue;
            }
            let present = is_present(distinct, found);
            if !lead_known {
                if present {
                    lead_known = true;
                } else {
                    lead += distinct;
                    lead_known = lead > u64::from(MAX_LEAD);
                }
            }
            if present && distinct >= SPREAD_MIN_SHINGLES as u64 {
                paragraphs += 1;
            }
            if lead_known && (paragraphs >= MIN_SPREAD || other.is_empty()) {
                break;
            }
        }
        (u32::try_from(lead).unwrap_or(u32::MAX), paragraphs)
    }

    #[test]
    fn placement_walks_like_a_binary_search_of_each_shingle() {
        let mut next = crate::testing::xorshift(0x1234_5678_9abc_def1u64);
        // documents of up to 30 paragraphs of up to 60 shingles, some removed, against a
        // set made partly of some of their paragraphs (present, absent, a few shingles of
        // one present), the rest random: leads short and long, spreads 0 to 2
        for round in 0..400u64 {
            let mut rec = ParagraphRecord::default();
            let pool: Vec<u64> = (0..3000).map(|_| next()).collect();
            for _ in 0..(next() % 30) {
                let len = next() % 60;
                let start = rec.shingles.len();
                rec.shingles
                    .extend((0..len).map(|_| pool[(next() % 3000) as usize]));
                rec.shingles[start..].sort_unstable();
                rec.offsets.push(rec.shingles.len() as u32);
                rec.hashes.push(next());
                rec.push_snippet("");
            }
            let removed: Vec<u32> = (0..rec.len() as u32)
                .filter(|_| next().is_multiple_of(5))
                .collect();
            let share = next() % 4;
            let mut other: Vec<u64> = (0..(next() % 2000)).map(|_| next()).collect();
            for i in 0..rec.len() {
                if next() % 4 < share {
                    let run = rec.paragraph_shingles(i);
                    let take = if next().is_multiple_of(3) {
                        run.len() / 4 + 1
                    } else {
                        run.len()
                    };
                    other.extend(run.iter().take(take));
                }
            }
            other.sort_unstable();
            other.dedup();
            let set = rec.article_set(&removed);
            let doc = Compared {
                record: &rec,
                removed: &removed,
                set: &set,
            };
            assert_eq!(
                placement(doc, &other),
                placement_by_search(doc, &other),
                "round {round}"
            );
            assert_eq!(placement(doc, &[]), placement_by_search(doc, &[]));
            assert_eq!(placement(doc, &set), placement_by_search(doc, &set));
        }
    }

    const RULE: MatchRule = MatchRule {
        threshold: 0.8,
        min_containment: Some(0.5),
        min_shared: 50,
        short_min_containment: Some(0.9),
        short_min_shared: 8,
        positions: true,
        star_min_containment: 0.2,
    };

    fn score(shared: u64, a: u64, b: u64) -> PairScore {
        let j = shared as f64 / (a + b - shared) as f64;
        PairScore {
            jaccard: j,
            shared,
            size_a: a,
            size_b: b,
            shared_text: None,
        }
    }

    /// Leads of a and b, and the substantial paragraphs of each the other has.
    // a scored pair's evidence is optional: the helper builds it as a score holds it
    #[allow(clippy::unnecessary_wraps)]
    fn at(lead_a: u32, lead_b: u32, paragraphs_a: u32, paragraphs_b: u32) -> Option<SharedText> {
        Some(SharedText {
            lead_a,
            lead_b,
            paragraphs_a,
            paragraphs_b,
        })
    }

    #[test]
    fn match_rule_needs_both_containment_and_shared_amount() {
        let rule = RULE;
        assert_eq!(rule.matches(&score(90, 100, 100)), Some(Match::Jaccard)); // 0.82
        // a copy cut to 40%, all inside
        assert_eq!(
            rule.matches(&score(200, 400, 1000)),
            Some(Match::Containment)
        );
        // contained, but 40 shingles only, and where they sit is unknown
        assert!(!rule.accepts(&score(40, 60, 1000)));
        assert!(!rule.accepts(&score(100, 400, 1000))); // a quarter shared
        assert!(rule.stays(&score(100, 400, 1000)));
        assert!(!rule.stays(&score(60, 400, 1000)));
        let raw = MatchRule {
            min_containment: None,
            ..rule
        };
        assert!(!raw.accepts(&score(200, 400, 1000)));
        // the threshold itself matches
        assert!(raw.accepts(&PairScore {
            jaccard: 0.8,
            ..score(0, 1, 1)
        }));
    }

    #[test]
    fn a_short_copy_matches_only_when_the_shared_text_opens_both() {
        let rule = RULE;
        // headline and lede: 24 of 26 shingles inside a 4-paragraph original
        let lede = |t| PairScore {
            shared_text: t,
            ..score(24, 26, 290)
        };
        assert_eq!(rule.matches(&lede(at(0, 0, 1, 1))), Some(Match::Short));
        // a byline in front of the copy, the original's headline edited away
        assert_eq!(rule.matches(&lede(at(7, 3, 1, 1))), Some(Match::Short));
        assert_eq!(
            rule.matches(&lede(at(MAX_LEAD, 0, 1, 1))),
            Some(Match::Short)
        );
        // the shared text sits after the other document's own headline and lede
        assert_eq!(rule.matches(&lede(at(0, MAX_LEAD + 1, 1, 1))), None);
        assert_eq!(rule.matches(&lede(at(40, 0, 1, 1))), None);
        // where it sits unknown: no short clause
        assert_eq!(rule.matches(&lede(None)), None);
        let no_positions = MatchRule {
            positions: false,
            ..rule
        };
        assert_eq!(no_positions.matches(&lede(at(0, 0, 1, 1))), None);
        // too little of the copy inside, or too few shingles
        let loose = PairScore {
            shared_text: at(0, 0, 1, 1),
            ..score(20, 26, 290)
        };
        assert_eq!(rule.matches(&loose), None);
        let tiny = PairScore {
            shared_text: at(0, 0, 0, 0),
            ..score(7, 7, 290)
        };
        assert_eq!(rule.matches(&tiny), None);
        let off = MatchRule {
            short_min_containment: None,
            ..rule
        };
        assert_eq!(off.matches(&lede(at(0, 0, 1, 1))), None);
    }

    #[test]
    fn one_shared_passage_does_not_make_a_containment_match() {
        let rule = RULE;
        // a brief (headline, lede, a 60-word statement) inside a long story that quotes
        // the statement in its fifth paragraph: containment 0.6 with 55 shingles
        let quote = |t| PairScore {
            shared_text: t,
            ..score(55, 90, 700)
        };
        assert_eq!(rule.matches(&quote(at(30, 400, 1, 1))), None);
        assert_eq!(rule.matches(&quote(at(0, 400, 1, 1))), None);
        // where it sits unknown: containment decides, as before
        assert_eq!(rule.matches(&quote(None)), Some(Match::Containment));
        // the same amounts at the opening of both: a trimmed copy
        assert_eq!(
            rule.matches(&quote(at(5, 0, 1, 1))),
            Some(Match::Containment)
        );
        // or over two paragraphs of the brief, wherever they start: a copy whose headline
        // and lede were edited beyond recognition
        assert_eq!(
            rule.matches(&quote(at(30, 40, 2, 1))),
            Some(Match::Containment)
        );
        // two paragraphs of the larger document do not count: the smaller decides
        assert_eq!(rule.matches(&quote(at(30, 40, 1, 2))), None);
    }

    fn record(paragraphs: &[&[u64]]) -> ParagraphRecord {
        let mut rec = ParagraphRecord::default();
        for p in paragraphs {
            rec.shingles.extend_from_slice(p);
            rec.offsets.push(rec.shingles.len() as u32);
            rec.hashes.push(0);
            rec.push_snippet("");
        }
        rec
    }

    #[test]
    fn placement_counts_what_comes_before_the_shared_text_and_the_paragraphs_shared() {
        // a byline (4 shingles), a headline (3), a lede (20), a body paragraph (30)
        let lede: Vec<u64> = (10..30).collect();
        let body: Vec<u64> = (30..60).collect();
        let rec = record(&[&[900, 901, 902, 903], &[1, 2, 3], &lede, &body]);
        let set = rec.article_set(&[]);
        let c = Compared {
            record: &rec,
            removed: &[],
            set: &set,
        };
        assert_eq!(
            placement(c, &lede),
            (7, 1),
            "byline and headline come first"
        );
        let headline_and_lede: Vec<u64> = (1..4).chain(10..30).collect();
        assert_eq!(
            placement(c, &headline_and_lede),
            (4, 1),
            "a headline is no paragraph"
        );
        // a quarter of a paragraph is enough to be present
        assert_eq!(lead(c, &[12, 13, 14, 15, 16]), 7);
        // 4 of 20 is not: the lede counts too, and counting stops past MAX_LEAD
        assert_eq!(lead(c, &[12, 13, 14, 15]), 27);
        assert_eq!(placement(c, &[]), (27, 0));
        // the body paragraph alone: one passage after 27 shingles of the document's own
        assert_eq!(placement(c, &body), (27, 1));
        let all: Vec<u64> = (10..60).collect();
        assert_eq!(placement(c, &all), (7, 2));
        // the byline removed as boilerplate
        let removed = [0u32];
        let c = Compared {
            removed: &removed,
            ..c
        };
        assert_eq!(lead(c, &lede), 3);
        let t = shared_text(c, c);
        assert_eq!((t.lead_a, t.paragraphs_b), (0, 2));
        // repeats inside a paragraph's run count once
        let rec = record(&[&[5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12]]);
        let set = rec.article_set(&[]);
        let c = Compared {
            record: &rec,
            removed: &[],
            set: &set,
        };
        assert_eq!(placement(c, &[5, 6]), (0, 1));
        assert_eq!(overlap(rec.paragraph_shingles(0), &[5, 6]), (8, 2));
        assert!(
            opening_paragraphs(&rec, &[]).is_empty(),
            "8 shingles: a dateline"
        );
        let rec = record(&[
            &[1, 2, 3],
            &(10..22).collect::<Vec<_>>(),
            &[4],
            &(30..60).collect::<Vec<_>>(),
            &(60..80).collect::<Vec<_>>(),
        ]);
        assert_eq!(opening_paragraphs(&rec, &[]), vec![(1, 12), (3, 30)]);
        assert_eq!(opening_paragraphs(&rec, &[1]), vec![(3, 30), (4, 20)]);
    }

    #[test]
    fn the_rule_says_which_clause_decided() {
        let rule = RULE;
        let d = |s: PairScore| rule.describe(&s, "Jaccard");
        assert_eq!(d(score(90, 100, 100)), "Jaccard 0.8182 >= threshold 0.8");
        let lede = PairScore {
            shared_text: at(4, 0, 1, 1),
            ..score(24, 26, 290)
        };
        assert_eq!(
            d(lede),
            "short copy: containment 0.9231 >= 0.9 with 24 shared shingles, the shared text \
             opening both (leads 4 and 0 <= 10) (Jaccard 0.0822 below 0.8)"
        );
        let quote = PairScore {
            shared_text: at(30, 400, 1, 1),
            ..score(55, 90, 700)
        };
        assert_eq!(
            d(quote),
            "Jaccard 0.0748 below 0.8, containment 0.6111 (needs 0.5) with 55 shared shingles \
             (needs 50), but in one passage: not opening both (leads 30 and 400, at most 10), \
             nor spanning 2 paragraphs of the smaller; not a short copy: containment below 0.9"
        );
        let trimmed = PairScore {
            shared_text: at(30, 40, 2, 1),
            ..quote
        };
        assert!(
            d(trimmed).starts_with(
                "containment 0.6111 >= 0.5 with 55 shared shingles, the shared text spanning 2 \
                 paragraphs of the smaller (Jaccard"
            ),
            "{}",
            d(trimmed)
        );
        assert!(
            d(score(10, 400, 1000))
                .ends_with("not a short copy: where the shared text sits is unknown")
        );
    }

    #[test]
    fn the_rule_of_the_default_params() {
        let rule = MatchRule::new(&crate::Params::default().validate().unwrap());
        assert_eq!(rule.min_containment, Some(0.5));
        assert_eq!(rule.min_shared, 50);
        assert_eq!(rule.short_min_containment, Some(0.9));
        assert_eq!(rule.short_min_shared, 8);
        assert!(rule.positions);
    }
}
