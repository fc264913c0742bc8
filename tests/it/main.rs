//! All integration tests, built into one test binary.

mod architecture;
mod cli;
mod defaults;
mod determinism;
mod docs;
mod eval;
mod formats;
mod full_disk;
mod hostile_input;
mod hostile_output;
mod index;
mod oracle;
mod paragraphs;
mod properties;
mod report;
mod short;
mod simhash;
mod syndication;
mod tune;
mod unchanged;
mod util;
