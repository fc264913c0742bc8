//! The score of a pair: two sorted shingle sets in; how much they share out (Jaccard,
//! containment both ways), and the rounding every output prints similarities with.
//!
//! Invariant: a score's `shared` never exceeds either size, so every ratio is in 0..=1.

use serde::Serialize;

/// How much two documents share: enough for Jaccard and containment both ways. It
/// serializes with the ratios derived from it, as `explain --json` shows a pair.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(into = "ScoreFields")]
pub struct PairScore {
    /// |A ∩ B| / |A ∪ B|, exact or estimated.
    pub jaccard: f64,
    /// Shingles in both (exact, or derived from the estimated Jaccard and the sizes).
    pub shared: u64,
    /// |A|: distinct shingles of the first document.
    pub size_a: u64,
    /// |B|: distinct shingles of the second document.
    pub size_b: u64,
    /// Where the text the two share sits in each; `None` when the score was computed
    /// without the documents' paragraphs (from signatures, or from bare sets).
    pub shared_text: Option<SharedText>,
}

/// Where the text two documents share sits in each (see `verify::rule`): how many compared
/// shingles come before the first paragraph the other document has, and how many
/// substantial paragraphs the other has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SharedText {
    /// Shingles of the first document before its first shared paragraph (counted to just
    /// past `verify::rule::MAX_LEAD`).
    pub lead_a: u32,
    /// Shingles of the second document before its first shared paragraph.
    pub lead_b: u32,
    /// Paragraphs of the first document with at least `verify::rule::SPREAD_MIN_SHINGLES`
    /// shingles that the second has (counted up to 2).
    pub paragraphs_a: u32,
    /// Paragraphs of the second document with that many shingles that the first has.
    pub paragraphs_b: u32,
}

impl PairScore {
    /// Exact score of two sorted, de-duplicated sets.
    #[must_use]
    pub fn of_sets(a: &[u64], b: &[u64]) -> Self {
        let shared = intersection_size(a, b) as u64;
        PairScore {
            jaccard: jaccard(a, b),
            shared,
            size_a: a.len() as u64,
            size_b: b.len() as u64,
            shared_text: None,
        }
    }

    /// |A ∩ B| / min(|A|, |B|): how much of the smaller document is in the larger.
    #[must_use]
    pub fn containment(&self) -> f64 {
        self.shared as f64 / self.size_a.min(self.size_b).max(1) as f64
    }

    /// |A ∩ B| / |A|: how much of A is in B.
    #[must_use]
    pub fn a_in_b(&self) -> f64 {
        self.shared as f64 / self.size_a.max(1) as f64
    }

    /// |A ∩ B| / |B|.
    #[must_use]
    pub fn b_in_a(&self) -> f64 {
        self.shared as f64 / self.size_b.max(1) as f64
    }
}

/// A score as the outputs show it: what it holds, and what follows from it.
#[derive(Serialize)]
struct ScoreFields {
    jaccard: f64,
    containment: f64,
    a_in_b: f64,
    b_in_a: f64,
    shared: u64,
    a_shingles: u64,
    b_shingles: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_text: Option<SharedText>,
}

impl From<PairScore> for ScoreFields {
    fn from(s: PairScore) -> Self {
        ScoreFields {
            jaccard: s.jaccard,
            containment: s.containment(),
            a_in_b: s.a_in_b(),
            b_in_a: s.b_in_a(),
            shared: s.shared,
            a_shingles: s.size_a,
            b_shingles: s.size_b,
            shared_text: s.shared_text,
        }
    }
}

/// Size of the intersection of two sorted, de-duplicated slices.
#[must_use]
pub fn intersection_size(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    // Branch-free: shingle hashes are random, so which side advances is a coin toss that
    // a branch mispredicts half the time; flags added as integers cost no misprediction.
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        n += usize::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    n
}

/// Exact Jaccard similarity of two sorted shingle sets; two empty sets are identical.
#[must_use]
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = intersection_size(a, b);
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// `jaccard(a, b)`, the same value, when it is at least `floor`; `None` otherwise. The
/// merge stops as soon as the shingles left cannot lift the intersection to `floor`, so a
/// pair far below it costs a fraction of a merge.
#[must_use]
pub fn jaccard_at_least(a: &[u64], b: &[u64], floor: f64) -> Option<f64> {
    if a.is_empty() && b.is_empty() {
        return (1.0 >= floor).then_some(1.0);
    }
    let total = a.len() + b.len();
    let smaller = a.len().min(b.len());
    // the exact expression of `jaccard`: rounding keeps its order, so an intersection below
    // `need` can only give a value below `floor`
    let ratio = |inter: usize| inter as f64 / (total - inter) as f64;
    let mut need = if floor > 0.0 {
        ((floor * total as f64) / (1.0 + floor)) as usize
    } else {
        0
    }
    .min(smaller + 1);
    while need > 0 && ratio(need - 1) >= floor {
        need -= 1;
    }
    while need <= smaller && ratio(need) < floor {
        need += 1;
    }
    if need > smaller {
        return None;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
                continue;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
        if inter + (a.len() - i).min(b.len() - j) < need {
            return None;
        }
    }
    let value = ratio(inter);
    (value >= floor).then_some(value)
}

/// A similarity as the outputs print it: 6 decimals.
#[must_use]
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaccard_at_least_is_jaccard_above_the_floor_and_none_below() {
        let mut next = crate::testing::xorshift(88_172_645_463_325_252u64);
        for round in 0..400 {
            let universe = 2 + round % 60;
            let mut set = |n: u64| {
                let mut v: Vec<u64> = (0..n).map(|_| next() % universe).collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let (a, b) = (set(round % 37), set(round % 23));
            let exact = jaccard(&a, &b);
            for floor in [0.0, 0.1, 1.0 / 3.0, 0.5, 0.7, exact, 0.99, 1.0] {
                let got = jaccard_at_least(&a, &b, floor);
                let want = (exact >= floor).then_some(exact);
                assert_eq!(got, want, "{a:?} {b:?} floor {floor}");
            }
        }
        assert_eq!(jaccard_at_least(&[], &[], 1.0), Some(1.0));
        assert_eq!(jaccard_at_least(&[1], &[], 0.0), Some(0.0));
        assert_eq!(jaccard_at_least(&[1], &[], 0.1), None);
    }

    #[test]
    fn intersection_size_counts_the_common_elements() {
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1du64);
        for round in 0..500u64 {
            // small universes make long equal runs and sets inside each other; large ones
            // make disjoint sets
            let universe = [4, 40, 400, u64::MAX][round as usize % 4];
            let mut set = |n: u64| {
                let mut v: Vec<u64> = (0..n).map(|_| next() % universe).collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let (a, b) = (set(round % 53), set(round % 31));
            let want = a
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .intersection(&b.iter().collect())
                .count();
            assert_eq!(intersection_size(&a, &b), want, "{a:?} {b:?}");
            assert_eq!(intersection_size(&b, &a), want, "{b:?} {a:?}");
        }
        assert_eq!(intersection_size(&[0, u64::MAX], &[u64::MAX]), 1);
    }

    #[test]
    fn jaccard_matches_hashset() {
        let a = vec![1u64, 2, 3, 4];
        let b = vec![3u64, 4, 5];
        assert!((jaccard(&a, &b) - 2.0 / 5.0).abs() < 1e-12);
        assert!((jaccard(&[], &[]) - 1.0).abs() < 1e-12);
        assert!(jaccard(&a, &[]).abs() < 1e-12);
    }

    #[test]
    fn scores_both_ways() {
        let s = PairScore::of_sets(&[1, 2, 3, 4], &[3, 4, 5]);
        assert_eq!((s.shared, s.size_a, s.size_b), (2, 4, 3));
        assert!((s.containment() - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.a_in_b() - 0.5).abs() < 1e-12);
        assert!((s.b_in_a() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            "{\"jaccard\":0.4,\"containment\":0.6666666666666666,\"a_in_b\":0.5,\
             \"b_in_a\":0.6666666666666666,\"shared\":2,\"a_shingles\":4,\"b_shingles\":3}"
        );
        let empty = PairScore::of_sets(&[], &[1]);
        assert!(empty.containment().abs() < 1e-12, "no division by zero");
        assert!((round6(0.123_456_789) - 0.123_457).abs() < 1e-15);
    }
}
