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

use super::patch::ParamsPatch;
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

/// A value read with its type's `FromStr` (numbers, and the enums by their config names).
fn parse<T: FromStr>(v: &str) -> Result<T>
where
    T::Err: Display,
{
    v.parse()
        .map_err(|e: T::Err| Error::value(v, e.to_string()))
}

#[allow(clippy::unnecessary_wraps)] // a reader like the others
fn text(v: &str) -> Result<String> {
    Ok(v.to_owned())
}

#[allow(clippy::unnecessary_wraps)]
fn trimmed(v: &str) -> Result<String> {
    Ok(v.trim().to_owned())
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

fn on_off(v: &str) -> Result<bool> {
    switch(v, "on", "off")
}

fn clean_raw(v: &str) -> Result<bool> {
    switch(v, "clean", "raw")
}

/// A table row for a flag that sets `section.field` to its value read by `read`; with
/// `list`, the values are added to the field's list. The field path is written once, so
/// the table cannot name one field and set another.
macro_rules! flag {
    ($name:literal, $section:ident . $field:ident, $value_name:literal, $read:expr, $help:expr) => {
        flag!($name, $section.$field, $value_name, &[], $read, $help)
    };
    ($name:literal, $section:ident . $field:ident, $value_name:literal, $choices:expr, $read:expr,
     $help:expr) => {
        Flag {
            name: $name,
            fields: &[concat!(stringify!($section), ".", stringify!($field))],
            value_name: $value_name,
            choices: $choices,
            list: false,
            help: $help,
            set: |p, v| {
                p.$section.$field = Some($read(v)?);
                Ok(())
            },
        }
    };
    (list $name:literal, $section:ident . $field:ident, $value_name:literal, $read:expr,
     $help:expr) => {
        Flag {
            name: $name,
            fields: &[concat!(stringify!($section), ".", stringify!($field))],
            value_name: $value_name,
            choices: &[],
            list: true,
            help: $help,
            set: |p, v| {
                p.$section
                    .$field
                    .get_or_insert_with(Vec::new)
                    .push($read(v)?);
                Ok(())
            },
        }
    };
}

/// Every parameter flag, in the order `neardup dedup --help` lists them.
#[rustfmt::skip] // a table: one flag to a row
pub const FLAGS: &[Flag] = &[
    flag!("id-field", input.id_field, "ID_FIELD", text,
        "Field with the record id (a record without one gets FILE:LINE)"),
    flag!("text-field", input.text_field, "TEXT_FIELD", text, "Field with the document text"),
    flag!("date-field", input.date_field, "DATE_FIELD", text,
        "Field with the publication date (ISO 8601), used to pick the original"),
    flag!("outlet-field", input.outlet_field, "OUTLET_FIELD", text,
        "Field with the outlet (boilerplate is counted per outlet)"),
    flag!("on-error", input.on_error, "skip|stop", parse,
        "skip: bad records get a status and are counted; stop: exit 2 at the first one"),
    flag!("max-doc-bytes", input.max_doc_bytes, "MAX_DOC_BYTES", parse,
        "Records longer than this many bytes are skipped as too_large"),
    flag!("warc-status", input.warc_status, "200|any", &["200", "any"], parse,
        "WARC responses that are documents: HTTP status 200 only, or any status"),
    Flag {
        name: "shingle",
        fields: &["shingle.kind", "shingle.size"],
        value_name: "KIND:K",
        choices: &[],
        list: false,
        help: "Shingles: word:K or char:K",
        set: |p, v| {
            let s: crate::params::ShingleParams = v.parse()?;
            p.shingle.kind = Some(s.kind);
            p.shingle.size = Some(s.size);
            Ok(())
        },
    },
    flag!("num-perm", minhash.num_perm, "NUM_PERM", parse, "MinHash signature length"),
    flag!("seed", minhash.seed, "SEED", parse,
        "Seed of the MinHash bins (the shingle hash seed is in the config)"),
    flag!("threshold", lsh.threshold, "THRESHOLD", parse,
        "Jaccard similarity at or above which documents are duplicates"),
    flag!("bands", lsh.bands, "BANDS", parse,
        "LSH bands (derived from the threshold when absent)"),
    flag!("rows", lsh.rows, "ROWS", parse,
        "LSH rows per band (derived from the threshold when absent)"),
    flag!("max-bucket", lsh.max_bucket, "MAX_BUCKET", parse,
        "Buckets larger than this are paired as a sliding window"),
    flag!("verify", verify.method, "exact|estimate", parse,
        "exact: Jaccard of the shingle sets; estimate: the MinHash estimate"),
    flag!("method", candidates.method, "minhash|simhash|both", parse,
        "Where candidate pairs come from: MinHash LSH, SimHash fingerprints, or both"),
    flag!("simhash-k", simhash.max_hamming, "SIMHASH_K", parse,
        "SimHash candidates: fingerprints within this many bits (0..=8)"),
    flag!("simhash-weights", simhash.weights, "tf|tfidf", parse,
        "SimHash feature weights: tf, or tf-idf with document frequencies from the input"),
    flag!("paragraphs", paragraphs.enabled, "on|off", &["on", "off"], on_off,
        "The paragraph stage (repeats inside documents, boilerplate across them)"),
    flag!("paragraph-split", paragraphs.split, "blank|line|auto", parse,
        "How documents are cut into paragraphs"),
    flag!("compare", paragraphs.clean_articles, "clean|raw", &["clean", "raw"], clean_raw,
        "Compare articles with repeats and boilerplate removed (clean) or as they are (raw)"),
    flag!("url-field", input.url_field, "URL_FIELD", text,
        "Field with the page URL (its host stands in for a missing outlet)"),
    flag!("boilerplate-min-docs", paragraphs.boilerplate_min_docs, "BOILERPLATE_MIN_DOCS",
        parse, "Boilerplate: in at least this many documents of one outlet ..."),
    flag!("boilerplate-min-fraction", paragraphs.boilerplate_min_fraction,
        "BOILERPLATE_MIN_FRACTION", parse, "... and at least this fraction of them"),
    flag!("repeat-threshold", paragraphs.repeat_threshold, "REPEAT_THRESHOLD", parse,
        "Near-repeat paragraphs: minimum Jaccard of their char 5-gram sets"),
    flag!("repeat-max-hamming", paragraphs.repeat_max_hamming, "REPEAT_MAX_HAMMING", parse,
        "Near-repeat paragraphs: maximum SimHash Hamming distance"),
    flag!("repeat-min-words", paragraphs.repeat_min_words, "REPEAT_MIN_WORDS", parse,
        "Paragraphs with fewer words are never reported as repeats"),
    flag!("containment", containment.enabled, "on|off", &["on", "off"], on_off,
        "Also match pairs by containment (|A ∩ B| / |smaller|): trimmed and wrapped copies"),
    flag!("min-containment", containment.min_containment, "MIN_CONTAINMENT", parse,
        "Containment at or above which a pair matches"),
    flag!("min-shared", containment.min_shared, "MIN_SHARED", parse,
        "A pair matching by containment shares at least this many shingles"),
    flag!("short-copies", containment.short_copies, "on|off", &["on", "off"], on_off,
        "Also match short copies: nearly all of one inside the other, opening both"),
    flag!("short-min-containment", containment.short_min_containment, "SHORT_MIN_CONTAINMENT",
        parse, "Short copies: at least this share of the smaller inside the larger"),
    flag!("short-min-shared", containment.short_min_shared, "SHORT_MIN_SHARED", parse,
        "Short copies: at least this many shared shingles"),
    flag!("opening-bands", containment.opening_bands, "OPENING_BANDS", parse,
        "Candidates from each document's opening paragraphs: bands per paragraph (0: none)"),
    flag!("cluster-shape", cluster.shape, "star|components", parse,
        "star: members are checked against the representative (chains split); \
         components: connected components of the matching pairs"),
    flag!("star-min-containment", cluster.star_min_containment, "STAR_MIN_CONTAINMENT",
        parse, "Star clusters: members with less containment with the representative split off"),
    flag!(list "representative", cluster.representative, "date,outlet,longest,id", parse,
        "Order that picks the representative (the original), comma-separated"),
    flag!(list "prefer-outlets", cluster.prefer_outlets, "OUTLET,...", trimmed,
        "Outlets whose copy is the original when dates tie, first preferred; comma-separated"),
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
            ("warc-status", "any"),
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
            ("short-copies", "off"),
            ("short-min-containment", "0.8"),
            ("short-min-shared", "12"),
            ("opening-bands", "8"),
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
        want.input.warc_status = crate::params::WarcStatus::Any;
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
        want.containment.short_copies = false;
        want.containment.short_min_containment = 0.8;
        want.containment.short_min_shared = 12;
        want.containment.opening_bands = 8;
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
