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
//!
//! A run that adds to an index keeps a second spill beside it: each compared document's
//! text, compressed (`TextPacker`), for the index's set store, from which the paragraph
//! record is made again when an archived document is needed (`TextEntry`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ids::DocId;

/// The memory budget when none is given: what `--memory` defaults to.
pub const DEFAULT_MEMORY: u64 = 256 << 20;

/// The smallest memory budget: below it the band table would go to disk a few hundred
/// documents at a time.
pub const MIN_MEMORY: u64 = 1 << 20;

/// Reads a memory size: a number of bytes, optionally with a unit `K`, `M`, `G` or `T`
/// (powers of 1024; `KiB`, `KB`, `k` are the same), and a fraction (`1.5G`). At least
/// `MIN_MEMORY`.
pub fn parse_memory(value: &str) -> Result<u64> {
    let bad = || {
        Error::value(
            value,
            "expected a size such as 512M, 2G or 1.5GiB (units are powers of 1024)",
        )
    };
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad()),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY {
        return Err(Error::value(
            value,
            format!(
                "the memory budget must be at least {} MiB",
                MIN_MEMORY >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// Where a run keeps on disk what grows with the documents (the spill, the band-key
/// runs), and how much memory those structures may hold before they go there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scratch {
    /// The directory of the temporary files (unnamed: the OS removes them).
    pub dir: PathBuf,
    /// Bytes of memory for what grows with the documents; results do not depend on it.
    pub memory: u64,
}

impl Scratch {
    /// Temporary files in `dir`, with the default memory budget.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Scratch {
            dir: dir.into(),
            memory: DEFAULT_MEMORY,
        }
    }

    /// The same directory with a budget of `bytes`.
    #[must_use]
    pub fn with_memory(self, bytes: u64) -> Self {
        Scratch {
            memory: bytes,
            ..self
        }
    }

    /// The band table's share of the budget: a quarter, the rest being left to the
    /// streaming pass's batches and the per-document tables (see
    /// docs/design-scale-and-index.md).
    #[must_use]
    pub fn band_budget(&self) -> usize {
        usize::try_from(self.memory / 4).unwrap_or(usize::MAX)
    }

    /// The boilerplate keys' share of the budget while the streaming pass counts them: a
    /// quarter too (they are merged and dropped before the band table fills).
    #[must_use]
    pub fn key_budget(&self) -> usize {
        usize::try_from(self.memory / 4).unwrap_or(usize::MAX)
    }
}

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
        Ok(ShingleSets::from_file(path, file, self.offsets, None))
    }
}

/// Read side of the spill file: the record of any document by index. It may span several
/// files (an index's archived set stores, then this run's spill), one after the other in
/// document order.
pub struct ShingleSets {
    parts: Vec<SetsPart>,
    /// The first document of each part.
    first_docs: Vec<DocId>,
}

struct SetsPart {
    path: PathBuf,
    file: File,
    /// Byte offsets in `file` of each record's start, and of the last one's end.
    offsets: Vec<u64>,
    /// Each record's end, for a part whose records are not adjacent (the members of an
    /// index's touched components, picked out of its set store); `offsets` then holds
    /// each record's start only.
    ends: Option<Vec<u64>>,
    /// xxh3-64 of each record, checked on every read, for a file that outlives the run
    /// (a damaged archived record is an error naming the file, never a wrong score).
    digests: Option<Vec<u64>>,
    /// Each record's number in its file, for messages, when they are not `0..`.
    names: Option<Vec<u32>>,
}

impl ShingleSets {
    /// The records of `file` (named `path` in messages) at `offsets` (each record's start
    /// and the last one's end, in bytes from the file's start), checked against
    /// `digests` (xxh3-64 of each record) when given.
    #[must_use]
    pub fn from_file(
        path: PathBuf,
        file: File,
        offsets: Vec<u64>,
        digests: Option<Vec<u64>>,
    ) -> Self {
        assert!(
            !offsets.is_empty(),
            "offsets start with the first record's start"
        );
        ShingleSets {
            parts: vec![SetsPart {
                path,
                file,
                offsets,
                ends: None,
                digests,
                names: None,
            }],
            first_docs: vec![0],
        }
    }

    /// The records of `file` (named `path` in messages) at `spans` (each record's start
    /// and end, in bytes from the file's start, in the order they are to be read),
    /// checked against `digests`: some records of a file, not necessarily adjacent, named
    /// in messages by their numbers in the file, `names`.
    #[must_use]
    pub fn from_spans(
        path: PathBuf,
        file: File,
        spans: &[(u64, u64)],
        digests: Vec<u64>,
        names: Vec<u32>,
    ) -> Self {
        ShingleSets {
            parts: vec![SetsPart {
                path,
                file,
                offsets: spans.iter().map(|s| s.0).collect(),
                ends: Some(spans.iter().map(|s| s.1).collect()),
                digests: Some(digests),
                names: Some(names),
            }],
            first_docs: vec![0],
        }
    }

    /// The records of `parts`, one after the other: document `n` of the second part is
    /// document `docs(first) + n` of the whole.
    #[must_use]
    pub fn chain(parts: Vec<ShingleSets>) -> Self {
        let mut out = ShingleSets {
            parts: Vec::new(),
            first_docs: Vec::new(),
        };
        let mut next: DocId = 0;
        for p in parts {
            for part in p.parts {
                let docs = part.docs() as DocId;
                out.first_docs.push(next);
                out.parts.push(part);
                next += docs;
            }
        }
        out
    }

    /// Documents held.
    #[must_use]
    pub fn docs(&self) -> usize {
        self.parts.iter().map(SetsPart::docs).sum()
    }

    /// The raw bytes of `doc`'s record.
    pub fn read_bytes(&self, doc: DocId) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.read_into(doc, &mut bytes)?;
        Ok(bytes)
    }

    /// The raw bytes of `doc`'s record, read into `buf`: a buffer a worker keeps across
    /// records, which only grows, so that steady state neither allocates nor zeroes.
    pub fn read_into<'b>(&self, doc: DocId, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
        let p = self.first_docs.partition_point(|&f| f <= doc) - 1;
        let part = &self.parts[p];
        let d = (doc - self.first_docs[p]) as usize;
        let (start, end) = match &part.ends {
            Some(ends) => (part.offsets[d], ends[d]),
            None => (part.offsets[d], part.offsets[d + 1]),
        };
        let len = (end - start) as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let bytes = &mut buf[..len];
        read_exact_at(&part.file, bytes, start).map_err(|e| match part.digests {
            // an archived set store, not this run's scratch file
            Some(_) => Error::Io {
                path: part.path.clone(),
                source: e,
            },
            None => Error::spill(&part.path, e),
        })?;
        if let Some(digests) = &part.digests
            && xxhash_rust::xxh3::xxh3_64(bytes) != digests[d]
        {
            let n = part.names.as_ref().map_or(d, |names| names[d] as usize);
            return Err(Error::Corrupt {
                path: part.path.clone(),
                message: format!("record {n} does not match its checksum: the file is damaged"),
            });
        }
        Ok(bytes)
    }

    /// Bytes of the records, as `summary.json` reports them.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| match &p.ends {
                Some(ends) => ends.iter().zip(&p.offsets).map(|(e, s)| e - s).sum(),
                None => p.offsets.last().expect("offsets start with 0") - p.offsets[0],
            })
            .sum()
    }
}

impl SetsPart {
    fn docs(&self) -> usize {
        match &self.ends {
            Some(ends) => ends.len(),
            None => self.offsets.len() - 1,
        }
    }
}

/// The zstd level of an archived text. Measured on 20,000 documents of the generated
/// news corpus, each compressed alone (benches/README.md, "The set store keeps the
/// texts"): level 1 leaves 53.6% of the bytes at 174 MB/s, level 3 53.7% at 97 MB/s,
/// level 19 52.5% at 6 MB/s. A document of a few kilobytes gives any level little to
/// find, so the fastest wins.
pub const TEXT_LEVEL: i32 = 1;

/// A compared document as an index's set store keeps it: the text its paragraph record
/// was made from, zstd-compressed, from which the record is made again by the same code
/// (`analyze::Analyzer::record_of`), and the record's paragraph hashes uncompressed, so
/// that what needs only those (`index verify`'s boilerplate count) does not redo the rest.
///
/// Layout, little-endian: `n: u32`, `n` paragraph hashes `u64`, the text's length `u32`,
/// one zstd frame of the text.
pub struct TextEntry<'a> {
    /// The paragraph hashes, as the record holds them.
    pub hashes: &'a [u8],
    /// The text's length in bytes.
    pub text_len: usize,
    /// The compressed text.
    pub frame: &'a [u8],
}

impl<'a> TextEntry<'a> {
    /// The parts of `bytes`; `None` for bytes `TextPacker::pack` did not write.
    #[must_use]
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let n = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let end = 4usize.checked_add(n.checked_mul(8)?)?;
        let hashes = bytes.get(4..end)?;
        let text_len = u32::from_le_bytes(bytes.get(end..end + 4)?.try_into().ok()?) as usize;
        Some(TextEntry {
            hashes,
            text_len,
            frame: &bytes[end + 4..],
        })
    }

    /// The paragraph hashes, into `out` (replacing what it held).
    pub fn hashes_into(&self, out: &mut Vec<u64>) {
        out.clear();
        out.extend(
            self.hashes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))),
        );
    }
}

/// Packs texts into `TextEntry` bytes, reusing one compression context: one per worker.
pub struct TextPacker {
    compressor: zstd::bulk::Compressor<'static>,
}

impl TextPacker {
    /// A packer at `TEXT_LEVEL`.
    #[must_use]
    pub fn new() -> Self {
        TextPacker {
            compressor: zstd::bulk::Compressor::new(TEXT_LEVEL)
                .expect("zstd accepts its own levels"),
        }
    }

    /// The entry of `text`, whose paragraph record has the paragraph hashes `hashes`.
    pub fn pack(&mut self, text: &str, hashes: &[u64]) -> Vec<u8> {
        let text_len = u32::try_from(text.len()).expect("a record's text is under 4 GiB");
        let mut out = Vec::with_capacity(8 + hashes.len() * 8 + text.len() / 2);
        out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
        for h in hashes {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out.extend_from_slice(&text_len.to_le_bytes());
        let frame = self
            .compressor
            .compress(text.as_bytes())
            .expect("zstd compresses into a buffer of its bound");
        out.extend_from_slice(&frame);
        out
    }
}

impl Default for TextPacker {
    fn default() -> Self {
        Self::new()
    }
}

/// Unpacks the texts of `TextEntry`s, reusing one decompression context: one per worker.
pub struct TextUnpacker {
    decompressor: zstd::bulk::Decompressor<'static>,
    buf: Vec<u8>,
}

impl TextUnpacker {
    /// A fresh context.
    #[must_use]
    pub fn new() -> Self {
        TextUnpacker {
            decompressor: zstd::bulk::Decompressor::new().expect("a zstd context"),
            buf: Vec::new(),
        }
    }

    /// The text of `entry`; `None` when its frame does not decompress to a UTF-8 text of
    /// the length it gives.
    pub fn text(&mut self, entry: &TextEntry<'_>) -> Option<&str> {
        self.buf.clear();
        self.buf.reserve(entry.text_len);
        let n = self
            .decompressor
            .decompress_to_buffer(entry.frame, &mut self.buf)
            .ok()?;
        if n != entry.text_len {
            return None;
        }
        std::str::from_utf8(&self.buf).ok()
    }
}

impl Default for TextUnpacker {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads the fixed-size entries of one byte range of a temporary file in order, a block at
/// a time, for the k-way merges of sorted runs (band keys, paragraph counts). Reads are
/// positioned, so cursors over one file do not disturb each other.
pub(crate) struct RunCursor<'a, const N: usize> {
    file: &'a File,
    next_offset: u64,
    end: u64,
    buf: Vec<u8>,
    at: usize,
}

impl<'a, const N: usize> RunCursor<'a, N> {
    /// Entries read at once: 64 KiB keeps the reads large without making a merge's memory
    /// grow much with the number of runs.
    const BLOCK: usize = (64 << 10) / N * N;

    /// The entries between byte offsets `start` and `end` of `file`.
    pub(crate) fn new(file: &'a File, start: u64, end: u64) -> Self {
        RunCursor {
            file,
            next_offset: start,
            end,
            buf: Vec::new(),
            at: 0,
        }
    }

    /// The next entry, `None` at the end of the range.
    pub(crate) fn next_entry(&mut self) -> io::Result<Option<[u8; N]>> {
        if self.at == self.buf.len() {
            let left = self.end - self.next_offset;
            if left == 0 {
                return Ok(None);
            }
            let len = left.min(Self::BLOCK as u64) as usize;
            self.buf.resize(len, 0);
            read_exact_at(self.file, &mut self.buf, self.next_offset)?;
            self.next_offset += len as u64;
            self.at = 0;
        }
        let entry: [u8; N] = self.buf[self.at..self.at + N]
            .try_into()
            .expect("runs hold whole entries");
        self.at += N;
        Ok(Some(entry))
    }
}

/// Reads exactly `buf.len()` bytes at `offset` without moving a shared cursor, so any
/// number of threads read one file at once.
#[cfg(unix)]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
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
    fn memory_sizes() {
        assert_eq!(parse_memory("256M").unwrap(), 256 << 20);
        assert_eq!(parse_memory("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_memory("2g").unwrap(), 2 << 30);
        assert_eq!(parse_memory("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_memory("4096 KB").unwrap(), 4 << 20);
        for bad in ["", "M", "12X", "1..5G", "-3M", "1e3G"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
        let small = parse_memory("512K").unwrap_err().to_string();
        assert!(small.contains("at least 1 MiB"), "{small}");
    }

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
        // a reused buffer longer than the record gives back the record only
        let mut buf = Vec::new();
        assert_eq!(sets.read_into(2, &mut buf).unwrap(), b"third record");
        assert_eq!(sets.read_into(0, &mut buf).unwrap(), b"first");
        assert_eq!(sets.read_into(1, &mut buf).unwrap(), b"");
    }

    #[test]
    fn a_text_entry_gives_back_its_text_and_hashes_and_refuses_damage() {
        let text = "first paragraph\n\nsecond one, a little longer ".repeat(20);
        let bytes = TextPacker::new().pack(&text, &[7, u64::MAX]);
        let entry = TextEntry::parse(&bytes).unwrap();
        let mut hashes = vec![1];
        entry.hashes_into(&mut hashes);
        assert_eq!(hashes, [7, u64::MAX]);
        assert_eq!(entry.text_len, text.len());
        let mut u = TextUnpacker::new();
        assert_eq!(u.text(&entry), Some(text.as_str()));
        assert!(entry.frame.len() < text.len() / 4, "{}", entry.frame.len());
        // an empty text, no paragraphs
        let bytes = TextPacker::new().pack("", &[]);
        assert_eq!(u.text(&TextEntry::parse(&bytes).unwrap()), Some(""));
        // cut short anywhere: not an entry, or a frame that does not give the text
        let bytes = TextPacker::new().pack(&text, &[7, 8]);
        for cut in 0..bytes.len() {
            if let Some(e) = TextEntry::parse(&bytes[..cut]) {
                assert_ne!(u.text(&e), Some(text.as_str()), "cut at {cut}");
            }
        }
        // a length that lies
        let mut bad = bytes.clone();
        bad[4 + 16] ^= 1;
        assert_eq!(u.text(&TextEntry::parse(&bad).unwrap()), None);
    }
}
