//! The distributed job's stages on Arrow record batches: what Spark's `mapInArrow` and
//! `applyInArrow` hand to Python arrives here through the Arrow C data interface, and the
//! result goes back the same way. No Python object is made per row: a batch of 10,000
//! documents crosses the boundary as a handful of buffers.
//!
//! Every function takes its columns by name (a missing column or a column of another type
//! is a `ValueError` naming it) and returns one output row per input row, in order, except
//! `bucket_pairs_batch` (pairs) and `place_batch` (the members of one component): the
//! Python side puts the columns it passed through (positions, ids) beside the result.
//!
//! Document positions are Spark's `idx`: 64-bit, in input order, not necessarily dense.
//! The library numbers documents with 32-bit `DocId`s, so the functions that work on
//! several documents (buckets, components) number them locally, in the same order, which
//! keeps every decision that input order breaks ties in.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, BinaryArray, GenericListArray, RecordBatch, StringArray};
use arrow_pyarrow::PyArrowType;
use arrow_schema::{DataType, Field, Schema};
use neardup::input::{ParsedRecord, Raw, parse_record};
use neardup::params::ValidParams;
use neardup::stages::{
    Analyzer, Compared, ComponentMember, DocId, MatchRule, MinHasher, ParagraphRecord,
    bucket_pairs, clean_document, is_boilerplate, opening_hasher, opening_keys, outlet_group,
    place_members, round6, score_pair,
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

/// Builders of the analyzed columns.
#[derive(Default)]
struct AnalyzedColumns {
    status: StringBuilder,
    id: StringBuilder,
    date: StringBuilder,
    outlet: StringBuilder,
    grp: StringBuilder,
    record: BinaryBuilder,
    hashes: ListBuilder<Int64Builder>,
    repeated: ListBuilder<Int32Builder>,
}

impl AnalyzedColumns {
    fn push(&mut self, analyzer: &mut Analyzer, parsed: ParsedRecord, p: &ValidParams) {
        self.id.append_option(parsed.id.as_deref());
        self.date.append_option(parsed.date.as_deref());
        self.outlet.append_option(parsed.outlet.as_deref());
        let group = if p.paragraphs.enabled {
            outlet_group(parsed.outlet.as_deref(), parsed.url.as_deref())
        } else {
            None
        };
        let outcome = match parsed.skip {
            Some((reason, _)) => Err(reason.as_str()),
            None => analyzer.analyze(&parsed.text, p).ok_or("empty"),
        };
        match outcome {
            Err(status) => {
                self.status.append_value(status);
                self.grp.append_null();
                self.record.append_null();
                self.hashes.append(true);
                self.repeated.append(true);
            }
            Ok(a) => {
                self.status.append_value("ok");
                self.grp.append_option(group);
                self.record.append_value(&a.record);
                for &h in &a.hashes {
                    self.hashes.values().append_value(h as i64);
                }
                self.hashes.append(true);
                for r in &a.repeats {
                    self.repeated.values().append_value(r.paragraph as i32);
                }
                self.repeated.append(true);
            }
        }
    }

    /// A blank JSONL line: no record (the CLI does not count it either).
    fn push_blank(&mut self) {
        self.status.append_value("blank");
        self.id.append_null();
        self.date.append_null();
        self.outlet.append_null();
        self.grp.append_null();
        self.record.append_null();
        self.hashes.append(true);
        self.repeated.append(true);
    }

    fn finish(mut self) -> PyResult<Batch> {
        batch(
            vec![
                Field::new("status", DataType::Utf8, false),
                field("id", DataType::Utf8),
                field("date", DataType::Utf8),
                field("outlet", DataType::Utf8),
                field("grp", DataType::Utf8),
                field("record", DataType::Binary),
                field("hashes", list_of(DataType::Int64)),
                field("repeated", list_of(DataType::Int32)),
            ],
            vec![
                Arc::new(self.status.finish()),
                Arc::new(self.id.finish()),
                Arc::new(self.date.finish()),
                Arc::new(self.outlet.finish()),
                Arc::new(self.grp.finish()),
                Arc::new(self.record.finish()),
                Arc::new(self.hashes.finish()),
                Arc::new(self.repeated.finish()),
            ],
        )
    }
}

/// JSONL lines through the CLI's record parser and the paragraph stage. Columns: `value`
/// (binary: the line without its `\n`), `first` (bool: the first line of its file, whose
/// UTF-8 BOM is dropped). Per line: `status` (`ok`, `empty`, a skip reason, or `blank`
/// for a blank line, which is not a record), `id` (null when the record has none),
/// `date`, `outlet`, `grp` (the boilerplate group), `record` (the paragraph record,
/// `ok` only), `hashes` (paragraph hashes), `repeated` (repeated paragraphs).
#[pyfunction]
pub fn analyze_lines_batch(
    py: Python<'_>,
    lines: Batch,
    params: &NeardupParams,
) -> PyResult<Batch> {
    let b = lines.0;
    let p = &params.valid;
    let value = binary(&b, "value")?;
    let first = column(&b, "first")?;
    let first = first
        .as_boolean_opt()
        .ok_or_else(|| wrong_type("first", "bool", first.data_type()))?;
    py.detach(|| {
        let mut out = AnalyzedColumns::default();
        let mut analyzer = Analyzer::default();
        for i in 0..b.num_rows() {
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
                out.push_blank();
                continue;
            }
            let raw = if bytes.len() as u64 > p.input.max_doc_bytes.saturating_add(1 << 16) {
                Raw::Oversized {
                    bytes: bytes.len() as u64,
                    id: None,
                }
            } else {
                Raw::Line(bytes.to_vec())
            };
            out.push(&mut analyzer, parse_record(raw, &p.input), p);
        }
        out.finish()
    })
}

/// Documents through the paragraph stage. Columns: `id` (string, not null), `text`
/// (string; null is the status `missing_text`), `date`, `outlet`, `url` (strings). The
/// result as `analyze_lines_batch`'s.
#[pyfunction]
pub fn analyze_docs_batch(py: Python<'_>, docs: Batch, params: &NeardupParams) -> PyResult<Batch> {
    let b = docs.0;
    let p = &params.valid;
    let (id, text) = (string(&b, "id")?, string(&b, "text")?);
    let (date, outlet, url) = (
        string(&b, "date")?,
        string(&b, "outlet")?,
        string(&b, "url")?,
    );
    py.detach(|| {
        let mut out = AnalyzedColumns::default();
        let mut analyzer = Analyzer::default();
        for i in 0..b.num_rows() {
            let (id, date, outlet, url) = (
                opt_str(id, i),
                opt_str(date, i),
                opt_str(outlet, i),
                opt_str(url, i),
            );
            let id = id.ok_or_else(|| value_error(format!("row {i}: the id is null")))?;
            let parsed = if text.is_null(i) {
                ParsedRecord {
                    id: Some(id),
                    text: String::new(),
                    date,
                    outlet,
                    url,
                    skip: Some((neardup::SkipReason::MissingText, "missing text".to_owned())),
                }
            } else {
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
                parsed
            };
            out.push(&mut analyzer, parsed, p);
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

/// The sketch pass. Columns: `record` (binary, from the analysis), `repeated`
/// (list<int32>), `boilerplate` (list<int64>: those of the document's paragraph hashes
/// that are its group's boilerplate; null or empty for none). Per document: `removed`
/// (list<int32>: paragraphs left out), `size` (int64: compared shingles), `keys`
/// (list<int64>: LSH band keys, band by band), `set` (binary: the record of the compared
/// paragraphs, what exact verification and placement read), `opening` (list<int64>:
/// keys of the opening paragraphs).
#[pyfunction]
pub fn sketch_batch(py: Python<'_>, docs: Batch, params: &NeardupParams) -> PyResult<Batch> {
    let b = docs.0;
    let p = &params.valid;
    let record = binary(&b, "record")?;
    let repeated = list(&b, "repeated")?;
    let boilerplate = list(&b, "boilerplate")?;
    py.detach(|| {
        let mut hasher = MinHasher::new(&p.minhash);
        let mut opener = opening_hasher(p);
        let mut removed_col = ListBuilder::new(Int32Builder::new());
        let mut size_col = Int64Builder::with_capacity(b.num_rows());
        let mut keys_col = ListBuilder::new(Int64Builder::new());
        let mut set_col = BinaryBuilder::new();
        let mut opening_col = ListBuilder::new(Int64Builder::new());
        let mut openings = Vec::new();
        for i in 0..b.num_rows() {
            if record.is_null(i) {
                return Err(value_error(format!("row {i}: the record is null")));
            }
            let rec = ParagraphRecord::decode(record.value(i))
                .ok_or_else(|| value_error("not a paragraph record of this version"))?;
            let frequent: HashSet<u64> = longs(boilerplate, "boilerplate", i)?
                .into_iter()
                .map(|h| h as u64)
                .collect();
            let doc = clean_document(
                &rec,
                |h| frequent.contains(&h),
                ints(repeated, "repeated", i)?,
                &mut hasher,
                p,
            );
            for &r in &doc.removed {
                removed_col.values().append_value(r as i32);
            }
            removed_col.append(true);
            size_col.append_value(doc.set.len() as i64);
            for &k in &doc.band_keys {
                keys_col.values().append_value(k as i64);
            }
            keys_col.append(true);
            set_col.append_value(rec.compared_record(&doc.removed).encode());
            openings.clear();
            opening_keys(&rec, &doc.removed, &mut opener, p, &mut openings);
            for &k in &openings {
                opening_col.values().append_value(k as i64);
            }
            opening_col.append(true);
        }
        batch(
            vec![
                field("removed", list_of(DataType::Int32)),
                Field::new("size", DataType::Int64, false),
                field("keys", list_of(DataType::Int64)),
                Field::new("set", DataType::Binary, false),
                field("opening", list_of(DataType::Int64)),
            ],
            vec![
                Arc::new(removed_col.finish()),
                Arc::new(size_col.finish()),
                Arc::new(keys_col.finish()),
                Arc::new(set_col.finish()),
                Arc::new(opening_col.finish()),
            ],
        )
    })
}

/// Candidate pairs of band buckets. Column: `docs` (list<int64>: the positions sharing
/// one key, any order). Pairs `(a, b)`, `a < b`, as the CLI makes them from a bucket
/// (capped at `max_bucket`); not de-duplicated across buckets.
#[pyfunction]
pub fn bucket_pairs_batch(py: Python<'_>, buckets: Batch, max_bucket: usize) -> PyResult<Batch> {
    let b = buckets.0;
    let docs = list(&b, "docs")?;
    let (a_col, b_col) = py.detach(|| -> PyResult<_> {
        let mut a_col = Int64Builder::new();
        let mut b_col = Int64Builder::new();
        let mut pairs = Vec::new();
        for i in 0..b.num_rows() {
            let mut bucket = longs(docs, "docs", i)?;
            bucket.sort_unstable();
            bucket.dedup();
            pairs.clear();
            let local: Vec<DocId> = (0..bucket.len() as DocId).collect();
            bucket_pairs(&local, |&d| d, max_bucket, &mut pairs);
            for &(x, y) in &pairs {
                a_col.append_value(bucket[x as usize]);
                b_col.append_value(bucket[y as usize]);
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

/// A compared record (the `set` column of `sketch_batch`) and its sorted set.
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
            let s = score_pair(
                Compared {
                    record: &ra,
                    removed: &[],
                    set: &seta,
                },
                Compared {
                    record: &rb,
                    removed: &[],
                    set: &setb,
                },
            );
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
        let placed = place_members(members, &links, p).map_err(value_error)?;
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
