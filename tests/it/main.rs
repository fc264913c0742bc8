//! All integration tests, built into one test binary.

mod cli;
mod determinism;
mod oracle;
mod paragraphs;
mod properties;
mod report;
mod simhash;
mod syndication;
mod util;
