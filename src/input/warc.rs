//! WARC: the bytes of a WARC 1.0 or 1.1 file (plain, gzip per record as Common Crawl
//! ships WARC and WET, or zstd; recognised by their magic bytes) in; its records out, one at
//! a time, each with its type, its headers, its block, its 0-based index and the byte offset
//! of its `WARC/1.x` line in the decompressed stream.
//!
//! A `response` record's block is an HTTP response: [`WarcRecord::http_response`] parses its
//! status line and headers and gives the payload (de-chunked and, for gzip or deflate
//! content encoding, decompressed). A `conversion` record (WET) is text already, one
//! paragraph per line: [`WarcRecord::conversion_text`] gives it as it is.
//!
//! Invariants: records come in stream order with increasing indices and offsets; memory
//! per record is bounded by `max_record_bytes` (a record over it is an error for that
//! record, its block is skipped unread and reading goes on); every byte of the stream is
//! either in a record, in the blank lines that end one, or reported in an error, so nothing
//! is dropped silently. An error that leaves the stream readable (garbage between records, a
//! wrong Content-Length, a record too large, a bad header) is yielded and reading goes on
//! from the next `WARC/1.` line; one that does not (the stream ends inside a record, a
//! compressed member is cut short or corrupt, an I/O error) is yielded last
//! ([`WarcError::is_fatal`]).

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// The largest record read by default: above any real HTML page or WET text, and small
/// enough that a few reader threads fit in memory.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 64 << 20;

/// Longest header line, and longest header section, accepted.
const MAX_HEADER_LINE: usize = 64 << 10;
const MAX_HEADER_BYTES: usize = 1 << 20;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How the stream was compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain WARC.
    None,
    /// One or more gzip members (usually one per record).
    Gzip,
    /// One or more zstd frames.
    Zstd,
}

/// What went wrong in a WARC stream, and where. `offset` is a byte offset in the
/// decompressed stream (of the record's `WARC/1.x` line, for an error inside a record); `index` is the 0-based number of the record concerned (records
/// that fail count, so indices are stable).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WarcError {
    /// Bytes that are not a record, between two records: skipped up to the next line that
    /// starts with `WARC/1.` (or to the end of the stream).
    #[error(
        "byte {offset}: {skipped} bytes that are not a WARC record skipped ({})",
        if *.resumed { "reading resumes at the next `WARC/1.` line" } else { "to the end of the stream" }
    )]
    Garbage {
        /// Where the skipped bytes start.
        offset: u64,
        /// How many bytes were skipped.
        skipped: u64,
        /// Whether a `WARC/1.` line came after them (else the stream ended).
        resumed: bool,
    },
    /// The stream ends inside the record's header section.
    #[error("record {index} at byte {offset}: the stream ends inside the record's headers")]
    TruncatedHeader {
        /// The record's number.
        index: u64,
        /// Offset of the record's `WARC/1.x` line.
        offset: u64,
    },
    /// The Content-Length runs past the end of the stream: the record is truncated.
    #[error(
        "record {index} at byte {offset}: Content-Length {length} runs past the end of the \
         stream ({available} bytes of the block are there)"
    )]
    PastEnd {
        /// The record's number.
        index: u64,
        /// Offset of the record's `WARC/1.x` line.
        offset: u64,
        /// The Content-Length given.
        length: u64,
        /// The bytes of the block the stream still held.
        available: u64,
    },
    /// The block of Content-Length bytes is not followed by the blank line that ends a
    /// record (and the next record or the end of the stream): the length is wrong.
    #[error(
        "record {index} at byte {offset}: Content-Length {length} does not end the record \
         (no blank line and next record after the block); record skipped"
    )]
    LengthMismatch {
        /// The record's number.
        index: u64,
        /// Offset of the record's `WARC/1.x` line.
        offset: u64,
        /// The Content-Length given.
        length: u64,
    },
    /// Content-Length is missing or not a number.
    #[error("record {index} at byte {offset}: no valid Content-Length ({value:?}); record skipped")]
    BadContentLength {
        /// The record's number.
        index: u64,
        /// Offset of the record's `WARC/1.x` line.
        offset: u64,
        /// The header's value as written; `None` when there is no such header.
        value: Option<String>,
    },
    /// A header line is not `Name: value`, or the header section is too long.
    #[error("record {index} at byte {offset}: bad header section: {detail}; record skipped")]
    BadHeader {
        /// The record's number.
        index: u64,
        /// Offset of the record's `WARC/1.x` line.
        offset: u64,
        /// What is wrong (for a malformed line, its first 80 characters).
        detail: String,
    },
    /// The record is larger than the reader's `max_record_bytes`; its block was skipped.
    #[error(
        "record {index} at byte {offset}: {length} bytes is over the limit of {max}; record \
         skipped"
    )]
    TooLarge {
        /// The record's number.
        index: u64,
        /// Offset of the record's `WARC/1.x` line.
        offset: u64,
        /// The Content-Length given.
        length: u64,
        /// The reader's `max_record_bytes`.
        max: u64,
        /// Its WARC-Type, as written (empty when it has none).
        warc_type: String,
        /// Its WARC-Record-ID.
        record_id: Option<String>,
    },
    /// The compressed stream is corrupt or cut short (a gzip member or zstd frame ends
    /// early); the records before were read.
    #[error(
        "record {index} at byte {offset}: the {compression:?} stream is cut short or corrupt: \
         {source}"
    )]
    Compressed {
        /// The record being read, or the next record's number when it failed between two.
        index: u64,
        /// Where reading stopped, or the record's start when what follows its block could
        /// not be read.
        offset: u64,
        /// Which decompressor failed.
        compression: Compression,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },
    /// Reading the stream failed.
    #[error("record {index} at byte {offset}: {source}")]
    Io {
        /// The record being read, or the next record's number when it failed between two.
        index: u64,
        /// Where reading stopped, or the record's start when what follows its block could
        /// not be read.
        offset: u64,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

impl WarcError {
    /// True when reading cannot go on after this error (it is the last item).
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            WarcError::TruncatedHeader { .. }
                | WarcError::PastEnd { .. }
                | WarcError::Compressed { .. }
                | WarcError::Io { .. }
        )
    }

    /// The byte offset (in the decompressed stream) the error is about.
    #[must_use]
    pub fn offset(&self) -> u64 {
        match self {
            WarcError::Garbage { offset, .. }
            | WarcError::TruncatedHeader { offset, .. }
            | WarcError::PastEnd { offset, .. }
            | WarcError::LengthMismatch { offset, .. }
            | WarcError::BadContentLength { offset, .. }
            | WarcError::BadHeader { offset, .. }
            | WarcError::TooLarge { offset, .. }
            | WarcError::Compressed { offset, .. }
            | WarcError::Io { offset, .. } => *offset,
        }
    }
}

/// The WARC-Type of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    /// Describes the WARC file itself.
    Warcinfo,
    /// A server's response: an HTTP response, whose payload may be a document.
    Response,
    /// A resource fetched without a protocol response (e.g. a file).
    Resource,
    /// The request a response answered.
    Request,
    /// Metadata about another record.
    Metadata,
    /// A response seen again, stored as a reference to an earlier one.
    Revisit,
    /// Another record's content converted, e.g. extracted text (WET).
    Conversion,
    /// A later segment of a record split over several.
    Continuation,
    /// A type this reader does not know (or none): its value as written.
    Other(String),
}

impl RecordKind {
    /// The kind a WARC-Type value names (case-insensitive).
    #[must_use]
    pub fn parse(value: &str) -> RecordKind {
        match value.to_ascii_lowercase().as_str() {
            "warcinfo" => RecordKind::Warcinfo,
            "response" => RecordKind::Response,
            "resource" => RecordKind::Resource,
            "request" => RecordKind::Request,
            "metadata" => RecordKind::Metadata,
            "revisit" => RecordKind::Revisit,
            "conversion" => RecordKind::Conversion,
            "continuation" => RecordKind::Continuation,
            _ => RecordKind::Other(value.to_owned()),
        }
    }

    /// The name as WARC writes it (`response`, `conversion`...).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            RecordKind::Warcinfo => "warcinfo",
            RecordKind::Response => "response",
            RecordKind::Resource => "resource",
            RecordKind::Request => "request",
            RecordKind::Metadata => "metadata",
            RecordKind::Revisit => "revisit",
            RecordKind::Conversion => "conversion",
            RecordKind::Continuation => "continuation",
            RecordKind::Other(s) => s,
        }
    }
}

/// One WARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarcRecord {
    /// 0-based number of the record in the stream.
    pub index: u64,
    /// Byte offset of its `WARC/1.x` line in the decompressed stream.
    pub offset: u64,
    /// The version line, e.g. `WARC/1.1`.
    pub version: String,
    /// The named fields in order, names as written (look them up with [`Self::header`]).
    pub headers: Vec<(String, String)>,
    /// The block: exactly Content-Length bytes.
    pub block: Vec<u8>,
}

impl WarcRecord {
    /// The first header of that name (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// WARC-Type.
    #[must_use]
    pub fn kind(&self) -> RecordKind {
        RecordKind::parse(self.header("WARC-Type").unwrap_or(""))
    }

    /// WARC-Record-ID, e.g. `<urn:uuid:...>`.
    #[must_use]
    pub fn record_id(&self) -> Option<&str> {
        self.header("WARC-Record-ID")
    }

    /// WARC-Target-URI.
    #[must_use]
    pub fn target_uri(&self) -> Option<&str> {
        self.header("WARC-Target-URI")
    }

    /// WARC-Date.
    #[must_use]
    pub fn date(&self) -> Option<&str> {
        self.header("WARC-Date")
    }

    /// The record's Content-Type (of the block: `application/http; msgtype=response` for a
    /// response, `text/plain` for a conversion).
    #[must_use]
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    /// Content-Length: the block's length.
    #[must_use]
    pub fn content_length(&self) -> u64 {
        self.block.len() as u64
    }

    /// The HTTP response in the block of a `response` record.
    pub fn http_response(&self) -> Result<HttpResponse<'_>, HttpError> {
        HttpResponse::parse(&self.block)
    }

    /// The text of a `conversion` record (WET): UTF-8 as written, one paragraph per line;
    /// invalid bytes become U+FFFD, and their count is the second value.
    #[must_use]
    pub fn conversion_text(&self) -> (Cow<'_, str>, u64) {
        lossy_utf8(&self.block)
    }
}

/// `bytes` as UTF-8, each invalid sequence replaced by U+FFFD, and how many were.
fn lossy_utf8(bytes: &[u8]) -> (Cow<'_, str>, u64) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(s), 0);
    }
    let replaced = bytes
        .utf8_chunks()
        .filter(|c| !c.invalid().is_empty())
        .count();
    (String::from_utf8_lossy(bytes), replaced as u64)
}

/// Adds one header line (`Name: value`, or a continuation of the previous value starting
/// with a space or tab) to `headers`; false when it is neither. Bytes that are not UTF-8
/// are replaced.
fn push_header(headers: &mut Vec<(String, String)>, line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    if matches!(line.first(), Some(b' ' | b'\t'))
        && let Some(last) = headers.last_mut()
    {
        last.1.push(' ');
        last.1.push_str(text.trim());
        return true;
    }
    let Some((name, value)) = text.split_once(':') else {
        return false;
    };
    headers.push((name.trim().to_owned(), value.trim().to_owned()));
    true
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a response record's block is not a usable HTTP response.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The block does not start with `HTTP/x.y NNN`.
    #[error("no HTTP status line: {0:?}")]
    StatusLine(String),
    /// No blank line ends the HTTP headers.
    #[error("the HTTP headers have no end")]
    NoHeaderEnd,
    /// A chunked body whose chunk sizes do not add up.
    #[error("bad chunked transfer encoding: {0}")]
    Chunked(&'static str),
    /// A compressed body that does not decompress.
    #[error("bad {encoding} content encoding: {detail}")]
    ContentEncoding {
        /// The Content-Encoding, lower-cased (`gzip`, `deflate`, `zstd`, or one not supported).
        encoding: String,
        /// The decoder's error, `not supported`, or the decoded size limit.
        detail: String,
    },
}

/// An HTTP response, borrowed from a record's block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The reason phrase, e.g. `OK` (may be empty).
    pub reason: String,
    /// The header fields in order.
    pub headers: Vec<(String, String)>,
    /// The body as it is in the record (still chunked or compressed if it was sent so).
    pub body: &'a [u8],
}

/// A decompressed body is refused past this many bytes (a zip bomb stays a bounded error).
const MAX_DECODED_BODY: u64 = DEFAULT_MAX_RECORD_BYTES * 2;

impl<'a> HttpResponse<'a> {
    /// Parses the status line and headers of `block`.
    pub fn parse(block: &'a [u8]) -> Result<HttpResponse<'a>, HttpError> {
        let mut lines = block.split_inclusive(|&b| b == b'\n');
        let first = lines.next().unwrap_or_default();
        let status_line = String::from_utf8_lossy(first.trim_ascii_end()).into_owned();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status = parts
            .next()
            .filter(|s| s.len() == 3)
            .and_then(|s| s.parse::<u16>().ok());
        let (true, Some(status)) = (version.starts_with("HTTP/"), status) else {
            let shown: String = status_line.chars().take(80).collect();
            return Err(HttpError::StatusLine(shown));
        };
        let reason = parts.next().unwrap_or_default().to_owned();
        let mut used = first.len();
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut ended = false;
        for line in lines {
            used += line.len();
            let content = line.trim_ascii_end();
            if content.is_empty() && line.ends_with(b"\n") {
                ended = true;
                break;
            }
            // a line that is no header is ignored, as HTTP clients do
            let _ = push_header(&mut headers, content);
        }
        if !ended {
            return Err(HttpError::NoHeaderEnd);
        }
        Ok(HttpResponse {
            status,
            reason,
            headers,
            body: &block[used..],
        })
    }

    /// The first header of that name (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The media type of Content-Type, lower-cased (`text/html`), if there is one.
    #[must_use]
    pub fn media_type(&self) -> Option<String> {
        self.header("Content-Type")
            .map(|v| parse_content_type(v).0)
            .filter(|m| !m.is_empty())
    }

    /// The `charset` parameter of Content-Type, if there is one.
    #[must_use]
    pub fn charset(&self) -> Option<String> {
        self.header("Content-Type")
            .and_then(|v| parse_content_type(v).1)
    }

    /// True when the payload is HTML: its Content-Type says so, or it has none (or a
    /// generic one) and the payload starts like HTML.
    pub fn is_html(&self) -> Result<bool, HttpError> {
        match self.media_type().as_deref() {
            Some("text/html" | "application/xhtml+xml") => Ok(true),
            None | Some("application/octet-stream" | "text/plain" | "unknown/unknown") => {
                Ok(sniff_html(&self.payload()?))
            }
            Some(_) => Ok(false),
        }
    }

    /// The payload: the body with chunked transfer encoding undone and gzip or deflate
    /// content encoding decompressed. Any other content encoding is an error.
    pub fn payload(&self) -> Result<Cow<'a, [u8]>, HttpError> {
        let mut body: Cow<'a, [u8]> = Cow::Borrowed(self.body);
        if self
            .header("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            body = Cow::Owned(dechunk(&body)?);
        }
        let encoding = self
            .header("Content-Encoding")
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let decoded = match encoding.as_str() {
            "" | "identity" => return Ok(body),
            "gzip" | "x-gzip" => read_bounded(MultiGzDecoder::new(&body[..])),
            // RFC 9110's deflate is zlib-wrapped, but servers have long sent the raw
            // stream instead, and browsers take both: so do we, by the zlib header
            "deflate" if is_zlib_header(&body) => read_bounded(ZlibDecoder::new(&body[..])),
            "deflate" => read_bounded(DeflateDecoder::new(&body[..])),
            "zstd" => zstd::stream::read::Decoder::with_buffer(&body[..])
                .map_err(|e| e.to_string())
                .and_then(read_bounded),
            _ => Err("not supported".to_owned()),
        };
        decoded
            .map(Cow::Owned)
            .map_err(|detail| HttpError::ContentEncoding { encoding, detail })
    }
}

/// Whether `body` starts with a zlib header (RFC 1950): method 8 (deflate) with a window
/// of at most 32 KiB, and the two bytes a multiple of 31. A raw deflate stream starts
/// with a block header, which passes this check one time in about 500.
fn is_zlib_header(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn read_bounded(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECODED_BODY + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > MAX_DECODED_BODY {
        return Err(format!("decompresses to over {MAX_DECODED_BODY} bytes"));
    }
    Ok(out)
}

/// Undoes chunked transfer encoding. Trailers after the last chunk are ignored.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let eol = memchr::memchr(b'\n', body).ok_or(HttpError::Chunked("no chunk size line"))?;
        let line = &body[..eol];
        let size = line
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or(HttpError::Chunked("chunk size is not hexadecimal"))?;
        body = &body[eol + 1..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body
            .get(..size)
            .ok_or(HttpError::Chunked("chunk runs past the end of the body"))?;
        out.extend_from_slice(chunk);
        body = &body[size..];
        body = body
            .strip_prefix(b"\r\n")
            .or_else(|| body.strip_prefix(b"\n"))
            .unwrap_or(body);
    }
}

/// `text/html; charset="UTF-8"` -> (`text/html`, `Some("UTF-8")`).
#[must_use]
pub fn parse_content_type(value: &str) -> (String, Option<String>) {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_owned())
            .filter(|v| !v.is_empty())
    });
    (media, charset)
}

/// True when `payload` starts (after whitespace and a byte-order mark) the way the WHATWG
/// MIME sniffing standard recognises HTML: `<!DOCTYPE HTML`, `<html`, `<head`, `<body`,
/// `<p`, `<div`... followed by a space or `>`, or a comment.
#[must_use]
pub fn sniff_html(payload: &[u8]) -> bool {
    const TAGS: [&[u8]; 17] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<meta",
    ];
    let start = payload.strip_prefix(b"\xef\xbb\xbf").unwrap_or(payload);
    let start = start.trim_ascii_start();
    if start.starts_with(b"<!--") {
        return true;
    }
    TAGS.iter().any(|tag| {
        start.len() > tag.len()
            && start[..tag.len()].eq_ignore_ascii_case(tag)
            && matches!(start[tag.len()], b' ' | b'>')
    })
}

/// The decompressed stream, with room to put bytes back (after a wrong Content-Length the
/// block is read again as possible garbage) and a count of the bytes consumed.
struct Input<R> {
    inner: R,
    back: Vec<u8>,
    back_pos: usize,
    offset: u64,
}

impl<R: BufRead> Input<R> {
    fn fill(&mut self) -> io::Result<&[u8]> {
        if self.back_pos < self.back.len() {
            return Ok(&self.back[self.back_pos..]);
        }
        // retry an interrupted read; the buffer is then returned by a second, free call,
        // since a borrow returned from inside the loop would outlive it
        loop {
            match self.inner.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.back_pos < self.back.len() {
            self.back_pos += n;
            if self.back_pos == self.back.len() {
                self.back.clear();
                self.back_pos = 0;
            }
        } else {
            self.inner.consume(n);
        }
        self.offset += n as u64;
    }

    /// Puts `bytes` back in front of the stream.
    fn unread(&mut self, bytes: &[u8]) {
        let mut back = Vec::with_capacity(bytes.len() + self.back.len() - self.back_pos);
        back.extend_from_slice(bytes);
        back.extend_from_slice(&self.back[self.back_pos..]);
        self.back = back;
        self.back_pos = 0;
        self.offset -= bytes.len() as u64;
    }

    /// The next `n` bytes (fewer at the end of the stream), not consumed.
    fn peek(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            let buf = self.fill()?;
            if buf.is_empty() {
                break;
            }
            let take = buf.len().min(n - got.len());
            got.extend_from_slice(&buf[..take]);
            self.consume(take);
        }
        self.unread(&got);
        Ok(got)
    }

    /// Reads one line (through its `\n`), keeping at most `keep` bytes of it. `None` at
    /// the end of the stream.
    fn line(&mut self, keep: usize) -> io::Result<Option<Line>> {
        let mut line = Line::default();
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok((line.len > 0).then_some(line));
            }
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = keep.saturating_sub(line.bytes.len());
            line.bytes.extend_from_slice(&buf[..take.min(room)]);
            line.len += take as u64;
            self.consume(take);
            if done {
                return Ok(Some(line));
            }
        }
    }
}

#[derive(Default)]
struct Line {
    /// The first bytes of the line.
    bytes: Vec<u8>,
    /// Its whole length, `\n` included.
    len: u64,
}

impl Line {
    fn is_blank(&self) -> bool {
        self.bytes.len() as u64 == self.len && self.bytes.trim_ascii().is_empty()
    }

    fn is_version(&self) -> bool {
        self.bytes.starts_with(b"WARC/1.")
    }

    fn is_complete(&self) -> bool {
        self.bytes.len() as u64 == self.len
    }
}

/// Reads WARC records from a decompressed stream; see the module docs.
pub struct WarcReader<R> {
    input: Input<R>,
    compression: Compression,
    max_record_bytes: u64,
    index: u64,
    /// A version line already read (while skipping garbage), and its offset.
    version: Option<(Vec<u8>, u64)>,
    done: bool,
}

impl<'a> WarcReader<Box<dyn BufRead + 'a>> {
    /// Opens a WARC stream, recognising gzip and zstd by their magic bytes.
    pub fn open(mut reader: impl BufRead + 'a) -> io::Result<Self> {
        let head = reader.fill_buf()?;
        let (compression, inner): (_, Box<dyn BufRead + 'a>) = if head.starts_with(&GZIP_MAGIC) {
            (
                Compression::Gzip,
                Box::new(BufReader::new(MultiGzDecoder::new(reader))),
            )
        } else if head.starts_with(&ZSTD_MAGIC) {
            (
                Compression::Zstd,
                Box::new(BufReader::new(zstd::stream::read::Decoder::with_buffer(
                    reader,
                )?)),
            )
        } else {
            (Compression::None, Box::new(reader))
        };
        let mut warc = WarcReader::new(inner);
        warc.compression = compression;
        Ok(warc)
    }
}

impl<R: BufRead> WarcReader<R> {
    /// Reads records from `reader`, which is plain (decompressed) WARC.
    pub fn new(reader: R) -> Self {
        WarcReader {
            input: Input {
                inner: reader,
                back: Vec::new(),
                back_pos: 0,
                offset: 0,
            },
            compression: Compression::None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            index: 0,
            version: None,
            done: false,
        }
    }

    /// Sets the largest record (Content-Length) read into memory.
    #[must_use]
    pub fn max_record_bytes(mut self, max: u64) -> Self {
        self.max_record_bytes = max;
        self
    }

    /// Names the compression of a stream the caller decompressed (so that an error in
    /// it says a compressed member was cut short, not that reading failed).
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Bytes of the decompressed stream consumed so far.
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.input.offset
    }

    /// The compression recognised when the stream was opened.
    #[must_use]
    pub fn compression(&self) -> Compression {
        self.compression
    }

    fn io_error(&mut self, index: u64, offset: u64, source: io::Error) -> WarcError {
        self.done = true;
        if self.compression == Compression::None {
            WarcError::Io {
                index,
                offset,
                source,
            }
        } else {
            WarcError::Compressed {
                index,
                offset,
                compression: self.compression,
                source,
            }
        }
    }

    /// Finds the next version line: skips blank lines, and reports anything else skipped.
    fn next_version(&mut self) -> Result<Option<(Vec<u8>, u64)>, WarcError> {
        if let Some(found) = self.version.take() {
            return Ok(Some(found));
        }
        let mut garbage: Option<(u64, u64)> = None;
        loop {
            let at = self.input.offset;
            let line = match self.input.line(MAX_HEADER_LINE) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.done = true;
                    return match garbage {
                        Some((offset, skipped)) => Err(WarcError::Garbage {
                            offset,
                            skipped,
                            resumed: false,
                        }),
                        None => Ok(None),
                    };
                }
                Err(e) => return Err(self.io_error(self.index, at, e)),
            };
            if line.is_version() && line.is_complete() {
                if let Some((offset, skipped)) = garbage {
                    self.version = Some((line.bytes, at));
                    return Err(WarcError::Garbage {
                        offset,
                        skipped,
                        resumed: true,
                    });
                }
                return Ok(Some((line.bytes, at)));
            }
            if garbage.is_none() && line.is_blank() {
                continue;
            }
            let (_, skipped) = garbage.get_or_insert((at, 0));
            *skipped += line.len;
        }
    }

    fn next_record(&mut self) -> Result<Option<WarcRecord>, WarcError> {
        let Some((version, offset)) = self.next_version()? else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        let headers = self.headers(index, offset)?;
        let length = find_header(&headers, "Content-Length");
        let Some(length) = length.and_then(|v| v.trim().parse::<u64>().ok()) else {
            return Err(WarcError::BadContentLength {
                index,
                offset,
                value: length.map(str::to_owned),
            });
        };
        if length > self.max_record_bytes {
            self.skip_block(index, offset, length)?;
            if !self
                .trailer_ok()
                .map_err(|e| self.io_error(index, offset, e))?
            {
                return Err(WarcError::LengthMismatch {
                    index,
                    offset,
                    length,
                });
            }
            return Err(WarcError::TooLarge {
                index,
                offset,
                length,
                max: self.max_record_bytes,
                warc_type: find_header(&headers, "WARC-Type")
                    .unwrap_or_default()
                    .to_owned(),
                record_id: find_header(&headers, "WARC-Record-ID").map(str::to_owned),
            });
        }
        let block = self.block(index, offset, length)?;
        if !self
            .trailer_ok()
            .map_err(|e| self.io_error(index, offset, e))?
        {
            // the next record may be inside what was taken for this block
            self.input.unread(&block);
            return Err(WarcError::LengthMismatch {
                index,
                offset,
                length,
            });
        }
        Ok(Some(WarcRecord {
            index,
            offset,
            version: String::from_utf8_lossy(version.trim_ascii()).into_owned(),
            headers,
            block,
        }))
    }

    /// The named fields, up to the blank line that ends them.
    fn headers(&mut self, index: u64, offset: u64) -> Result<Vec<(String, String)>, WarcError> {
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut total = 0usize;
        loop {
            let at = self.input.offset;
            let line = match self.input.line(MAX_HEADER_LINE) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.done = true;
                    return Err(WarcError::TruncatedHeader { index, offset });
                }
                Err(e) => return Err(self.io_error(index, offset, e)),
            };
            total += line.bytes.len();
            let bad = |detail: String| WarcError::BadHeader {
                index,
                offset,
                detail,
            };
            if !line.is_complete() || total > MAX_HEADER_BYTES {
                return Err(bad(format!(
                    "a line or the section is longer than {MAX_HEADER_LINE} or \
                     {MAX_HEADER_BYTES} bytes"
                )));
            }
            if line.is_blank() {
                return Ok(headers);
            }
            if line.is_version() {
                // a record cut off inside its headers, followed by the next one
                self.version = Some((line.bytes, at));
                return Err(bad("a `WARC/1.` line inside the headers".to_owned()));
            }
            if !push_header(&mut headers, line.bytes.trim_ascii_end()) {
                let shown: String = String::from_utf8_lossy(&line.bytes)
                    .chars()
                    .take(80)
                    .collect();
                return Err(bad(format!("not a `Name: value` line: {shown:?}")));
            }
        }
    }

    /// Reads a block of `length` bytes (not over `max_record_bytes`).
    fn block(&mut self, index: u64, offset: u64, length: u64) -> Result<Vec<u8>, WarcError> {
        let mut block = Vec::with_capacity(length as usize);
        while (block.len() as u64) < length {
            let buf = match self.input.fill() {
                Ok(buf) => buf,
                Err(e) => return Err(self.io_error(index, offset, e)),
            };
            if buf.is_empty() {
                let available = block.len() as u64;
                if memchr::memmem::find(&block, b"\nWARC/1.").is_some() {
                    // a wrong Content-Length swallowed the records after it: read them
                    self.input.unread(&block);
                    return Err(WarcError::LengthMismatch {
                        index,
                        offset,
                        length,
                    });
                }
                self.done = true;
                return Err(WarcError::PastEnd {
                    index,
                    offset,
                    length,
                    available,
                });
            }
            let take = buf.len().min((length - block.len() as u64) as usize);
            block.extend_from_slice(&buf[..take]);
            self.input.consume(take);
        }
        Ok(block)
    }

    /// Skips a block of `length` bytes without keeping it.
    fn skip_block(&mut self, index: u64, offset: u64, length: u64) -> Result<(), WarcError> {
        let mut left = length;
        while left > 0 {
            let buf = match self.input.fill() {
                Ok(buf) => buf,
                Err(e) => return Err(self.io_error(index, offset, e)),
            };
            if buf.is_empty() {
                self.done = true;
                return Err(WarcError::PastEnd {
                    index,
                    offset,
                    length,
                    available: length - left,
                });
            }
            let take = buf.len().min(left.try_into().unwrap_or(usize::MAX));
            self.input.consume(take);
            left -= take as u64;
        }
        Ok(())
    }

    /// Consumes the line ends after a block; true when they are the blank line that ends a
    /// record (two line ends), or are followed by the end of the stream or a `WARC/` line,
    /// as after a block of the right length. When false, nothing is consumed.
    fn trailer_ok(&mut self) -> io::Result<bool> {
        let mut ends = Vec::new();
        loop {
            let buf = self.input.fill()?;
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            ends.extend_from_slice(&buf[..n]);
            let all = n == buf.len() && n > 0;
            self.input.consume(n);
            if !all {
                break;
            }
        }
        if memchr::memchr_iter(b'\n', &ends).count() >= 2 {
            return Ok(true);
        }
        let next = self.input.peek(5)?;
        if next.is_empty() || next == b"WARC/" {
            Ok(true)
        } else {
            self.input.unread(&ends);
            Ok(false)
        }
    }
}

impl<R: BufRead> Iterator for WarcReader<R> {
    type Item = Result<WarcRecord, WarcError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done && self.version.is_none() {
            return None;
        }
        self.next_record().transpose()
    }
}

/// Writes WARC records, for test fixtures.
#[cfg(test)]
pub(crate) mod writer {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    /// One WARC/1.1 record: the given headers, then the Content-Length of `block`.
    pub(crate) fn record(kind: &str, headers: &[(&str, &str)], block: &[u8]) -> Vec<u8> {
        let mut out = format!("WARC/1.1\r\nWARC-Type: {kind}\r\n").into_bytes();
        for (name, value) in headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", block.len()).as_bytes());
        out.extend_from_slice(block);
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    /// A `response` record holding an HTTP response.
    pub(crate) fn response(id: &str, uri: &str, http_headers: &str, body: &[u8]) -> Vec<u8> {
        let mut block = format!("HTTP/1.1 200 OK\r\n{http_headers}\r\n").into_bytes();
        block.extend_from_slice(body);
        record(
            "response",
            &[
                ("WARC-Record-ID", id),
                ("WARC-Target-URI", uri),
                ("WARC-Date", "2024-12-10T08:00:00Z"),
                ("Content-Type", "application/http; msgtype=response"),
            ],
            &block,
        )
    }

    /// `bytes` as one gzip member.
    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).expect("writing to a Vec");
        enc.finish().expect("writing to a Vec")
    }
}

#[cfg(test)]
mod tests {
    use super::writer::{gzip, record, response};
    use super::*;

    fn read_all(bytes: &[u8]) -> Vec<Result<WarcRecord, WarcError>> {
        WarcReader::open(bytes).expect("open").collect()
    }

    fn three() -> (Vec<u8>, Vec<Vec<u8>>) {
        let records = vec![
            record(
                "warcinfo",
                &[("WARC-Record-ID", "<urn:uuid:0>")],
                b"software: test\r\n",
            ),
            response(
                "<urn:uuid:1>",
                "https://example.com/a",
                "Content-Type: text/html; charset=\"ISO-8859-1\"\r\nServer: x\r\n",
                b"<p>caf\xe9</p>",
            ),
            record(
                "conversion",
                &[
                    ("WARC-Record-ID", "<urn:uuid:2>"),
                    ("WARC-Target-URI", "https://example.com/a"),
                    ("Content-Type", "text/plain"),
                ],
                "first paragraph\nsecond one\n".as_bytes(),
            ),
        ];
        (records.concat(), records)
    }

    #[test]
    fn plain_records_with_offsets() {
        let (bytes, records) = three();
        let got: Vec<WarcRecord> = read_all(&bytes)
            .into_iter()
            .map(|r| r.expect("ok"))
            .collect();
        assert_eq!(got.len(), 3);
        let mut offset = 0;
        for (i, (rec, raw)) in got.iter().zip(&records).enumerate() {
            assert_eq!(rec.index, i as u64);
            assert_eq!(rec.offset, offset);
            assert_eq!(rec.version, "WARC/1.1");
            offset += raw.len() as u64;
        }
        assert_eq!(got[0].kind(), RecordKind::Warcinfo);
        assert_eq!(got[1].kind(), RecordKind::Response);
        assert_eq!(got[1].record_id(), Some("<urn:uuid:1>"));
        assert_eq!(got[1].target_uri(), Some("https://example.com/a"));
        assert_eq!(got[1].date(), Some("2024-12-10T08:00:00Z"));
        assert_eq!(
            got[1].content_type(),
            Some("application/http; msgtype=response")
        );
        let http = got[1].http_response().expect("http");
        assert_eq!((http.status, http.reason.as_str()), (200, "OK"));
        assert_eq!(http.media_type().as_deref(), Some("text/html"));
        assert_eq!(http.charset().as_deref(), Some("ISO-8859-1"));
        assert_eq!(http.header("server"), Some("x"));
        assert_eq!(http.payload().expect("payload").as_ref(), b"<p>caf\xe9</p>");
        assert_eq!(http.is_html(), Ok(true));
        assert_eq!(got[2].kind(), RecordKind::Conversion);
        assert_eq!(
            got[2].conversion_text(),
            (Cow::Borrowed("first paragraph\nsecond one\n"), 0)
        );
        assert_eq!(got[2].content_length(), 27);
    }

    #[test]
    fn gzip_per_record_and_zstd() {
        let (plain, records) = three();
        let per_record: Vec<u8> = records.iter().flat_map(|r| gzip(r)).collect();
        let reader = WarcReader::open(&per_record[..]).expect("open");
        assert_eq!(reader.compression(), Compression::Gzip);
        let from_gzip: Vec<WarcRecord> = reader.map(|r| r.expect("ok")).collect();
        let zst = zstd::encode_all(&plain[..], 3).expect("zstd");
        let reader = WarcReader::open(&zst[..]).expect("open");
        assert_eq!(reader.compression(), Compression::Zstd);
        let from_zstd: Vec<WarcRecord> = reader.map(|r| r.expect("ok")).collect();
        let from_plain: Vec<WarcRecord> = read_all(&plain)
            .into_iter()
            .map(|r| r.expect("ok"))
            .collect();
        assert_eq!(from_gzip, from_plain);
        assert_eq!(from_zstd, from_plain);
    }

    #[test]
    fn gzip_member_cut_short() {
        let (_, records) = three();
        let mut bytes: Vec<u8> = records.iter().take(2).flat_map(|r| gzip(r)).collect();
        let last = gzip(&records[2]);
        bytes.extend_from_slice(&last[..last.len() / 2]);
        let got = read_all(&bytes);
        assert_eq!(got.len(), 3);
        assert!(got[0].is_ok() && got[1].is_ok());
        let err = got[2].as_ref().expect_err("cut short");
        assert!(
            matches!(
                err,
                WarcError::Compressed {
                    index: 2,
                    compression: Compression::Gzip,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_fatal());
    }

    #[test]
    fn truncated_record_is_the_last_item() {
        let (bytes, records) = three();
        let cut = records[0].len() + records[1].len() + 120;
        let got = read_all(&bytes[..cut]);
        assert_eq!(got.len(), 3);
        let err = got[2].as_ref().expect_err("truncated");
        assert!(
            matches!(
                err,
                WarcError::PastEnd { index: 2, length: 27, available, .. } if *available < 27
            ) || matches!(err, WarcError::TruncatedHeader { index: 2, .. }),
            "{err}"
        );
        // inside the headers
        let cut = records[0].len() + 30;
        let got = read_all(&bytes[..cut]);
        assert!(matches!(
            got[1],
            Err(WarcError::TruncatedHeader { index: 1, .. })
        ));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn content_length_too_short_or_too_long() {
        let (_, records) = three();
        for delta in [-5i64, 7, 400] {
            let raw = String::from_utf8_lossy(&records[1]).into_owned();
            let length = i64::try_from(records[1].len()).expect("small");
            let real = raw
                .split("Content-Length: ")
                .nth(1)
                .and_then(|s| s.split("\r\n").next())
                .expect("a length")
                .to_owned();
            let wrong = (real.parse::<i64>().expect("number") + delta).to_string();
            let broken = raw.replacen(
                &format!("Content-Length: {real}"),
                &format!("Content-Length: {wrong}"),
                1,
            );
            assert!(i64::try_from(broken.len()).expect("small") >= length - 1);
            let bytes = [records[0].clone(), broken.into_bytes(), records[2].clone()].concat();
            let got = read_all(&bytes);
            let ok: Vec<u64> = got
                .iter()
                .filter_map(|r| r.as_ref().ok())
                .map(|r| r.index)
                .collect();
            assert_eq!(ok.first(), Some(&0), "delta {delta}");
            assert_eq!(
                got.iter()
                    .filter_map(|r| r.as_ref().ok())
                    .next_back()
                    .map(WarcRecord::record_id),
                Some(Some("<urn:uuid:2>")),
                "delta {delta}: the record after is still read: {got:?}"
            );
            let errors: Vec<&WarcError> = got.iter().filter_map(|r| r.as_ref().err()).collect();
            assert!(
                matches!(
                    errors[0],
                    WarcError::LengthMismatch { index: 1, .. }
                        | WarcError::PastEnd { index: 1, .. }
                ),
                "delta {delta}: {errors:?}"
            );
            assert!(
                errors
                    .iter()
                    .all(|e| !e.is_fatal() || matches!(e, WarcError::PastEnd { .. }))
            );
        }
    }

    #[test]
    fn garbage_between_records_is_skipped_and_reported() {
        let (_, records) = three();
        let junk = b"this is not\r\na warc record\r\n\x00\x01\x02\r\n";
        let bytes = [
            records[0].clone(),
            junk.to_vec(),
            records[1].clone(),
            b"trailing junk".to_vec(),
        ]
        .concat();
        let got = read_all(&bytes);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().map(|r| r.index).ok(), Some(0));
        match &got[1] {
            Err(WarcError::Garbage {
                offset,
                skipped,
                resumed: true,
            }) => {
                assert_eq!(*offset, records[0].len() as u64);
                assert_eq!(*skipped, junk.len() as u64);
            }
            other => panic!("{other:?}"),
        }
        let rec = got[2].as_ref().expect("record after the garbage");
        assert_eq!(
            (rec.index, rec.offset),
            (1, (records[0].len() + junk.len()) as u64)
        );
        assert!(matches!(
            got[3],
            Err(WarcError::Garbage {
                skipped: 13,
                resumed: false,
                ..
            })
        ));
    }

    #[test]
    fn too_large_record_is_skipped() {
        let (bytes, records) = three();
        let got: Vec<_> = WarcReader::open(&bytes[..])
            .expect("open")
            .max_record_bytes(40)
            .collect();
        assert!(got[0].is_ok());
        assert!(matches!(
            got[1],
            Err(WarcError::TooLarge {
                index: 1,
                max: 40,
                ..
            })
        ));
        assert!(got[2].is_ok(), "{:?}", got[2]);
        assert_eq!(records.len(), got.len());
    }

    #[test]
    fn missing_content_length_and_bad_header() {
        let (_, records) = three();
        let no_length = b"WARC/1.0\r\nWARC-Type: resource\r\n\r\nbody\r\n\r\n".to_vec();
        let bad_header =
            b"WARC/1.0\r\nWARC-Type resource\r\nContent-Length: 4\r\n\r\nbody\r\n\r\n".to_vec();
        let bytes = [
            no_length,
            records[0].clone(),
            bad_header,
            records[2].clone(),
        ]
        .concat();
        let got = read_all(&bytes);
        let kinds: Vec<String> = got
            .iter()
            .map(|r| match r {
                Ok(rec) => format!("ok {}", rec.index),
                Err(WarcError::BadContentLength { index, .. }) => format!("length {index}"),
                Err(WarcError::BadHeader { index, .. }) => format!("header {index}"),
                Err(WarcError::Garbage { .. }) => "garbage".to_owned(),
                Err(e) => format!("{e}"),
            })
            .collect();
        assert_eq!(
            kinds,
            ["length 0", "garbage", "ok 1", "header 2", "garbage", "ok 3"]
        );
    }

    #[test]
    fn http_parsing() {
        let block = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html;charset=utf-8\r\nX-Long: a\r\n b\r\n\r\n<p>gone</p>";
        let http = HttpResponse::parse(block).expect("parses");
        assert_eq!(http.status, 404);
        assert_eq!(http.header("x-long"), Some("a b"));
        assert_eq!(http.charset().as_deref(), Some("utf-8"));
        assert_eq!(http.body, b"<p>gone</p>");
        assert!(matches!(
            HttpResponse::parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(HttpError::StatusLine(_))
        ));
        assert_eq!(
            HttpResponse::parse(b"HTTP/1.1 200 OK\r\nA: b"),
            Err(HttpError::NoHeaderEnd)
        );

        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n<p>a\r\n5;ext=1\r\nb</p>\r\n0\r\n\r\n";
        let http = HttpResponse::parse(chunked).expect("parses");
        assert_eq!(http.payload().expect("dechunks").as_ref(), b"<p>ab</p>");
        assert_eq!(http.is_html(), Ok(true), "sniffed");

        let mut gz =
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: image/png\r\n\r\n"
                .to_vec();
        gz.extend_from_slice(&gzip(b"not html"));
        let http = HttpResponse::parse(&gz).expect("parses");
        assert_eq!(http.payload().expect("gunzips").as_ref(), b"not html");
        assert_eq!(http.is_html(), Ok(false));
        // deflate as the RFC says (zlib-wrapped) and as many servers send it (raw), and zstd
        let page = b"<p>deflated page</p>".repeat(20);
        let zlib = {
            use std::io::Write;
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&page).unwrap();
            e.finish().unwrap()
        };
        let raw = {
            use std::io::Write;
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&page).unwrap();
            e.finish().unwrap()
        };
        assert!(is_zlib_header(&zlib) && !is_zlib_header(&raw));
        let zst = zstd::encode_all(&page[..], 3).unwrap();
        for (encoding, body) in [("deflate", zlib), ("Deflate", raw), ("zstd", zst)] {
            let mut block =
                format!("HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\n\r\n").into_bytes();
            block.extend_from_slice(&body);
            let http = HttpResponse::parse(&block).expect("parses");
            assert_eq!(
                http.payload().expect(encoding).as_ref(),
                &page[..],
                "{encoding}"
            );
        }
        let mut bad = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n".to_vec();
        bad.extend_from_slice(b"\xff\xff\xff not deflate");
        assert!(matches!(
            HttpResponse::parse(&bad).expect("parses").payload(),
            Err(HttpError::ContentEncoding { .. })
        ));
        let br = b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n\x00";
        assert!(matches!(
            HttpResponse::parse(br).expect("parses").payload(),
            Err(HttpError::ContentEncoding { .. })
        ));
    }

    #[test]
    fn sniffing_and_content_type() {
        assert!(sniff_html(b"\xef\xbb\xbf  <!DOCTYPE html><html>"));
        assert!(sniff_html(b"\n<HTML lang=en>"));
        assert!(!sniff_html(b"%PDF-1.4"));
        assert!(!sniff_html(b"<paragraph>"));
        assert_eq!(
            parse_content_type("Text/HTML; Charset='windows-1251'; q=1"),
            ("text/html".to_owned(), Some("windows-1251".to_owned()))
        );
        assert_eq!(parse_content_type(""), (String::new(), None));
    }

    #[test]
    fn invalid_utf8_in_wet_text_is_counted() {
        let rec = record("conversion", &[], b"ok\nbad \xff\xfe here\n");
        let got = read_all(&rec);
        let rec = got[0].as_ref().expect("record");
        let (text, replaced) = rec.conversion_text();
        assert_eq!(text, "ok\nbad \u{fffd}\u{fffd} here\n");
        assert_eq!(replaced, 2);
    }

    #[test]
    fn lf_only_and_blank_lines_between_records() {
        let bytes = b"\r\n\nWARC/1.0\nWARC-Type: resource\nContent-Length: 3\n\nabc\n\nWARC/1.0\nWARC-Type: resource\nContent-Length: 0\n\n";
        let got: Vec<WarcRecord> = read_all(bytes)
            .into_iter()
            .map(|r| r.expect("ok"))
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].offset, got[0].block.as_slice()),
            (3, b"abc".as_slice())
        );
        assert_eq!(got[1].block, b"");
    }
}
