//! Input: paths in, raw records out, in a deterministic order.
//!
//! A path is `-` (JSONL on standard input), a file, or a directory (walked recursively in
//! byte order of the names, hidden entries skipped). A file is JSONL when its name ends in
//! `.jsonl`, `.ndjson` or `.json` (before any `.gz`/`.zst`), or, for a file named directly,
//! when its first non-blank byte is `{`; otherwise it is one plain-text document whose id
//! is its path relative to the directory given (or the path as given). Compression is
//! recognised by content (gzip and zstd magic bytes, a skippable zstd frame included),
//! whatever the name.
//!
//! Every source is opened once and read once, from the start: its head is looked at
//! (compression, then JSONL or text) through a buffer that is then read on, so a pipe, a
//! FIFO, `/dev/stdin` or `<(...)` reads like a file. In a directory, what is neither a file
//! nor a directory is skipped with a reason, and an entry that cannot be looked at is an
//! error for that entry alone (`walk`).
//!
//! Records are not parsed here: a JSONL line stays bytes until a worker thread parses it,
//! so reading stays a cheap sequential pass. Every record carries its source index and
//! its `Position` there (a line, or the whole file), which is all the accounting later
//! stages need.

// Readers of the formats scrape dumps come in (issue 15), usable from the library but not
// yet wired into `read_sources` (so not yet read by the CLI): Parquet and Arrow IPC rows,
// HTML to paragraphs, WARC and WET records.
#[cfg(feature = "columnar")]
pub mod columnar;
pub mod html;
mod reader;
mod record;
mod walk;
pub mod warc;

pub use reader::{
    FileReport, Inputs, RawBatch, Source, SourceKind, expand_inputs, read_sources, rereadable,
};
pub use record::{ParsedRecord, Raw, RawRecord, parse_record};
pub use walk::{InputProblem, UnreadInput};
