//! The distributed job's stages on Arrow record batches: what Spark's `mapInArrow` and
//! `applyInArrow` hand to Python arrives here through the Arrow C data interface, and the
//! result goes back the same way. No Python object is made per row: a batch of 10,000
//! documents crosses the boundary as a handful of buffers.
//!
//! Every function takes its columns by name (a missing column or a column of another type
//! is a `ValueError` naming it) and returns one output row per input row, in order, except
//! `paragraph_keys_batch` (keys, each naming its input row), `ParagraphCounts::entries`
//! and `band_entries_batch` (a row per shard), `paragraph_shard_counts` (counts),
//! `shard_pairs_batch` (pairs), `GroupVerifier::score` (the accepted pairs),
//! `components_batch` (a row per document of the pairs) and `place_batch` (the members of components): the Python
//! side puts the columns it passed through (positions, ids) beside the result.
//!
//! Document positions are Spark's `idx`: 64-bit, in input order, not necessarily dense.
//! The library numbers documents with 32-bit `DocId`s, so the functions that work on
//! several documents (buckets, components) number them locally, in the same order, which
//! keeps every decision that input order breaks ties in.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, GenericListArray, Int64Array, RecordBatch,
    StringArray,
};
use arrow_pyarrow::PyArrowType;
use arrow_schema::{DataType, Field, Schema};
use neardup::input::{ParsedRecord, Raw, parse_record};
use neardup::params::ValidParams;
use neardup::stages::{
    Analyzer, Compared, ComponentMember, Detail, DocId, DocumentAnalysis, MatchRule, MinHasher,
    ParagraphRecord, UnionFind, bucket_pairs, clean_document, is_boilerplate, opening_hasher,
    opening_keys, outlet_group, place_members, round6, score_pair,
};
use pyo3::prelude::*;

use crate::{NeardupParams, value_error};

type Batch = PyArrowType<RecordBatch>;

fn column<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| value_error(format!("the batch has no column '{name}'")))
}

fn wrong_type(name: &str, want: &str, got: &DataType) -> PyErr {
    value_error(format!("column '{name}' is {got}, not {want}"))
}

fn binary<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<&'a BinaryArray> {
    let c = column(batch, name)?;
    c.as_binary_opt::<i32>()
        .ok_or_else(|| wrong_type(name, "binary", c.data_type()))
}

fn string<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<&'a StringArray> {
    let c = column(batch, name)?;
    c.as_string_opt::<i32>()
        .ok_or_else(|| wrong_type(name, "string", c.data_type()))
}

fn int64<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<&'a arrow_array::Int64Array> {
    let c = column(batch, name)?;
    c.as_primitive_opt::<Int64Type>()
        .ok_or_else(|| wrong_type(name, "int64", c.data_type()))
}

fn list<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<&'a GenericListArray<i32>> {
    let c = column(batch, name)?;
    c.as_list_opt::<i32>()
        .ok_or_else(|| wrong_type(name, "list", c.data_type()))
}

/// The values of row `i` of a list<int64> column (empty when null).
fn longs(l: &GenericListArray<i32>, name: &str, i: usize) -> PyResult<Vec<i64>> {
    if l.is_null(i) {
        return Ok(Vec::new());
    }
    let v = l.value(i);
    let v = v
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| wrong_type(name, "list<int64>", l.data_type()))?;
    Ok(v.values().to_vec())
}

/// The values of row `i` of a list<int32> column (empty when null).
fn ints(l: &GenericListArray<i32>, name: &str, i: usize) -> PyResult<Vec<u32>> {
    if l.is_null(i) {
        return Ok(Vec::new());
    }
    let v = l.value(i);
    let v = v
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| wrong_type(name, "list<int32>", l.data_type()))?;
    Ok(v.values().iter().map(|&x| x as u32).collect())
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_owned())
}

fn field(name: &str, ty: DataType) -> Field {
    Field::new(name, ty, true)
}

fn list_of(ty: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", ty, true)))
}

fn batch(fields: Vec<Field>, columns: Vec<ArrayRef>) -> PyResult<Batch> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map(PyArrowType)
        .map_err(value_error)
}

/// The input rows of a batch, through the CLI's record parser: JSONL lines (columns
/// `value`, binary: the line without its `\n`; `first`, bool: the first line of its file,
/// whose UTF-8 BOM is dropped) when the batch has a `value` column, else documents
/// (`id`, string, not null; `text`, string, null is the status `missing_text`; `date`,
/// `outlet`, `url`, strings).
enum Rows<'a> {
    Lines {
        value: &'a BinaryArray,
        first: &'a BooleanArray,
    },
    Docs {
        id: &'a StringArray,
        text: &'a StringArray,
        date: &'a StringArray,
        outlet: &'a StringArray,
        url: &'a StringArray,
    },
}

impl<'a> Rows<'a> {
    fn of(b: &'a RecordBatch) -> PyResult<Self> {
        if b.column_by_name("value").is_some() {
            let first = column(b, "first")?;
            Ok(Rows::Lines {
                value: binary(b, "value")?,
                first: first
                    .as_boolean_opt()
                    .ok_or_else(|| wrong_type("first", "bool", first.data_type()))?,
            })
        } else {
            Ok(Rows::Docs {
                id: string(b, "id")?,
                text: string(b, "text")?,
                date: string(b, "date")?,
                outlet: string(b, "outlet")?,
                url: string(b, "url")?,
            })
        }
    }

    /// Row `i` as the CLI reads it; `None` for a blank JSONL line, which is no record
    /// (the CLI does not count it either).
    fn parse(&self, i: usize, p: &ValidParams) -> PyResult<Option<ParsedRecord>> {
        match *self {
            Rows::Lines { value, first } => {
                let mut bytes: &[u8] = if value.is_valid(i) {
                    value.value(i)
                } else {
                    b""
                };
                if first.is_valid(i) && first.value(i) {
                    bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
                }
                if bytes.last() == Some(&b'\r') {
                    bytes = &bytes[..bytes.len() - 1];
                }
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let raw = if bytes.len() as u64 > p.input.max_doc_bytes.saturating_add(1 << 16) {
                    Raw::Oversized {
                        bytes: bytes.len() as u64,
                        id: None,
                    }
                } else {
                    Raw::Line(bytes.to_vec())
                };
                Ok(Some(parse_record(raw, &p.input)))
            }
            Rows::Docs {
                id,
                text,
                date,
                outlet,
                url,
            } => {
                let (date, outlet, url) = (opt_str(date, i), opt_str(outlet, i), opt_str(url, i));
                let id = opt_str(id, i)
                    .ok_or_else(|| value_error(format!("row {i}: the id is null")))?;
                if text.is_null(i) {
                    return Ok(Some(ParsedRecord {
                        id: Some(id),
                        text: String::new(),
                        date,
                        outlet,
                        url,
                        skip: Some((neardup::SkipReason::MissingText, "missing text".to_owned())),
                    }));
                }
                let mut parsed = parse_record(
                    Raw::Document {
                        id,
                        text: text.value(i).to_owned(),
                        date,
                        outlet,
                    },
                    &p.input,
                );
                parsed.url = url;
                Ok(Some(parsed))
            }
        }
    }
}

/// A parsed record through the paragraph stage: its analysis, or its status (a skip
/// reason, or `empty` for a text without words).
fn analyze(
    analyzer: &mut Analyzer,
    parsed: &ParsedRecord,
    p: &ValidParams,
) -> Result<DocumentAnalysis, &'static str> {
    match &parsed.skip {
        Some((reason, _)) => Err(reason.as_str()),
        None => analyzer.analyze(&parsed.text, p).ok_or("empty"),
    }
}

/// Calls `f` with each compared record of a batch of input rows (`Rows`' columns): its
/// row, its boilerplate group and its distinct paragraph hashes, what the boilerplate
/// counts count (`paragraph_keys_batch` as rows, `ParagraphCounts` summed). A record is
/// compared when `analyze` would give it an analysis; of that, only the hashes are made
/// (`Analyzer::paragraph_hashes`).
fn each_compared(
    b: &RecordBatch,
    p: &ValidParams,
    mut f: impl FnMut(usize, Option<String>, &[u64]) -> PyResult<()>,
) -> PyResult<()> {
    let rows = Rows::of(b)?;
    let mut analyzer = Analyzer::default();
    for i in 0..b.num_rows() {
        let Some(parsed) = rows.parse(i, p)? else {
            continue;
        };
        if parsed.skip.is_some() {
            continue;
        }
        // the hashes only: the rest of the analysis is `sketch_records_batch`'s
        let Some(hashes) = analyzer.paragraph_hashes(&parsed.text, p) else {
            continue;
        };
        f(i, group_of(&parsed, p), &hashes)?;
    }
    Ok(())
}

/// The boilerplate group of a parsed record (none with the paragraph stage off).
fn group_of(parsed: &ParsedRecord, p: &ValidParams) -> Option<String> {
    if p.paragraphs.enabled {
        outlet_group(parsed.outlet.as_deref(), parsed.url.as_deref())
    } else {
        None
    }
}

/// The boilerplate keys of the rows (`Rows`' columns): for each record the paragraph
/// stage compares (status `ok`), a row `(row, grp, null)` (the record itself, which
/// counts its group's documents) and a row `(row, grp, h)` per distinct paragraph hash
/// `h`; `row` (int32) is the record's row in the batch, `grp` its boilerplate group.
/// Counted by `(grp, h)`, these are the document counts that `boilerplate_batch` tests.
/// Nothing else of the record is made: `sketch_records_batch` analyzes it.
#[pyfunction]
pub fn paragraph_keys_batch(
    py: Python<'_>,
    rows: Batch,
    params: &NeardupParams,
) -> PyResult<Batch> {
    let b = rows.0;
    let p = &params.valid;
    py.detach(|| {
        let mut row_col = Int32Builder::new();
        let mut grp_col = StringBuilder::new();
        let mut h_col = Int64Builder::new();
        each_compared(&b, p, |i, group, hashes| {
            for h in std::iter::once(None).chain(hashes.iter().map(|&h| Some(h as i64))) {
                row_col.append_value(i as i32);
                grp_col.append_option(group.as_deref());
                h_col.append_option(h);
            }
            Ok(())
        })?;
        batch(
            vec![
                Field::new("row", DataType::Int32, false),
                field("grp", DataType::Utf8),
                field("h", DataType::Int64),
            ],
            vec![
                Arc::new(row_col.finish()),
                Arc::new(grp_col.finish()),
                Arc::new(h_col.finish()),
            ],
        )
    })
}

/// The boilerplate of a whole run: per outlet group, the paragraph hashes that are its
/// boilerplate. Built from a batch of `(grp, h)` rows (string, null for the documents
/// without a group; int64), the keys `boilerplate_batch` found frequent; what
/// `sketch_records_batch` flags and leaves out.
#[pyclass(module = "neardup._core", frozen)]
pub struct Boilerplate {
    named: HashMap<String, HashSet<u64>>,
    ungrouped: HashSet<u64>,
    keys: usize,
}

#[pymethods]
impl Boilerplate {
    #[new]
    fn py_new(keys: Batch) -> PyResult<Self> {
        let b = keys.0;
        let (grp, h) = (string(&b, "grp")?, int64(&b, "h")?);
        let mut out = Boilerplate {
            named: HashMap::new(),
            ungrouped: HashSet::new(),
            keys: 0,
        };
        for i in 0..b.num_rows() {
            if h.is_null(i) {
                return Err(value_error(format!("row {i}: the paragraph hash is null")));
            }
            let set = if grp.is_null(i) {
                &mut out.ungrouped
            } else {
                out.named.entry(grp.value(i).to_owned()).or_default()
            };
            out.keys += usize::from(set.insert(h.value(i) as u64));
        }
        Ok(out)
    }

    /// The number of distinct `(group, paragraph hash)` keys.
    fn __len__(&self) -> usize {
        self.keys
    }
}

impl Boilerplate {
    fn of(&self, group: Option<&str>) -> Option<&HashSet<u64>> {
        match group {
            None => Some(&self.ungrouped),
            Some(g) => self.named.get(g),
        }
    }
}

/// Builders of the sketched columns.
#[derive(Default)]
struct SketchedColumns {
    status: StringBuilder,
    id: StringBuilder,
    date: StringBuilder,
    outlet: StringBuilder,
    size: Int64Builder,
    keys: ListBuilder<Int64Builder>,
    opening: ListBuilder<Int64Builder>,
    set: BinaryBuilder,
}

impl SketchedColumns {
    /// A row without a sketch: a blank line (`status` "blank") or a record that is not
    /// compared.
    fn push_status(&mut self, status: &str, parsed: Option<&ParsedRecord>) {
        self.status.append_value(status);
        self.id.append_option(parsed.and_then(|r| r.id.as_deref()));
        self.date
            .append_option(parsed.and_then(|r| r.date.as_deref()));
        self.outlet
            .append_option(parsed.and_then(|r| r.outlet.as_deref()));
        self.size.append_null();
        self.keys.append_null();
        self.opening.append_null();
        self.set.append_null();
    }

    fn finish(mut self) -> PyResult<Batch> {
        batch(
            vec![
                Field::new("status", DataType::Utf8, false),
                field("id", DataType::Utf8),
                field("date", DataType::Utf8),
                field("outlet", DataType::Utf8),
                field("size", DataType::Int64),
                field("keys", list_of(DataType::Int64)),
                field("opening", list_of(DataType::Int64)),
                field("set", DataType::Binary),
            ],
            vec![
                Arc::new(self.status.finish()),
                Arc::new(self.id.finish()),
                Arc::new(self.date.finish()),
                Arc::new(self.outlet.finish()),
                Arc::new(self.size.finish()),
                Arc::new(self.keys.finish()),
                Arc::new(self.opening.finish()),
                Arc::new(self.set.finish()),
            ],
        )
    }
}

/// The per-document stages in one pass: parse, analyze (normalize, segment, shingle,
/// repeats), flag boilerplate, leave it and the repeats out, MinHash, LSH band keys,
/// opening keys. Rows: `Rows`' columns, and optionally `boilerplate` (list<int64>: the
/// record's paragraph hashes that are its group's boilerplate); without that column the
/// boilerplate is `boilerplate`'s for the record's group, and with neither there is none.
/// Per row: `status` (`ok`, `empty`, a skip reason, or `blank` for a blank line, which is
/// not a record), `id` (null when the record has none), `date`, `outlet`, and for `ok`
/// only `size` (int64: compared shingles), `keys` (list<int64>: band keys, band by band),
/// `opening` (list<int64>: keys of the opening paragraphs), `set` (binary: the record of
/// the compared paragraphs, `ParagraphRecord::compared_record` encoded as the CLI's spill
/// encodes records: what verification and placement read).
#[pyfunction]
#[pyo3(signature = (rows, params, boilerplate=None))]
pub fn sketch_records_batch(
    py: Python<'_>,
    rows: Batch,
    params: &NeardupParams,
    boilerplate: Option<&Boilerplate>,
) -> PyResult<Batch> {
    let b = rows.0;
    let p = &params.valid;
    let rows = Rows::of(&b)?;
    let per_row = match b.column_by_name("boilerplate") {
        Some(_) => Some(list(&b, "boilerplate")?),
        None => None,
    };
    py.detach(|| {
        let mut out = SketchedColumns::default();
        let mut analyzer = Analyzer::default();
        let mut hasher = MinHasher::new(&p.minhash);
        let mut opener = opening_hasher(p);
        let mut openings = Vec::new();
        let none = HashSet::new();
        let mut listed = HashSet::new();
        for i in 0..b.num_rows() {
            let Some(parsed) = rows.parse(i, p)? else {
                out.push_status("blank", None);
                continue;
            };
            let a = match analyze(&mut analyzer, &parsed, p) {
                Ok(a) => a,
                Err(status) => {
                    out.push_status(status, Some(&parsed));
                    continue;
                }
            };
            let frequent = if let Some(l) = per_row {
                listed.clear();
                listed.extend(longs(l, "boilerplate", i)?.into_iter().map(|h| h as u64));
                &listed
            } else {
                let group = group_of(&parsed, p);
                boilerplate
                    .and_then(|bp| bp.of(group.as_deref()))
                    .unwrap_or(&none)
            };
            let rec = analyzer.record();
            let doc = clean_document(
                rec,
                |h| frequent.contains(&h),
                a.repeats.iter().map(|r| r.paragraph),
                &mut hasher,
                p,
            );
            out.status.append_value("ok");
            out.id.append_option(parsed.id.as_deref());
            out.date.append_option(parsed.date.as_deref());
            out.outlet.append_option(parsed.outlet.as_deref());
            out.size.append_value(doc.set.len() as i64);
            for &k in &doc.band_keys {
                out.keys.values().append_value(k as i64);
            }
            out.keys.append(true);
            openings.clear();
            opening_keys(rec, &doc.removed, &mut opener, p, &mut openings);
            for &k in &openings {
                out.opening.values().append_value(k as i64);
            }
            out.opening.append(true);
            out.set
                .append_value(rec.compared_record(&doc.removed).encode());
        }
        out.finish()
    })
}

/// The boilerplate test of `(group, paragraph hash)` counts. Columns: `n` (documents of
/// the group holding the paragraph), `group_docs` (documents of the group), both int64.
/// Per row: `frequent` (bool), the core's `is_boilerplate`.
#[pyfunction]
pub fn boilerplate_batch(py: Python<'_>, counts: Batch, params: &NeardupParams) -> PyResult<Batch> {
    let b = counts.0;
    let (n, group_docs) = (int64(&b, "n")?, int64(&b, "group_docs")?);
    let out = py.detach(|| {
        let mut out = BooleanBuilder::with_capacity(b.num_rows());
        for (n, g) in n.values().iter().zip(group_docs.values()) {
            out.append_value(is_boilerplate(*n as u64, *g as u64, &params.valid));
        }
        out.finish()
    });
    batch(
        vec![Field::new("frequent", DataType::Boolean, false)],
        vec![Arc::new(out)],
    )
}

/// Bytes of one paragraph-count entry: tag (u8: `DOCS_TAG` for the documents of the group,
/// `KEY_TAG` for the documents holding the paragraph), group (u32: an index into the row's
/// dictionary of groups), paragraph hash (u64, 0 for `DOCS_TAG`), documents (u32),
/// little-endian.
const COUNT_ENTRY: usize = 17;
const DOCS_TAG: u8 = 0;
const KEY_TAG: u8 = 1;
/// The dictionary length of "no group" (a record without outlet or URL host).
const NO_GROUP: u32 = u32::MAX;

/// The shard of a paragraph key (or, with `h` `None`, of its group's document count):
/// a stable function of group and hash, so that every partition sends one key's counts to
/// the same shard.
fn count_shard(group: Option<&str>, h: Option<u64>, shards: u32) -> u32 {
    // FNV-1a over the group's bytes: `DefaultHasher` would do too, but its output is not
    // promised to stay the same across Rust releases, and executors may differ
    let mut g: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in group.map_or(&[][..], str::as_bytes) {
        g = (g ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let g = g ^ u64::from(group.is_none());
    let h = match h {
        Some(h) => h.wrapping_add(g.rotate_left(17)),
        None => g,
    };
    ((h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % u64::from(shards)) as u32
}

/// The boilerplate counts of one partition, summed in Rust before they leave it: per
/// boilerplate group its compared records, and per `(group, paragraph hash)` the records
/// holding the paragraph. `add` takes the partition's batches (`Rows`' columns) one by
/// one; `entries` hands the sums over as one binary row per shard, each with its own
/// dictionary of group names, for `paragraph_shard_counts` to add up across partitions.
/// What it counts is what `paragraph_keys_batch` emits a row for.
#[pyclass(module = "neardup._core")]
#[derive(Default)]
pub struct ParagraphCounts {
    groups: Vec<Option<String>>,
    group_ids: HashMap<Option<String>, u32>,
    docs: Vec<u64>,
    keys: HashMap<(u32, u64), u64>,
}

#[pymethods]
impl ParagraphCounts {
    #[new]
    fn py_new() -> Self {
        Self::default()
    }

    /// Counts the compared records of a batch of input rows (`Rows`' columns).
    fn add(&mut self, py: Python<'_>, rows: Batch, params: &NeardupParams) -> PyResult<()> {
        let b = rows.0;
        let p = &params.valid;
        py.detach(|| {
            each_compared(&b, p, |_, group, hashes| {
                let g = if let Some(&g) = self.group_ids.get(&group) {
                    g
                } else {
                    let g = u32::try_from(self.groups.len())
                        .map_err(|_| value_error("more than 2^32 boilerplate groups"))?;
                    self.groups.push(group.clone());
                    self.group_ids.insert(group, g);
                    self.docs.push(0);
                    g
                };
                self.docs[g as usize] += 1;
                for &h in hashes {
                    *self.keys.entry((g, h)).or_default() += 1;
                }
                Ok(())
            })
        })
    }

    /// The counts so far as `(shard int32, entries binary)` rows, one per shard that has
    /// any, and the counts emptied. `entries`: a dictionary (u32 count, then per group its
    /// byte length as u32, `NO_GROUP` for none, and its UTF-8 bytes) and `COUNT_ENTRY`
    /// entries indexing it.
    fn entries(&mut self, py: Python<'_>, shards: u32) -> PyResult<Batch> {
        if shards == 0 {
            return Err(value_error("shards must be at least 1"));
        }
        let counts = std::mem::take(self);
        py.detach(|| -> PyResult<_> {
            // per shard: the groups it names (global id -> local id) and its entries
            let mut local: Vec<ShardCounts> = (0..shards).map(|_| Default::default()).collect();
            let mut push = |tag: u8, g: u32, h: Option<u64>, n: u64| -> PyResult<()> {
                let group = counts.groups[g as usize].as_deref();
                let (ids, named, out) = &mut local[count_shard(group, h, shards) as usize];
                let next = named.len() as u32;
                let l = *ids.entry(g).or_insert_with(|| {
                    named.push(g);
                    next
                });
                let n = u32::try_from(n)
                    .map_err(|_| value_error("more than 2^32 documents in one partition"))?;
                out.push(tag);
                out.extend_from_slice(&l.to_le_bytes());
                out.extend_from_slice(&h.unwrap_or(0).to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
                Ok(())
            };
            for (g, &n) in counts.docs.iter().enumerate() {
                push(DOCS_TAG, g as u32, None, n)?;
            }
            for (&(g, h), &n) in &counts.keys {
                push(KEY_TAG, g, Some(h), n)?;
            }
            let rows = local.iter().map(|(_, named, out)| {
                if out.is_empty() {
                    return Vec::new();
                }
                let mut bytes = Vec::with_capacity(4 + out.len());
                bytes.extend_from_slice(&(named.len() as u32).to_le_bytes());
                for &g in named {
                    match &counts.groups[g as usize] {
                        None => bytes.extend_from_slice(&NO_GROUP.to_le_bytes()),
                        Some(name) => {
                            bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
                            bytes.extend_from_slice(name.as_bytes());
                        }
                    }
                }
                bytes.extend_from_slice(out);
                bytes
            });
            shard_rows(rows)
        })
    }
}

/// The `(shard, entries)` batch of `ParagraphCounts::entries` and `band_entries_batch`:
/// one row per shard whose entries (the `s`-th item, in shard order) are not empty, for
/// Spark to repartition by `shard`.
fn shard_rows<E: AsRef<[u8]>>(per_shard: impl IntoIterator<Item = E>) -> PyResult<Batch> {
    let mut shard_col = Int32Builder::new();
    let mut entries_col = BinaryBuilder::new();
    for (s, e) in per_shard.into_iter().enumerate() {
        let e = e.as_ref();
        if !e.is_empty() {
            shard_col.append_value(s as i32);
            entries_col.append_value(e);
        }
    }
    batch(
        vec![
            Field::new("shard", DataType::Int32, false),
            Field::new("entries", DataType::Binary, false),
        ],
        vec![Arc::new(shard_col.finish()), Arc::new(entries_col.finish())],
    )
}

/// One shard's part of `ParagraphCounts::entries`: its groups (global id to local id, and
/// the global ids in local order) and its entries.
type ShardCounts = (HashMap<u32, u32>, Vec<u32>, Vec<u8>);

/// A reader of `ParagraphCounts::entries` bytes, naming what is wrong when they are not.
struct CountReader<'a> {
    bytes: &'a [u8],
}

impl<'a> CountReader<'a> {
    fn take(&mut self, n: usize) -> PyResult<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(value_error("paragraph counts: truncated entries"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> PyResult<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

/// The boilerplate counts of whole shards, from `ParagraphCounts::entries` rows in any
/// number of batches that together hold every row of their shards: `(grp, h, n)` rows,
/// per group a row with `h` null and `n` its compared records, and per `(group,
/// paragraph hash)` held by at least two records a row with `n` the records holding it
/// (a paragraph of one record is never boilerplate: `boilerplate_min_docs` is at least
/// 2). Sorted by group (none first), then hash; `n` as `boilerplate_batch` tests it.
#[pyfunction]
pub fn paragraph_shard_counts(py: Python<'_>, batches: Vec<Batch>) -> PyResult<Batch> {
    let batches: Vec<RecordBatch> = batches.into_iter().map(|b| b.0).collect();
    let columns = batches
        .iter()
        .map(|b| binary(b, "entries"))
        .collect::<PyResult<Vec<_>>>()?;
    let rows = py.detach(|| -> PyResult<_> {
        let mut group_ids: HashMap<Option<&str>, u32> = HashMap::new();
        let mut groups: Vec<Option<&str>> = Vec::new();
        let mut docs: HashMap<u32, u64> = HashMap::new();
        let mut keys: HashMap<(u32, u64), u64> = HashMap::new();
        let mut named: Vec<u32> = Vec::new();
        for c in &columns {
            for i in 0..c.len() {
                let mut reader = CountReader { bytes: c.value(i) };
                named.clear();
                for _ in 0..reader.u32()? {
                    let len = reader.u32()?;
                    let group = if len == NO_GROUP {
                        None
                    } else {
                        Some(
                            std::str::from_utf8(reader.take(len as usize)?).map_err(|_| {
                                value_error("paragraph counts: a group name is not UTF-8")
                            })?,
                        )
                    };
                    let next = groups.len() as u32;
                    named.push(*group_ids.entry(group).or_insert_with(|| {
                        groups.push(group);
                        next
                    }));
                }
                if !reader.bytes.len().is_multiple_of(COUNT_ENTRY) {
                    return Err(value_error(
                        "paragraph counts: not a whole number of entries",
                    ));
                }
                for e in reader.bytes.chunks_exact(COUNT_ENTRY) {
                    let local = u32::from_le_bytes(e[1..5].try_into().expect("4 bytes"));
                    let g = *named
                        .get(local as usize)
                        .ok_or_else(|| value_error("paragraph counts: group out of range"))?;
                    let h = u64::from_le_bytes(e[5..13].try_into().expect("8 bytes"));
                    let n = u64::from(u32::from_le_bytes(e[13..].try_into().expect("4 bytes")));
                    match e[0] {
                        DOCS_TAG => *docs.entry(g).or_default() += n,
                        KEY_TAG => *keys.entry((g, h)).or_default() += n,
                        t => return Err(value_error(format!("paragraph counts: tag {t}"))),
                    }
                }
            }
        }
        let mut rows: Vec<(Option<&str>, Option<u64>, u64)> = docs
            .into_iter()
            .map(|(g, n)| (groups[g as usize], None, n))
            .chain(
                keys.into_iter()
                    .filter(|&(_, n)| n >= 2)
                    .map(|((g, h), n)| (groups[g as usize], Some(h), n)),
            )
            .collect();
        rows.sort_unstable();
        let mut grp = StringBuilder::new();
        let mut hash = Int64Builder::new();
        let mut count = Int64Builder::new();
        for (g, h, n) in rows {
            grp.append_option(g);
            hash.append_option(h.map(|h| h as i64));
            count.append_value(n as i64);
        }
        Ok((grp.finish(), hash.finish(), count.finish()))
    })?;
    batch(
        vec![
            field("grp", DataType::Utf8),
            field("h", DataType::Int64),
            Field::new("n", DataType::Int64, false),
        ],
        vec![Arc::new(rows.0), Arc::new(rows.1), Arc::new(rows.2)],
    )
}

/// Bytes of one band entry: band (i32, -1 for an opening key), key (u64), position (i64),
/// little-endian.
const ENTRY: usize = 20;

/// The shard of a bucket: every entry of one `(band, key)` goes to the same one.
fn shard_of(band: i32, key: u64, shards: u32) -> u32 {
    // keys are hashes already; the band is mixed in so that a band's keys spread too
    let h = key
        .wrapping_add(i64::from(band) as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 32) % u64::from(shards)) as u32
}

/// The band entries of documents, for `shard_pairs_batch`. Columns: `idx` (int64: the
/// document's position), `keys` (list<int64>: its band keys, band by band), `opening`
/// (list<int64>: its opening keys, bucketed by key alone, as the CLI does). One row per
/// shard that has entries: `shard` (int32, `0..shards`: a function of band and key) and
/// `entries` (binary: the shard's entries of the batch, 20 bytes each). Spark moves a
/// few rows per batch instead of a row per key.
#[pyfunction]
pub fn band_entries_batch(py: Python<'_>, docs: Batch, shards: u32) -> PyResult<Batch> {
    let b = docs.0;
    if shards == 0 {
        return Err(value_error("shards must be at least 1"));
    }
    let idx = int64(&b, "idx")?;
    let (keys, opening) = (list(&b, "keys")?, list(&b, "opening")?);
    py.detach(|| -> PyResult<_> {
        let mut out: Vec<Vec<u8>> = vec![Vec::new(); shards as usize];
        let mut push = |band: i32, key: i64, doc: i64| {
            let o = &mut out[shard_of(band, key as u64, shards) as usize];
            o.extend_from_slice(&band.to_le_bytes());
            o.extend_from_slice(&key.to_le_bytes());
            o.extend_from_slice(&doc.to_le_bytes());
        };
        for i in 0..b.num_rows() {
            let doc = idx.value(i);
            for (band, &k) in longs(keys, "keys", i)?.iter().enumerate() {
                push(band as i32, k, doc);
            }
            for &k in &longs(opening, "opening", i)? {
                push(-1, k, doc);
            }
        }
        shard_rows(out)
    })
}

/// Candidate pairs of band buckets, from `band_entries_batch`'s `entries` (binary) in
/// any number of batches that together hold every entry of their buckets (all the rows
/// of a shard). Pairs `(a, b)`, `a < b`, as the CLI makes them from each bucket (its
/// documents in position order, capped at `max_bucket`); not de-duplicated across
/// buckets.
#[pyfunction]
pub fn shard_pairs_batch(
    py: Python<'_>,
    batches: Vec<Batch>,
    max_bucket: usize,
) -> PyResult<Batch> {
    let batches: Vec<RecordBatch> = batches.into_iter().map(|b| b.0).collect();
    let columns = batches
        .iter()
        .map(|b| binary(b, "entries"))
        .collect::<PyResult<Vec<_>>>()?;
    let (a_col, b_col) = py.detach(|| -> PyResult<_> {
        let mut entries: Vec<(i32, u64, i64)> = Vec::new();
        for c in &columns {
            for i in 0..c.len() {
                let bytes = c.value(i);
                if bytes.len() % ENTRY != 0 {
                    return Err(value_error("band entries: not a whole number of entries"));
                }
                for e in bytes.chunks_exact(ENTRY) {
                    let band = i32::from_le_bytes(e[..4].try_into().expect("4 bytes"));
                    let key = u64::from_le_bytes(e[4..12].try_into().expect("8 bytes"));
                    let doc = i64::from_le_bytes(e[12..].try_into().expect("8 bytes"));
                    entries.push((band, key, doc));
                }
            }
        }
        entries.sort_unstable();
        entries.dedup();
        let mut a_col = Int64Builder::new();
        let mut b_col = Int64Builder::new();
        let mut pairs = Vec::new();
        let mut local: Vec<DocId> = Vec::new();
        for bucket in entries.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
            if bucket.len() < 2 {
                continue;
            }
            pairs.clear();
            local.clear();
            local.extend(0..bucket.len() as DocId);
            bucket_pairs(&local, |&d| d, max_bucket, &mut pairs);
            for &(x, y) in &pairs {
                a_col.append_value(bucket[x as usize].2);
                b_col.append_value(bucket[y as usize].2);
            }
        }
        Ok((a_col.finish(), b_col.finish()))
    })?;
    batch(
        vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int64, false),
        ],
        vec![Arc::new(a_col), Arc::new(b_col)],
    )
}

/// A compared record (the `set` column of `sketch_records_batch`) and its sorted set.
fn decode_compared(bytes: &[u8]) -> PyResult<(ParagraphRecord, Vec<u64>)> {
    let rec = ParagraphRecord::decode(bytes)
        .ok_or_else(|| value_error("not a compared record of this version"))?;
    let set = rec.article_set(&[]);
    Ok((rec, set))
}

/// Exact verification. Columns: `sa`, `sb` (binary: the two documents' `set`). Per pair:
/// `accepted` (bool, the CLI's match rule), `jaccard`, `containment` (double).
#[pyfunction]
pub fn verify_batch(py: Python<'_>, pairs: Batch, params: &NeardupParams) -> PyResult<Batch> {
    let b = pairs.0;
    let (sa, sb) = (binary(&b, "sa")?, binary(&b, "sb")?);
    let rule = MatchRule::new(&params.valid);
    let (ok, j, c) = py.detach(|| -> PyResult<_> {
        let mut ok = BooleanBuilder::with_capacity(b.num_rows());
        let mut j = Float64Builder::with_capacity(b.num_rows());
        let mut c = Float64Builder::with_capacity(b.num_rows());
        for i in 0..b.num_rows() {
            let (ra, seta) = decode_compared(sa.value(i))?;
            let (rb, setb) = decode_compared(sb.value(i))?;
            let s = score_pair(compared(&ra, &seta), compared(&rb, &setb));
            ok.append_value(rule.accepts(&s));
            j.append_value(s.jaccard);
            c.append_value(s.containment());
        }
        Ok((ok.finish(), j.finish(), c.finish()))
    })?;
    batch(
        vec![
            Field::new("accepted", DataType::Boolean, false),
            Field::new("jaccard", DataType::Float64, false),
            Field::new("containment", DataType::Float64, false),
        ],
        vec![Arc::new(ok), Arc::new(j), Arc::new(c)],
    )
}

/// A compared record as the Spark job carries it: paragraphs left out are already out of
/// its set, so none are named.
fn compared<'a>(record: &'a ParagraphRecord, set: &'a [u64]) -> Compared<'a> {
    Compared {
        record,
        removed: &[],
        set,
    }
}

/// Exact verification of candidate pairs in groups, each compared record decoded once a
/// group however many of the group's pairs it is in. `score` takes a partition's batches
/// in order: columns `g` (int64, the group), `a` (int64), `b` (int64) and `set` (binary);
/// a record's row has `b` null, `a` its position and `set` its compared record, a pair's
/// row `a` and `b` and `set` null. Rows come sorted by `g`, and in a group every record's
/// row before its pairs' rows; a group may go on in the next batch (the group's records
/// are kept until a row of another group arrives). Returns each batch's accepted pairs
/// (the CLI's match rule): `a`, `b` (int64). A pair whose record did not come before it
/// in its group is an error.
#[pyclass(module = "neardup._core")]
pub struct GroupVerifier {
    rule: MatchRule,
    group: Option<i64>,
    records: HashMap<i64, (ParagraphRecord, Vec<u64>)>,
}

#[pymethods]
impl GroupVerifier {
    #[new]
    fn py_new(params: &NeardupParams) -> Self {
        GroupVerifier {
            rule: MatchRule::new(&params.valid),
            group: None,
            records: HashMap::new(),
        }
    }

    /// The accepted pairs of a batch of rows (see the type).
    fn score(&mut self, py: Python<'_>, rows: Batch) -> PyResult<Batch> {
        let rows = rows.0;
        let (g_col, a_col, b_col, sets) = (
            int64(&rows, "g")?,
            int64(&rows, "a")?,
            int64(&rows, "b")?,
            binary(&rows, "set")?,
        );
        if g_col.null_count() > 0 || a_col.null_count() > 0 {
            return Err(value_error("column 'g' or 'a' has a null"));
        }
        let (a_out, b_out) = py.detach(|| -> PyResult<_> {
            let mut a_out = Int64Builder::new();
            let mut b_out = Int64Builder::new();
            for i in 0..rows.num_rows() {
                let (g, a) = (g_col.value(i), a_col.value(i));
                if self.group != Some(g) {
                    self.group = Some(g);
                    self.records.clear();
                }
                if b_col.is_null(i) {
                    if sets.is_null(i) {
                        return Err(value_error(format!("record {a}: no compared record")));
                    }
                    // a record is in a group once, unless two groups' keys hash alike
                    if let Entry::Vacant(e) = self.records.entry(a) {
                        e.insert(decode_compared(sets.value(i))?);
                    }
                    continue;
                }
                let b = b_col.value(i);
                let side = |x: i64| {
                    self.records.get(&x).ok_or_else(|| {
                        value_error(format!(
                            "pair ({a}, {b}): record {x} does not come before it in group {g}"
                        ))
                    })
                };
                let ((ra, seta), (rb, setb)) = (side(a)?, side(b)?);
                let score = score_pair(compared(ra, seta), compared(rb, setb));
                if self.rule.accepts(&score) {
                    a_out.append_value(a);
                    b_out.append_value(b);
                }
            }
            Ok((a_out.finish(), b_out.finish()))
        })?;
        batch(
            vec![
                Field::new("a", DataType::Int64, false),
                Field::new("b", DataType::Int64, false),
            ],
            vec![Arc::new(a_out), Arc::new(b_out)],
        )
    }
}

/// The connected components of the accepted pairs `(a, b)` (int64 positions) in
/// `batches`, all of them, in one call: `(node, component)` for every document of a
/// pair (a self pair makes none), each component named by its smallest document, as large-star/small-star names
/// it (`connected_components` in Python). The core's union-find over the documents
/// numbered locally in position order: held in memory, two longs a pair and a long and
/// a `DocId` a document.
#[pyfunction]
pub fn components_batch(py: Python<'_>, batches: Vec<Batch>) -> PyResult<Batch> {
    let batches: Vec<RecordBatch> = batches.into_iter().map(|b| b.0).collect();
    let columns = batches
        .iter()
        .map(|b| {
            let (a, b) = (int64(b, "a")?, int64(b, "b")?);
            if a.null_count() + b.null_count() > 0 {
                return Err(value_error(
                    "connected components: a pair with a null document",
                ));
            }
            Ok((a, b))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let (node, component) = py.detach(|| -> PyResult<_> {
        let pairs = || {
            columns
                .iter()
                .flat_map(|(a, b)| a.values().iter().copied().zip(b.values().iter().copied()))
                .filter(|(a, b)| a != b)
        };
        let mut nodes: Vec<i64> = pairs().flat_map(|(a, b)| [a, b]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        if DocId::try_from(nodes.len()).is_err() {
            return Err(value_error(format!(
                "connected components: {} documents in pairs, more than one task numbers",
                nodes.len()
            )));
        }
        // local numbers in position order: the union-find's roots, its smallest
        // members, are the components' smallest documents
        let local = |x: i64| nodes.binary_search(&x).expect("every node") as DocId;
        let mut uf = UnionFind::new(nodes.len());
        for (a, b) in pairs() {
            uf.union(local(a), local(b));
        }
        let mut component = Int64Builder::with_capacity(nodes.len());
        for d in 0..nodes.len() as DocId {
            component.append_value(nodes[uf.find(d) as usize]);
        }
        Ok((Int64Array::from(nodes), component.finish()))
    })?;
    batch(
        vec![
            Field::new("node", DataType::Int64, false),
            Field::new("component", DataType::Int64, false),
        ],
        vec![Arc::new(node), Arc::new(component)],
    )
}

/// One component's rows, gathered from a batch: members by position, and pairs.
#[derive(Default)]
struct Component {
    members: Vec<(i64, ComponentMember)>,
    links: Vec<(i64, i64)>,
}

impl Component {
    /// Placed as the CLI places it: `(doc, rep, similarity)` per member.
    fn place(self, p: &ValidParams) -> PyResult<Vec<(i64, i64, Option<f64>)>> {
        let Component { mut members, links } = self;
        // local positions in input order: placement breaks ties by position
        members.sort_by_key(|(idx, _)| *idx);
        let positions: Vec<i64> = members.iter().map(|(idx, _)| *idx).collect();
        let local = |x: i64| -> PyResult<DocId> {
            positions
                .binary_search(&x)
                .map(|i| i as DocId)
                .map_err(|_| value_error(format!("pair member {x} is not in its component")))
        };
        let links: Vec<(DocId, DocId)> = links
            .into_iter()
            .map(|(a, b)| Ok((local(a)?, local(b)?)))
            .collect::<PyResult<_>>()?;
        let members: Vec<ComponentMember> = members
            .into_iter()
            .enumerate()
            .map(|(i, (_, mut m))| {
                m.doc = i as DocId;
                m
            })
            .collect();
        // the job writes representatives and similarities, not provenance
        let placed =
            place_members(members, &links, p, Detail::PlacementOnly).map_err(value_error)?;
        Ok(placed
            .into_iter()
            .map(|(d, pl)| {
                (
                    positions[d as usize],
                    positions[pl.rep as usize],
                    pl.score.map(|s| round6(s.jaccard)),
                )
            })
            .collect())
    }
}

/// Places connected components as the CLI does. The batch holds the rows of whole
/// components, each component's rows together (column `component`, int64); a row is of
/// one of two kinds (column `kind`, int32): `0`, a member, with `idx` (int64, its
/// position), `id`, `date`, `outlet` (strings), `record` (binary: the compared record),
/// `removed` (list<int32>) and `size` (int64); `1`, an accepted pair among them, in `a`
/// and `b` (int64 positions). Per member: `doc`, `rep` (int64 positions) and `similarity`
/// (double, 6 decimals; null for the representative).
#[pyfunction]
pub fn place_batch(py: Python<'_>, rows: Batch, params: &NeardupParams) -> PyResult<Batch> {
    let b = rows.0;
    let p = &params.valid;
    let component = int64(&b, "component")?;
    let kind = column(&b, "kind")?;
    let kind = kind
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| wrong_type("kind", "int32", kind.data_type()))?;
    let (idx, a, bb) = (int64(&b, "idx")?, int64(&b, "a")?, int64(&b, "b")?);
    let (id, date, outlet) = (
        string(&b, "id")?,
        string(&b, "date")?,
        string(&b, "outlet")?,
    );
    let (record, removed, size) = (
        binary(&b, "record")?,
        list(&b, "removed")?,
        int64(&b, "size")?,
    );
    let mut components: Vec<Component> = Vec::new();
    let mut current = None;
    for i in 0..b.num_rows() {
        let c = component.value(i);
        if current != Some(c) {
            current = Some(c);
            components.push(Component::default());
        }
        let comp = components.last_mut().expect("pushed above");
        if kind.value(i) == 1 {
            comp.links.push((a.value(i), bb.value(i)));
            continue;
        }
        let rec = ParagraphRecord::decode(record.value(i))
            .ok_or_else(|| value_error("not a paragraph record of this version"))?;
        comp.members.push((
            idx.value(i),
            ComponentMember {
                doc: 0,
                id: opt_str(id, i).unwrap_or_default(),
                date: opt_str(date, i),
                outlet: opt_str(outlet, i),
                record: rec,
                removed: ints(removed, "removed", i)?,
                size: u32::try_from(size.value(i)).unwrap_or(u32::MAX),
            },
        ));
    }
    let placed = py.detach(|| -> PyResult<Vec<_>> {
        let mut out = Vec::new();
        for c in components {
            out.extend(c.place(p)?);
        }
        Ok(out)
    })?;
    let mut doc = Int64Builder::with_capacity(placed.len());
    let mut rep = Int64Builder::with_capacity(placed.len());
    let mut sim = Float64Builder::with_capacity(placed.len());
    for (d, r, s) in placed {
        doc.append_value(d);
        rep.append_value(r);
        sim.append_option(s);
    }
    batch(
        vec![
            Field::new("doc", DataType::Int64, false),
            Field::new("rep", DataType::Int64, false),
            field("similarity", DataType::Float64),
        ],
        vec![
            Arc::new(doc.finish()),
            Arc::new(rep.finish()),
            Arc::new(sim.finish()),
        ],
    )
}

/// The columns a run reads from a Parquet or Arrow input with this schema, by the CLI's
/// rule (`neardup::input::columnar::check_schema`, which the CLI's reader applies to each
/// file): `(text, id, date, outlet, url)`, a field's column or `None` when the schema
/// lacks it. Raises `ValueError` with the CLI's message, naming `path`, when the CLI would
/// find the input unusable (no text column, a named column that does not hold strings).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn input_columns(
    schema: PyArrowType<Schema>,
    path: &str,
    params: &NeardupParams,
) -> PyResult<(
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
)> {
    let named = neardup::input::columns_of(&params.valid.input);
    let c = neardup::input::columnar::check_schema(std::path::Path::new(path), &schema.0, &named)
        .map_err(value_error)?;
    Ok((c.text, c.id, c.date, c.outlet, c.url))
}
