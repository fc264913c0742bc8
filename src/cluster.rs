//! Clustering: verified pairs in, clusters with one representative each out.
//!
//! Union-find over the pairs that pass verification. Pairs are visited in sorted order in
//! fixed-size batches, and a pair whose ends are already connected is not verified again:
//! that saves most of the work inside large groups of copies without changing the
//! components, which depend only on the set of passing pairs. Roots are always the
//! smallest member, and cluster ids are numbered in input order of each cluster's first
//! record, so the result is the same whatever the thread count.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::lsh::{DocId, Pair};
use crate::verify::Verifier;

/// Disjoint sets over documents `0..n`.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<DocId>,
}

impl UnionFind {
    #[must_use]
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as DocId).collect(),
        }
    }

    pub fn find(&mut self, mut x: DocId) -> DocId {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins the sets of `a` and `b`; the smaller root becomes the root.
    pub fn union(&mut self, a: DocId, b: DocId) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        true
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }
}

/// Counts from the verification stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyStats {
    /// Candidate pairs whose similarity was computed.
    pub verified: u64,
    /// Of those, pairs at or above the threshold.
    pub accepted: u64,
    /// Candidate pairs skipped because their documents were already connected.
    pub already_connected: u64,
}

const VERIFY_BATCH: usize = 1 << 14;

/// A verified pair at or above the threshold: the evidence that joined two documents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Edge {
    pub a: DocId,
    pub b: DocId,
    pub jaccard: f64,
}

/// Verifies candidate pairs against `threshold` and joins the passing ones.
pub fn cluster_pairs(
    docs: usize,
    pairs: &[Pair],
    verifier: &Verifier,
    threshold: f64,
    mut advance: impl FnMut(u64),
) -> Result<(UnionFind, Vec<Edge>, VerifyStats)> {
    let mut uf = UnionFind::new(docs);
    let mut edges = Vec::new();
    let mut stats = VerifyStats::default();
    let mut todo: Vec<Pair> = Vec::with_capacity(VERIFY_BATCH);
    for batch in pairs.chunks(VERIFY_BATCH) {
        todo.clear();
        for &(a, b) in batch {
            if uf.find(a) == uf.find(b) {
                stats.already_connected += 1;
            } else {
                todo.push((a, b));
            }
        }
        let similarity: Vec<f64> = todo
            .par_iter()
            .map(|&(a, b)| verifier.jaccard(a, b))
            .collect::<Result<_>>()?;
        stats.verified += todo.len() as u64;
        for (&(a, b), jaccard) in todo.iter().zip(similarity) {
            if jaccard >= threshold {
                stats.accepted += 1;
                edges.push(Edge { a, b, jaccard });
                uf.union(a, b);
            }
        }
        advance(batch.len() as u64);
    }
    Ok((uf, edges, stats))
}

/// Ordering key of a candidate representative: dated records first, earliest date first,
/// then input order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepresentativeKey<'a> {
    pub undated: bool,
    pub date: &'a str,
    pub order: u64,
}

/// True for dates that compare correctly as strings: `YYYY-MM-DD`, optionally followed by
/// a time. Other formats are ignored for ordering (and counted in the summary).
#[must_use]
pub fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_roots_are_smallest() {
        let mut uf = UnionFind::new(6);
        uf.union(4, 5);
        uf.union(5, 2);
        uf.union(0, 1);
        assert_eq!(uf.find(4), 2);
        assert_eq!(uf.find(5), 2);
        assert_eq!(uf.find(1), 0);
        assert_eq!(uf.find(3), 3);
        assert!(!uf.union(2, 4));
    }

    #[test]
    fn representative_ordering() {
        let dated = RepresentativeKey {
            undated: false,
            date: "2024-01-02",
            order: 9,
        };
        let earlier = RepresentativeKey {
            undated: false,
            date: "2024-01-01T23:00",
            order: 10,
        };
        let undated = RepresentativeKey {
            undated: true,
            date: "",
            order: 0,
        };
        let mut v = vec![undated.clone(), dated.clone(), earlier.clone()];
        v.sort();
        assert_eq!(v, vec![earlier, dated, undated]);
        assert!(is_iso_date("2024-12-09"));
        assert!(is_iso_date("2024-12-09T10:00:00Z"));
        assert!(!is_iso_date("Dec 9, 2024"));
    }
}
