//! Progress of a run: what a long run reports while it works, and how a caller stops it.
//!
//! The library never prints: the CLI turns these calls into progress bars, a library
//! caller ignores them (`NoProgress`). A run checks `Progress::cancelled` between batches
//! and stops with `Error::Interrupted`, leaving no partial output behind.

use crate::error::{Error, Result};

/// Receives progress from a run. The library never prints; the CLI draws bars from this.
pub trait Progress: Sync {
    /// A stage starts; `total` is in the stage's own units (bytes, pairs, records).
    fn stage(&self, _name: &'static str, _total: Option<u64>) {}
    /// `n` more units of the current stage are done.
    fn advance(&self, _n: u64) {}
    /// The current stage is done.
    fn finish_stage(&self) {}
    /// A record was skipped or an input needs attention.
    fn warn(&self, _message: &str) {}
    /// True once the run should stop (a signal arrived): it then returns
    /// `Error::Interrupted` at the next batch, leaving no partial output behind.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Returns `Error::Interrupted` when the caller asked the run to stop.
pub fn check_cancel(progress: &dyn Progress) -> Result<()> {
    if progress.cancelled() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// A progress sink that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}
