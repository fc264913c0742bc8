//! MinHash signatures by one-permutation hashing (OPH) with optimal densification.
//!
//! In: a shingle set (64-bit hashes). Out: `num_perm` 32-bit values such that, for two
//! sets A and B, each position is equal with probability J(A, B).
//!
//! Classic MinHash applies `num_perm` hash functions to every shingle: 128 multiply-adds
//! per shingle, the hot path of every peer. OPH hashes each shingle once, uses the top
//! bits to pick one of `num_perm` bins and keeps the minimum of the low bits per bin:
//! O(n + num_perm) per document (Li, Owen, Zhang 2012). Bins left empty (documents with
//! fewer shingles than bins) borrow the value of a filled bin chosen by a seeded probe
//! sequence that depends only on the bin index (Shrivastava 2017, "optimal
//! densification"); two documents probe identically, so equality still happens with
//! probability J. The measured estimation error is recorded in `benches/README.md` and
//! bounded by a property test against exact Jaccard.
//!
//! Work per document is O(n + num_perm) whatever the set: a bin's probe sequence is cut
//! after `MAX_PROBES` misses and goes on as a scan to the next filled bin, so a document
//! with one or two shingles does not cost num_perm² hashes (see `densify`).

use crate::params::MinHashParams;

/// A MinHash signature: `num_perm` bin minima.
pub type Signature = Vec<u32>;

/// The splitmix64 finalizer: a cheap bijective mixer that decorrelates the bin choice
/// from the shingle seed.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Reusable per-thread state for computing signatures.
pub struct MinHasher {
    num_perm: usize,
    seed: u64,
    filled: Vec<bool>,
    /// Scratch for `densify`.
    next_filled: Vec<u32>,
}

impl MinHasher {
    /// A hasher for `num_perm`-value signatures under `seed`: equal parameters give
    /// comparable signatures, in any thread or run.
    #[must_use]
    pub fn new(params: &MinHashParams) -> Self {
        MinHasher {
            num_perm: params.num_perm,
            seed: params.seed,
            filled: vec![false; params.num_perm],
            next_filled: Vec::new(),
        }
    }

    /// Fills `out` with the signature of `shingles`. Returns false (and leaves `out`
    /// all `u32::MAX`) for an empty set, which has no meaningful signature.
    pub fn sketch(&mut self, shingles: &[u64], out: &mut Signature) -> bool {
        let k = self.num_perm;
        out.clear();
        out.resize(k, u32::MAX);
        self.filled.iter_mut().for_each(|f| *f = false);
        if shingles.is_empty() {
            return false;
        }
        let k64 = k as u64;
        for &s in shingles {
            let h = mix64(s ^ self.seed);
            // top 32 bits pick the bin (Lemire's fast range), low 32 bits are the value
            let bin = (((h >> 32) * k64) >> 32) as usize;
            let v = h as u32;
            out[bin] = out[bin].min(v);
            self.filled[bin] = true;
        }
        if shingles.len() < k || self.filled.iter().any(|f| !f) {
            self.densify(out);
        }
        true
    }

    /// Fills every empty bin from a filled one. A bin's donor is the first filled bin of a
    /// sequence fixed by the bin index alone: `MAX_PROBES` seeded probes, then the bins
    /// after the last probe, in circular order. The sequence does not depend on the set,
    /// so two documents borrow alike and a position still agrees with probability J.
    /// Seeded probes alone need num_perm / filled tries a bin: num_perm² hashes for a
    /// one-shingle document; the scan bounds a bin at `MAX_PROBES` hashes and one lookup.
    fn densify(&mut self, sig: &mut Signature) {
        let k = self.num_perm;
        let Some(first_filled) = self.filled.iter().position(|&f| f) else {
            return;
        };
        if self.filled[first_filled + 1..].iter().all(|&f| !f) {
            // one filled bin: every sequence ends there
            let v = sig[first_filled];
            sig.fill(v);
            return;
        }
        // next_filled[b]: the first filled bin at or after b, wrapping around
        self.next_filled.clear();
        self.next_filled.resize(k, 0);
        let mut next = first_filled;
        for bin in (0..k).rev() {
            if self.filled[bin] {
                next = bin;
            }
            self.next_filled[bin] = next as u32;
        }
        let k64 = k as u64;
        for bin in 0..k {
            if self.filled[bin] {
                continue;
            }
            let mut donor = 0;
            let mut found = false;
            for attempt in 0..MAX_PROBES {
                let h = mix64(self.seed.rotate_left(17) ^ ((bin as u64) << 32) ^ attempt);
                donor = (((h >> 32) * k64) >> 32) as usize;
                if self.filled[donor] {
                    found = true;
                    break;
                }
            }
            if !found {
                donor = self.next_filled[donor] as usize;
            }
            sig[bin] = sig[donor];
        }
    }
}

/// Seeded probes an empty bin tries before it scans for the next filled bin. With f of k
/// bins filled, a bin falls back to the scan with probability (1 - f/k)^64: under 1e-5
/// once a sixth of the bins are filled, under 1e-8 once a quarter are; and for one filled
/// bin, whose value every bin takes either way, the scan is never needed.
const MAX_PROBES: u64 = 64;

/// Fraction of equal positions: the MinHash estimate of Jaccard similarity.
#[must_use]
pub fn estimate_jaccard(a: &[u32], b: &[u32]) -> f64 {
    debug_assert_eq!(a.len(), b.len(), "signatures of different lengths");
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(set: &[u64]) -> Signature {
        let mut h = MinHasher::new(&MinHashParams::default());
        let mut s = Vec::new();
        assert!(h.sketch(set, &mut s));
        s
    }

    #[test]
    fn identical_sets_identical_signatures() {
        let a: Vec<u64> = (0..1000).map(|i| i * 7919).collect();
        assert_eq!(sig(&a), sig(&a));
        let mut shuffled = a.clone();
        shuffled.reverse();
        assert_eq!(sig(&a), sig(&shuffled), "order must not matter");
    }

    #[test]
    fn tiny_sets_are_densified() {
        let s = sig(&[42]);
        assert!(
            s.iter().all(|&v| v == s[0]),
            "one shingle fills every bin with its value"
        );
        let two = sig(&[1, 2]);
        assert!(two.iter().all(|&v| v != u32::MAX));
    }

    /// The densification before probes were bounded: seeded probes until a filled bin.
    fn unbounded_probes(set: &[u64], params: &MinHashParams) -> Signature {
        let k = params.num_perm;
        let mut sig = vec![u32::MAX; k];
        let mut filled = vec![false; k];
        for &s in set {
            let h = mix64(s ^ params.seed);
            let bin = (((h >> 32) * k as u64) >> 32) as usize;
            sig[bin] = sig[bin].min(h as u32);
            filled[bin] = true;
        }
        for bin in (0..k).filter(|&bin| !filled[bin]) {
            for attempt in 0u64.. {
                let h = mix64(params.seed.rotate_left(17) ^ ((bin as u64) << 32) ^ attempt);
                let donor = (((h >> 32) * k as u64) >> 32) as usize;
                if filled[donor] {
                    sig[bin] = sig[donor];
                    break;
                }
            }
        }
        sig
    }

    #[test]
    fn bounded_probes_agree_with_unbounded_ones_unless_bins_are_few() {
        let params = MinHashParams::default();
        let mut h = MinHasher::new(&params);
        let mut s = Vec::new();
        // from one shingle (every bin takes its value either way) to more than num_perm
        for n in [1u64, 24, 32, 64, 100, 127, 128, 300] {
            let set: Vec<u64> = (0..n)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect();
            assert!(h.sketch(&set, &mut s));
            assert_eq!(s, unbounded_probes(&set, &params), "{n} shingles");
        }
    }

    #[test]
    fn few_shingles_in_many_bins_borrow_alike_and_fill_every_bin() {
        let params = MinHashParams {
            num_perm: 4096,
            ..MinHashParams::default()
        };
        let mut h = MinHasher::new(&params);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert!(h.sketch(&[7, 8], &mut a));
        let values: std::collections::HashSet<u32> = a.iter().copied().collect();
        assert_eq!(values.len(), 2, "every bin holds one of the two minima");
        // the same set in another order, after another document, borrows identically
        assert!(h.sketch(&[1, 2, 3, 4, 5], &mut b));
        assert!(h.sketch(&[8, 7], &mut b));
        assert_eq!(a, b);
    }

    #[test]
    fn empty_set_has_no_signature() {
        let mut h = MinHasher::new(&MinHashParams::default());
        let mut s = Vec::new();
        assert!(!h.sketch(&[], &mut s));
    }

    #[test]
    fn disjoint_sets_rarely_agree() {
        let a: Vec<u64> = (0..500).collect();
        let b: Vec<u64> = (1000..1500).collect();
        assert!(estimate_jaccard(&sig(&a), &sig(&b)) < 0.05);
    }
}
