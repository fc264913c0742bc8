//! The spill: one encoded paragraph record per compared document, on disk.
//!
//! In: the records of the streaming pass, in document order (`ShingleSpill::push_bytes`).
//! Out: any document's record by its `DocId` (`ShingleSets::read_bytes`), for the sketch
//! pass and for exact verification.
//!
//! Holding every document's shingles in memory would make memory grow with the text, so
//! the records go to an unnamed temporary file (removed by the OS even after a crash) and
//! only their offsets stay in memory: 8 bytes a document. Reads are positioned, so any
//! number of threads read at once, and the operating system's page cache does the
//! caching.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ids::DocId;

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
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::spill(dir, e))?;
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
            .map_err(|e| Error::spill(&self.path, e))?;
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
            .map_err(|e| Error::spill(&path, e.into_error()))?;
        Ok(ShingleSets {
            path,
            file,
            offsets: self.offsets,
        })
    }
}

/// Read side of the spill file: the record of any document by index.
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
        read_exact_at(&self.file, &mut bytes, start).map_err(|e| Error::spill(&self.path, e))?;
        Ok(bytes)
    }

    /// Bytes written to the spill, as `summary.json` reports them.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_by_document() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = ShingleSpill::create_in(dir.path()).unwrap();
        for bytes in [&b"first"[..], b"", b"third record"] {
            spill.push_bytes(bytes).unwrap();
        }
        let sets = spill.finish().unwrap();
        assert_eq!(sets.read_bytes(2).unwrap(), b"third record");
        assert_eq!(sets.read_bytes(1).unwrap(), b"");
        assert_eq!(sets.read_bytes(0).unwrap(), b"first");
        assert_eq!(sets.total_bytes(), 17);
    }
}
