//! An exact Hamming-distance index over 64-bit SimHash fingerprints: fingerprints in,
//! every pair within distance `k` out, without comparing all pairs.
//!
//! The 64 bits are cut into `b > k` blocks. Two fingerprints within distance `k` differ in
//! at most `k` blocks, so they agree exactly on at least `b - k` of them (pigeonhole).
//! One table per choice of `b - k` blocks keys every fingerprint by those blocks' bits;
//! pairs within distance `k` are then guaranteed to share a key in some table, and each
//! bucket is checked with a popcount (Manku, Jain, Das Sarma, WWW 2007). `b` is chosen
//! from `k` and the number of fingerprints to minimise (tables x sorting) + (random
//! collisions to check); the tables are sorted and probed in parallel. The result is
//! exact for any `k` (the oracle test checks k = 0..=8 against brute force).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{DocId, Pair};

/// The table layout chosen for a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HammingPlan {
    pub blocks: u32,
    pub tables: usize,
    /// Bits in the smallest table key.
    pub key_bits: u32,
}

/// Counts from one search, for `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HammingStats {
    /// Blocks the 64 bits were cut into.
    pub blocks: u32,
    /// Tables probed.
    pub tables: u64,
    /// Bits in the smallest table key.
    pub key_bits: u32,
    /// Fingerprint pairs compared with a popcount.
    pub compared: u64,
    /// Pairs within the distance.
    pub pairs: u64,
}

fn binomial(n: u64, k: u64) -> u64 {
    let k = k.min(n - k);
    (0..k).fold(1u64, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// Block boundaries of `b` near-equal blocks of the 64 bits.
fn block_masks(b: u32) -> Vec<u64> {
    (0..b)
        .map(|i| {
            let start = 64 * i / b;
            let end = 64 * (i + 1) / b;
            let width = end - start;
            if width == 64 {
                u64::MAX
            } else {
                ((1u64 << width) - 1) << start
            }
        })
        .collect()
}

const MAX_TABLES: u64 = 4096;

/// The number of blocks for distance `k` over `n` fingerprints.
#[must_use]
pub fn plan(k: u32, n: usize) -> HammingPlan {
    let n = n.max(2) as f64;
    let mut best: Option<(f64, HammingPlan)> = None;
    for b in (k + 1)..=64.min(k + 24) {
        let tables = binomial(u64::from(b), u64::from(k));
        if tables > MAX_TABLES && best.is_some() {
            break;
        }
        // the key is b - k blocks; the narrowest blocks make the weakest key
        let mut widths: Vec<u32> = block_masks(b).iter().map(|m| m.count_ones()).collect();
        widths.sort_unstable();
        let key_bits: u32 = widths[..(b - k) as usize].iter().sum();
        let sort_cost = tables as f64 * n * n.log2();
        let collisions =
            tables as f64 * n * n / 2f64.powi(i32::try_from(key_bits).unwrap_or(64) + 1);
        let cost = sort_cost + collisions;
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            best = Some((
                cost,
                HammingPlan {
                    blocks: b,
                    tables: tables as usize,
                    key_bits,
                },
            ));
        }
    }
    best.expect("b = k + 1 is always considered").1
}

/// The key masks of every table of a plan: each the union of `blocks - k` blocks.
fn table_masks(blocks: u32, k: u32) -> Vec<u64> {
    let masks = block_masks(blocks);
    let keep = (blocks - k) as usize;
    let mut out = Vec::new();
    let mut choice: Vec<usize> = (0..keep).collect();
    loop {
        out.push(choice.iter().fold(0u64, |m, &i| m | masks[i]));
        // next combination in lexicographic order
        let mut i = keep;
        while i > 0 && choice[i - 1] == masks.len() - keep + i - 1 {
            i -= 1;
        }
        if i == 0 {
            break;
        }
        choice[i - 1] += 1;
        for j in i..keep {
            choice[j] = choice[j - 1] + 1;
        }
    }
    out
}

/// Every pair of fingerprints at Hamming distance at most `k`, sorted, each once.
#[must_use]
pub fn near_pairs(fingerprints: &[u64], k: u32) -> (Vec<Pair>, HammingStats) {
    let k = k.min(63);
    let plan = plan(k, fingerprints.len());
    let masks = table_masks(plan.blocks, k);
    let per_table: Vec<(Vec<Pair>, u64)> = masks
        .par_iter()
        .map(|&mask| {
            let mut keyed: Vec<(u64, DocId)> = fingerprints
                .iter()
                .enumerate()
                .map(|(d, &f)| (f & mask, d as DocId))
                .collect();
            keyed.sort_unstable();
            let (mut pairs, mut compared) = (Vec::new(), 0u64);
            let mut start = 0;
            while start < keyed.len() {
                let mut end = start + 1;
                while end < keyed.len() && keyed[end].0 == keyed[start].0 {
                    end += 1;
                }
                for i in start..end {
                    let (a, fa) = (keyed[i].1, fingerprints[keyed[i].1 as usize]);
                    for &(_, b) in &keyed[i + 1..end] {
                        compared += 1;
                        if (fa ^ fingerprints[b as usize]).count_ones() <= k {
                            pairs.push((a.min(b), a.max(b)));
                        }
                    }
                }
                start = end;
            }
            (pairs, compared)
        })
        .collect();
    let compared = per_table.iter().map(|(_, c)| c).sum();
    let mut pairs: Vec<Pair> = per_table.into_iter().flat_map(|(p, _)| p).collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    let stats = HammingStats {
        blocks: plan.blocks,
        tables: plan.tables as u64,
        key_bits: plan.key_bits,
        compared,
        pairs: pairs.len() as u64,
    };
    (pairs, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_partition_the_bits_and_tables_enumerate_combinations() {
        for b in 1..=20 {
            let m = block_masks(b);
            assert_eq!(m.iter().fold(0u64, |a, x| a | x), u64::MAX);
            assert_eq!(m.iter().map(|x| x.count_ones()).sum::<u32>(), 64);
        }
        assert_eq!(table_masks(6, 3).len(), 20);
        assert_eq!(table_masks(1, 0), vec![u64::MAX]);
        let p = plan(3, 100_000);
        assert!(p.blocks > 3 && p.key_bits >= 16, "{p:?}");
    }
}
