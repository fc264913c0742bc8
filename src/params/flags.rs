//! The parameter flags (`--threshold 0.9`, `--simhash-k 4`, ...): one table saying which
//! `Params` field each flag sets and how its value is read. The CLI builds its clap
//! arguments from this table and the Python package parses `Params.from_cli` with it, so
//! a flag means the same everywhere. Flags that are not parameters (`--out`, `--threads`,
//! `--quiet`, ...) belong to their front end and are not here.
//!
//! Most flags are named after their field; the exceptions keep the names users already
//! type: `--simhash-k` (`simhash.max_hamming`), `--compare clean|raw`
//! (`paragraphs.clean_articles`), `--method` (`candidates.method`), `--verify`
//! (`verify.method`), `--seed` (`minhash.seed`), `--shingle KIND:K` (`shingle.kind` and
//! `shingle.size`), and the on/off switches `--paragraphs` and `--containment` (their
//! sections' `enabled`).

use std::fmt::Display;
use std::str::FromStr;

use super::ParamsPatch;
use crate::error::{Error, Result};

/// A command-line flag that sets parameters.
#[derive(Clone, Copy)]
pub struct Flag {
    /// The flag without its leading `--`.
    pub name: &'static str,
    /// The `Params` fields it sets, as paths (`lsh.threshold`).
    pub fields: &'static [&'static str],
    /// How its value is shown in help (`THRESHOLD`, `on|off`).
    pub value_name: &'static str,
    /// The only values it takes, when they are a short fixed list worth showing.
    pub choices: &'static [&'static str],
    /// Whether its value is a comma-separated list; given again, it adds to the list.
    pub list: bool,
    /// One line of help.
    pub help: &'static str,
    set: fn(&mut ParamsPatch, &str) -> Result<()>,
}

impl std::fmt::Debug for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flag")
            .field("name", &self.name)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl Flag {
    /// Reads `value` into `patch`. A bad value is an `Error::Value` saying what was
    /// expected (the caller names the flag). A list flag splits `value` at commas and adds
    /// the items to what the patch already has.
    pub fn set(&self, patch: &mut ParamsPatch, value: &str) -> Result<()> {
        if self.list {
            value
                .split(',')
                .try_for_each(|item| (self.set)(patch, item))
        } else {
            (self.set)(patch, value)
        }
    }
}

impl ParamsPatch {
    /// Sets the fields behind the flag `--name` from its value as typed
    /// (`set_flag("threshold", "0.9")`).
    pub fn set_flag(&mut self, name: &str, value: &str) -> Result<()> {
        let flag = flag(name).ok_or_else(|| Error::UnknownFlag {
            flag: name.to_owned(),
        })?;
        flag.set(self, value).map_err(|e| Error::FlagValue {
            flag: flag.name,
            value: value.to_owned(),
            message: e.to_string(),
        })
    }
}

/// The flag called `--name`, if it is a parameter flag.
#[must_use]
pub fn flag(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.name == name)
}

fn number<T: FromStr>(v: &str) -> Result<T>
where
    T::Err: Display,
{
    v.parse()
        .map_err(|e: T::Err| Error::value(v, e.to_string()))
}

fn switch(v: &str, on: &str, off: &str) -> Result<bool> {
    if v == on {
        Ok(true)
    } else if v == off {
        Ok(false)
    } else {
        Err(Error::value(
            v,
            format!("expected {on} or {off}, got {v:?}"),
        ))
    }
}

/// Every parameter flag, in the order `neardup dedup --help` lists them.
pub const FLAGS: &[Flag] = &[
    Flag {
        name: "id-field",
        fields: &["input.id_field"],
        value_name: "ID_FIELD",
        choices: &[],
        list: false,
        help: "Field with the record id (a record without one gets FILE:LINE)",
        set: |p, v| {
            p.input.id_field = Some(v.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "text-field",
        fields: &["input.text_field"],
        value_name: "TEXT_FIELD",
        choices: &[],
        list: false,
        help: "Field with the document text",
        set: |p, v| {
            p.input.text_field = Some(v.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "date-field",
        fields: &["input.date_field"],
        value_name: "DATE_FIELD",
        choices: &[],
        list: false,
        help: "Field with the publication date (ISO 8601), used to pick the original",
        set: |p, v| {
            p.input.date_field = Some(v.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "outlet-field",
        fields: &["input.outlet_field"],
        value_name: "OUTLET_FIELD",
        choices: &[],
        list: false,
        help: "Field with the outlet (boilerplate is counted per outlet)",
        set: |p, v| {
            p.input.outlet_field = Some(v.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "on-error",
        fields: &["input.on_error"],
        value_name: "skip|stop",
        choices: &[],
        list: false,
        help: "skip: bad records get a status and are counted; stop: exit 2 at the first one",
        set: |p, v| {
            p.input.on_error = Some(v.parse()?);
            Ok(())
        },
    },
    Flag {
        name: "max-doc-bytes",
        fields: &["input.max_doc_bytes"],
        value_name: "MAX_DOC_BYTES",
        choices: &[],
        list: false,
        help: "Records longer than this many bytes are skipped as too_large",
        set: |p, v| {
            p.input.max_doc_bytes = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "shingle",
        fields: &["shingle.kind", "shingle.size"],
        value_name: "KIND:K",
        choices: &[],
        list: false,
        help: "Shingles: word:K or char:K",
        set: |p, v| {
            let s: super::ShingleParams = v.parse()?;
            p.shingle.kind = Some(s.kind);
            p.shingle.size = Some(s.size);
            Ok(())
        },
    },
    Flag {
        name: "num-perm",
        fields: &["minhash.num_perm"],
        value_name: "NUM_PERM",
        choices: &[],
        list: false,
        help: "MinHash signature length",
        set: |p, v| {
            p.minhash.num_perm = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "seed",
        fields: &["minhash.seed"],
        value_name: "SEED",
        choices: &[],
        list: false,
        help: "Seed of the MinHash bins (the shingle hash seed is in the config)",
        set: |p, v| {
            p.minhash.seed = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "threshold",
        fields: &["lsh.threshold"],
        value_name: "THRESHOLD",
        choices: &[],
        list: false,
        help: "Jaccard similarity at or above which documents are duplicates",
        set: |p, v| {
            p.lsh.threshold = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "bands",
        fields: &["lsh.bands"],
        value_name: "BANDS",
        choices: &[],
        list: false,
        help: "LSH bands (derived from the threshold when absent)",
        set: |p, v| {
            p.lsh.bands = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "rows",
        fields: &["lsh.rows"],
        value_name: "ROWS",
        choices: &[],
        list: false,
        help: "LSH rows per band (derived from the threshold when absent)",
        set: |p, v| {
            p.lsh.rows = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "max-bucket",
        fields: &["lsh.max_bucket"],
        value_name: "MAX_BUCKET",
        choices: &[],
        list: false,
        help: "Buckets larger than this are paired as a sliding window",
        set: |p, v| {
            p.lsh.max_bucket = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "verify",
        fields: &["verify.method"],
        value_name: "exact|estimate",
        choices: &[],
        list: false,
        help: "exact: Jaccard of the shingle sets; estimate: the MinHash estimate",
        set: |p, v| {
            p.verify.method = Some(v.parse()?);
            Ok(())
        },
    },
    Flag {
        name: "method",
        fields: &["candidates.method"],
        value_name: "minhash|simhash|both",
        choices: &[],
        list: false,
        help: "Where candidate pairs come from: MinHash LSH, SimHash fingerprints, or both",
        set: |p, v| {
            p.candidates.method = Some(v.parse()?);
            Ok(())
        },
    },
    Flag {
        name: "simhash-k",
        fields: &["simhash.max_hamming"],
        value_name: "SIMHASH_K",
        choices: &[],
        list: false,
        help: "SimHash candidates: fingerprints within this many bits (0..=8)",
        set: |p, v| {
            p.simhash.max_hamming = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "simhash-weights",
        fields: &["simhash.weights"],
        value_name: "tf|tfidf",
        choices: &[],
        list: false,
        help: "SimHash feature weights: tf, or tf-idf with document frequencies from the input",
        set: |p, v| {
            p.simhash.weights = Some(v.parse()?);
            Ok(())
        },
    },
    Flag {
        name: "paragraphs",
        fields: &["paragraphs.enabled"],
        value_name: "on|off",
        choices: &["on", "off"],
        list: false,
        help: "The paragraph stage (repeats inside documents, boilerplate across them)",
        set: |p, v| {
            p.paragraphs.enabled = Some(switch(v, "on", "off")?);
            Ok(())
        },
    },
    Flag {
        name: "paragraph-split",
        fields: &["paragraphs.split"],
        value_name: "blank|line|auto",
        choices: &[],
        list: false,
        help: "How documents are cut into paragraphs",
        set: |p, v| {
            p.paragraphs.split = Some(v.parse()?);
            Ok(())
        },
    },
    Flag {
        name: "compare",
        fields: &["paragraphs.clean_articles"],
        value_name: "clean|raw",
        choices: &["clean", "raw"],
        list: false,
        help: "Compare articles with repeats and boilerplate removed (clean) or as they are (raw)",
        set: |p, v| {
            p.paragraphs.clean_articles = Some(switch(v, "clean", "raw")?);
            Ok(())
        },
    },
    Flag {
        name: "url-field",
        fields: &["input.url_field"],
        value_name: "URL_FIELD",
        choices: &[],
        list: false,
        help: "Field with the page URL (its host stands in for a missing outlet)",
        set: |p, v| {
            p.input.url_field = Some(v.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "boilerplate-min-docs",
        fields: &["paragraphs.boilerplate_min_docs"],
        value_name: "BOILERPLATE_MIN_DOCS",
        choices: &[],
        list: false,
        help: "Boilerplate: in at least this many documents of one outlet ...",
        set: |p, v| {
            p.paragraphs.boilerplate_min_docs = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "boilerplate-min-fraction",
        fields: &["paragraphs.boilerplate_min_fraction"],
        value_name: "BOILERPLATE_MIN_FRACTION",
        choices: &[],
        list: false,
        help: "... and at least this fraction of them",
        set: |p, v| {
            p.paragraphs.boilerplate_min_fraction = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "repeat-threshold",
        fields: &["paragraphs.repeat_threshold"],
        value_name: "REPEAT_THRESHOLD",
        choices: &[],
        list: false,
        help: "Near-repeat paragraphs: minimum Jaccard of their char 5-gram sets",
        set: |p, v| {
            p.paragraphs.repeat_threshold = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "repeat-max-hamming",
        fields: &["paragraphs.repeat_max_hamming"],
        value_name: "REPEAT_MAX_HAMMING",
        choices: &[],
        list: false,
        help: "Near-repeat paragraphs: maximum SimHash Hamming distance",
        set: |p, v| {
            p.paragraphs.repeat_max_hamming = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "repeat-min-words",
        fields: &["paragraphs.repeat_min_words"],
        value_name: "REPEAT_MIN_WORDS",
        choices: &[],
        list: false,
        help: "Paragraphs with fewer words are never reported as repeats",
        set: |p, v| {
            p.paragraphs.repeat_min_words = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "containment",
        fields: &["containment.enabled"],
        value_name: "on|off",
        choices: &["on", "off"],
        list: false,
        help: "Also match pairs by containment (|A ∩ B| / |smaller|): trimmed and wrapped copies",
        set: |p, v| {
            p.containment.enabled = Some(switch(v, "on", "off")?);
            Ok(())
        },
    },
    Flag {
        name: "min-containment",
        fields: &["containment.min_containment"],
        value_name: "MIN_CONTAINMENT",
        choices: &[],
        list: false,
        help: "Containment at or above which a pair matches",
        set: |p, v| {
            p.containment.min_containment = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "min-shared",
        fields: &["containment.min_shared"],
        value_name: "MIN_SHARED",
        choices: &[],
        list: false,
        help: "A pair matching by containment shares at least this many shingles",
        set: |p, v| {
            p.containment.min_shared = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "cluster-shape",
        fields: &["cluster.shape"],
        value_name: "star|components",
        choices: &[],
        list: false,
        help: "star: members are checked against the representative (chains split); \
               components: connected components of the matching pairs",
        set: |p, v| {
            p.cluster.shape = Some(v.parse()?);
            Ok(())
        },
    },
    Flag {
        name: "star-min-containment",
        fields: &["cluster.star_min_containment"],
        value_name: "STAR_MIN_CONTAINMENT",
        choices: &[],
        list: false,
        help: "Star clusters: members with less containment with the representative split off",
        set: |p, v| {
            p.cluster.star_min_containment = Some(number(v)?);
            Ok(())
        },
    },
    Flag {
        name: "representative",
        fields: &["cluster.representative"],
        value_name: "date,outlet,longest,id",
        choices: &[],
        list: true,
        help: "Order that picks the representative (the original), comma-separated",
        set: |p, v| {
            let rule = v.parse()?;
            p.cluster
                .representative
                .get_or_insert_with(Vec::new)
                .push(rule);
            Ok(())
        },
    },
    Flag {
        name: "prefer-outlets",
        fields: &["cluster.prefer_outlets"],
        value_name: "OUTLET,...",
        choices: &[],
        list: true,
        help: "Outlets whose copy is the original when dates tie, first preferred; comma-separated",
        set: |p, v| {
            let outlets = p.cluster.prefer_outlets.get_or_insert_with(Vec::new);
            outlets.push(v.trim().to_owned());
            Ok(())
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{
        CandidateMethod, ClusterShape, ErrorPolicy, Params, RepresentativeRule, ShingleKind,
        SimHashWeights, SplitMode, VerifyMethod,
    };

    fn patch(flags: &[(&str, &str)]) -> Result<ParamsPatch> {
        let mut p = ParamsPatch::default();
        for (name, value) in flags {
            p.set_flag(name, value)?;
        }
        Ok(p)
    }

    #[test]
    fn every_flag_sets_the_fields_it_names() {
        let p = patch(&[
            ("id-field", "key"),
            ("text-field", "body"),
            ("date-field", "published"),
            ("outlet-field", "site"),
            ("url-field", "link"),
            ("on-error", "stop"),
            ("max-doc-bytes", "1000"),
            ("shingle", "char:9"),
            ("num-perm", "256"),
            ("seed", "7"),
            ("threshold", "0.7"),
            ("bands", "32"),
            ("rows", "8"),
            ("max-bucket", "9"),
            ("verify", "estimate"),
            ("method", "both"),
            ("simhash-k", "4"),
            ("simhash-weights", "tfidf"),
            ("paragraphs", "off"),
            ("paragraph-split", "line"),
            ("compare", "raw"),
            ("boilerplate-min-docs", "5"),
            ("boilerplate-min-fraction", "0.1"),
            ("repeat-threshold", "0.6"),
            ("repeat-max-hamming", "10"),
            ("repeat-min-words", "3"),
            ("containment", "off"),
            ("min-containment", "0.4"),
            ("min-shared", "20"),
            ("cluster-shape", "components"),
            ("star-min-containment", "0.3"),
            ("representative", "id,date"),
            ("prefer-outlets", " wire , paper"),
            ("prefer-outlets", "blog"),
        ])
        .unwrap();
        let q = p.apply(Params::default());
        let mut want = Params::default();
        want.input.id_field = "key".into();
        want.input.text_field = "body".into();
        want.input.date_field = "published".into();
        want.input.outlet_field = "site".into();
        want.input.url_field = "link".into();
        want.input.on_error = ErrorPolicy::Stop;
        want.input.max_doc_bytes = 1000;
        want.shingle.kind = ShingleKind::Char;
        want.shingle.size = 9;
        want.minhash.num_perm = 256;
        want.minhash.seed = 7;
        want.lsh.threshold = 0.7;
        want.lsh.bands = Some(32);
        want.lsh.rows = Some(8);
        want.lsh.max_bucket = 9;
        want.verify.method = VerifyMethod::Estimate;
        want.candidates.method = CandidateMethod::Both;
        want.simhash.max_hamming = 4;
        want.simhash.weights = SimHashWeights::Tfidf;
        let pp = &mut want.paragraphs;
        pp.enabled = false;
        pp.split = SplitMode::Line;
        pp.clean_articles = false;
        pp.boilerplate_min_docs = 5;
        pp.boilerplate_min_fraction = 0.1;
        pp.repeat_threshold = 0.6;
        pp.repeat_max_hamming = 10;
        pp.repeat_min_words = 3;
        want.containment.enabled = false;
        want.containment.min_containment = 0.4;
        want.containment.min_shared = 20;
        want.cluster.shape = ClusterShape::Components;
        want.cluster.star_min_containment = 0.3;
        want.cluster.representative = vec![RepresentativeRule::Id, RepresentativeRule::Date];
        want.cluster.prefer_outlets = vec!["wire".into(), "paper".into(), "blog".into()];
        assert_eq!(q, want);
    }

    #[test]
    fn the_table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for f in FLAGS {
            assert!(names.insert(f.name), "--{} twice", f.name);
            assert!(!f.fields.is_empty() && !f.help.is_empty(), "--{}", f.name);
            for choice in f.choices {
                assert!(
                    f.set(&mut ParamsPatch::default(), choice).is_ok(),
                    "--{} {choice}",
                    f.name
                );
            }
            // every field named is a field of Params
            let json = serde_json::to_value(Params::default()).unwrap();
            for field in f.fields {
                let (section, name) = field.split_once('.').unwrap();
                assert!(json[section].get(name).is_some(), "{field}");
            }
        }
    }

    #[test]
    fn bad_values_and_unknown_flags_name_the_flag() {
        let e = patch(&[("threshold", "high")]).unwrap_err();
        assert!(matches!(&e, Error::FlagValue { flag: "threshold", value, .. } if value == "high"));
        assert_eq!(
            e.to_string(),
            "invalid value 'high' for '--threshold': invalid float literal"
        );
        let e = patch(&[("paragraphs", "yes")]).unwrap_err();
        assert!(e.to_string().contains("expected on or off"), "{e}");
        let e = patch(&[("verify", "maybe")]).unwrap_err();
        assert!(e.to_string().contains("unknown variant `maybe`"), "{e}");
        let e = patch(&[("representative", "date,size")]).unwrap_err();
        assert!(matches!(
            e,
            Error::FlagValue {
                flag: "representative",
                ..
            }
        ));
        let e = patch(&[("threads", "4")]).unwrap_err();
        assert!(matches!(&e, Error::UnknownFlag { flag } if flag == "threads"));
    }
}
