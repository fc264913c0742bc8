//! Provenance: how a copy relates to its cluster's original, paragraph by paragraph.
//!
//! A syndicated copy keeps a leading part of the original, cut from the bottom, with
//! words edited, and adds a byline, a dateline or a paragraph of its own. The alignment
//! here works on the compared paragraphs (repeats and boilerplate already left out) and
//! their shingles: a paragraph of the original is *kept* when enough of its shingles occur
//! anywhere in the copy, else *cut*; a paragraph of the copy is *added* when too few of
//! its shingles occur anywhere in the original. Matching against the whole other
//! document, not paragraph to paragraph, is what makes merged and split paragraphs
//! come out right.

use serde::{Deserialize, Serialize};

pub use crate::document::Compared;
use crate::document::ParagraphRecord;
use crate::verify::rule::{Match, MatchRule, SetIndex, is_present, overlap_in};
use crate::verify::score::{PairScore, round6};

pub use crate::verify::rule::PARAGRAPH_PRESENT;

/// A copy is trimmed (or extended) when at least this fraction of the original's
/// (or the copy's) shingles sit in cut (or added) paragraphs.
pub const STRUCTURAL: f64 = 0.1;

/// A member is a digest of the original when less than this share of its shingles come
/// from the original and at least this share sit in paragraphs the original lacks: the
/// original is one item on a page of others.
pub const DIGEST: f64 = 0.5;

/// How a copy relates to the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// The same compared shingles.
    Identical,
    /// Jaccard at or above the threshold.
    NearIdentical,
    /// Paragraphs of the original are missing, nothing substantial added.
    Trimmed,
    /// The whole original is there, with paragraphs added.
    Extended,
    /// Changed otherwise: paragraphs both cut and added, or words edited throughout.
    Edited,
    /// A page that carries the original's opening (or all of it) as one item among more
    /// text of its own: less than half of it comes from the original, and at least half
    /// sits in paragraphs the original lacks (a digest of the day's stories, a
    /// round-up). Not a republication of the original, though the rule joined them.
    Digest,
}

impl Relation {
    /// The relation as the outputs write it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Identical => "identical",
            Relation::NearIdentical => "near-identical",
            Relation::Trimmed => "trimmed",
            Relation::Extended => "extended",
            Relation::Edited => "edited",
            Relation::Digest => "digest",
        }
    }
}

/// The provenance of a copy, as written to `docs.jsonl` and `clusters.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// How the copy relates to the original.
    pub relation: Relation,
    /// Jaccard of the two, rounded to 6 decimals.
    pub jaccard: f64,
    /// Shared shingles over the copy's: how much of the copy comes from the original.
    pub copy_in_original: f64,
    /// Shared shingles over the original's: how much of the original the copy carries.
    pub original_in_copy: f64,
    /// Shingles in both.
    #[serde(default)]
    pub shared_shingles: u64,
    /// Compared paragraphs of the original the copy kept, out of `original_paragraphs`.
    #[serde(default)]
    pub kept_paragraphs: u32,
    /// Compared paragraphs of the original.
    #[serde(default)]
    pub original_paragraphs: u32,
    /// Paragraph indices (as in the original's own `docs.jsonl` numbering) not in the copy.
    #[serde(default)]
    pub cut_paragraphs: Vec<u32>,
    /// Paragraph indices of the copy not in the original.
    #[serde(default)]
    pub added_paragraphs: Vec<u32>,
    /// In the cluster without matching the original by the pair rule (a weak link).
    #[serde(default)]
    pub weak: bool,
}

impl Provenance {
    /// |A ∩ B| / |smaller set|, the containment `docs.jsonl` reports, from the rounded
    /// shares.
    #[must_use]
    pub fn containment(&self) -> f64 {
        self.copy_in_original.max(self.original_in_copy)
    }
}

/// Paragraph alignment of a copy against the original.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alignment {
    /// The original's compared paragraphs present in the copy, ascending.
    pub kept: Vec<u32>,
    /// The original's compared paragraphs missing from the copy, ascending.
    pub cut: Vec<u32>,
    /// The copy's compared paragraphs missing from the original, ascending.
    pub added: Vec<u32>,
    /// Distinct shingles of the original's compared set.
    pub original_shingles: u64,
    /// Shingles of the cut paragraphs: each paragraph's distinct ones, summed.
    pub cut_shingles: u64,
    /// Distinct shingles of the copy's compared set.
    pub copy_shingles: u64,
    /// Shingles of the added paragraphs, counted as `cut_shingles` is.
    pub added_shingles: u64,
}

/// Aligns `copy` against `original`.
#[must_use]
pub fn align(original: Compared<'_>, copy: Compared<'_>) -> Alignment {
    align_in(original, copy, &SetIndex::new(original.set))
}

/// `align`, given the index of `original.set` (a component's representative is aligned
/// with each of its members: its index is made once).
#[must_use]
pub fn align_in(
    original: Compared<'_>,
    copy: Compared<'_>,
    original_index: &SetIndex<'_>,
) -> Alignment {
    let copy_index = SetIndex::new(copy.set);
    let mut out = Alignment {
        original_shingles: original.set.len() as u64,
        copy_shingles: copy.set.len() as u64,
        ..Alignment::default()
    };
    let present = |rec: &ParagraphRecord, i: u32, other: &SetIndex<'_>| -> (bool, u64) {
        let (n, found) = overlap_in(rec.paragraph_shingles(i as usize), other);
        (is_present(n, found), n)
    };
    for i in original.record.compared_paragraphs(original.removed) {
        let (here, n) = present(original.record, i, &copy_index);
        if here {
            out.kept.push(i);
        } else {
            out.cut.push(i);
            out.cut_shingles += n;
        }
    }
    for i in copy.record.compared_paragraphs(copy.removed) {
        let (here, n) = present(copy.record, i, original_index);
        if !here {
            out.added.push(i);
            out.added_shingles += n;
        }
    }
    out
}

/// Classifies a copy from its score against the original (copy = a, original = b) and
/// its alignment: a copy that matches by Jaccard under `rule` is near-identical.
#[must_use]
pub fn relation(score: &PairScore, alignment: &Alignment, rule: &MatchRule) -> Relation {
    if score.shared == score.size_a && score.shared == score.size_b || score.jaccard >= 1.0 {
        return Relation::Identical;
    }
    if rule.matches(score) == Some(Match::Jaccard) {
        return Relation::NearIdentical;
    }
    let frac = |part: u64, whole: u64| part as f64 / whole.max(1) as f64;
    let added_share = frac(alignment.added_shingles, alignment.copy_shingles);
    if score.a_in_b() < DIGEST && added_share >= DIGEST {
        return Relation::Digest;
    }
    let cut = frac(alignment.cut_shingles, alignment.original_shingles) >= STRUCTURAL;
    let added = added_share >= STRUCTURAL;
    match (cut, added) {
        (true, false) => Relation::Trimmed,
        (false, true) => Relation::Extended,
        _ => Relation::Edited,
    }
}

/// The provenance of a copy.
#[must_use]
pub fn provenance(
    score: &PairScore,
    alignment: Alignment,
    rule: &MatchRule,
    weak: bool,
) -> Provenance {
    Provenance {
        relation: relation(score, &alignment, rule),
        jaccard: round6(score.jaccard),
        copy_in_original: round6(score.a_in_b()),
        original_in_copy: round6(score.b_in_a()),
        shared_shingles: score.shared,
        kept_paragraphs: alignment.kept.len() as u32,
        original_paragraphs: (alignment.kept.len() + alignment.cut.len()) as u32,
        cut_paragraphs: alignment.cut,
        added_paragraphs: alignment.added,
        weak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::rule::overlap;

    const RULE: MatchRule = MatchRule {
        threshold: 0.8,
        min_containment: None,
        min_shared: 50,
        short_min_containment: None,
        short_min_shared: 8,
        positions: true,
        star_min_containment: 0.2,
    };

    fn article(rec: &ParagraphRecord, removed: &[u32]) -> Vec<u64> {
        let mut v = Vec::new();
        rec.kept_shingles(removed, &mut v);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// `aligner` on two records with their removed paragraphs, their article sets made
    /// here.
    fn align_with(
        aligner: fn(Compared<'_>, Compared<'_>) -> Alignment,
        original: (&ParagraphRecord, &[u32]),
        copy: (&ParagraphRecord, &[u32]),
    ) -> Alignment {
        let (os, cs) = (article(original.0, original.1), article(copy.0, copy.1));
        aligner(
            Compared {
                record: original.0,
                removed: original.1,
                set: &os,
            },
            Compared {
                record: copy.0,
                removed: copy.1,
                set: &cs,
            },
        )
    }

    fn align_records(
        original: (&ParagraphRecord, &[u32]),
        copy: (&ParagraphRecord, &[u32]),
    ) -> Alignment {
        align_with(align, original, copy)
    }

    /// `align` as it was before the index: a search of the other side's sorted set.
    fn align_by_search(original: Compared<'_>, copy: Compared<'_>) -> Alignment {
        let orig_paras: Vec<u32> = original
            .record
            .compared_paragraphs(original.removed)
            .collect();
        let copy_paras: Vec<u32> = copy.record.compared_paragraphs(copy.removed).collect();
        let mut out = Alignment {
            original_shingles: original.set.len() as u64,
            copy_shingles: copy.set.len() as u64,
            ..Alignment::default()
        };
        let present = |rec: &ParagraphRecord, i: u32, other: &[u64]| -> (bool, u64) {
            let (n, found) = overlap(rec.paragraph_shingles(i as usize), other);
            (is_present(n, found), n)
        };
        for &i in &orig_paras {
            let (here, n) = present(original.record, i, copy.set);
            if here {
                out.kept.push(i);
            } else {
                out.cut.push(i);
                out.cut_shingles += n;
            }
        }
        for &i in &copy_paras {
            let (here, n) = present(copy.record, i, original.set);
            if !here {
                out.added.push(i);
                out.added_shingles += n;
            }
        }
        out
    }

    fn record(paragraphs: &[std::ops::Range<u64>]) -> ParagraphRecord {
        let mut rec = ParagraphRecord::default();
        for (i, p) in paragraphs.iter().enumerate() {
            rec.shingles.extend(p.clone());
            rec.offsets.push(rec.shingles.len() as u32);
            rec.hashes.push(i as u64);
            rec.push_snippet("");
        }
        rec
    }

    #[test]
    fn align_in_an_index_aligns_as_the_search_did() {
        let mut next = crate::testing::xorshift(0x1405_7b7e_f767_814fu64);
        // an original and a copy drawn from a shared pool (kept, cut and added paragraphs
        // at every share), some paragraphs empty, some removed, all removed now and then
        for round in 0..400u64 {
            let universe = [20, 400, 1 << 16, u64::MAX][round as usize % 4];
            let mut doc = |paragraphs: u64| -> (ParagraphRecord, Vec<u32>) {
                let mut rec = ParagraphRecord::default();
                for i in 0..paragraphs {
                    let mut run: Vec<u64> = (0..next() % 40).map(|_| next() % universe).collect();
                    run.sort_unstable();
                    rec.shingles.extend(run);
                    rec.offsets.push(rec.shingles.len() as u32);
                    rec.hashes.push(i);
                    rec.push_snippet("");
                }
                let removed = (0..paragraphs as u32)
                    .filter(|_| next().is_multiple_of([5, 2, 1000][round as usize % 3]))
                    .collect();
                (rec, removed)
            };
            let (original, copy) = (doc(round % 13), doc(round % 7 + 1));
            let expected = align_with(
                align_by_search,
                (&original.0, &original.1),
                (&copy.0, &copy.1),
            );
            assert_eq!(
                align_records((&original.0, &original.1), (&copy.0, &copy.1)),
                expected,
                "round {round}"
            );
        }
    }

    #[test]
    fn trimmed_copy_with_a_byline() {
        let original = record(&[0..10, 10..30, 30..60, 60..100, 100..140]);
        // byline, the first three paragraphs (the second one merged with the third),
        // the rest cut; the original's last paragraph is boilerplate (removed)
        let copy = record(&[1000..1004, 0..10, 10..60]);
        let a = align_records((&original, &[4]), (&copy, &[]));
        assert_eq!(a.kept, vec![0, 1, 2]);
        assert_eq!(a.cut, vec![3]);
        assert_eq!(a.added, vec![0]);
        let shared = 60;
        let score = PairScore {
            jaccard: shared as f64 / (64 + 100 - shared) as f64,
            shared,
            size_a: 64,
            size_b: 100,
            shared_text: None,
        };
        // the byline is 4 of 64 shingles: not structural
        assert_eq!(relation(&score, &a, &RULE), Relation::Trimmed);
        let p = provenance(&score, a, &RULE, false);
        assert_eq!((p.kept_paragraphs, p.original_paragraphs), (3, 4));
        assert!((p.copy_in_original - 60.0 / 64.0).abs() < 1e-6);
    }

    #[test]
    fn extended_identical_and_edited() {
        let original = record(&[0..50, 50..100]);
        let longer = record(&[0..50, 50..100, 500..560]);
        let a = align_records((&original, &[]), (&longer, &[]));
        let s = PairScore {
            jaccard: 100.0 / 160.0,
            shared: 100,
            size_a: 160,
            size_b: 100,
            shared_text: None,
        };
        assert_eq!(relation(&s, &a, &RULE), Relation::Extended);
        let same = align_records((&original, &[]), (&original, &[]));
        let s = PairScore {
            jaccard: 1.0,
            shared: 100,
            size_a: 100,
            size_b: 100,
            shared_text: None,
        };
        assert_eq!(relation(&s, &same, &RULE), Relation::Identical);
        // every paragraph 60% shared: nothing cut, nothing added, yet far from identical
        let edited = record(&[0..30, 700..720, 50..80, 800..820]);
        let a = align_records((&original, &[]), (&edited, &[]));
        assert!(a.cut.is_empty());
        assert_eq!(a.added, vec![1, 3]);
        let edited = record(&[0..30, 50..80]);
        let a = align_records((&original, &[]), (&edited, &[]));
        let s = PairScore {
            jaccard: 0.6,
            shared: 60,
            size_a: 60,
            size_b: 100,
            shared_text: None,
        };
        assert!(a.cut.is_empty() && a.added.is_empty());
        assert_eq!(relation(&s, &a, &RULE), Relation::Edited);
    }
}
