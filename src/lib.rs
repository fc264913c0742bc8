//! # neardup
//!
//! Finds near-duplicate documents in large text collections: normalization, word or
//! character shingles, MinHash signatures by one-permutation hashing, LSH banding,
//! exact Jaccard verification and union-find clustering, with every input record
//! accounted for and the same output for any thread count.
//!
//! The modules follow the data in layers, from the types every stage shares (`document`,
//! `ids`, `verify::score`) through the stages (`input`, `paragraph`, `sketch`, `lsh`,
//! `verify`, `cluster`) and the run's outputs (`output`) to the `pipeline` that composes
//! them; `docs/architecture.md` has the layer table and the module graph.
//!
//! ```
//! use neardup::{Params, dedup_texts};
//!
//! let body = "the quick brown fox jumps over the lazy dog near the river bank today";
//! let docs = [
//!     ("a", body.to_string()),
//!     ("b", format!("{body}!")),           // punctuation is normalized away
//!     ("c", "an entirely different story about markets and rates".to_string()),
//! ];
//! let params = Params::default().validate()?;
//! // where each record ended up, in input order (on disk: `to_vec` for a few records)
//! let out = dedup_texts(&docs, &params)?.assignments.to_vec()?;
//! assert_eq!(out[0].cluster(), out[1].cluster());
//! assert!(out[0].keep() && !out[1].keep());
//! assert_ne!(out[0].cluster(), out[2].cluster());
//! # Ok::<(), neardup::Error>(())
//! ```

#![warn(missing_docs)]

pub mod analyze;
pub mod boilerplate;
pub mod cluster;
pub mod date;
pub mod document;
pub mod error;
pub mod eval;
pub mod generate;
pub mod hamming;
pub mod ids;
pub mod index;
pub mod input;
pub mod inspect;
pub mod lsh;
pub mod output;
pub mod overrides;
pub mod paragraph;
pub mod params;
pub mod paths;
pub mod pipeline;
pub mod progress;
pub mod provenance;
pub mod records;
pub mod report;
pub mod shingle;
pub mod sketch;
pub mod spill;
pub mod stages;
pub mod store;
#[cfg(test)]
mod testing;
pub mod text;
pub mod tune;
pub mod verify;

pub use error::{Error, Result, SkipReason};
pub use output::OutputFormat;
pub use output::schema::Summary;
pub use params::{Params, ValidParams};
pub use pipeline::{RunOptions, dedup_texts, run};
pub use progress::{NoProgress, Progress};
pub use records::Assignment;
