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

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{DocId, Pair};

/// The table layout chosen for a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HammingPlan {
    /// Blocks `b` the 64 bits are cut into (more than `k`).
    pub blocks: u32,
    /// Tables, one per choice of `b - k` blocks: C(b, k).
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

/// The same search, one fingerprint at a time: fingerprints are added with increasing
/// ids, and each query returns the ids added so far within distance `k`, ascending. Used
/// among the paragraphs of one document, where a pair is looked at only once its second
/// paragraph arrives. When the plan for `k` and the expected count would cost more than
/// comparing every pair (large `k`, few fingerprints), it keeps a plain list instead; the
/// answer is the same either way.
#[derive(Debug, Clone)]
pub struct NearIndex {
    k: u32,
    /// One key mask a table; empty for the plain list.
    masks: Vec<u64>,
    tables: Vec<HashMap<u64, Vec<u32>>>,
    /// Every (id, fingerprint) added, in order.
    all: Vec<(u32, u64)>,
}

impl NearIndex {
    /// An empty index for distance `k` (at most 63) sized for about `expected` fingerprints.
    #[must_use]
    pub fn new(k: u32, expected: usize) -> Self {
        let k = k.min(63);
        let plan = plan(k, expected);
        let n = expected.max(2) as f64;
        let indexed = plan.tables as f64 * n * n.log2()
            + plan.tables as f64 * n * n
                / 2f64.powi(i32::try_from(plan.key_bits).unwrap_or(64) + 1);
        let masks = if indexed < n * n / 2.0 {
            table_masks(plan.blocks, k)
        } else {
            Vec::new()
        };
        NearIndex {
            k,
            tables: vec![HashMap::new(); masks.len()],
            masks,
            all: Vec::new(),
        }
    }

    /// Adds fingerprint `f` as `id`, larger than every id added before.
    pub fn insert(&mut self, id: u32, f: u64) {
        debug_assert!(self.all.last().is_none_or(|&(last, _)| last < id));
        self.all.push((id, f));
        for (table, &mask) in self.tables.iter_mut().zip(&self.masks) {
            table.entry(f & mask).or_default().push(id);
        }
    }

    /// The ids added so far whose fingerprint is within distance `k` of `f`, ascending,
    /// written into `out`.
    pub fn near(&self, f: u64, out: &mut Vec<u32>) {
        out.clear();
        if self.masks.is_empty() {
            out.extend(
                self.all
                    .iter()
                    .filter(|&&(_, g)| (f ^ g).count_ones() <= self.k)
                    .map(|&(id, _)| id),
            );
            return;
        }
        for (table, &mask) in self.tables.iter().zip(&self.masks) {
            if let Some(ids) = table.get(&(f & mask)) {
                out.extend_from_slice(ids);
            }
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&id| {
            let i = self.all.partition_point(|&(other, _)| other < id);
            (f ^ self.all[i].1).count_ones() <= self.k
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_incremental_index_finds_what_a_scan_finds() {
        let mut next = crate::testing::xorshift(0x1234_5678_9abc_def0u64);
        let base = next();
        // clusters of fingerprints a few bits apart, and random ones
        let prints: Vec<u64> = (0..600)
            .map(|i| {
                if i % 3 == 0 {
                    next()
                } else {
                    let r = next();
                    base ^ (1u64 << (r % 64))
                        ^ (1u64 << ((r >> 8) % 64))
                        ^ (1u64 << ((r >> 16) % 64))
                }
            })
            .collect();
        for k in [0, 3, 6, 14, 40] {
            let mut index = NearIndex::new(k, prints.len());
            let indexed = !index.masks.is_empty();
            let mut got = Vec::new();
            for (j, &f) in prints.iter().enumerate() {
                index.near(f, &mut got);
                let want: Vec<u32> = (0..j)
                    .filter(|&i| (prints[i] ^ f).count_ones() <= k)
                    .map(|i| i as u32)
                    .collect();
                assert_eq!(got, want, "k = {k}, fingerprint {j}");
                index.insert(j as u32, f);
            }
            assert_eq!(indexed, k <= 6, "k = {k}: tables only where they pay");
        }
    }

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
