//! Locality-sensitive hashing: signatures in, candidate pairs out.
//!
//! A signature is cut into `bands` bands of `rows` values; each band is hashed to a 64-bit
//! band key. Two documents are candidates when they share a key in any band. Buckets are
//! found by sorting `(key, doc)` pairs one band at a time, which needs 16 bytes a document
//! and no hash map of vectors. The output is sorted and free of duplicates, so it is the
//! same whatever the thread count. Past a memory budget the band table, with the opening
//! keys, goes to disk in sorted runs that are merged band by band (`runs`), with the same
//! output.

mod runs;

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use self::runs::Runs;
use crate::error::Result;
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

/// Band keys of every document, band-major, and the opening keys (any number a document,
/// see `sketch::pass::opening_keys`), held in memory up to a budget and beyond it in sorted
/// runs on disk (`runs`), so that one band can be sorted, or merged, without touching the
/// others.
pub struct BandTable {
    /// `buffer[band][i]`: the key of document `buffered_from + i` in `band`.
    buffer: Vec<Vec<u64>>,
    /// `(opening key, document)` of the buffered documents, in document order.
    openings: Vec<(u64, DocId)>,
    buffered_from: DocId,
    /// Documents in the buffer.
    buffered: usize,
    /// Bytes the buffer may take (counted as `BandTable::held` does) before it is
    /// written out as a run.
    budget: usize,
    runs: Option<Runs>,
}

impl BandTable {
    /// A table held in memory whatever its size.
    #[must_use]
    pub fn new(bands: usize) -> Self {
        BandTable {
            buffer: vec![Vec::new(); bands],
            openings: Vec::new(),
            buffered_from: 0,
            buffered: 0,
            budget: usize::MAX,
            runs: None,
        }
    }

    /// A table that holds at most about `budget` bytes of keys in memory and writes the
    /// rest into sorted runs in `dir`. The candidates do not depend on the budget.
    #[must_use]
    pub fn with_budget(bands: usize, budget: usize, dir: &Path) -> Self {
        BandTable {
            budget,
            runs: Some(Runs::new(dir)),
            ..BandTable::new(bands)
        }
    }

    /// Bytes the buffer holds, and will hold while it is written: each document's band
    /// keys and the `(key, doc)` copy of one band while it is sorted, and the opening
    /// entries (sorted where they are).
    fn held(&self) -> usize {
        let per_doc = self.buffer.len() * std::mem::size_of::<u64>() + 16;
        self.buffered * per_doc + self.openings.len() * std::mem::size_of::<(u64, DocId)>()
    }

    /// Appends one document's band keys and opening keys; documents are numbered in push
    /// order.
    pub fn push(&mut self, doc_keys: &[u64], openings: &[u64]) -> Result<()> {
        for (band, &k) in self.buffer.iter_mut().zip(doc_keys) {
            band.push(k);
        }
        let doc =
            self.buffered_from + DocId::try_from(self.buffered).expect("document ids fit a DocId");
        self.openings.extend(openings.iter().map(|&k| (k, doc)));
        self.buffered += 1;
        if self.held() >= self.budget {
            self.write_run()?;
        }
        Ok(())
    }

    /// Documents pushed so far.
    #[must_use]
    pub fn docs(&self) -> usize {
        self.buffered_from as usize + self.buffered
    }

    /// Runs written to disk so far, and their bytes.
    #[must_use]
    pub fn spilled(&self) -> (usize, u64) {
        self.runs.as_ref().map_or((0, 0), |r| (r.len(), r.bytes()))
    }

    /// Writes the buffered documents as one more run when the table has spilled, so that
    /// `spilled` counts every run the candidates will merge; nothing otherwise.
    pub fn flush(&mut self) -> Result<()> {
        if self.spilled().0 > 0 {
            self.write_run()?;
        }
        Ok(())
    }

    fn write_run(&mut self) -> Result<()> {
        let n = self.buffered;
        if n == 0 {
            return Ok(());
        }
        let runs = self
            .runs
            .as_mut()
            .expect("only a budgeted table writes runs");
        runs.write(&self.buffer, self.buffered_from, &mut self.openings)?;
        self.buffered_from += DocId::try_from(n).expect("document ids fit a DocId");
        self.buffered = 0;
        // give the memory back: the next block may never come
        for band in &mut self.buffer {
            *band = Vec::new();
        }
        self.openings = Vec::new();
        Ok(())
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

impl CandidateStats {
    /// Takes in the bucket figures (largest, capped) of candidates found apart from these
    /// (another band, the opening keys); `pairs` is left to the caller, who deduplicates.
    pub fn add_buckets(&mut self, other: &CandidateStats) {
        self.largest_bucket = self.largest_bucket.max(other.largest_bucket);
        self.capped_buckets += other.capped_buckets;
    }
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

/// Adds one bucket (the documents sharing one key in one band, in ascending order) to
/// the pairs and the statistics.
fn add_bucket(
    bucket: &[(u64, DocId)],
    max_bucket: usize,
    stats: &mut CandidateStats,
    pairs: &mut Vec<Pair>,
) {
    stats.largest_bucket = stats.largest_bucket.max(bucket.len() as u64);
    if bucket.len() > max_bucket {
        stats.capped_buckets += 1;
    }
    bucket_pairs(bucket, |&(_, d)| d, max_bucket, pairs);
}

/// Adds every bucket of `entries` (sorted `(key, doc)` entries) to the pairs and the
/// statistics, as `add_bucket` one after the other would: the entries are cut into
/// slices at bucket boundaries, paired in parallel, and the slices' pairs appended in
/// order.
fn add_buckets(
    entries: &[(u64, DocId)],
    max_bucket: usize,
    stats: &mut CandidateStats,
    pairs: &mut Vec<Pair>,
) {
    let slices = (rayon::current_num_threads() * 4).min(entries.len() / 4096 + 1);
    let mut cuts = vec![0];
    for i in 1..slices {
        let mut at = (entries.len() * i / slices).max(*cuts.last().expect("starts with 0"));
        while at > 0 && at < entries.len() && entries[at - 1].0 == entries[at].0 {
            at += 1;
        }
        cuts.push(at);
    }
    cuts.push(entries.len());
    let found: Vec<(Vec<Pair>, CandidateStats)> = cuts
        .par_windows(2)
        .map(|w| {
            let mut stats = CandidateStats::default();
            let mut pairs = Vec::new();
            for bucket in entries[w[0]..w[1]].chunk_by(|x, y| x.0 == y.0) {
                add_bucket(bucket, max_bucket, &mut stats, &mut pairs);
            }
            (pairs, stats)
        })
        .collect();
    for (slice_pairs, slice_stats) in found {
        stats.add_buckets(&slice_stats);
        pairs.extend(slice_pairs);
    }
}

/// All pairs of documents sharing a band key or an opening key, sorted, without
/// duplicates; `opening_pairs` in the statistics counts the pairs the opening keys found
/// on their own. A bucket of more than `max_bucket` documents pairs each member with its
/// next `max_bucket - 1` members only (see `LshParams::max_bucket`). A table that wrote
/// runs is merged from them band by band, with the same result as sorting it in memory.
pub fn candidates(mut table: BandTable, max_bucket: usize) -> Result<(Vec<Pair>, CandidateStats)> {
    let bands = table.buffer.len();
    let (mut pairs, mut stats, opening) = if table.spilled().0 > 0 {
        table.flush()?;
        let runs = table.runs.take().expect("a table that spilled has runs");
        let (pairs, stats) = merged_candidates(&runs, bands, max_bucket)?;
        (
            pairs,
            stats,
            merged_key_candidates(&runs, bands, max_bucket)?,
        )
    } else {
        let openings = std::mem::take(&mut table.openings);
        let (pairs, stats) = band_candidates(&table, max_bucket);
        (pairs, stats, key_candidates(openings, max_bucket))
    };
    let (opening, opening_stats) = opening;
    // an opening bucket counts toward the largest even when it pairs nothing
    if opening_stats.largest_bucket > 0 {
        stats.opening_pairs = opening_stats.pairs;
        stats.add_buckets(&opening_stats);
        pairs.extend(opening);
        pairs.par_sort_unstable();
        pairs.dedup();
        stats.pairs = pairs.len() as u64;
    }
    Ok((pairs, stats))
}

/// The pairs of a table held in memory, from its bands alone.
fn band_candidates(table: &BandTable, max_bucket: usize) -> (Vec<Pair>, CandidateStats) {
    let mut stats = CandidateStats::default();
    let mut pairs: Vec<Pair> = Vec::new();
    let mut entries: Vec<(u64, DocId)> = Vec::with_capacity(table.docs());
    for band in &table.buffer {
        entries.clear();
        entries.par_extend(
            band.par_iter()
                .enumerate()
                .map(|(doc, &k)| (k, doc as DocId)),
        );
        entries.par_sort_unstable();
        let before = pairs.len();
        add_buckets(&entries, max_bucket, &mut stats, &mut pairs);
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

/// The pairs and statistics of band `band` of the runs on disk, its runs merged k-way
/// and cut into buckets (the pairs neither sorted nor deduplicated).
fn run_band_pairs(
    runs: &Runs,
    band: usize,
    max_bucket: usize,
) -> Result<(Vec<Pair>, CandidateStats)> {
    let mut stats = CandidateStats::default();
    let mut pairs = Vec::new();
    let mut bucket: Vec<(u64, DocId)> = Vec::new();
    runs.merge_band(band, |key, doc| {
        if bucket.first().is_some_and(|&(k, _)| k != key) {
            add_bucket(&bucket, max_bucket, &mut stats, &mut pairs);
            bucket.clear();
        }
        bucket.push((key, doc));
    })?;
    if !bucket.is_empty() {
        add_bucket(&bucket, max_bucket, &mut stats, &mut pairs);
    }
    Ok((pairs, stats))
}

/// `key_candidates` over the opening keys' runs on disk (band `bands` of each run): the
/// merge yields the entries sorted and each once, as `key_candidates` makes them.
fn merged_key_candidates(
    runs: &Runs,
    bands: usize,
    max_bucket: usize,
) -> Result<(Vec<Pair>, CandidateStats)> {
    let (mut pairs, mut stats) = run_band_pairs(runs, bands, max_bucket)?;
    pairs.par_sort_unstable();
    pairs.dedup();
    stats.pairs = pairs.len() as u64;
    Ok((pairs, stats))
}

/// `candidates` over runs on disk: as many bands merged at once as there are threads,
/// the pairs deduplicated after each group of bands.
fn merged_candidates(
    runs: &Runs,
    bands: usize,
    max_bucket: usize,
) -> Result<(Vec<Pair>, CandidateStats)> {
    let mut stats = CandidateStats::default();
    let mut pairs: Vec<Pair> = Vec::new();
    let all: Vec<usize> = (0..bands).collect();
    for group in all.chunks(rayon::current_num_threads().max(1)) {
        let found: Vec<Result<(Vec<Pair>, CandidateStats)>> = group
            .par_iter()
            .map(|&band| run_band_pairs(runs, band, max_bucket))
            .collect();
        for result in found {
            let (band_pairs, band_stats) = result?;
            stats.add_buckets(&band_stats);
            pairs.extend(band_pairs);
        }
        pairs.par_sort_unstable();
        pairs.dedup();
    }
    stats.pairs = pairs.len() as u64;
    Ok((pairs, stats))
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
        add_bucket(bucket, max_bucket, &mut stats, &mut pairs);
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

    fn table(keys: &[[u64; 2]], budget: Option<(usize, &Path)>) -> BandTable {
        let mut t = match budget {
            Some((bytes, dir)) => BandTable::with_budget(2, bytes, dir),
            None => BandTable::new(2),
        };
        for k in keys {
            t.push(k, &[]).unwrap();
        }
        t
    }

    #[test]
    fn candidates_are_sorted_unique_and_capped() {
        // docs 0,1,2 share band 0; docs 2,3 share band 1; doc 4 alone
        let keys = [[1u64, 10], [1, 11], [1, 12], [2, 12], [3, 13]];
        let dir = tempfile::tempdir().unwrap();
        // in memory, and on disk in runs of one and of two documents
        for budget in [None, Some((1, dir.path())), Some((2 * 32, dir.path()))] {
            let (pairs, stats) = candidates(table(&keys, budget), 256).unwrap();
            assert_eq!(pairs, vec![(0, 1), (0, 2), (1, 2), (2, 3)], "{budget:?}");
            assert_eq!(stats.largest_bucket, 3);
            let (capped, stats) = candidates(table(&keys, budget), 2).unwrap();
            assert_eq!(capped, vec![(0, 1), (1, 2), (2, 3)]);
            assert_eq!(stats.capped_buckets, 1);
        }
        let t = table(&keys, Some((1, dir.path())));
        assert_eq!((t.docs(), t.spilled().0), (5, 5));
        // runs of two documents: the fifth is written by `flush`, and counted
        let mut t = table(&keys, Some((2 * 32, dir.path())));
        assert_eq!(t.spilled(), (2, 2 * 4 * 12));
        t.flush().unwrap();
        assert_eq!(t.spilled(), (3, 2 * 5 * 12));
        let mut t = table(&keys, None);
        t.flush().unwrap();
        assert_eq!(t.spilled(), (0, 0), "a table in memory stays there");
    }

    #[test]
    fn a_budget_does_not_change_the_candidates() {
        // 3,000 documents, keys from a small range so that buckets of every size occur
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15u64);
        let keys: Vec<[u64; 2]> = (0..3000).map(|_| [next() % 700, next() % 2000]).collect();
        let dir = tempfile::tempdir().unwrap();
        let want = candidates(table(&keys, None), 8).unwrap();
        for budget in [1000, 7 * 32, 4096, 64 << 10] {
            let t = table(&keys, Some((budget, dir.path())));
            let spilled = t.spilled().0;
            assert_eq!(
                candidates(t, 8).unwrap(),
                want,
                "budget {budget}, {spilled} runs"
            );
        }
    }

    /// 3,000 documents with keys from small ranges, so that buckets of every size occur,
    /// and 0 to 3 opening keys each (some repeated).
    fn keys_and_openings() -> Vec<([u64; 2], Vec<u64>)> {
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1du64);
        (0..3000)
            .map(|_| {
                let keys = [next() % 900, next() % 2500];
                let n = next() % 4;
                let openings = (0..n).map(|_| next() % 1200).collect();
                (keys, openings)
            })
            .collect()
    }

    #[test]
    fn spilled_openings_give_the_candidates_held_in_memory() {
        let docs = keys_and_openings();
        let fill = |mut t: BandTable| {
            for (keys, openings) in &docs {
                t.push(keys, openings).unwrap();
            }
            t
        };
        // the oracle: the bands' candidates and the openings' apart, merged
        let mut bands_only = BandTable::new(2);
        let mut entries = Vec::new();
        for (d, (keys, openings)) in docs.iter().enumerate() {
            bands_only.push(keys, &[]).unwrap();
            entries.extend(openings.iter().map(|&k| (k, d as DocId)));
        }
        let (mut want, mut want_stats) = candidates(bands_only, 8).unwrap();
        let (opening, opening_stats) = key_candidates(entries, 8);
        assert!(opening_stats.pairs > 100 && opening_stats.capped_buckets > 0);
        want_stats.opening_pairs = opening_stats.pairs;
        want_stats.add_buckets(&opening_stats);
        want.extend(opening);
        want.sort_unstable();
        want.dedup();
        want_stats.pairs = want.len() as u64;
        assert!(want_stats.pairs > want_stats.opening_pairs);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            candidates(fill(BandTable::new(2)), 8).unwrap(),
            (want.clone(), want_stats.clone())
        );
        // runs of a few documents (a few hundred files open at once), of tens, of
        // hundreds, and none
        for budget in [300, 1000, 16 << 10, 1 << 20] {
            let t = fill(BandTable::with_budget(2, budget, dir.path()));
            let (runs, bytes) = t.spilled();
            assert_eq!(runs > 0, budget < 1 << 20, "budget {budget}");
            assert!(
                runs == 0 || bytes > 2 * 3000 * 12,
                "the openings are in the runs"
            );
            assert_eq!(
                candidates(t, 8).unwrap(),
                (want.clone(), want_stats.clone()),
                "budget {budget}, {runs} runs"
            );
        }
    }

    #[test]
    fn openings_count_inside_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        // a document's band keys take 2 x 8 + 16 bytes; its openings 16 each
        let mut t = BandTable::with_budget(2, 100, dir.path());
        t.push(&[1, 2], &[7, 8, 9]).unwrap();
        assert_eq!(t.spilled().0, 0, "80 bytes held");
        t.push(&[1, 2], &[]).unwrap();
        assert_eq!(t.spilled().0, 1, "112 bytes held");
        assert_eq!(t.docs(), 2);
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

    #[test]
    fn buckets_paired_in_parallel_slices_give_the_serial_pairs_in_order() {
        // 60,000 sorted entries over 900 keys: buckets of about 67 documents, cut by the
        // slice boundaries
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut entries: Vec<(u64, DocId)> = (0..60_000u32)
            .map(|d| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 900, d)
            })
            .collect();
        entries.sort_unstable();
        for max_bucket in [8, 256] {
            let mut want_stats = CandidateStats::default();
            let mut want = Vec::new();
            for bucket in entries.chunk_by(|x, y| x.0 == y.0) {
                add_bucket(bucket, max_bucket, &mut want_stats, &mut want);
            }
            for threads in [1, 2, 3, 8] {
                let (mut stats, mut pairs) = (CandidateStats::default(), Vec::new());
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| add_buckets(&entries, max_bucket, &mut stats, &mut pairs));
                assert_eq!((&pairs, &stats), (&want, &want_stats), "{threads} threads");
            }
        }
    }
}
