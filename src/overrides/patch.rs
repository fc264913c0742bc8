//! Overrides of `Params`: a config file and the command-line flags each become a
//! [`ParamsPatch`], applied in turn to the defaults. Every knob of `Params` is an `Option`
//! here, under the same section and field name, so a patch is a partial config file and
//! a config file is a patch. The CLI, `tune` and the Python package build their
//! parameters this way and nowhere else.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::{
    CandidateMethod, CandidateParams, ClusterParams, ClusterShape, ContainmentParams, ErrorPolicy,
    InputParams, MinHashParams, ParagraphParams, Params, RepresentativeRule, ShingleKind,
    ShingleParams, SimHashParams, SimHashWeights, SplitMode, VerifyMethod, VerifyParams,
    WarcStatus,
};

/// One section of the patch: the same fields as its section of `Params`, each optional.
/// Applying it replaces the fields it has and leaves the others.
macro_rules! section_patch {
    ($(#[$doc:meta])* $patch:ident for $params:ident { $($field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $patch {
            $(
                #[doc = concat!("Replaces `", stringify!($field), "` when present.")]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl $patch {
            fn apply_to(self, p: &mut $params) {
                $(
                    if let Some(v) = self.$field {
                        p.$field = v;
                    }
                )*
            }

            fn is_empty(&self) -> bool {
                true $(&& self.$field.is_none())*
            }
        }
    };
}

section_patch! {
    /// Overrides of [`InputParams`].
    InputPatch for InputParams {
        id_field: String,
        text_field: String,
        date_field: String,
        outlet_field: String,
        url_field: String,
        on_error: ErrorPolicy,
        max_doc_bytes: u64,
        warc_status: WarcStatus,
    }
}

section_patch! {
    /// Overrides of [`ShingleParams`].
    ShinglePatch for ShingleParams {
        kind: ShingleKind,
        size: usize,
        seed: u64,
    }
}

section_patch! {
    /// Overrides of [`MinHashParams`].
    MinHashPatch for MinHashParams {
        num_perm: usize,
        seed: u64,
    }
}

/// Overrides of [`LshParams`](crate::params::LshParams). Bands and rows are not replaced one by
/// one: see [`ParamsPatch::apply`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LshPatch {
    /// Replaces `threshold` when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The bands, when this patch sets the banding (see [`ParamsPatch::apply`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bands: Option<usize>,
    /// The rows per band, when this patch sets the banding (see [`ParamsPatch::apply`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// Replaces `recall_weight` when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_weight: Option<f64>,
    /// Replaces `max_bucket` when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bucket: Option<usize>,
}

section_patch! {
    /// Overrides of [`VerifyParams`].
    VerifyPatch for VerifyParams {
        method: VerifyMethod,
    }
}

section_patch! {
    /// Overrides of [`ParagraphParams`].
    ParagraphPatch for ParagraphParams {
        enabled: bool,
        split: SplitMode,
        clean_articles: bool,
        repeat_min_words: usize,
        repeat_max_hamming: u32,
        repeat_threshold: f64,
        boilerplate_min_docs: u64,
        boilerplate_min_fraction: f64,
    }
}

section_patch! {
    /// Overrides of [`CandidateParams`].
    CandidatePatch for CandidateParams {
        method: CandidateMethod,
    }
}

section_patch! {
    /// Overrides of [`SimHashParams`].
    SimHashPatch for SimHashParams {
        max_hamming: u32,
        weights: SimHashWeights,
    }
}

section_patch! {
    /// Overrides of [`ContainmentParams`].
    ContainmentPatch for ContainmentParams {
        enabled: bool,
        min_containment: f64,
        min_shared: u64,
        rows: usize,
        short_copies: bool,
        short_min_containment: f64,
        short_min_shared: u64,
        opening_bands: usize,
    }
}

section_patch! {
    /// Overrides of [`ClusterParams`].
    ClusterPatch for ClusterParams {
        shape: ClusterShape,
        star_min_containment: f64,
        representative: Vec<RepresentativeRule>,
        prefer_outlets: Vec<String>,
    }
}

/// Overrides of [`Params`], section by section; an empty patch changes nothing.
///
/// ```
/// use neardup::overrides::ParamsPatch;
/// use neardup::params::Params;
///
/// let config: ParamsPatch = serde_json::from_str(r#"{"lsh": {"threshold": 0.7}}"#).unwrap();
/// let mut flags = ParamsPatch::default();
/// flags.set_flag("paragraphs", "off")?;
/// let p = flags.apply(config.apply(Params::default()));
/// assert_eq!(p.lsh.threshold, 0.7);
/// assert!(!p.paragraphs.enabled);
/// # Ok::<(), neardup::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParamsPatch {
    /// Overrides of `input`.
    #[serde(skip_serializing_if = "InputPatch::is_empty")]
    pub input: InputPatch,
    /// Overrides of `shingle`.
    #[serde(skip_serializing_if = "ShinglePatch::is_empty")]
    pub shingle: ShinglePatch,
    /// Overrides of `minhash`.
    #[serde(skip_serializing_if = "MinHashPatch::is_empty")]
    pub minhash: MinHashPatch,
    /// Overrides of `lsh`.
    #[serde(skip_serializing_if = "LshPatch::is_empty")]
    pub lsh: LshPatch,
    /// Overrides of `verify`.
    #[serde(skip_serializing_if = "VerifyPatch::is_empty")]
    pub verify: VerifyPatch,
    /// Overrides of `paragraphs`.
    #[serde(skip_serializing_if = "ParagraphPatch::is_empty")]
    pub paragraphs: ParagraphPatch,
    /// Overrides of `candidates`.
    #[serde(skip_serializing_if = "CandidatePatch::is_empty")]
    pub candidates: CandidatePatch,
    /// Overrides of `simhash`.
    #[serde(skip_serializing_if = "SimHashPatch::is_empty")]
    pub simhash: SimHashPatch,
    /// Overrides of `containment`.
    #[serde(skip_serializing_if = "ContainmentPatch::is_empty")]
    pub containment: ContainmentPatch,
    /// Overrides of `cluster`.
    #[serde(skip_serializing_if = "ClusterPatch::is_empty")]
    pub cluster: ClusterPatch,
}

impl Params {
    /// The defaults, then the config file if one is given, then `flags`: the parameters
    /// every front end (the CLI, `tune`, the Python package) builds this way.
    pub fn from_config_and_flags(config: Option<&Path>, flags: ParamsPatch) -> Result<Params> {
        let base = match config {
            Some(path) => ParamsPatch::from_config_file(path)?.apply(Params::default()),
            None => Params::default(),
        };
        Ok(flags.apply(base))
    }
}

impl LshPatch {
    fn is_empty(&self) -> bool {
        *self == LshPatch::default()
    }
}

impl ParamsPatch {
    /// Reads a JSON parameter file: any part of `Params` (the `params` object of a
    /// `summary.json` is a whole one); unknown fields are errors.
    pub fn from_config_file(path: &Path) -> Result<ParamsPatch> {
        let config = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| config(e.to_string()))?;
        // serde fills a struct from an array by position: `[{...}]` or `{"lsh": [0.5]}`
        // would set fields nobody named. The file and each section must be objects.
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| config(e.to_string()))?;
        let kind = |v: &serde_json::Value| match v {
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Null => "null",
            serde_json::Value::Object(_) => "an object",
        };
        let serde_json::Value::Object(sections) = &value else {
            return Err(config(format!(
                "must be a JSON object of parameter sections ({{\"lsh\": {{...}}, ...}}), not {}",
                kind(&value)
            )));
        };
        if let Some((name, v)) = sections.iter().find(|(_, v)| !v.is_object()) {
            return Err(config(format!(
                "section `{name}` must be a JSON object of parameters, not {}",
                kind(v)
            )));
        }
        serde_json::from_str(&text).map_err(|e| config(e.to_string()))
    }

    /// `base` with this patch's fields replaced.
    ///
    /// Bands and rows in `base` were derived from (or chosen for) its threshold,
    /// signature length, recall weight and containment setting. A patch that sets any of
    /// these, or bands or rows themselves, therefore replaces both bands and rows with its
    /// own, and `Params::validate` derives whichever it leaves out.
    #[must_use]
    pub fn apply(self, mut base: Params) -> Params {
        let banding = self.lsh.bands.is_some()
            || self.lsh.rows.is_some()
            || self.lsh.threshold.is_some()
            || self.lsh.recall_weight.is_some()
            || self.minhash.num_perm.is_some()
            || self.containment.enabled.is_some()
            || self.containment.rows.is_some();
        if banding {
            base.lsh.bands = self.lsh.bands;
            base.lsh.rows = self.lsh.rows;
        }
        let lsh = &mut base.lsh;
        if let Some(v) = self.lsh.threshold {
            lsh.threshold = v;
        }
        if let Some(v) = self.lsh.recall_weight {
            lsh.recall_weight = v;
        }
        if let Some(v) = self.lsh.max_bucket {
            lsh.max_bucket = v;
        }
        self.input.apply_to(&mut base.input);
        self.shingle.apply_to(&mut base.shingle);
        self.minhash.apply_to(&mut base.minhash);
        self.verify.apply_to(&mut base.verify);
        self.paragraphs.apply_to(&mut base.paragraphs);
        self.candidates.apply_to(&mut base.candidates);
        self.simhash.apply_to(&mut base.simhash);
        self.containment.apply_to(&mut base.containment);
        self.cluster.apply_to(&mut base.cluster);
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_patch_changes_nothing_and_serializes_empty() {
        let p = ParamsPatch::default();
        assert_eq!(serde_json::to_string(&p).unwrap(), "{}");
        let mut base = Params::default();
        base.lsh.bands = Some(16);
        base.lsh.rows = Some(8);
        assert_eq!(p.apply(base.clone()), base);
    }

    #[test]
    fn a_whole_params_object_is_a_patch_giving_itself() {
        let mut p = Params::default();
        p.lsh.threshold = 0.65;
        p.lsh.bands = Some(20);
        p.lsh.rows = Some(5);
        p.cluster.prefer_outlets = vec!["wire".into()];
        p.paragraphs.clean_articles = false;
        let json = serde_json::to_string(&p).unwrap();
        let patch: ParamsPatch = serde_json::from_str(&json).unwrap();
        assert_eq!(patch.clone().apply(Params::default()), p);
        // and a patch round-trips through its own JSON
        let again: ParamsPatch =
            serde_json::from_str(&serde_json::to_string(&patch).unwrap()).unwrap();
        assert_eq!(again, patch);
    }

    #[test]
    fn config_errors_name_the_file_and_the_unknown_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, r#"{"lsh": {"treshold": 0.7}}"#).unwrap();
        let e = ParamsPatch::from_config_file(&path).unwrap_err();
        assert!(matches!(&e, Error::Config { path: p, .. } if *p == path));
        let text = e.to_string();
        assert!(
            text.contains("c.json") && text.contains("unknown field `treshold`"),
            "{text}"
        );
        let missing = ParamsPatch::from_config_file(&dir.path().join("nope.json")).unwrap_err();
        assert!(matches!(missing, Error::Config { .. }));
    }

    #[test]
    fn changing_what_banding_depends_on_rederives_bands_and_rows() {
        let mut base = Params::default();
        base.lsh.bands = Some(64);
        base.lsh.rows = Some(2);
        let mut threshold = ParamsPatch::default();
        threshold.lsh.threshold = Some(0.9);
        let p = threshold.apply(base.clone());
        assert_eq!((p.lsh.bands, p.lsh.rows), (None, None));
        let mut containment = ParamsPatch::default();
        containment.containment.enabled = Some(false);
        containment.lsh.rows = Some(4);
        let p = containment.apply(base.clone());
        assert_eq!((p.lsh.bands, p.lsh.rows), (None, Some(4)));
        // other fields leave the banding alone
        let mut other = ParamsPatch::default();
        other.lsh.max_bucket = Some(9);
        other.paragraphs.enabled = Some(false);
        let p = other.apply(base);
        assert_eq!(
            (p.lsh.bands, p.lsh.rows, p.lsh.max_bucket),
            (Some(64), Some(2), 9)
        );
    }
}
