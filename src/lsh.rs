//! Locality-sensitive hashing: signatures in, candidate pairs out.
//!
//! A signature is cut into `bands` bands of `rows` values; each band is hashed to a 64-bit
//! band key. Two documents are candidates when they share a key in any band. Buckets are
//! found by sorting `(key, doc)` pairs one band at a time, which needs 16 bytes a document
//! and no hash map of vectors. The output is sorted and free of duplicates, so it is the
//! same whatever the thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::ids::{DocId, Pair};

/// Writes the `bands` band keys of `sig` into `out`.
pub fn band_keys(sig: &[u32], bands: usize, rows: usize, out: &mut Vec<u64>) {
    out.clear();
    append_band_keys(sig, bands, rows, 0, out);
}

/// Appends the `bands` band keys of `sig` to `out`, band `b` hashed with seed
/// `first_seed + b`: keys of sketches with different first seeds never collide by design.
pub fn append_band_keys(
    sig: &[u32],
    bands: usize,
    rows: usize,
    first_seed: u64,
    out: &mut Vec<u64>,
) {
    let mut buf = [0u8; 4 * 64];
    for b in 0..bands {
        let band = &sig[b * rows..(b + 1) * rows];
        let key = if rows <= 64 {
            for (i, v) in band.iter().enumerate() {
                buf[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
            }
            xxh3_64_with_seed(&buf[..4 * rows], first_seed + b as u64)
        } else {
            let bytes: Vec<u8> = band.iter().flat_map(|v| v.to_le_bytes()).collect();
            xxh3_64_with_seed(&bytes, first_seed + b as u64)
        };
        out.push(key);
    }
}

/// Band keys of every document, band-major (`keys[band][doc]`), so one band can be sorted
/// without touching the others.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BandTable {
    /// One vector per band, indexed by document id; every band has the same length.
    pub keys: Vec<Vec<u64>>,
}

impl BandTable {
    /// A table of `bands` bands and no documents yet.
    #[must_use]
    pub fn new(bands: usize) -> Self {
        BandTable {
            keys: vec![Vec::new(); bands],
        }
    }

    /// Appends one document's band keys; documents are numbered in push order.
    pub fn push(&mut self, doc_keys: &[u64]) {
        for (band, &k) in self.keys.iter_mut().zip(doc_keys) {
            band.push(k);
        }
    }

    /// Documents pushed so far (0 for a table of no bands).
    #[must_use]
    pub fn docs(&self) -> usize {
        self.keys.first().map_or(0, Vec::len)
    }
}

/// Statistics of the candidate stage, reported in `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CandidateStats {
    /// Distinct candidate pairs from the bands (article and opening), buckets capped.
    pub pairs: u64,
    /// Documents in the largest bucket (all sharing one key), capped or not.
    pub largest_bucket: u64,
    /// Buckets over `max_bucket`, paired as a sliding window instead of in full.
    pub capped_buckets: u64,
    /// Pairs found by the opening bands (documents whose opening paragraphs collide), before
    /// they are merged with the others; many are found by the article bands too.
    pub opening_pairs: u64,
}

/// The candidate pairs of one bucket (documents sharing a key in one band), given in
/// ascending document order: every pair, or for a bucket of more than `max_bucket`
/// documents, each member with its next `max_bucket - 1` members only. Appended to `out`.
pub fn bucket_pairs<T>(
    bucket: &[T],
    doc: impl Fn(&T) -> DocId,
    max_bucket: usize,
    out: &mut Vec<Pair>,
) {
    for (i, a) in bucket.iter().enumerate() {
        let reach = (i + max_bucket).min(bucket.len());
        let a = doc(a);
        out.extend(bucket[i + 1..reach].iter().map(|b| (a, doc(b))));
    }
}

/// All pairs of documents sharing a band key, sorted, without duplicates. A bucket of
/// more than `max_bucket` documents pairs each member with its next `max_bucket - 1`
/// members only (see `LshParams::max_bucket`).
#[must_use]
pub fn candidates(table: &BandTable, max_bucket: usize) -> (Vec<Pair>, CandidateStats) {
    let mut stats = CandidateStats::default();
    let mut pairs: Vec<Pair> = Vec::new();
    let mut entries: Vec<(u64, DocId)> = Vec::with_capacity(table.docs());
    for band in &table.keys {
        entries.clear();
        entries.extend(band.iter().enumerate().map(|(doc, &k)| (k, doc as DocId)));
        entries.par_sort_unstable();
        let before = pairs.len();
        let mut start = 0;
        while start < entries.len() {
            let key = entries[start].0;
            let mut end = start + 1;
            while end < entries.len() && entries[end].0 == key {
                end += 1;
            }
            let bucket = &entries[start..end];
            stats.largest_bucket = stats.largest_bucket.max(bucket.len() as u64);
            if bucket.len() > max_bucket {
                stats.capped_buckets += 1;
            }
            bucket_pairs(bucket, |&(_, d)| d, max_bucket, &mut pairs);
            start = end;
        }
        // keep the list from holding one copy of each pair per band
        if pairs.len() - before > 0 && pairs.len() > 1 << 20 {
            pairs.par_sort_unstable();
            pairs.dedup();
        }
    }
    pairs.par_sort_unstable();
    pairs.dedup();
    stats.pairs = pairs.len() as u64;
    (pairs, stats)
}

/// All pairs of documents sharing a key among `(key, doc)` entries (a document may have
/// any number of keys), sorted, without duplicates; buckets capped as in `candidates`.
#[must_use]
pub fn key_candidates(
    mut entries: Vec<(u64, DocId)>,
    max_bucket: usize,
) -> (Vec<Pair>, CandidateStats) {
    let mut stats = CandidateStats::default();
    entries.par_sort_unstable();
    entries.dedup();
    let mut pairs: Vec<Pair> = Vec::new();
    for bucket in entries.chunk_by(|x, y| x.0 == y.0) {
        stats.largest_bucket = stats.largest_bucket.max(bucket.len() as u64);
        if bucket.len() > max_bucket {
            stats.capped_buckets += 1;
        }
        bucket_pairs(bucket, |&(_, d)| d, max_bucket, &mut pairs);
    }
    pairs.par_sort_unstable();
    pairs.dedup();
    stats.pairs = pairs.len() as u64;
    (pairs, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_signatures_collide_in_every_band() {
        let sig: Vec<u32> = (0..128).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        band_keys(&sig, 16, 8, &mut a);
        band_keys(&sig, 16, 8, &mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        // the same rows in different bands do not share keys
        let flat = vec![7u32; 128];
        band_keys(&flat, 16, 8, &mut a);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn candidates_are_sorted_unique_and_capped() {
        let mut t = BandTable::new(2);
        // docs 0,1,2 share band 0; docs 2,3 share band 1; doc 4 alone
        for keys in [[1u64, 10], [1, 11], [1, 12], [2, 12], [3, 13]] {
            t.push(&keys);
        }
        let (pairs, stats) = candidates(&t, 256);
        assert_eq!(pairs, vec![(0, 1), (0, 2), (1, 2), (2, 3)]);
        assert_eq!(stats.largest_bucket, 3);
        let (capped, stats) = candidates(&t, 2);
        assert_eq!(capped, vec![(0, 1), (1, 2), (2, 3)]);
        assert_eq!(stats.capped_buckets, 1);
    }

    #[test]
    fn key_candidates_pair_documents_sharing_any_key() {
        // doc 0 has two keys, one shared with doc 2 and one with doc 3; doc 1 repeats a key
        let entries = vec![(5, 0), (9, 3), (7, 1), (7, 1), (5, 2), (9, 0), (8, 4)];
        let (pairs, stats) = key_candidates(entries, 256);
        assert_eq!(pairs, vec![(0, 2), (0, 3)]);
        assert_eq!((stats.pairs, stats.largest_bucket), (2, 2));
        let mut sig = Vec::new();
        band_keys(&[1, 2, 3, 4], 2, 2, &mut sig);
        let mut other = Vec::new();
        append_band_keys(&[1, 2, 3, 4], 2, 2, 1 << 32, &mut other);
        assert!(
            sig.iter().all(|k| !other.contains(k)),
            "seeds keep the two apart"
        );
    }
}
