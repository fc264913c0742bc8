//! `neardup._core`: the neardup library's stages for Python, one batch of documents or
//! one group at a time (see `neardup::stages`). Nothing here re-implements a stage: each
//! function converts its arguments, releases the GIL and calls the library.
//!
//! 64-bit hashes (paragraph hashes, band keys) cross into Python as signed integers (the
//! same bits), so that they fit Spark's `LongType`. What verification compares of a
//! document crosses as bytes: the record of its compared paragraphs
//! (`ParagraphRecord::compared_record`, encoded), from which the sorted set and where
//! the shared text sits both follow.

mod batches;

use std::collections::HashSet;
use std::path::PathBuf;

use neardup::overrides::ParamsPatch;
use neardup::params::{Params, ValidParams};
use neardup::stages::{
    Analyzer, Compared, MatchRule, MinHasher, ParagraphRecord, clean_document, score_pair,
    sorted_set,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn runtime_error(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// Validated parameters, as the CLI builds them. Pickles as its JSON, so Spark can ship
/// it to executors.
#[pyclass(name = "Params", module = "neardup._core", frozen, skip_from_py_object)]
#[derive(Clone)]
struct NeardupParams {
    valid: ValidParams,
}

impl NeardupParams {
    fn new(p: Params) -> PyResult<Self> {
        Ok(NeardupParams {
            valid: p.validate().map_err(value_error)?,
        })
    }
}

#[pymethods]
impl NeardupParams {
    /// The defaults of `neardup dedup`.
    #[new]
    fn py_new() -> PyResult<Self> {
        NeardupParams::new(Params::default())
    }

    /// From `neardup dedup` flags, e.g. `["--paragraphs", "off", "--threshold", "0.9"]`;
    /// `--config FILE` works as in the CLI. Inputs and `--out` are not given here.
    #[staticmethod]
    fn from_cli(args: Vec<String>) -> PyResult<Self> {
        let line = DedupLine::parse(&args)?;
        if !line.inputs.is_empty() || line.out.is_some() {
            return Err(value_error(
                "from_cli takes parameter flags only; inputs and --out go to parse_dedup_args",
            ));
        }
        NeardupParams::new(line.params)
    }

    /// A whole `neardup dedup` command line after `dedup`: `(inputs, out, params)`.
    #[staticmethod]
    fn parse_dedup_args(args: Vec<String>) -> PyResult<(Vec<String>, String, Self)> {
        let line = DedupLine::parse(&args)?;
        if line.inputs.is_empty() {
            return Err(value_error("no inputs given"));
        }
        let out = line
            .out
            .ok_or_else(|| value_error("the output directory (--out) is not given"))?;
        Ok((line.inputs, out, NeardupParams::new(line.params)?))
    }

    /// From JSON: the `params` object of a `summary.json`, or `to_json()`.
    #[staticmethod]
    fn from_json(json: &str) -> PyResult<Self> {
        NeardupParams::new(serde_json::from_str(json).map_err(value_error)?)
    }

    /// The validated parameters as JSON (bands and rows filled in).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(self.valid.get()).map_err(runtime_error)
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, (String,))> {
        let from_json = py
            .get_type::<NeardupParams>()
            .getattr("from_json")?
            .unbind();
        Ok((from_json, (self.to_json()?,)))
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!("Params({})", self.to_json()?))
    }

    #[getter]
    fn paragraphs(&self) -> bool {
        self.valid.paragraphs.enabled
    }
    #[getter]
    fn bands(&self) -> usize {
        self.valid.bands()
    }
    #[getter]
    fn rows(&self) -> usize {
        self.valid.rows()
    }
    #[getter]
    fn max_bucket(&self) -> usize {
        self.valid.lsh.max_bucket
    }
    #[getter]
    fn id_field(&self) -> String {
        self.valid.input.id_field.clone()
    }
    #[getter]
    fn text_field(&self) -> String {
        self.valid.input.text_field.clone()
    }
    #[getter]
    fn date_field(&self) -> String {
        self.valid.input.date_field.clone()
    }
    #[getter]
    fn outlet_field(&self) -> String {
        self.valid.input.outlet_field.clone()
    }
    #[getter]
    fn url_field(&self) -> String {
        self.valid.input.url_field.clone()
    }

    /// Raises `ValueError` unless the distributed stages support these parameters
    /// (MinHash candidates, exact verification).
    fn check_distributed(&self) -> PyResult<()> {
        neardup::stages::check_supported(&self.valid).map_err(value_error)
    }
}

/// A `neardup dedup` command line, read as the CLI reads it: the parameter flags through
/// the library's table (`neardup::overrides::FLAGS`, which the CLI's flags are built from),
/// over the defaults and `--config`. Of the CLI's other flags, `--out`/`-o` is kept and
/// `--threads`, `--spill-dir`, `--memory`, `--output-format`, `--quiet`/`-q`, `--report`
/// and `--emit-clean` (which needs the paragraph stage, as in the CLI) are about one
/// machine, or the job's own, and ignored here.
struct DedupLine {
    inputs: Vec<String>,
    out: Option<String>,
    params: Params,
}

impl DedupLine {
    fn parse(args: &[String]) -> PyResult<Self> {
        let mut flags = ParamsPatch::default();
        let mut given = HashSet::new();
        let mut inputs = Vec::new();
        let mut out = None;
        let mut config = None;
        let mut emit_clean = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                inputs.extend(args.by_ref().cloned());
                break;
            }
            let (name, inline) = match arg.as_str() {
                "-o" => ("out", None),
                "-q" => ("quiet", None),
                a => match a.strip_prefix("--") {
                    Some(long) => long
                        .split_once('=')
                        .map_or((long, None), |(n, v)| (n, Some(v))),
                    None if a == "-" || !a.starts_with('-') => {
                        inputs.push(arg.clone());
                        continue;
                    }
                    None => return Err(value_error(format!("unexpected argument '{a}'"))),
                },
            };
            let list = neardup::overrides::flag(name).is_some_and(|f| f.list);
            if !list && !given.insert(name) {
                return Err(value_error(format!(
                    "the argument '--{name}' cannot be used multiple times"
                )));
            }
            if matches!(name, "quiet" | "report" | "emit-clean") {
                if inline.is_some() {
                    return Err(value_error(format!("--{name} takes no value")));
                }
                emit_clean |= name == "emit-clean";
                continue;
            }
            let value = match inline {
                Some(v) => v.to_owned(),
                None => args
                    .next()
                    .cloned()
                    .ok_or_else(|| value_error(format!("a value is required for '--{name}'")))?,
            };
            match name {
                "out" => out = Some(value),
                "config" => config = Some(PathBuf::from(value)),
                "threads" => {
                    value.parse::<usize>().map_err(|e| {
                        value_error(format!("invalid value '{value}' for '--threads': {e}"))
                    })?;
                }
                // about one machine: checked as the CLI checks them, then left to Spark
                "spill-dir" => {}
                "memory" => {
                    neardup::spill::parse_memory(&value).map_err(value_error)?;
                }
                "output-format" if matches!(value.as_str(), "jsonl" | "parquet") => {}
                "output-format" => {
                    return Err(value_error(format!(
                        "invalid value '{value}' for '--output-format': jsonl or parquet"
                    )));
                }
                _ => flags.set_flag(name, &value).map_err(value_error)?,
            }
        }
        let params =
            Params::from_config_and_flags(config.as_deref(), flags).map_err(value_error)?;
        if emit_clean && !params.paragraphs.enabled {
            return Err(value_error(
                "--emit-clean needs the paragraph stage (--paragraphs on)",
            ));
        }
        Ok(DedupLine {
            inputs,
            out,
            params,
        })
    }
}

/// `(cluster, keep, duplicate_of, similarity)` of one document.
type Assigned = (Option<u64>, bool, Option<u32>, Option<f64>);

/// The whole single-machine pipeline on in-memory `(id, text)` documents: per document
/// `(cluster, keep, duplicate_of, similarity)`, `duplicate_of` a position in `docs`.
#[pyfunction]
fn dedup_texts(
    py: Python<'_>,
    docs: Vec<(String, String)>,
    params: &NeardupParams,
) -> PyResult<Vec<Assigned>> {
    let p = &params.valid;
    py.detach(|| {
        let d = neardup::dedup_texts(&docs, p).map_err(runtime_error)?;
        Ok(d.assignments
            .to_vec()
            .map_err(runtime_error)?
            .iter()
            .map(|a| (a.cluster(), a.keep(), a.duplicate_of(), a.similarity()))
            .collect())
    })
}

/// The normalized text (NFKC, lower case, punctuation dropped, whitespace folded).
#[pyfunction]
fn normalize(py: Python<'_>, text: &str) -> String {
    let text = text.to_owned();
    py.detach(|| neardup::text::normalize(&text))
}

/// One text as the CLI compares it alone (no boilerplate: one document alone has none;
/// repeats removed when the paragraph stage is on): its record and the paragraphs left out.
fn analyzed(text: &str, p: &ValidParams) -> Option<(ParagraphRecord, Vec<u32>)> {
    let mut analyzer = Analyzer::default();
    let a = analyzer.analyze(text, p)?;
    let rec = ParagraphRecord::decode(&a.record).expect("just encoded");
    let repeated: Vec<u32> = a.repeats.iter().map(|r| r.paragraph).collect();
    let removed = neardup::stages::removed_paragraphs(&[], repeated, p);
    Some((rec, removed))
}

/// The article set of one text (no boilerplate: one document alone has none; repeats
/// removed when the paragraph stage is on), sorted, as Python integers (unsigned).
#[pyfunction]
fn shingles(py: Python<'_>, text: &str, params: &NeardupParams) -> Vec<u64> {
    let text = text.to_owned();
    let p = &params.valid;
    py.detach(|| {
        analyzed(&text, p).map_or_else(Vec::new, |(rec, removed)| sorted_set(&rec, &removed))
    })
}

/// MinHash signature and LSH band keys (unsigned) of one text's article set.
#[pyfunction]
fn sketch(py: Python<'_>, text: &str, params: &NeardupParams) -> (Vec<u32>, Vec<u64>) {
    let text = text.to_owned();
    let p = &params.valid;
    py.detach(|| {
        let mut analyzer = Analyzer::default();
        let Some(a) = analyzer.analyze(&text, p) else {
            return (Vec::new(), Vec::new());
        };
        let rec = ParagraphRecord::decode(&a.record).expect("just encoded");
        let mut hasher = MinHasher::new(&p.minhash);
        let doc = clean_document(
            &rec,
            |_| false,
            a.repeats.iter().map(|r| r.paragraph),
            &mut hasher,
            p,
        );
        (doc.signature, doc.band_keys)
    })
}

/// Exact score of two texts as the CLI compares them: `(accepted, jaccard, containment)`.
#[pyfunction]
fn compare(py: Python<'_>, a: &str, b: &str, params: &NeardupParams) -> (bool, f64, f64) {
    let (a, b) = (a.to_owned(), b.to_owned());
    let p = &params.valid;
    py.detach(|| {
        let empty = || (ParagraphRecord::default(), Vec::new());
        let (ra, ga) = analyzed(&a, p).unwrap_or_else(empty);
        let (rb, gb) = analyzed(&b, p).unwrap_or_else(empty);
        let (sa, sb) = (sorted_set(&ra, &ga), sorted_set(&rb, &gb));
        let s = score_pair(
            Compared {
                record: &ra,
                removed: &ga,
                set: &sa,
            },
            Compared {
                record: &rb,
                removed: &gb,
                set: &sb,
            },
        );
        (MatchRule::new(p).accepts(&s), s.jaccard, s.containment())
    })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NeardupParams>()?;
    m.add_class::<batches::Boilerplate>()?;
    m.add_class::<batches::ParagraphCounts>()?;
    m.add_class::<batches::GroupVerifier>()?;
    m.add_function(wrap_pyfunction!(batches::paragraph_keys_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::boilerplate_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::paragraph_shard_counts, m)?)?;
    m.add_function(wrap_pyfunction!(batches::sketch_records_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::band_entries_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::shard_pairs_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::components_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::place_batch, m)?)?;
    m.add_function(wrap_pyfunction!(batches::input_columns, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_texts, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(shingles, m)?)?;
    m.add_function(wrap_pyfunction!(sketch, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
