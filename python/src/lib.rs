//! `neardup._core`: the neardup library's stages for Python, one batch of documents or
//! one group at a time (see `neardup::stages`). Nothing here re-implements a stage: each
//! function converts its arguments, releases the GIL and calls the library.
//!
//! 64-bit hashes (paragraph hashes, band keys) cross into Python as signed integers (the
//! same bits), so that they fit Spark's `LongType`. What verification compares of a
//! document crosses as bytes: the record of its compared paragraphs
//! (`ParagraphRecord::compared_record`, encoded), from which the sorted set and where
//! the shared text sits both follow.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use neardup::input::{ParsedRecord, Raw, parse_record};
use neardup::overrides::ParamsPatch;
use neardup::params::{Params, ValidParams};
use neardup::stages::{
    Analyzer, Compared, ComponentMember, DocId, MatchRule, MinHasher, ParagraphRecord,
    bucket_pairs, clean_document, is_boilerplate, opening_hasher, opening_keys, outlet_group,
    place_members, round6, score_pair, sorted_set,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyBytes;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn runtime_error(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// Validated parameters, as the CLI builds them. Pickles as its JSON, so Spark can ship
/// it to executors.
#[pyclass(name = "Params", module = "neardup._core", frozen)]
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
/// `--threads`, `--spill-dir`, `--quiet`/`-q`, `--report` and `--emit-clean` (which needs
/// the paragraph stage, as in the CLI) are about one machine and ignored.
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
                "spill-dir" => {}
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

/// One record after parsing and the paragraph stage:
/// `(id, date, outlet, status, group, record, paragraph_hashes, repeated_paragraphs)`.
/// `record` (bytes) is `None` unless `status == "ok"`.
type Analyzed = (
    Option<String>,
    Option<String>,
    Option<String>,
    &'static str,
    Option<String>,
    Option<Vec<u8>>,
    Vec<i64>,
    Vec<u32>,
);

fn analyze_parsed(analyzer: &mut Analyzer, parsed: ParsedRecord, params: &ValidParams) -> Analyzed {
    let group = if params.paragraphs.enabled {
        outlet_group(parsed.outlet.as_deref(), parsed.url.as_deref())
    } else {
        None
    };
    if let Some((reason, _)) = parsed.skip {
        return (
            parsed.id,
            parsed.date,
            parsed.outlet,
            reason.as_str(),
            None,
            None,
            Vec::new(),
            Vec::new(),
        );
    }
    match analyzer.analyze(&parsed.text, params) {
        None => (
            parsed.id,
            parsed.date,
            parsed.outlet,
            "empty",
            None,
            None,
            Vec::new(),
            Vec::new(),
        ),
        Some(a) => (
            parsed.id,
            parsed.date,
            parsed.outlet,
            "ok",
            group,
            Some(a.record),
            a.hashes.iter().map(|&h| h as i64).collect(),
            a.repeats.iter().map(|r| r.paragraph).collect(),
        ),
    }
}

fn to_py(py: Python<'_>, rows: Vec<Analyzed>) -> Vec<Py<PyAny>> {
    rows.into_iter()
        .map(
            |(id, date, outlet, status, group, record, hashes, repeated)| {
                let record = record.map(|r| PyBytes::new(py, &r).unbind());
                (id, date, outlet, status, group, record, hashes, repeated)
                    .into_pyobject(py)
                    .expect("tuples of plain values convert")
                    .into_any()
                    .unbind()
            },
        )
        .collect()
}

/// JSONL lines (bytes, without the line end; the caller drops a file's leading UTF-8
/// BOM) through the CLI's record parser and the paragraph stage. A blank line gives
/// `None` (not a record, as in the CLI).
#[pyfunction]
fn analyze_lines(
    py: Python<'_>,
    lines: Vec<PyBackedBytes>,
    params: &NeardupParams,
) -> Vec<Option<Py<PyAny>>> {
    let p = &params.valid;
    let rows: Vec<Option<Analyzed>> = py.detach(|| {
        let mut analyzer = Analyzer::default();
        lines
            .iter()
            .map(|line| {
                let mut bytes: &[u8] = line;
                if bytes.last() == Some(&b'\r') {
                    bytes = &bytes[..bytes.len() - 1];
                }
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                let raw = if bytes.len() as u64 > p.input.max_doc_bytes.saturating_add(1 << 16) {
                    Raw::Oversized {
                        bytes: bytes.len() as u64,
                        id: None,
                    }
                } else {
                    Raw::Line(bytes.to_vec())
                };
                Some(analyze_parsed(
                    &mut analyzer,
                    parse_record(raw, &p.input),
                    p,
                ))
            })
            .collect()
    });
    rows.into_iter()
        .map(|row| row.map(|r| to_py(py, vec![r]).pop().expect("one row")))
        .collect()
}

/// Documents `(id, text, date, outlet, url)` (text may be `None`: `missing_text`)
/// through the paragraph stage; see `analyze_lines` for the result.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn analyze_docs(
    py: Python<'_>,
    docs: Vec<(
        String,
        Option<PyBackedStr>,
        Option<String>,
        Option<String>,
        Option<String>,
    )>,
    params: &NeardupParams,
) -> Vec<Py<PyAny>> {
    let p = &params.valid;
    let rows = py.detach(|| {
        let mut analyzer = Analyzer::default();
        docs.into_iter()
            .map(|(id, text, date, outlet, url)| {
                let parsed = match text {
                    None => ParsedRecord {
                        id: Some(id),
                        text: String::new(),
                        date,
                        outlet,
                        url,
                        skip: Some((neardup::SkipReason::MissingText, "missing text".to_owned())),
                    },
                    Some(text) => {
                        let mut parsed = parse_record(
                            Raw::Document {
                                id,
                                text: (*text).to_owned(),
                                date,
                                outlet,
                            },
                            &p.input,
                        );
                        parsed.url = url;
                        parsed
                    }
                };
                analyze_parsed(&mut analyzer, parsed, p)
            })
            .collect()
    });
    to_py(py, rows)
}

/// The test on one `(group, paragraph hash)`: found in `count` of the group's
/// `group_docs` documents, is it the group's boilerplate?
#[pyfunction]
fn boilerplate_test(count: u64, group_docs: u64, params: &NeardupParams) -> bool {
    is_boilerplate(count, group_docs, &params.valid)
}

/// The boilerplate keys `(group, paragraph hash)` of a corpus, for `sketch_docs`.
#[pyclass(module = "neardup._core", frozen)]
struct Boilerplate {
    by_group: HashMap<Option<String>, HashSet<u64>>,
}

#[pymethods]
impl Boilerplate {
    #[new]
    fn new(keys: Vec<(Option<String>, i64)>) -> Self {
        let mut by_group: HashMap<Option<String>, HashSet<u64>> = HashMap::new();
        for (g, h) in keys {
            by_group.entry(g).or_default().insert(h as u64);
        }
        Boilerplate { by_group }
    }

    fn __len__(&self) -> usize {
        self.by_group.values().map(HashSet::len).sum()
    }
}

/// The sketch pass for a batch of `(record, group, repeated_paragraphs)`: per document
/// `(removed_paragraphs, boilerplate_paragraphs, size, band_keys, compared, opening_keys)`;
/// `compared` is the encoded record of the compared paragraphs, what exact verification
/// compares; `opening_keys` are keys of the document's opening paragraphs (documents
/// sharing any one are candidates, whatever its position in the list).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn sketch_docs(
    py: Python<'_>,
    docs: Vec<(PyBackedBytes, Option<String>, Vec<u32>)>,
    boilerplate: Option<&Boilerplate>,
    params: &NeardupParams,
) -> PyResult<Vec<(Vec<u32>, Vec<u32>, u32, Vec<i64>, Py<PyBytes>, Vec<i64>)>> {
    let p = &params.valid;
    let empty = HashSet::new();
    let rows = py.detach(|| {
        let mut hasher = MinHasher::new(&p.minhash);
        let mut opener = opening_hasher(p);
        docs.iter()
            .map(|(bytes, group, repeated)| {
                let rec = ParagraphRecord::decode(bytes)
                    .ok_or_else(|| value_error("not a paragraph record of this version"))?;
                let frequent = boilerplate
                    .and_then(|b| b.by_group.get(group))
                    .unwrap_or(&empty);
                let doc = clean_document(
                    &rec,
                    |h| frequent.contains(&h),
                    repeated.iter().copied(),
                    &mut hasher,
                    p,
                );
                let size = u32::try_from(doc.set.len()).unwrap_or(u32::MAX);
                let compared = rec.compared_record(&doc.removed).encode();
                let keys = doc.band_keys.iter().map(|&k| k as i64).collect();
                let mut openings = Vec::new();
                opening_keys(&rec, &doc.removed, &mut opener, p, &mut openings);
                let openings = openings.iter().map(|&k| k as i64).collect();
                Ok((doc.removed, doc.flagged, size, keys, compared, openings))
            })
            .collect::<PyResult<Vec<_>>>()
    })?;
    Ok(rows
        .into_iter()
        .map(|(r, f, s, k, b, o)| (r, f, s, k, PyBytes::new(py, &b).unbind(), o))
        .collect())
}

/// Candidate pairs of band buckets: each bucket a list of document positions (any
/// order); pairs as the CLI makes them, capped at `max_bucket`. Not de-duplicated across
/// buckets.
#[pyfunction]
fn bucket_candidates(py: Python<'_>, buckets: Vec<Vec<u32>>, max_bucket: usize) -> Vec<(u32, u32)> {
    py.detach(|| {
        let mut out = Vec::new();
        for mut b in buckets {
            b.sort_unstable();
            bucket_pairs(&b, |&d| d, max_bucket, &mut out);
        }
        out
    })
}

/// A document's compared record (bytes from `sketch_docs`) and its sorted set.
fn decode_compared(bytes: &[u8]) -> PyResult<(ParagraphRecord, Vec<u64>)> {
    let rec = ParagraphRecord::decode(bytes)
        .ok_or_else(|| value_error("not a compared record of this version"))?;
    let set = rec.article_set(&[]);
    Ok((rec, set))
}

/// Exact verification of pairs of compared records (bytes from `sketch_docs`): per pair
/// `(accepted, jaccard, containment)` by the CLI's match rule.
#[pyfunction]
fn verify_pairs(
    py: Python<'_>,
    pairs: Vec<(PyBackedBytes, PyBackedBytes)>,
    params: &NeardupParams,
) -> PyResult<Vec<(bool, f64, f64)>> {
    let rule = MatchRule::new(&params.valid);
    py.detach(|| {
        pairs
            .iter()
            .map(|(a, b)| {
                let (ra, sa) = decode_compared(a)?;
                let (rb, sb) = decode_compared(b)?;
                let s = score_pair(
                    Compared {
                        record: &ra,
                        removed: &[],
                        set: &sa,
                    },
                    Compared {
                        record: &rb,
                        removed: &[],
                        set: &sb,
                    },
                );
                Ok((rule.accepts(&s), s.jaccard, s.containment()))
            })
            .collect()
    })
}

/// Places one connected component of accepted pairs as the CLI does. `members`:
/// `(doc, id, date, outlet, record, removed_paragraphs, size)`, `doc` the position in
/// input order; `links`: the accepted pairs among them. Per member `(doc,
/// representative doc, similarity)`, similarity (6 decimals) `None` for the
/// representative.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn place_component(
    py: Python<'_>,
    members: Vec<(
        u32,
        String,
        Option<String>,
        Option<String>,
        PyBackedBytes,
        Vec<u32>,
        u32,
    )>,
    links: Vec<(u32, u32)>,
    params: &NeardupParams,
) -> PyResult<Vec<(u32, u32, Option<f64>)>> {
    let p = &params.valid;
    py.detach(|| {
        let members = members
            .into_iter()
            .map(|(doc, id, date, outlet, record, removed, size)| {
                Ok(ComponentMember {
                    doc,
                    id,
                    date,
                    outlet,
                    record: ParagraphRecord::decode(&record)
                        .ok_or_else(|| value_error("not a paragraph record of this version"))?,
                    removed,
                    size,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let placed = place_members(members, &links, p).map_err(value_error)?;
        Ok(placed
            .into_iter()
            .map(|(d, pl)| (d, pl.rep, pl.score.map(|s| round6(s.jaccard))))
            .collect())
    })
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
            .iter()
            .map(|a| (a.cluster, a.keep, a.duplicate_of, a.similarity))
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

/// Largest document position the distributed job can address.
const MAX_DOC: u64 = DocId::MAX as u64;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NeardupParams>()?;
    m.add_class::<Boilerplate>()?;
    m.add_function(wrap_pyfunction!(analyze_lines, m)?)?;
    m.add_function(wrap_pyfunction!(analyze_docs, m)?)?;
    m.add_function(wrap_pyfunction!(boilerplate_test, m)?)?;
    m.add_function(wrap_pyfunction!(sketch_docs, m)?)?;
    m.add_function(wrap_pyfunction!(bucket_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(verify_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(place_component, m)?)?;
    m.add_function(wrap_pyfunction!(dedup_texts, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(shingles, m)?)?;
    m.add_function(wrap_pyfunction!(sketch, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add("MAX_DOC", MAX_DOC)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
