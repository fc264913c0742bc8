//! Sketches: compact summaries of a shingle set from which similarity can be estimated
//! (`minhash`, `simhash`), and the pass that sketches every document of a run (`pass`).

pub mod minhash;
pub mod pass;
pub mod simhash;

pub use minhash::{MinHasher, Signature, estimate_jaccard};
pub use simhash::{DocFrequency, hamming, simhash, simhash_weighted, simhash_weighted_int};
