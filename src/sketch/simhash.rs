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
/// empty input gives 0. Bit i is set when more than half the features have it set. The
/// counting is SWAR: eight byte-wide counters per `u64`, flushed before they can
/// overflow, so a feature costs 8 table lookups and adds instead of 64 (this runs once
/// per word of every paragraph).
#[must_use]
pub fn simhash(features: &[u64]) -> u64 {
    let mut wide = [0u32; 64];
    let mut narrow = [0u64; 8];
    let flush = |narrow: &mut [u64; 8], wide: &mut [u32; 64]| {
        for (j, word) in narrow.iter_mut().enumerate() {
            for k in 0..8 {
                wide[8 * j + k] += ((*word >> (8 * k)) & 0xff) as u32;
            }
            *word = 0;
        }
    };
    for chunk in features.chunks(255) {
        for &f in chunk {
            let h = mix(f);
            for (j, word) in narrow.iter_mut().enumerate() {
                *word += SPREAD[((h >> (8 * j)) & 0xff) as usize];
            }
        }
        flush(&mut narrow, &mut wide);
    }
    let n = features.len() as u32;
    wide.iter().enumerate().fold(
        0u64,
        |acc, (bit, &c)| if 2 * c > n { acc | 1 << bit } else { acc },
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
