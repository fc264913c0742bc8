//! Overrides of the parameters: a config file and the command-line flags, each read into a
//! [`ParamsPatch`] and applied to the defaults, so that the CLI, `tune` and the Python
//! package build their `Params` the same way.
//!
//! In: a config file's `params` object, and flags as typed (`--threshold 0.9`). Out: a
//! patch, and `Params` with the patch applied. It sits above `params`, which knows
//! nothing of where a value came from.

mod flags;
mod patch;

pub use flags::{FLAGS, Flag, flag};
pub use patch::{
    CandidatePatch, ClusterPatch, ContainmentPatch, InputPatch, LshPatch, MinHashPatch,
    ParagraphPatch, ParamsPatch, ShinglePatch, SimHashPatch, VerifyPatch,
};
