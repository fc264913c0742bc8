//! One error type for the library. Every variant that comes from input names the file and,
//! where there is one, the line, so a user can open the bad record directly.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::document::Position;

/// Why a single record could not be compared. Under `--on-error skip` the record still gets
/// its line in `docs.jsonl` with this reason as its `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The line (or text file) is not valid UTF-8.
    InvalidUtf8,
    /// The line is not valid JSON.
    InvalidJson,
    /// The line is valid JSON but not an object.
    NotAnObject,
    /// The text field is absent or null.
    MissingText,
    /// The text field is a number, array, object or boolean.
    TextNotString,
    /// The document is longer than `max_doc_bytes`.
    TooLarge,
    /// A WARC `response` or `resource` record whose payload is not HTML (an image, a PDF,
    /// JSON...): not a document, so not an error.
    NotHtml,
    /// A WARC `response` record whose HTTP status is not 200 (under `--warc-status 200`):
    /// not a document, so not an error.
    HttpStatus,
    /// A WARC `response` record whose block is not an HTTP response, or whose body does
    /// not decode (chunking, content encoding).
    BadHttp,
    /// A WARC record that cannot be read (a wrong or missing Content-Length, a bad
    /// header): the reader skipped it and went on with the next record.
    MalformedRecord,
    /// Parquet rows that could not be decoded (a corrupt page): the rest of their row
    /// group, one line each.
    CorruptData,
}

impl SkipReason {
    /// Every reason, for callers that list or count them all.
    pub const ALL: [SkipReason; 11] = [
        SkipReason::InvalidUtf8,
        SkipReason::InvalidJson,
        SkipReason::NotAnObject,
        SkipReason::MissingText,
        SkipReason::TextNotString,
        SkipReason::TooLarge,
        SkipReason::NotHtml,
        SkipReason::HttpStatus,
        SkipReason::BadHttp,
        SkipReason::MalformedRecord,
        SkipReason::CorruptData,
    ];

    /// True for a bad record; false for a record that is fine but is not a document (a
    /// non-HTML or non-200 WARC response), which is counted but neither warned about nor
    /// a reason for `--on-error stop` to stop.
    #[must_use]
    pub fn is_error(self) -> bool {
        !matches!(self, SkipReason::NotHtml | SkipReason::HttpStatus)
    }

    /// The name `docs.jsonl` uses as the record's status.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::InvalidUtf8 => "invalid_utf8",
            SkipReason::InvalidJson => "invalid_json",
            SkipReason::NotAnObject => "not_an_object",
            SkipReason::MissingText => "missing_text",
            SkipReason::TextNotString => "text_not_string",
            SkipReason::TooLarge => "too_large",
            SkipReason::NotHtml => "not_html",
            SkipReason::HttpStatus => "http_status",
            SkipReason::BadHttp => "bad_http",
            SkipReason::MalformedRecord => "malformed_record",
            SkipReason::CorruptData => "corrupt_data",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the library reports as an error. Variants about input name the file and,
/// where there is one, the line; variants about a parameter name its field or flag and
/// the value given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be opened or read.
    #[error("{path}: {}", os(.source))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An input record that cannot be compared, when the run stops at the first one
    /// (`on_error = stop`).
    #[error("{path}{}: {reason}: {detail}", at(*position))]
    BadRecord {
        /// The input file.
        path: PathBuf,
        /// Where the record stands in it: `path:line` for a line (`:0` for a whole
        /// file), `path@byte` for a WARC record, `path#row` for a Parquet or Arrow row.
        position: Position,
        /// Why the record cannot be compared.
        reason: SkipReason,
        /// The parser's words.
        detail: String,
    },
    /// An input stream that ended early or became unreadable after `line`.
    #[error(
        "{path}: reading stopped after line {line}: the stream is truncated or corrupt, or \
         the file unreadable (the records before were kept): {}",
        os(.source)
    )]
    Truncated {
        /// The input file.
        path: PathBuf,
        /// The last line read whole.
        line: u64,
        /// What the decompressor or the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An input read in part: reading stopped at a WARC record or a Parquet or Arrow row
    /// (a record cut short, a compressed member cut short, a corrupt Arrow batch).
    #[error("{path}: reading stopped at {position}: {message} (the records before were kept)")]
    StoppedAt {
        /// The input file.
        path: PathBuf,
        /// The record (`byte N`) or row (`row N`) where reading stopped.
        position: Position,
        /// What the reader said.
        message: String,
    },
    /// An input recognised as a format it cannot be read as: a Parquet file from a pipe, a
    /// column that is missing or not a string column, a corrupt footer, a Parquet file in
    /// a build without the `columnar` feature. Nothing of it was read.
    #[error("{path}: {message}")]
    Unusable {
        /// The input file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A line of a file the library reads back (a run's `docs.jsonl`, a truth file) that
    /// does not hold what it should.
    #[error("{path}:{line}: {message}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// Its 1-based line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// An id asked for that a run's `docs.jsonl` does not have.
    #[error("{path}: no record with id {id:?}")]
    UnknownId {
        /// The run's `docs.jsonl`.
        path: PathBuf,
        /// The id asked for.
        id: String,
    },
    /// A parameter outside its range, or parameters that do not fit together.
    #[error("invalid parameter `{field}`: {message}")]
    Params {
        /// The field, as a path into `Params` (`lsh.threshold`).
        field: &'static str,
        /// What it must be.
        message: String,
    },
    /// A value that does not parse as what it should be (a number, `word:5`, `on`).
    #[error("{message}")]
    Value {
        /// The value given.
        value: String,
        /// What it should have been.
        message: String,
    },
    /// A parameter flag's value that does not parse.
    #[error("invalid value '{value}' for '--{flag}': {message}")]
    FlagValue {
        /// The flag, without the leading `--`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What it should have been.
        message: String,
    },
    /// A flag that sets no parameter.
    #[error("unknown flag '--{flag}'")]
    UnknownFlag {
        /// The flag as given, without the leading `--`.
        flag: String,
    },
    /// A parameter file (`--config`) that cannot be read or does not parse.
    #[error("config file {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the line and column of a parse error.
        message: String,
    },
    /// An output file or directory that could not be written.
    #[error("output {path}: {}", os(.source))]
    Output {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The spill directory (`--spill-dir`, by default the output directory), where a run
    /// keeps its temporary shingle file, could not be written or read back.
    #[error("spill directory {path} (the run's temporary files, --spill-dir): {}", os(.source))]
    Spill {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file that does not hold what it should (a run's `summary.json`), or an input
    /// that could not be read to the end.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An output directory another run holds the lock of (`output::DirLock`).
    #[error(
        "output directory {dir} is in use by another neardup run ({holder}); wait for it to \
         finish or choose another --out"
    )]
    Busy {
        /// The output directory.
        dir: PathBuf,
        /// Who holds it, as its lock file says (`pid N`).
        holder: String,
    },
    /// An input and the output directory that overlap: an input inside `--out` (where a run
    /// writes, replaces and removes files), or `--out` inside a directory read as input
    /// (a later run would read this run's outputs). Refused before anything is read or
    /// created.
    #[error("{message}; choose an --out that holds no input and lies in no input directory")]
    Overlap {
        /// The input, as given (or as found in a directory).
        input: PathBuf,
        /// The output directory, as given.
        out: PathBuf,
        /// Which of the two it is, naming both.
        message: String,
    },
    /// A stored file (an index's manifest or segment) that is not what it should be: cut
    /// short, damaged, of another format version, kind or parameters. Never read as data.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An index that cannot be used for this run: other parameters, another writer holding
    /// its lock, a missing directory for a read-only run.
    #[error("index {dir}: {message}")]
    Index {
        /// The index directory.
        dir: PathBuf,
        /// Why.
        message: String,
    },
    /// The caller asked the run to stop (`Progress::cancelled`).
    #[error("interrupted; no output was written (previous outputs, if any, are untouched)")]
    Interrupted,
}

/// How a record's place follows its file's name in a message: `:line` (`:0` for a whole
/// file, as messages always wrote it), `@byte`, `#row`.
fn at(position: Position) -> String {
    match position {
        Position::File => ":0".to_owned(),
        Position::Line(n) => format!(":{n}"),
        Position::Offset(n) => format!("@{n}"),
        Position::Row(n) => format!("#{n}"),
    }
}

/// What the operating system said, with a full disk or a file size limit said plainly:
/// `File too large (os error 27)` alone does not tell a user that a limit was hit, nor
/// which. The OS's own words end the text, so the CLI, which drops a cause that the line
/// already ends with, does not print them twice.
fn os(source: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match source.kind() {
        ErrorKind::StorageFull => format!("the disk is full: {source}"),
        ErrorKind::FileTooLarge => format!(
            "file size limit hit (the process's limit, `ulimit -f`, or the largest file the \
             filesystem holds): {source}"
        ),
        ErrorKind::QuotaExceeded => format!("the disk quota is used up: {source}"),
        _ => source.to_string(),
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Output {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn spill(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Spill {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn params(field: &'static str, message: impl Into<String>) -> Self {
        Error::Params {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn value(value: &str, message: impl Into<String>) -> Self {
        Error::Value {
            value: value.to_owned(),
            message: message.into(),
        }
    }
}
