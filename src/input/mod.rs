//! Input: paths in, raw records out, in a deterministic order.
//!
//! A path is `-` (standard input: JSONL, or WARC by its first bytes), a file, or a
//! directory (walked recursively in byte order of the names, hidden entries skipped).
//! What a file holds is decided by its first bytes, in a directory too: `PAR1` is
//! Parquet, `ARROW1` an Arrow IPC file, `FF FF FF FF` an Arrow IPC stream (`columnar`),
//! and `WARC/1.` after decompression a WARC or WET file (`warc`). When they say none of
//! these, the name decides: `.warc`/`.wet` (before any `.gz`/`.zst`) is WARC;
//! `.parquet`, `.arrow`, `.feather`, `.ipc` Parquet or Arrow; `.jsonl`, `.ndjson`,
//! `.json` (before any `.gz`/`.zst`) JSONL; a file named directly whose first non-blank
//! byte is `{` JSONL too; anything else is one plain-text document whose id is its path
//! relative to the directory given (or the path as given). Compression is recognised by
//! content (gzip and zstd magic bytes, a skippable zstd frame included), whatever the
//! name.
//!
//! Every source is opened once and read once, from the start: its head is looked at
//! (columnar magic, compression, WARC, then JSONL or text) through a buffer that is then
//! read on, so a pipe, a FIFO, `/dev/stdin` or `<(...)` reads like a file. Parquet and
//! Arrow are the exception: their readers seek, so from a pipe or standard input they are
//! refused with a message (spooling them to a temporary file would silently put a
//! many-gigabyte copy on the disk; naming the file costs the user nothing). In a
//! directory, what is neither a file nor a directory is skipped with a reason, and an
//! entry that cannot be looked at is an error for that entry alone (`walk`).
//!
//! Records are not parsed here: a JSONL line stays bytes, and a WARC record its block and
//! the few headers its fields come from, until a worker thread parses it (`record`: JSON,
//! HTTP, content encoding, charset, HTML to paragraphs), so reading stays a cheap
//! sequential pass. Memory stays bounded: a record over `max_doc_bytes` is counted, never
//! buffered, and Parquet and Arrow are read a row group or a batch at a time. Every
//! record carries its source index and its `Position` there (a line, a WARC byte offset,
//! a row, or the whole file), which is all the accounting later stages need.

#[cfg(feature = "columnar")]
pub mod columnar;
pub mod html;
mod reader;
mod record;
mod walk;
pub mod warc;

pub use reader::{
    FileReport, Inputs, MAX_FILE_NOTES, RawBatch, Source, SourceKind, expand_inputs,
    is_columnar_source, read_sources, rereadable,
};
#[cfg(feature = "columnar")]
pub use reader::{columns_of, row_raw};
pub use record::{ParsedRecord, Raw, RawRecord, WarcDoc, parse_record};
pub use walk::{InputProblem, UnreadInput};
