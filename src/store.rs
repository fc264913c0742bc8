//! The one container every persistent neardup file is written in (the index's segments
//! and manifest; see docs/design-scale-and-index.md), so that a file written under other
//! parameters, cut short, flipped or of another kind is refused by name, never read as
//! data.
//!
//! Layout, little-endian:
//!
//! | bytes | what |
//! |--:|---|
//! | 8 | magic `NEARDUP\0` |
//! | 4 | `FORMAT_VERSION` |
//! | 8 | kind (`records`, `sets`, ..., zero-padded) |
//! | 16 | xxh3-128 of the parameters that shaped the file (`params_digest`) |
//! | 8 | body length |
//! | n | body |
//! | 16 | xxh3-128 of everything before it |
//!
//! Bodies are built with `Encoder` and read with `Decoder`: fixed-width integers and
//! length-prefixed bytes, nothing self-describing, because the header already says what
//! the file is.

use std::io::Write;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3Default;

use crate::error::{Error, Result};
use crate::params::ValidParams;

/// The first bytes of every stored file.
pub const MAGIC: [u8; 8] = *b"NEARDUP\0";

/// Version of the container and of every body layout in it; a reader refuses any other.
/// 2: per-band sorted runs (`bandruns`), band-key rows with a checksum each; 3: each
/// document's outlet group and flagged boilerplate paragraphs in `sets.idx`; 4: the
/// stored verdicts (`verdicts`); 5: `sets.dat` holds each document's text, compressed,
/// and its paragraph hashes (`spill::TextEntry`), `sets.idx` the entries' checksums
/// beside the records'.
pub const FORMAT_VERSION: u32 = 5;

/// Bytes before the body: a body offset `n` is file offset `HEADER + n`.
pub const HEADER: usize = 8 + 4 + 8 + 16 + 8;
const TRAILER: usize = 16;

/// The digest of everything in `params` that shapes a stored file: all of the validated
/// parameters (threads, memory and output paths are not parameters).
#[must_use]
pub fn params_digest(params: &ValidParams) -> u128 {
    let json = serde_json::to_vec(params).expect("parameters serialize");
    xxh3_128(&json)
}

/// The checksum of stored files (xxh3-128), one way for files built in memory and
/// streamed alike.
fn xxh3_128(bytes: &[u8]) -> u128 {
    let mut h = Xxh3Default::new();
    h.update(bytes);
    h.digest128()
}

fn header(kind: &str, digest: u128, len: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER);
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&kind_bytes(kind));
    bytes.extend_from_slice(&digest.to_le_bytes());
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes
}

/// Writes a file of `kind` whose body of `len` bytes is too large to build in memory:
/// `fill` is called with a sink for the body and must give it exactly `len` bytes.
/// Temporary name, sync and rename as in `write`.
pub fn write_stream(
    path: &Path,
    kind: &str,
    digest: u128,
    len: u64,
    fill: impl FnOnce(&mut Sink) -> Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::output(dir, e))?;
    let mut sink = Sink {
        path,
        buf: Vec::with_capacity(SINK_BLOCK),
        body: 0,
        file: Some((tmp, Xxh3Default::new())),
    };
    sink.put(&header(kind, digest, len))?;
    fill(&mut sink)?;
    sink.flush()?;
    let (mut tmp, hasher) = sink.file.take().expect("a writing sink");
    assert_eq!(
        sink.body - HEADER as u64,
        len,
        "write_stream's body is the length it announced"
    );
    tmp.write_all(&hasher.digest128().to_le_bytes())
        .map_err(|e| Error::output(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::output(path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::output(path, e.error))?;
    Ok(())
}

/// `write_stream` for a body whose length is known only by making it: `fill` is called
/// twice, first with a sink that only counts, then to write. It must give the same
/// bytes both times (it streams what it reads from files that do not change), and its
/// errors come from the first call, before the file is created.
pub fn write_stream_measured(
    path: &Path,
    kind: &str,
    digest: u128,
    mut fill: impl FnMut(&mut Sink) -> Result<()>,
) -> Result<()> {
    let mut counter = Sink {
        path,
        buf: Vec::with_capacity(SINK_BLOCK),
        body: 0,
        file: None,
    };
    fill(&mut counter)?;
    counter.flush()?;
    write_stream(path, kind, digest, counter.body, fill)
}

/// Bytes a `Sink` gathers before hashing and writing them: the many small pieces of a
/// row-by-row encoder cost a copy each, not a call into the hasher and the file.
const SINK_BLOCK: usize = 1 << 20;

/// Where `write_stream` takes a body: pieces of any size, gathered into blocks that are
/// checksummed and written as one (or, for `write_stream_measured`'s first call, only
/// counted). The one home of that buffering for every streamed file.
pub struct Sink<'a> {
    path: &'a Path,
    buf: Vec<u8>,
    /// Bytes handed on: hashed and written, or counted.
    body: u64,
    /// The temporary file and the running checksum; `None` when the sink only counts.
    file: Option<(tempfile::NamedTempFile, Xxh3Default)>,
}

impl Sink<'_> {
    /// Appends `bytes` to the body.
    pub fn put(&mut self, bytes: &[u8]) -> Result<()> {
        if self.buf.is_empty() && bytes.len() >= SINK_BLOCK {
            return self.hand_on(bytes);
        }
        self.buf.extend_from_slice(bytes);
        self.flush_if_full()
    }

    /// Appends what `encode` writes into the sink's buffer (an encoder that writes into a
    /// `Vec` writes straight into the block).
    pub fn put_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        encode(&mut self.buf);
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.buf.len() >= SINK_BLOCK {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let handed = self.hand_on(&buf);
        self.buf = buf;
        self.buf.clear();
        handed
    }

    fn hand_on(&mut self, bytes: &[u8]) -> Result<()> {
        self.body += bytes.len() as u64;
        if let Some((file, hasher)) = &mut self.file {
            hasher.update(bytes);
            file.write_all(bytes)
                .map_err(|e| Error::output(self.path, e))?;
        }
        Ok(())
    }
}

/// Checks a file written by `write_stream` (or `write`) without holding it in memory:
/// the header as `check` does, and the checksum over the whole file read in blocks.
/// Returns the body's length.
pub fn check_stream(path: &Path, kind: &str, digest: Option<u128>) -> Result<u64> {
    let mut r = BodyReader::open(path, kind, digest)?;
    let len = r.len();
    r.skip(len)?;
    r.finish()?;
    Ok(len)
}

/// Reads a stored file's body front to back without holding it in memory (an index
/// run scans files that grow with the archive and keeps only what its batch needs).
/// The header is checked on opening; the checksum only by `finish`, after the last
/// byte: a caller uses nothing it read before `finish` has succeeded, so a damaged file
/// is an error naming it, never data.
pub struct BodyReader {
    path: PathBuf,
    file: std::fs::File,
    hasher: Xxh3Default,
    len: u64,
    /// Body bytes not yet handed out.
    left: u64,
    /// Body bytes not yet read from the file (the trailer is read apart, by `finish`).
    unread: u64,
    /// A block of the body, checksummed as a whole when read: the many small reads of a
    /// scan (a field at a time) cost a copy each, not a call into the hasher.
    buf: Vec<u8>,
    at: usize,
    filled: usize,
}

/// Bytes `BodyReader` reads from its file at once.
const BLOCK: usize = 1 << 18;

impl BodyReader {
    /// Opens the file of `kind` at `path`: magic, version, kind, the parameters' digest
    /// (`None`: any) and the length against the file's size are checked here.
    pub fn open(path: &Path, kind: &str, digest: Option<u128>) -> Result<Self> {
        use std::io::Read;
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size < (HEADER + TRAILER) as u64 {
            return Err(corrupt(
                path,
                "not a neardup index file (no magic, or shorter than a header)",
            ));
        }
        let mut file = file;
        let mut head = vec![0u8; HEADER];
        file.read_exact(&mut head).map_err(io)?;
        let len = u64::from_le_bytes(head[36..44].try_into().expect("8 bytes"));
        if len.checked_add((HEADER + TRAILER) as u64) != Some(size) {
            return Err(corrupt(
                path,
                format!(
                    "cut short or extended: the header says {len} bytes of body, the file has {}",
                    size.saturating_sub((HEADER + TRAILER) as u64)
                ),
            ));
        }
        // the header's fields, checked on a file-shaped copy of it with an empty body
        let mut hasher = Xxh3Default::new();
        hasher.update(&head);
        let mut shape = head;
        shape[36..44].copy_from_slice(&0u64.to_le_bytes());
        let mut empty = shape.clone();
        empty.extend_from_slice(&xxh3_128(&shape).to_le_bytes());
        check(path, &empty, kind, digest)?;
        Ok(BodyReader {
            path: path.to_path_buf(),
            file,
            hasher,
            len,
            left: len,
            unread: len,
            buf: Vec::new(),
            at: 0,
            filled: 0,
        })
    }

    /// The body's length in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty body.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the body not read yet.
    #[must_use]
    pub fn left(&self) -> u64 {
        self.left
    }

    /// An error naming the file, for what the body holds that it should not.
    pub fn error(&self, message: impl Into<String>) -> Error {
        corrupt(
            &self.path,
            format!("at body byte {}: {}", self.len - self.left, message.into()),
        )
    }

    /// Fills `buf` from the body.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<()> {
        if buf.len() as u64 > self.left {
            return Err(self.error("the body ends early"));
        }
        let mut n = 0;
        while n < buf.len() {
            if self.at == self.filled {
                self.refill()?;
            }
            let k = (self.filled - self.at).min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&self.buf[self.at..self.at + k]);
            self.at += k;
            n += k;
        }
        self.left -= buf.len() as u64;
        Ok(())
    }

    /// Reads the next block of the body and checksums it.
    fn refill(&mut self) -> Result<()> {
        use std::io::Read;
        let k = usize::try_from(self.unread.min(BLOCK as u64)).expect("at most a block");
        self.buf.resize(k, 0);
        self.file
            .read_exact(&mut self.buf[..k])
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                source: e,
            })?;
        self.hasher.update(&self.buf[..k]);
        self.unread -= k as u64;
        self.at = 0;
        self.filled = k;
        Ok(())
    }

    /// Reads and drops `n` bytes (they are still checksummed).
    pub fn skip(&mut self, n: u64) -> Result<()> {
        self.copy_to(n, |_| Ok(()))
    }

    /// Reads `n` bytes and hands them to `sink` a block at a time (they are checksummed
    /// too: the copy is used only once `finish` has succeeded, or its file is dropped).
    pub fn copy_to(&mut self, mut n: u64, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let mut buf = vec![0u8; usize::try_from(n.min(1 << 20)).expect("at most 1 MiB")];
        while n > 0 {
            let k = usize::try_from(n.min(buf.len() as u64)).expect("at most a buffer");
            self.read(&mut buf[..k])?;
            sink(&buf[..k])?;
            n -= k as u64;
        }
        Ok(())
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read(&mut b)?;
        Ok(b[0])
    }
    /// Reads a `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    /// Reads a `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// Reads a count of items of at least `min_bytes` each, refusing one that would run
    /// past the end (a damaged length must not allocate gigabytes).
    pub fn count(&mut self, min_bytes: u64) -> Result<usize> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| (n as u64).saturating_mul(min_bytes.max(1)) <= self.left)
            .ok_or_else(|| self.error(format!("length {n} runs past the end")))
    }
    /// Reads a length-prefixed string into `buf` (replacing what it held).
    pub fn str_into<'b>(&mut self, buf: &'b mut Vec<u8>) -> Result<&'b str> {
        let n = self.count(1)?;
        buf.resize(n, 0);
        self.read(buf)?;
        std::str::from_utf8(buf).map_err(|_| self.error("a string is not UTF-8"))
    }
    /// Reads an optional string into `buf`: `false` for none.
    pub fn opt_str_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => self.str_into(buf).map(|_| true),
            f => Err(self.error(format!("flag byte {f}"))),
        }
    }
    /// Reads a list of `u32`s.
    pub fn u32s(&mut self) -> Result<Vec<u32>> {
        let n = self.count(4)?;
        (0..n).map(|_| self.u32()).collect()
    }

    /// Fails unless the whole body was read and the checksum matches.
    pub fn finish(mut self) -> Result<()> {
        use std::io::Read;
        debug_assert!(self.left > 0 || self.unread == 0, "all read from the file");
        if self.left > 0 {
            return Err(self.error("bytes left over after the last field"));
        }
        let mut sum = [0u8; TRAILER];
        self.file.read_exact(&mut sum).map_err(|e| Error::Io {
            path: self.path.clone(),
            source: e,
        })?;
        if self.hasher.digest128() != u128::from_le_bytes(sum) {
            return Err(corrupt(
                &self.path,
                "checksum mismatch: the file was changed or damaged",
            ));
        }
        Ok(())
    }
}

/// An error about a stored file: what is wrong with it, naming it.
pub fn corrupt(path: &Path, message: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn kind_bytes(kind: &str) -> [u8; 8] {
    assert!(kind.len() <= 8, "a kind is at most 8 bytes");
    let mut out = [0u8; 8];
    out[..kind.len()].copy_from_slice(kind.as_bytes());
    out
}

/// Writes `body` as a file of `kind` at `path`: to a temporary name in the same directory,
/// synced, then renamed, so that `path` is either absent, the old file or the whole new
/// one.
pub fn write(path: &Path, kind: &str, digest: u128, body: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut bytes = header(kind, digest, body.len() as u64);
    bytes.reserve(body.len() + TRAILER);
    bytes.extend_from_slice(body);
    let sum = xxh3_128(&bytes);
    bytes.extend_from_slice(&sum.to_le_bytes());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::output(dir, e))?;
    tmp.write_all(&bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::output(path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::output(path, e.error))?;
    Ok(())
}

/// Reads the body of the file of `kind` at `path`, checking magic, version, kind, the
/// parameters' digest (`None`: any) and the checksum; any mismatch is `Error::Corrupt`
/// naming the file and what is wrong.
pub fn read(path: &Path, kind: &str, digest: Option<u128>) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let (_, body) = check(path, &bytes, kind, digest)?;
    Ok(body.to_vec())
}

/// Checks a whole stored file held in `bytes`; returns its parameters' digest and body.
pub fn check<'a>(
    path: &Path,
    bytes: &'a [u8],
    kind: &str,
    digest: Option<u128>,
) -> Result<(u128, &'a [u8])> {
    if bytes.len() < HEADER + TRAILER || bytes[..8] != MAGIC {
        return Err(corrupt(
            path,
            "not a neardup index file (no magic, or shorter than a header)",
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(corrupt(
            path,
            format!(
                "format version {version}; this neardup reads version {FORMAT_VERSION} only: \
                 rebuild the index (run its batches again into a new --index directory, or \
                 use the neardup that wrote it)"
            ),
        ));
    }
    if bytes[12..20] != kind_bytes(kind) {
        let found = String::from_utf8_lossy(&bytes[12..20]);
        return Err(corrupt(
            path,
            format!(
                "holds {:?}, expected {kind:?}",
                found.trim_end_matches('\0')
            ),
        ));
    }
    let stored = u128::from_le_bytes(bytes[20..36].try_into().expect("16 bytes"));
    let len = u64::from_le_bytes(bytes[36..44].try_into().expect("8 bytes"));
    if usize::try_from(len)
        .ok()
        .and_then(|n| n.checked_add(HEADER + TRAILER))
        != Some(bytes.len())
    {
        return Err(corrupt(
            path,
            format!(
                "cut short or extended: the header says {len} bytes of body, the file has {}",
                bytes.len().saturating_sub(HEADER + TRAILER)
            ),
        ));
    }
    let end = bytes.len() - TRAILER;
    let sum = u128::from_le_bytes(bytes[end..].try_into().expect("16 bytes"));
    if xxh3_128(&bytes[..end]) != sum {
        return Err(corrupt(
            path,
            "checksum mismatch: the file was changed or damaged",
        ));
    }
    if let Some(want) = digest
        && want != stored
    {
        return Err(corrupt(
            path,
            "written under other parameters than its index's manifest names",
        ));
    }
    Ok((stored, &bytes[HEADER..end]))
}

/// Builds a body: fixed-width little-endian integers and length-prefixed bytes.
#[derive(Debug, Default)]
pub struct Encoder {
    /// The body so far.
    pub buf: Vec<u8>,
}

impl Encoder {
    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends a count or a length (as a `u64`).
    pub fn count(&mut self, n: usize) {
        self.u64(n as u64);
    }
    /// Appends bytes with their length.
    pub fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.buf.extend_from_slice(b);
    }
    /// Appends a string with its length.
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    /// Appends an optional string (a flag byte, then the string).
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    /// Appends a list of `u32`s with its length.
    pub fn u32s(&mut self, v: &[u32]) {
        self.count(v.len());
        for &x in v {
            self.u32(x);
        }
    }
}

/// Reads a body built by `Encoder`; running past its end is `Error::Corrupt` naming the
/// file.
pub struct Decoder<'a> {
    path: PathBuf,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    /// A reader of `bytes`, the body of the file at `path`.
    #[must_use]
    pub fn new(path: &Path, bytes: &'a [u8]) -> Self {
        Decoder {
            path: path.to_path_buf(),
            bytes,
            at: 0,
        }
    }

    /// An error naming the file, for what the body holds that it should not.
    pub fn error(&self, message: impl Into<String>) -> Error {
        corrupt(
            &self.path,
            format!("at body byte {}: {}", self.at, message.into()),
        )
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.error("the body ends early"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// Reads a `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    /// Reads a `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    /// Reads a count or a length, refusing one larger than what is left (a damaged length must not
    /// allocate gigabytes).
    pub fn count(&mut self) -> Result<usize> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| self.error(format!("length {n} runs past the end")))
    }
    /// Reads length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.count()?;
        self.take(n)
    }
    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| self.error("a string is not UTF-8"))
    }
    /// Reads an optional string.
    pub fn opt_str(&mut self) -> Result<Option<&'a str>> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            f => Err(self.error(format!("flag byte {f}"))),
        }
    }
    /// Reads a list of `u32`s.
    pub fn u32s(&mut self) -> Result<Vec<u32>> {
        let n = self.count()?;
        (0..n).map(|_| self.u32()).collect()
    }
    /// True when every byte was read.
    #[must_use]
    pub fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<()> {
        if self.done() {
            Ok(())
        } else {
            Err(self.error("bytes left over after the last field"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body streamed in pieces of every size (empty, small, one past a block, several
    /// blocks at once, into the buffer and past it) is the file `write` makes of it
    /// whole, measured or announced.
    #[test]
    fn a_streamed_body_is_the_file_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..3 * SINK_BLOCK + 777)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let cuts = [0, 0, 5, 1, SINK_BLOCK + 1, 3, 2 * SINK_BLOCK, 10, 0];
        let pieces = |sink: &mut Sink| -> Result<()> {
            let mut at = 0;
            for (i, &n) in cuts.iter().enumerate() {
                let piece = &body[at..at + n];
                if i % 2 == 0 {
                    sink.put(piece)?;
                } else {
                    sink.put_with(|buf| buf.extend_from_slice(piece))?;
                }
                at += n;
            }
            sink.put(&body[at..])
        };
        let whole = dir.path().join("whole");
        write(&whole, "records", 9, &body).unwrap();
        let announced = dir.path().join("announced");
        write_stream(&announced, "records", 9, body.len() as u64, pieces).unwrap();
        let measured = dir.path().join("measured");
        write_stream_measured(&measured, "records", 9, pieces).unwrap();
        let expected = std::fs::read(&whole).unwrap();
        assert_eq!(std::fs::read(&announced).unwrap(), expected);
        assert_eq!(std::fs::read(&measured).unwrap(), expected);
    }

    #[test]
    fn a_file_reads_back_and_any_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut e = Encoder::default();
        e.u64(7);
        e.opt_str(Some("héllo"));
        e.u32s(&[1, 2, 3]);
        write(&path, "records", 42, &e.buf).unwrap();
        let body = read(&path, "records", Some(42)).unwrap();
        let mut d = Decoder::new(&path, &body);
        assert_eq!(d.u64().unwrap(), 7);
        assert_eq!(d.opt_str().unwrap(), Some("héllo"));
        assert_eq!(d.u32s().unwrap(), vec![1, 2, 3]);
        d.finish().unwrap();

        let msg = |r: Result<Vec<u8>>| r.unwrap_err().to_string();
        assert!(msg(read(&path, "sets", None)).contains("expected \"sets\""));
        assert!(msg(read(&path, "records", Some(1))).contains("other parameters"));
        let good = std::fs::read(&path).unwrap();
        for at in [0, 9, 50, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            std::fs::write(&path, &bad).unwrap();
            let m = msg(read(&path, "records", None));
            assert!(m.contains(&path.display().to_string()), "{m}");
        }
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert!(msg(read(&path, "records", None)).contains("cut short"));
        // a file of an earlier version: refused by name, saying what to do
        let mut old = good.clone();
        old[8..12].copy_from_slice(&(FORMAT_VERSION - 1).to_le_bytes());
        std::fs::write(&path, &old).unwrap();
        let m = msg(read(&path, "records", None));
        assert!(
            m.contains(&format!(
                "format version {}; this neardup reads version {FORMAT_VERSION} only",
                FORMAT_VERSION - 1
            )),
            "{m}"
        );
        assert!(m.contains("rebuild the index"), "{m}");
    }
}
