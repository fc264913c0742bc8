//! Sorted runs of band keys on disk, and their k-way merge.
//!
//! In: the band keys of a block of consecutive documents, band-major, and the block's
//! opening keys as `(key, doc)` entries (any number a document). Out: for one band, or for
//! the opening keys (the band after the last), every `(key, doc)` entry of every block in
//! ascending order without repeats, as if the whole band had been sorted and deduplicated
//! in memory.
//!
//! This is what keeps the band table inside a memory budget: the table holds the keys of
//! at most one block, and each full block is sorted band by band and written as one run.
//! Documents of different blocks are disjoint and each run is written without repeated
//! entries, so the entries of all runs are unique and the merge's order is exactly the
//! order of one big sort: the candidates, and everything after them, do not depend on how
//! many runs there were.
//!
//! A run is one unnamed temporary file (the OS removes it whatever happens to the
//! process) holding each band's entries in turn, then the opening keys', 12 bytes an
//! entry (key `u64`, document `u32`, little-endian); the byte range of each band stays in
//! memory. The file is private
//! to the run that wrote it and read back by the same process, so it carries no header
//! or checksum: a persistent index that keeps runs across processes frames them (see
//! docs/design-scale-and-index.md).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::spill::RunCursor;

/// Bytes of one `(key, doc)` entry on disk.
const ENTRY: usize = 12;

/// One sorted run: every band's entries of one block of documents.
struct Run {
    file: File,
    /// Byte offset where each band's entries start, and the end of the last one.
    bands: Vec<u64>,
}

/// The runs written so far, and where they go.
pub(super) struct Runs {
    dir: PathBuf,
    written: Vec<Run>,
    bytes: u64,
}

impl Runs {
    pub(super) fn new(dir: &Path) -> Self {
        Runs {
            dir: dir.to_path_buf(),
            written: Vec::new(),
            bytes: 0,
        }
    }

    /// Sorts the block whose documents start at `first` (`keys[band][i]` is the key of
    /// document `first + i`) one band at a time and writes it as a new run, followed by
    /// the block's `openings` (sorted here in place, written once each): the run's band
    /// `keys.len()`.
    pub(super) fn write(
        &mut self,
        keys: &[Vec<u64>],
        first: DocId,
        openings: &mut [(u64, DocId)],
    ) -> Result<()> {
        let file = tempfile::tempfile_in(&self.dir).map_err(|e| Error::spill(&self.dir, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut bands = Vec::with_capacity(keys.len() + 2);
        let mut offset = 0u64;
        bands.push(offset);
        let mut entries: Vec<(u64, DocId)> = Vec::new();
        for band in keys {
            entries.clear();
            entries.extend(
                band.iter()
                    .enumerate()
                    .map(|(i, &k)| (k, first + i as DocId)),
            );
            entries.par_sort_unstable();
            offset += self.write_entries(&mut out, &entries)?;
            bands.push(offset);
        }
        // sorted where they are: the buffer is already the (key, doc) form
        openings.par_sort_unstable();
        offset += self.write_entries(&mut out, openings)?;
        bands.push(offset);
        let file = out
            .into_inner()
            .map_err(|e| Error::spill(&self.dir, e.into_error()))?;
        self.bytes += offset;
        self.written.push(Run { file, bands });
        Ok(())
    }

    /// Writes sorted `entries` once each (a document may repeat an opening key), straight
    /// into the buffered writer: a second copy would be memory the budget does not count.
    /// Returns the bytes written.
    fn write_entries(&self, out: &mut impl Write, entries: &[(u64, DocId)]) -> Result<u64> {
        let mut written = 0u64;
        let mut last = None;
        for &entry in entries {
            if last == Some(entry) {
                continue;
            }
            last = Some(entry);
            let (key, doc) = entry;
            out.write_all(&key.to_le_bytes())
                .and_then(|()| out.write_all(&doc.to_le_bytes()))
                .map_err(|e| Error::spill(&self.dir, e))?;
            written += ENTRY as u64;
        }
        Ok(written)
    }

    /// Runs written.
    pub(super) fn len(&self) -> usize {
        self.written.len()
    }

    /// Bytes written to the runs.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Calls `f` with every entry of `band` in all runs (the opening keys' when `band` is
    /// the number of bands), in ascending `(key, doc)` order, each once.
    pub(super) fn merge_band(&self, band: usize, mut f: impl FnMut(u64, DocId)) -> Result<()> {
        let read_err = |e| Error::spill(&self.dir, e);
        let mut cursors: Vec<RunCursor<'_, ENTRY>> = self
            .written
            .iter()
            .map(|run| RunCursor::new(&run.file, run.bands[band], run.bands[band + 1]))
            .collect();
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some((key, doc)) = c.next_entry().map_err(read_err)?.map(decode) {
                heap.push(Reverse((key, doc, i)));
            }
        }
        while let Some(Reverse((key, doc, i))) = heap.pop() {
            f(key, doc);
            if let Some((key, doc)) = cursors[i].next_entry().map_err(read_err)?.map(decode) {
                heap.push(Reverse((key, doc, i)));
            }
        }
        Ok(())
    }
}

/// An entry as `Runs::write` encodes it.
fn decode(e: [u8; ENTRY]) -> (u64, DocId) {
    let key = u64::from_le_bytes(e[..8].try_into().expect("8 bytes"));
    let doc = DocId::from_le_bytes(e[8..].try_into().expect("4 bytes"));
    (key, doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block's first document, its keys of two bands, its opening entries.
    type Block = (DocId, [Vec<u64>; 2], Vec<(u64, DocId)>);

    #[test]
    fn merging_runs_gives_the_order_of_one_sort() {
        let dir = tempfile::tempdir().unwrap();
        let mut runs = Runs::new(dir.path());
        // three blocks of documents, two bands and the opening keys; keys repeat across
        // blocks, and a document may repeat an opening key or have none
        let blocks: [Block; 3] = [
            (
                0,
                [vec![5, 1, 5], vec![9, 9, 2]],
                vec![(40, 2), (40, 0), (41, 2), (40, 2)],
            ),
            (3, [vec![1, 7], vec![2, 2]], Vec::new()),
            (
                5,
                [vec![5; 6000], (0..6000).rev().collect()],
                (5..6005).map(|d| (u64::from(d % 3) + 40, d)).collect(),
            ),
        ];
        let mut whole: [Vec<(u64, DocId)>; 3] = Default::default();
        for (first, keys, openings) in &blocks {
            runs.write(keys, *first, &mut openings.clone()).unwrap();
            for (band, ks) in keys.iter().enumerate() {
                whole[band].extend(ks.iter().enumerate().map(|(i, &k)| (k, first + i as DocId)));
            }
            whole[2].extend(openings);
        }
        assert_eq!(runs.len(), 3);
        // the repeated (40, 2) is written once
        assert_eq!(runs.bytes(), (2 * 6005 + 3 + 6000) * ENTRY as u64);
        for (band, want) in whole.iter_mut().enumerate() {
            want.sort_unstable();
            want.dedup();
            let mut got = Vec::new();
            runs.merge_band(band, |k, d| got.push((k, d))).unwrap();
            assert_eq!(&got, want, "band {band}");
        }
    }
}
