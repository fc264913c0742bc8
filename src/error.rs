//! One error type for the library. Every variant that comes from input names the file and,
//! where there is one, the line, so a user can open the bad record directly.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
}

impl SkipReason {
    pub const ALL: [SkipReason; 6] = [
        SkipReason::InvalidUtf8,
        SkipReason::InvalidJson,
        SkipReason::NotAnObject,
        SkipReason::MissingText,
        SkipReason::TextNotString,
        SkipReason::TooLarge,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::InvalidUtf8 => "invalid_utf8",
            SkipReason::InvalidJson => "invalid_json",
            SkipReason::NotAnObject => "not_an_object",
            SkipReason::MissingText => "missing_text",
            SkipReason::TextNotString => "text_not_string",
            SkipReason::TooLarge => "too_large",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}: {detail}")]
    BadRecord {
        path: PathBuf,
        line: u64,
        reason: SkipReason,
        detail: String,
    },
    #[error(
        "{path}: reading stopped after line {line}: the stream is truncated or corrupt, or \
         the file unreadable (the records before were kept): {source}"
    )]
    Truncated {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid parameter `{field}`: {message}")]
    Params {
        field: &'static str,
        message: String,
    },
    #[error("config file {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("output {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    /// A line of a file neardup reads back (an output of a run) that does not parse.
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("interrupted; no output was written (previous outputs, if any, are untouched)")]
    Interrupted,
}

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

    pub(crate) fn params(field: &'static str, message: impl Into<String>) -> Self {
        Error::Params {
            field,
            message: message.into(),
        }
    }
}
