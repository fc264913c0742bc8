//! 64-bit SimHash fingerprints (Charikar 2002; Manku, Jain, Das Sarma 2007).
//!
//! In: weighted features (64-bit hashes). Out: 64 bits, bit i set when the weighted vote
//! of bit i over all features is positive. Similar feature sets give fingerprints at a
//! small Hamming distance (expected distance 64 * angle / pi between the weight vectors).

/// Byte `k` of `SPREAD[b]` is bit `k` of `b`: adding `SPREAD[byte]` to a word of eight
/// byte-wide counters counts eight bits at once.
const SPREAD: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 8 {
            t[b] |= (((b >> k) & 1) as u64) << (8 * k);
            k += 1;
        }
        b += 1;
    }
    t
};

/// SimHash of `features`, each with weight 1 (a feature listed twice counts twice). An
/// empty input gives 0. Bit i is set when more than half the features have it set.
///
/// The 64 counts are bit-sliced: bit i of `planes[k]` is bit k of bit i's count, so one
/// word operation adds to all 64 counters at once. Eight features at a time go through a
/// carry-save adder tree into the weight-1, 2 and 4 planes (Harley and Seal's population
/// count), and only its weight-8 carry ripples into the planes above; the vote is then a
/// bit-sliced comparison of every count with half the features. This runs once per
/// paragraph of every document, most of them a few dozen words long: the byte-wide
/// counters it replaces cost 8 table lookups a feature and a 64-counter flush a call.
#[must_use]
pub fn simhash(features: &[u64]) -> u64 {
    let n = features.len() as u64;
    // planes needed for counts up to n
    let depth = (u64::BITS - n.leading_zeros()) as usize;
    let mut planes = [0u64; 64];
    let (mut ones, mut twos, mut fours) = (0u64, 0u64, 0u64);
    let mut blocks = features.chunks_exact(8);
    for block in &mut blocks {
        let f: [u64; 8] = std::array::from_fn(|i| mix(block[i]));
        let (twos_a, o) = carry_save(ones, f[0], f[1]);
        let (twos_b, o) = carry_save(o, f[2], f[3]);
        let (fours_a, t) = carry_save(twos, twos_a, twos_b);
        let (twos_a, o) = carry_save(o, f[4], f[5]);
        let (twos_b, o) = carry_save(o, f[6], f[7]);
        let (fours_b, t) = carry_save(t, twos_a, twos_b);
        let (eights, q) = carry_save(fours, fours_a, fours_b);
        (ones, twos, fours) = (o, t, q);
        add_to_planes(&mut planes[3..depth.max(3)], eights);
    }
    planes[0] = ones;
    planes[1] = twos;
    planes[2] = fours;
    for &f in blocks.remainder() {
        add_to_planes(&mut planes[..depth], mix(f));
    }
    // bit i is set when its count c > n / 2 (that is, 2c > n): compared from the top plane
    // down, `above` holding the bits whose count is already larger, `equal` those whose
    // bits so far equal half's
    let half = n / 2;
    let (mut above, mut equal) = (0u64, u64::MAX);
    for (k, &plane) in planes[..depth].iter().enumerate().rev() {
        if half >> k & 1 == 0 {
            above |= equal & plane;
            equal &= !plane;
        } else {
            equal &= plane;
        }
    }
    above
}

/// A carry-save adder of three words of bits: (the carries, weight 2; the sums, weight 1).
#[inline]
fn carry_save(a: u64, b: u64, c: u64) -> (u64, u64) {
    let u = a ^ b;
    ((a & b) | (u & c), u ^ c)
}

/// Adds one to the bit-sliced counters of the bits set in `word` (a ripple carry through
/// `planes`, the lowest first); the counts stay below `2^planes.len()`.
#[inline]
fn add_to_planes(planes: &mut [u64], mut word: u64) {
    for plane in planes {
        let carry = *plane & word;
        *plane ^= word;
        word = carry;
    }
}

/// SimHash of features with small integer weights (1..=15), counted in byte-wide counters
/// (eight to a `u64`, `SPREAD`): a feature of weight w adds w to the counters of its set
/// bits, and the counters are flushed every 16 features, before 16 x 15 could overflow
/// them.
#[must_use]
pub fn simhash_weighted_int(features: &[(u64, u8)]) -> u64 {
    let mut wide = [0u32; 64];
    let mut narrow = [0u64; 8];
    let mut total = 0u32;
    for chunk in features.chunks(16) {
        for &(f, w) in chunk {
            let w = w.clamp(1, 15);
            total += u32::from(w);
            let h = mix(f);
            for (j, word) in narrow.iter_mut().enumerate() {
                *word += SPREAD[((h >> (8 * j)) & 0xff) as usize] * u64::from(w);
            }
        }
        for (j, word) in narrow.iter_mut().enumerate() {
            for k in 0..8 {
                wide[8 * j + k] += ((*word >> (8 * k)) & 0xff) as u32;
            }
            *word = 0;
        }
    }
    wide.iter().enumerate().fold(
        0u64,
        |acc, (bit, &c)| if 2 * c > total { acc | 1 << bit } else { acc },
    )
}

/// SimHash of `(feature, weight)` pairs.
pub fn simhash_weighted(features: impl IntoIterator<Item = (u64, f64)>) -> u64 {
    let mut votes = [0f64; 64];
    for (f, w) in features {
        // re-mix so that structure in the feature hashes cannot bias single bits
        let h = mix(f);
        for (bit, v) in votes.iter_mut().enumerate() {
            if h >> bit & 1 == 1 {
                *v += w;
            } else {
                *v -= w;
            }
        }
    }
    votes.iter().enumerate().fold(
        0u64,
        |acc, (bit, &v)| if v > 0.0 { acc | 1 << bit } else { acc },
    )
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

/// Number of differing bits.
#[inline]
#[must_use]
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_simhash_equals_the_weighted_vote() {
        for n in [0u64, 1, 7, 254, 255, 256, 1000] {
            let f: Vec<u64> = (0..n)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect();
            assert_eq!(
                simhash(&f),
                simhash_weighted(f.iter().map(|&x| (x, 1.0))),
                "n = {n}"
            );
        }
    }

    /// The vote counted one bit at a time: what `simhash`'s bit-sliced counting replaces.
    fn simhash_by_bits(features: &[u64]) -> u64 {
        let mut counts = [0u64; 64];
        for &f in features {
            let h = mix(f);
            for (bit, count) in counts.iter_mut().enumerate() {
                *count += h >> bit & 1;
            }
        }
        let n = features.len() as u64;
        (0..64)
            .filter(|&bit| 2 * counts[bit] > n)
            .fold(0, |acc, bit| acc | 1 << bit)
    }

    /// Every length up to 300 (every remainder of the blocks of eight, counts at and near
    /// each power of two) and longer inputs; random features, features repeated (whole
    /// columns of counts at exactly half, where the vote is decided by `>`), and features
    /// whose mixed bits all agree.
    #[test]
    fn bit_sliced_counting_is_the_vote_bit_by_bit() {
        let mut next = crate::testing::xorshift(0x5eed_51a5);
        let lengths = (0..300).chain([511, 512, 513, 1023, 1024, 1025, 4099, 70_000]);
        for n in lengths {
            let random: Vec<u64> = (0..n).map(|_| next()).collect();
            assert_eq!(
                simhash(&random),
                simhash_by_bits(&random),
                "random, n = {n}"
            );
            // two features, each repeated: half the counts are n / 2 (or around it)
            let (a, b) = (next(), next());
            let pairs: Vec<u64> = (0..n).map(|i| if i % 2 == 0 { a } else { b }).collect();
            assert_eq!(simhash(&pairs), simhash_by_bits(&pairs), "pairs, n = {n}");
            let same = vec![a; n];
            assert_eq!(simhash(&same), simhash_by_bits(&same), "same, n = {n}");
            assert_eq!(
                simhash(&same),
                if n == 0 { 0 } else { mix(a) },
                "same, n = {n}"
            );
        }
    }

    #[test]
    fn integer_weights_equal_the_weighted_vote() {
        let f: Vec<(u64, u8)> = (0..500u64)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15), (i % 15 + 1) as u8))
            .collect();
        let float = simhash_weighted(f.iter().map(|&(x, w)| (x, f64::from(w))));
        assert_eq!(simhash_weighted_int(&f), float);
    }

    #[test]
    fn identical_inputs_distance_zero_and_order_free() {
        let f: Vec<u64> = (0..200).map(|i| i * 31 + 7).collect();
        let mut r = f.clone();
        r.reverse();
        assert_eq!(simhash(&f), simhash(&r));
        assert_eq!(hamming(simhash(&f), simhash(&r)), 0);
    }

    #[test]
    fn near_sets_are_near_and_far_sets_are_far() {
        let a: Vec<u64> = (0..400).collect();
        let mut b = a.clone();
        b[..20].iter_mut().for_each(|x| *x += 10_000); // 5% of features changed
        let c: Vec<u64> = (50_000..50_400).collect();
        let near = hamming(simhash(&a), simhash(&b));
        let far = hamming(simhash(&a), simhash(&c));
        assert!(near <= 12, "near distance {near}");
        assert!(far >= 16, "far distance {far}");
    }
}

/// Document frequencies of shingles, estimated with a count-min sketch (2 rows of 2^23
/// counters, 64 MB) so that memory does not grow with the vocabulary. Counts only ever
/// over-estimate; with hundreds of millions of (document, shingle) pairs the error lands
/// on rare shingles, whose weight it lowers. Workers add documents concurrently; the sums
/// do not depend on the order, so fingerprints stay deterministic.
pub struct DocFrequency {
    rows: Vec<Vec<std::sync::atomic::AtomicU32>>,
    docs: std::sync::atomic::AtomicU64,
}

const CMS_ROWS: usize = 2;
const CMS_BITS: u32 = 23;

impl Default for DocFrequency {
    fn default() -> Self {
        DocFrequency {
            rows: (0..CMS_ROWS)
                .map(|_| {
                    (0..1usize << CMS_BITS)
                        .map(|_| std::sync::atomic::AtomicU32::new(0))
                        .collect()
                })
                .collect(),
            docs: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl DocFrequency {
    fn slot(row: usize, shingle: u64) -> usize {
        (mix(shingle ^ (row as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> (64 - CMS_BITS))
            as usize
    }

    /// Counts one document; `distinct` must not repeat a shingle.
    pub fn add_document(&self, distinct: &[u64]) {
        use std::sync::atomic::Ordering::Relaxed;
        self.docs.fetch_add(1, Relaxed);
        for &s in distinct {
            for (r, row) in self.rows.iter().enumerate() {
                row[Self::slot(r, s)].fetch_add(1, Relaxed);
            }
        }
    }

    /// Estimated number of documents holding `shingle` (never less than the truth).
    #[must_use]
    pub fn estimate(&self, shingle: u64) -> u32 {
        use std::sync::atomic::Ordering::Relaxed;
        self.rows
            .iter()
            .enumerate()
            .map(|(r, row)| row[Self::slot(r, shingle)].load(Relaxed))
            .min()
            .unwrap_or(0)
    }

    /// The idf rounded to a SimHash weight in 1..=15.
    #[must_use]
    pub fn weight(&self, shingle: u64) -> u8 {
        self.idf(shingle).round().clamp(1.0, 15.0) as u8
    }

    /// Smoothed inverse document frequency, `ln((N + 1) / (df + 1)) + 1`.
    #[must_use]
    pub fn idf(&self, shingle: u64) -> f64 {
        let n = self.docs.load(std::sync::atomic::Ordering::Relaxed) as f64;
        ((n + 1.0) / (f64::from(self.estimate(shingle)) + 1.0)).ln() + 1.0
    }
}

#[cfg(test)]
mod docfreq_tests {
    use super::*;

    #[test]
    fn counts_documents_and_never_underestimates() {
        let df = DocFrequency::default();
        for d in 0..50u64 {
            let set: Vec<u64> = (0..100)
                .map(|i| if i < 10 { i } else { d * 1000 + i })
                .collect();
            df.add_document(&set);
        }
        assert_eq!(df.estimate(3), 50);
        assert!(df.estimate(7042) >= 1);
        assert!(df.idf(3) < df.idf(7042));
    }
}
