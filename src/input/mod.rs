//! Input: paths in, raw records out, in a deterministic order.
//!
//! A path is `-` (JSONL on standard input), a file, or a directory (walked recursively in
//! byte order of the names, hidden entries skipped). A file is JSONL when its name ends in
//! `.jsonl`, `.ndjson` or `.json` (before any `.gz`/`.zst`), or, for a file named directly,
//! when its first non-blank byte is `{`; otherwise it is one plain-text document whose id
//! is its path relative to the directory given (or the path as given). Compression is
//! recognised by content (gzip and zstd magic bytes), whatever the name.
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
pub mod warc;

pub use reader::{FileReport, RawBatch, Source, SourceKind, expand_inputs, read_sources};
pub use record::{ParsedRecord, Raw, RawRecord, parse_record};
