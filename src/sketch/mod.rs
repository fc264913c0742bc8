//! Sketches: compact summaries of a shingle set from which similarity can be estimated.

pub mod minhash;
pub mod simhash;

pub use minhash::{MinHasher, Signature, estimate_jaccard};
pub use simhash::{DocFrequency, hamming, simhash, simhash_weighted, simhash_weighted_int};
