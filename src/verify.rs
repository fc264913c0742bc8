//! Verification: candidate pairs in, their similarity out.
//!
//! Exact verification needs every candidate's full shingle set, but holding the sets of a
//! whole corpus would make memory grow with the text. Instead the sketch stage appends each
//! document's sorted shingle set (8 bytes a shingle) to an unnamed temporary file (the
//! "spill", removed by the OS even after a crash), keeping only its offset in memory; the
//! verifier reads the two sets of a pair back with positioned reads. Memory stays at a
//! signature's worth per document, the operating system's page cache does the caching,
//! and a size filter (`J <= min/max` of the set sizes) rejects hopeless pairs unread.
//!
//! Estimated verification keeps the MinHash signatures in memory instead and needs no
//! spill.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::boilerplate::{ParagraphRecord, kept_shingles};
use crate::error::{Error, Result};
use crate::lsh::DocId;
use crate::shingle::{intersection_size, jaccard};
use crate::sketch::estimate_jaccard;

/// Writer side of the spill file.
pub struct ShingleSpill {
    path: PathBuf,
    writer: BufWriter<File>,
    offsets: Vec<u64>,
    bytes: u64,
}

impl ShingleSpill {
    /// Creates the spill file in `dir`.
    pub fn create_in(dir: &Path) -> Result<Self> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::output(dir, e))?;
        Ok(ShingleSpill {
            path: dir.to_path_buf(),
            writer: BufWriter::with_capacity(1 << 20, file),
            offsets: vec![0],
            bytes: 0,
        })
    }

    /// Appends the next document's record as raw bytes.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .map_err(|e| Error::output(&self.path, e))?;
        self.bytes += bytes.len() as u64;
        self.offsets.push(self.bytes);
        Ok(())
    }

    /// Appends the next document's sorted shingle set.
    pub fn push(&mut self, set: &[u64]) -> Result<()> {
        let mut bytes = Vec::with_capacity(set.len() * 8);
        for s in set {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        self.push_bytes(&bytes)
    }

    /// Flushes and turns the spill into a reader.
    pub fn finish(self) -> Result<ShingleSets> {
        let path = self.path;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| Error::output(&path, e.into_error()))?;
        Ok(ShingleSets {
            path,
            file,
            offsets: self.offsets,
        })
    }
}

/// Read side of the spill file: the shingle set of any document by index.
pub struct ShingleSets {
    path: PathBuf,
    file: File,
    offsets: Vec<u64>,
}

impl ShingleSets {
    /// Number of shingles of `doc`.
    #[must_use]
    pub fn len_of(&self, doc: DocId) -> usize {
        let d = doc as usize;
        ((self.offsets[d + 1] - self.offsets[d]) / 8) as usize
    }

    /// Reads the shingle set of `doc` into `out`.
    pub fn read(&self, doc: DocId, out: &mut Vec<u64>) -> Result<()> {
        let d = doc as usize;
        let (start, end) = (self.offsets[d], self.offsets[d + 1]);
        let mut bytes = vec![0u8; (end - start) as usize];
        read_exact_at(&self.file, &mut bytes, start).map_err(|e| Error::io(&self.path, e))?;
        out.clear();
        out.extend(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8"))),
        );
        Ok(())
    }

    /// The raw bytes of `doc`'s record.
    pub fn read_bytes(&self, doc: DocId) -> Result<Vec<u8>> {
        let d = doc as usize;
        let (start, end) = (self.offsets[d], self.offsets[d + 1]);
        let mut bytes = vec![0u8; (end - start) as usize];
        read_exact_at(&self.file, &mut bytes, start).map_err(|e| Error::io(&self.path, e))?;
        Ok(bytes)
    }

    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        *self.offsets.last().expect("offsets start with 0")
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Similarity of two documents, by the method the parameters chose.
pub enum Verifier {
    /// Sorted article sets, one spill record each.
    Exact(ShingleSets),
    /// Paragraph records; a document's set is the sorted union of its paragraphs' shingles
    /// without the paragraphs listed in `removed` (see `boilerplate::kept_shingles`).
    Cleaned {
        records: ShingleSets,
        removed: Vec<(DocId, Box<[u32]>)>,
    },
    Estimate {
        signatures: Vec<u32>,
        num_perm: usize,
    },
}

impl Verifier {
    /// The sorted article set of `doc`, for the set-based variants.
    fn set(&self, doc: DocId) -> Result<Vec<u64>> {
        match self {
            Verifier::Exact(sets) => {
                let mut out = Vec::with_capacity(sets.len_of(doc));
                sets.read(doc, &mut out)?;
                Ok(out)
            }
            Verifier::Cleaned { records, removed } => {
                let bytes = records.read_bytes(doc)?;
                let rec =
                    ParagraphRecord::decode(&bytes).expect("the spill holds what this run wrote");
                let gone = removed
                    .binary_search_by_key(&doc, |(d, _)| *d)
                    .map_or(&[][..], |i| &removed[i].1);
                let mut out = Vec::with_capacity(rec.shingles.len());
                kept_shingles(&rec, gone, &mut out);
                out.sort_unstable();
                out.dedup();
                Ok(out)
            }
            Verifier::Estimate { .. } => unreachable!("estimates have no sets"),
        }
    }

    /// Jaccard similarity of `a` and `b`. With `at_least`, a pair whose set sizes prove
    /// it cannot reach that value returns an upper bound below it without reading the sets.
    pub fn jaccard(&self, a: DocId, b: DocId, at_least: Option<f64>) -> Result<f64> {
        match self {
            Verifier::Exact(sets) => {
                let (la, lb) = (sets.len_of(a), sets.len_of(b));
                let bound = la.min(lb) as f64 / la.max(lb).max(1) as f64;
                if let Some(t) = at_least {
                    if bound < t {
                        return Ok(bound);
                    }
                }
                Ok(jaccard(&self.set(a)?, &self.set(b)?))
            }
            Verifier::Cleaned { .. } => Ok(jaccard(&self.set(a)?, &self.set(b)?)),
            Verifier::Estimate {
                signatures,
                num_perm,
            } => {
                let k = *num_perm;
                let (a, b) = (a as usize, b as usize);
                Ok(estimate_jaccard(
                    &signatures[a * k..(a + 1) * k],
                    &signatures[b * k..(b + 1) * k],
                ))
            }
        }
    }

    /// Exact |A ∩ B| / min(|A|, |B|) when the sets are available, else the estimate
    /// derived from the MinHash Jaccard and the unknown sizes (taken as equal).
    pub fn containment(&self, a: DocId, b: DocId) -> Result<f64> {
        match self {
            Verifier::Exact(_) | Verifier::Cleaned { .. } => {
                let (sa, sb) = (self.set(a)?, self.set(b)?);
                let small = sa.len().min(sb.len()).max(1);
                Ok(intersection_size(&sa, &sb) as f64 / small as f64)
            }
            Verifier::Estimate { .. } => {
                let j = self.jaccard(a, b, None)?;
                Ok(2.0 * j / (1.0 + j))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spill_round_trip_and_size_filter() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = ShingleSpill::create_in(dir.path()).unwrap();
        let sets: Vec<Vec<u64>> = vec![vec![1, 2, 3, 4], vec![], vec![3, 4, 5], (0..100).collect()];
        for s in &sets {
            spill.push(s).unwrap();
        }
        let reader = spill.finish().unwrap();
        let mut out = Vec::new();
        for (i, s) in sets.iter().enumerate() {
            reader.read(i as DocId, &mut out).unwrap();
            assert_eq!(&out, s);
        }
        let v = Verifier::Exact(reader);
        assert!((v.jaccard(0, 2, None).unwrap() - 0.4).abs() < 1e-12);
        // 4 vs 100 shingles: bound 0.04, never read
        assert!(v.jaccard(0, 3, Some(0.8)).unwrap() < 0.8);
        assert!((v.containment(2, 0).unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }
}
