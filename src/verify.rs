//! Verification: candidate pairs in, their similarity out.
//!
//! Exact verification needs every candidate's full shingle set, but holding the sets of a
//! whole corpus would make memory grow with the text. Instead the streaming pass appends
//! each document's paragraph record (its paragraphs' shingles, 8 bytes each, unsorted) to an
//! unnamed temporary file (the "spill", removed by the OS even after a crash), keeping only
//! its offset in memory. The verifier reads the two records of a pair back with positioned
//! reads and rebuilds the sorted article sets, without the paragraphs the sketch pass left
//! out (repeats, boilerplate). Only candidates pay for sorting; memory stays at a few
//! bytes per document and the operating system's page cache does the caching.
//!
//! Estimated verification uses the MinHash signatures kept in memory instead.

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
    /// The sorted article set of `doc`.
    fn set(&self, doc: DocId) -> Result<Vec<u64>> {
        match self {
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

    /// Jaccard similarity of `a` and `b`: exact, or the MinHash estimate.
    pub fn jaccard(&self, a: DocId, b: DocId) -> Result<f64> {
        match self {
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
            Verifier::Cleaned { .. } => {
                let (sa, sb) = (self.set(a)?, self.set(b)?);
                let small = sa.len().min(sb.len()).max(1);
                Ok(intersection_size(&sa, &sb) as f64 / small as f64)
            }
            Verifier::Estimate { .. } => {
                let j = self.jaccard(a, b)?;
                Ok(2.0 * j / (1.0 + j))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(paragraphs: &[&[u64]]) -> Vec<u8> {
        let mut rec = ParagraphRecord::default();
        for (i, p) in paragraphs.iter().enumerate() {
            rec.shingles.extend_from_slice(p);
            rec.offsets.push(rec.shingles.len() as u32);
            rec.hashes.push(i as u64);
            rec.push_snippet("");
        }
        rec.encode()
    }

    #[test]
    fn sets_are_rebuilt_from_the_spill_without_removed_paragraphs() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = ShingleSpill::create_in(dir.path()).unwrap();
        // doc 0: two paragraphs (the second a footer); doc 1: the first paragraph twice
        spill
            .push_bytes(&record(&[&[4, 1, 2, 3, 1], &[9, 8]]))
            .unwrap();
        spill
            .push_bytes(&record(&[&[1, 2, 3, 4], &[3, 2, 1, 4], &[5]]))
            .unwrap();
        let records = spill.finish().unwrap();
        let v = Verifier::Cleaned {
            records,
            removed: vec![(0, vec![1].into_boxed_slice())],
        };
        assert_eq!(v.set(0).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(v.set(1).unwrap(), vec![1, 2, 3, 4, 5]);
        assert!((v.jaccard(0, 1).unwrap() - 0.8).abs() < 1e-12);
        assert!((v.containment(1, 0).unwrap() - 1.0).abs() < 1e-12);
    }
}
