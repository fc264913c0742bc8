//! A segment's band keys, in the two forms an index run reads them: `bands`, one
//! fixed-width row per document (read at random, for the members of the components a
//! batch touches), and `bandruns`, one sorted run per band (read front to back, to find
//! which archived documents share a bucket with a batch document).
//!
//! `bands` body: `bands`, `slots` (opening keys a row has room for: the most any document
//! of the segment has), documents; then per document, in document order, `bands` band
//! keys, `slots` opening keys (zero past its own), the number of its opening keys and the
//! xxh3-64 of the row before it, all `u64`. A run reads rows by position and checks each
//! against its digest, so it never reads the whole file; `index verify` reads it whole.
//!
//! `bandruns` body: the number of runs (`bands + 1`); then per run its entry count and
//! its entries `(key: u64, document: u32)` sorted by key, then document: one run per band,
//! then the opening keys'. A run streams it once and checks its checksum at the end, before
//! it uses anything it found (`store::BodyReader`).
//!
//! Invariant: a band's run holds every document of the segment exactly once; the runs of
//! a compaction are the merge of its segments' runs with documents renumbered.

use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::store::{self, BodyReader};

/// Bytes of one `bandruns` entry.
const ENTRY: usize = 12;
/// Entries read at once.
const CHUNK: usize = 8192;

/// The row layout of a `bands` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    /// Band keys a document.
    pub bands: usize,
    /// Opening keys a row has room for.
    pub slots: usize,
}

impl Shape {
    fn row_bytes(self) -> usize {
        8 * (self.bands + self.slots + 2)
    }
}

/// One document's keys, as a row holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct DocKeys {
    /// Its band keys.
    pub bands: Vec<u64>,
    /// Its opening keys.
    pub openings: Vec<u64>,
}

fn encode_row(shape: Shape, bands: &[u64], openings: &[u64], out: &mut Vec<u8>) {
    let start = out.len();
    for &k in bands {
        out.extend_from_slice(&k.to_le_bytes());
    }
    for i in 0..shape.slots {
        out.extend_from_slice(&openings.get(i).copied().unwrap_or(0).to_le_bytes());
    }
    out.extend_from_slice(&(openings.len() as u64).to_le_bytes());
    let digest = xxhash_rust::xxh3::xxh3_64(&out[start..]);
    out.extend_from_slice(&digest.to_le_bytes());
}

fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"))
}

/// Decodes a row, `None` when it does not match its digest or its opening count is more
/// than it has room for.
fn decode_row(shape: Shape, row: &[u8]) -> Option<DocKeys> {
    let n = shape.bands + shape.slots;
    if xxhash_rust::xxh3::xxh3_64(&row[..8 * (n + 1)]) != word(row, n + 1) {
        return None;
    }
    let openings = usize::try_from(word(row, n))
        .ok()
        .filter(|&k| k <= shape.slots)?;
    Some(DocKeys {
        bands: (0..shape.bands).map(|i| word(row, i)).collect(),
        openings: (0..openings).map(|i| word(row, shape.bands + i)).collect(),
    })
}

/// Writes `bands` at `path`: `keys` document-major (`bands` a document), `openings` as
/// `(key, document)` in document order.
pub(super) fn write_rows(
    path: &Path,
    digest: u128,
    bands: usize,
    keys: &[u64],
    openings: &[(u64, DocId)],
) -> Result<()> {
    let docs = keys.len().checked_div(bands).unwrap_or(0);
    let per_doc = openings_by_doc(docs, openings);
    let shape = Shape {
        bands,
        slots: per_doc.iter().map(Vec::len).max().unwrap_or(0),
    };
    let len = 24 + (docs * shape.row_bytes()) as u64;
    store::write_stream(path, "bands", digest, len, |sink| {
        for x in [bands, shape.slots, docs] {
            sink.put(&(x as u64).to_le_bytes())?;
        }
        for (d, opening) in per_doc.iter().enumerate() {
            sink.put_with(|buf| {
                encode_row(shape, &keys[d * bands..(d + 1) * bands], opening, buf);
            })?;
        }
        Ok(())
    })
}

fn openings_by_doc(docs: usize, openings: &[(u64, DocId)]) -> Vec<Vec<u64>> {
    let mut per_doc = vec![Vec::new(); docs];
    for &(k, d) in openings {
        per_doc[d as usize].push(k);
    }
    per_doc
}

/// A `bands` file opened for reading rows by document.
pub(super) struct Rows {
    path: std::path::PathBuf,
    file: std::fs::File,
    shape: Shape,
    docs: usize,
}

/// Opens a `bands` file for its rows: its header read, the shape it gives and its
/// document count checked against the body's length; the reader stands at the first row.
fn open_rows(path: &Path, digest: u128) -> Result<(BodyReader, Shape, usize)> {
    let mut r = BodyReader::open(path, "bands", Some(digest))?;
    let (bands, slots, docs) = (r.u64()?, r.u64()?, r.u64()?);
    let bad = || store::corrupt(path, "its shape does not fit its length");
    let shape = Shape {
        bands: usize::try_from(bands).map_err(|_| bad())?,
        slots: usize::try_from(slots).map_err(|_| bad())?,
    };
    let docs = usize::try_from(docs).map_err(|_| bad())?;
    if (docs as u64).checked_mul(shape.row_bytes() as u64) != Some(r.left()) {
        return Err(bad());
    }
    Ok((r, shape, docs))
}

impl Rows {
    /// Opens `path`, checking its header and that its length is that of its rows.
    pub fn open(path: &Path, digest: u128) -> Result<Self> {
        let (_, shape, docs) = open_rows(path, digest)?;
        if shape.bands == 0 {
            return Err(store::corrupt(path, "its shape does not fit its length"));
        }
        let file = std::fs::File::open(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(Rows {
            path: path.to_path_buf(),
            file,
            shape,
            docs,
        })
    }

    /// Band keys a document.
    pub fn bands(&self) -> usize {
        self.shape.bands
    }

    /// Documents held.
    pub fn docs(&self) -> usize {
        self.docs
    }

    /// The keys of `doc`, checked against its row's digest.
    pub fn get(&self, doc: DocId) -> Result<DocKeys> {
        let w = self.shape.row_bytes();
        if doc as usize >= self.docs {
            return Err(store::corrupt(
                &self.path,
                format!("no row {doc}: it holds {}", self.docs),
            ));
        }
        let mut row = vec![0u8; w];
        let at = (store::HEADER + 24 + doc as usize * w) as u64;
        self.file
            .read_exact_at(&mut row, at)
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                source: e,
            })?;
        decode_row(self.shape, &row).ok_or_else(|| {
            store::corrupt(
                &self.path,
                format!("row {doc} does not match its checksum: the file is damaged"),
            )
        })
    }
}

/// Streams every row of the `bands` files `parts` (each checked whole, and each row
/// against its digest) into one `bands` file at `path`, with room for the most opening
/// keys any of them has: a compaction.
pub(super) fn merge_rows(path: &Path, digest: u128, parts: &[&Path]) -> Result<usize> {
    let opened: Vec<Rows> = parts
        .iter()
        .map(|p| Rows::open(p, digest))
        .collect::<Result<_>>()?;
    let bands = opened.first().map_or(0, |r| r.shape.bands);
    if let Some(r) = opened.iter().find(|r| r.shape.bands != bands) {
        return Err(store::corrupt(
            &r.path,
            format!(
                "{} bands a document, another segment {bands}",
                r.shape.bands
            ),
        ));
    }
    let shape = Shape {
        bands,
        slots: opened.iter().map(|r| r.shape.slots).max().unwrap_or(0),
    };
    let docs: usize = opened.iter().map(|r| r.docs).sum();
    let len = 24 + (docs * shape.row_bytes()) as u64;
    store::write_stream(path, "bands", digest, len, |sink| {
        for x in [bands, shape.slots, docs] {
            sink.put(&(x as u64).to_le_bytes())?;
        }
        for part in parts {
            for_each_row(part, digest, |_, keys| {
                sink.put_with(|buf| encode_row(shape, &keys.bands, &keys.openings, buf))
            })?;
        }
        Ok(())
    })?;
    Ok(docs)
}

/// Reads a `bands` file whole, front to back: every row checked against its digest, the
/// file against its checksum (`f` sees rows before the checksum is checked; a caller that
/// keeps them checks the result first). Returns the shape and document count.
pub(super) fn for_each_row(
    path: &Path,
    digest: u128,
    mut f: impl FnMut(DocId, DocKeys) -> Result<()>,
) -> Result<(Shape, usize)> {
    let (mut r, shape, docs) = open_rows(path, digest)?;
    let mut row = vec![0u8; shape.row_bytes()];
    for d in 0..docs {
        r.read(&mut row)?;
        let keys = decode_row(shape, &row).ok_or_else(|| {
            store::corrupt(
                path,
                format!("row {d} does not match its checksum: the file is damaged"),
            )
        })?;
        f(d as DocId, keys)?;
    }
    r.finish()?;
    Ok((shape, docs))
}

/// The batch's sorted runs (per band, `(key, document)` sorted by key then document; then
/// the opening keys'), built one at a time and written as `bandruns` at `path` when one
/// is given. Returns each run's distinct keys, sorted: what the probe merge-joins. A run
/// at a time, so a large batch's runs (16 bytes an entry) never all sit in memory.
pub(super) fn batch_runs(
    path: Option<&Path>,
    digest: u128,
    bands: usize,
    keys: &[u64],
    openings: &[(u64, DocId)],
) -> Result<Vec<Vec<u64>>> {
    let docs = keys.len().checked_div(bands).unwrap_or(0);
    let mut opening = openings.to_vec();
    opening.sort_unstable();
    opening.dedup();
    let Some(path) = path else {
        return each_run(bands, docs, keys, &opening, &mut |_| Ok(()));
    };
    let len = 8 + 8 * (bands as u64 + 1) + (ENTRY * (bands * docs + opening.len())) as u64;
    let mut distinct = Vec::new();
    store::write_stream(path, "bandruns", digest, len, |sink| {
        sink.put(&(bands as u64 + 1).to_le_bytes())?;
        distinct = each_run(bands, docs, keys, &opening, &mut |run| put_run(sink, run))?;
        Ok(())
    })?;
    Ok(distinct)
}

/// Writes one run as a `bandruns` body holds it: its entry count, then its entries.
fn put_run(sink: &mut store::Sink, run: &[(u64, DocId)]) -> Result<()> {
    sink.put(&(run.len() as u64).to_le_bytes())?;
    for &(k, d) in run {
        sink.put_with(|buf| {
            buf.extend_from_slice(&k.to_le_bytes());
            buf.extend_from_slice(&d.to_le_bytes());
        })?;
    }
    Ok(())
}

/// Takes one sorted run of `(key, document)`.
type Emit<'a> = dyn FnMut(&[(u64, DocId)]) -> Result<()> + 'a;

/// Builds each band's run of the batch in turn, then takes the (sorted) opening run, and
/// hands each to `emit`; returns their distinct keys.
fn each_run(
    bands: usize,
    docs: usize,
    keys: &[u64],
    opening: &[(u64, DocId)],
    emit: &mut Emit<'_>,
) -> Result<Vec<Vec<u64>>> {
    let distinct_keys = |run: &[(u64, DocId)]| {
        let mut k: Vec<u64> = run.iter().map(|e| e.0).collect();
        k.dedup();
        k
    };
    let mut distinct = Vec::with_capacity(bands + 1);
    let mut run: Vec<(u64, DocId)> = Vec::with_capacity(docs);
    for b in 0..bands {
        run.clear();
        run.extend((0..docs).map(|d| (keys[d * bands + b], d as DocId)));
        run.sort_unstable();
        emit(&run)?;
        distinct.push(distinct_keys(&run));
    }
    emit(opening)?;
    distinct.push(distinct_keys(opening));
    Ok(distinct)
}

/// Reads the runs of a `bandruns` file in order, one entry at a time, checking that each
/// run is sorted and names documents below `docs`; `finish` checks the count of runs
/// read and the checksum.
pub(super) struct RunReader {
    r: BodyReader,
    docs: usize,
    buf: Vec<u8>,
}

impl RunReader {
    /// Opens `path`, which must hold `runs` runs over `docs` documents.
    pub fn open(path: &Path, digest: u128, runs: usize, docs: usize) -> Result<Self> {
        let mut r = BodyReader::open(path, "bandruns", Some(digest))?;
        let n = r.count(8)?;
        if n != runs {
            return Err(r.error(format!(
                "{n} runs where the index has {runs} (its bands and the opening keys)"
            )));
        }
        Ok(RunReader {
            r,
            docs,
            buf: vec![0u8; ENTRY * CHUNK],
        })
    }

    /// Calls `f` with every entry of the next run, in order. Returns its entry count.
    pub fn run(&mut self, mut f: impl FnMut(u64, DocId)) -> Result<usize> {
        let n = self.r.count(ENTRY as u64)?;
        let mut left = n;
        let mut prev: Option<(u64, DocId)> = None;
        while left > 0 {
            let k = left.min(CHUNK);
            self.r.read(&mut self.buf[..k * ENTRY])?;
            for e in self.buf[..k * ENTRY].chunks_exact(ENTRY) {
                let key = u64::from_le_bytes(e[..8].try_into().expect("8 bytes"));
                let doc = DocId::from_le_bytes(e[8..].try_into().expect("4 bytes"));
                if doc as usize >= self.docs || prev.is_some_and(|p| p >= (key, doc)) {
                    return Err(self.r.error(format!(
                        "entry ({key}, {doc}) out of order or past the segment's {} \
                         documents",
                        self.docs
                    )));
                }
                prev = Some((key, doc));
                f(key, doc);
            }
            left -= k;
        }
        Ok(n)
    }

    /// Checks that nothing is left and the checksum.
    pub fn finish(self) -> Result<()> {
        self.r.finish()
    }
}

/// The probe: appends to `hits` (as `base +` the segment's document) every document of
/// the segment whose `bandruns` at `path` shares a key of some run with `keys` (per run,
/// the batch's distinct keys, sorted). Streams the file once, a run at a time; returns an
/// error, and nothing usable, when its checksum fails.
pub(super) fn probe(
    path: &Path,
    digest: u128,
    docs: usize,
    keys: &[Vec<u64>],
    base: DocId,
    hits: &mut Vec<DocId>,
) -> Result<()> {
    let mut r = RunReader::open(path, digest, keys.len(), docs)?;
    let start = hits.len();
    for batch in keys {
        let mut j = 0;
        r.run(|key, doc| {
            while j < batch.len() && batch[j] < key {
                j += 1;
            }
            if j < batch.len() && batch[j] == key {
                hits.push(base + doc);
            }
        })?;
    }
    if let Err(e) = r.finish() {
        hits.truncate(start);
        return Err(e);
    }
    Ok(())
}

/// Merges the runs of `parts` (`bandruns` files, in archive order, with their document
/// counts) into one `bandruns` file at `path`, documents renumbered after the parts
/// before: a run at a time, so memory holds one band of the merged segment.
pub(super) fn merge_runs(
    path: &Path,
    digest: u128,
    runs: usize,
    parts: &[(&Path, usize)],
) -> Result<()> {
    let mut readers: Vec<RunReader> = parts
        .iter()
        .map(|&(p, docs)| RunReader::open(p, digest, runs, docs))
        .collect::<Result<_>>()?;
    // each part: its run count and, per run, an entry count and the entries
    let per_run = 8 * runs as u64;
    let body_len = 8 + per_run + readers.iter().map(|r| r.r.len() - 8 - per_run).sum::<u64>();
    store::write_stream(path, "bandruns", digest, body_len, |sink| {
        sink.put(&(runs as u64).to_le_bytes())?;
        let mut merged: Vec<(u64, DocId)> = Vec::new();
        for _ in 0..runs {
            merged.clear();
            let mut base: DocId = 0;
            for (r, &(_, docs)) in readers.iter_mut().zip(parts) {
                r.run(|k, d| merged.push((k, base + d)))?;
                base += docs as DocId;
            }
            // each part is sorted and the parts' documents ascend: an unstable sort of
            // distinct entries is the k-way merge's order
            merged.sort_unstable();
            put_run(sink, &merged)?;
        }
        for r in readers.drain(..) {
            r.finish()?;
        }
        Ok(())
    })
}

/// Checks a `bandruns` file whole against its segment: `runs` sorted runs, each band's
/// holding every one of `docs` documents once.
pub(super) fn check_runs(path: &Path, digest: u128, runs: usize, docs: usize) -> Result<()> {
    let mut r = RunReader::open(path, digest, runs, docs)?;
    let mut seen = vec![0u32; docs];
    for band in 0..runs - 1 {
        let n = r.run(|_, d| seen[d as usize] += 1)?;
        if n != docs || seen.iter().any(|&s| s != band as u32 + 1) {
            return Err(store::corrupt(
                path,
                format!("band {band} does not hold each of the {docs} documents once"),
            ));
        }
    }
    r.run(|_, _| {})?;
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_runs_read_back_and_the_probe_finds_shared_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (rows, runs) = (dir.path().join("bands"), dir.path().join("bandruns"));
        // three documents, two bands; document 1 has two opening keys
        let keys = [5, 9, 7, 9, 5, 1];
        let openings = [(40, 1), (41, 1)];
        write_rows(&rows, 3, 2, &keys, &openings).unwrap();
        let r = Rows::open(&rows, 3).unwrap();
        assert_eq!(
            r.get(1).unwrap(),
            DocKeys {
                bands: vec![7, 9],
                openings: vec![40, 41]
            }
        );
        assert_eq!(r.get(2).unwrap().openings, Vec::<u64>::new());
        let distinct = batch_runs(Some(&runs), 3, 2, &keys, &openings).unwrap();
        assert_eq!(distinct, [vec![5, 7], vec![1, 9], vec![40, 41]]);
        assert_eq!(batch_runs(None, 3, 2, &keys, &openings).unwrap(), distinct);
        check_runs(&runs, 3, 3, 3).unwrap();
        let mut hits = Vec::new();
        probe(&runs, 3, 3, &[vec![5], vec![], vec![41]], 10, &mut hits).unwrap();
        assert_eq!(hits, [10, 12, 11]);
        // merged with itself: documents renumbered, each band still sorted
        let merged = dir.path().join("merged");
        merge_runs(&merged, 3, 3, &[(&runs, 3), (&runs, 3)]).unwrap();
        check_runs(&merged, 3, 3, 6).unwrap();
        let m = dir.path().join("mrows");
        assert_eq!(merge_rows(&m, 3, &[&rows, &rows]).unwrap(), 6);
        assert_eq!(
            Rows::open(&m, 3).unwrap().get(4).unwrap().openings,
            [40, 41]
        );
        // a flipped byte: the row read says so, the probe's checksum too
        let mut bad = std::fs::read(&rows).unwrap();
        let at = store::HEADER + 24 + 8;
        bad[at] ^= 1;
        std::fs::write(&rows, &bad).unwrap();
        let e = Rows::open(&rows, 3)
            .unwrap()
            .get(0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bands") && e.contains("row 0"), "{e}");
        let mut bad = std::fs::read(&runs).unwrap();
        let n = bad.len();
        bad[n - 20] ^= 1;
        std::fs::write(&runs, &bad).unwrap();
        let e = probe(&runs, 3, 3, &[vec![], vec![], vec![]], 0, &mut hits).unwrap_err();
        assert!(e.to_string().contains("bandruns"), "{e}");
    }
}
