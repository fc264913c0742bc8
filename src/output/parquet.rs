//! `docs.parquet` and `clusters.parquet` (`--output-format parquet`, feature `columnar`):
//! the lines of `docs.jsonl` and `clusters.jsonl` as Parquet rows, for Spark, DuckDB and
//! polars to join on `id`, `file`, `line`, `offset` and `row`.
//!
//! - `docs.parquet`: one row per `DocLine`, its fields as columns of the same names.
//! - `clusters.parquet`: one row per member of a `ClusterLine`, the cluster's fields
//!   repeated on each, the member's under `member_*` (`member_index` is its place in
//!   `members`).
//!
//! Scalars are native columns; integers are signed 64-bit (Spark has no unsigned types).
//! Nested fields (`provenance`, `repeats`, `repeat_blocks`, `boilerplate`, `weak_links`,
//! `split_off`) are JSON text columns holding exactly what `docs.jsonl` and
//! `clusters.jsonl` hold for that field: one rule for every nested field, a schema that
//! does not change when `Provenance` grows a field, and values every engine parses
//! (`json_extract`, `from_json`, `str.json_decode`). A field the JSON line leaves out is
//! null.
//!
//! Rows are written in row groups of `ROW_GROUP` as they stream by: memory is bounded by
//! one row group, never by the run. The writer properties fix everything in the file's
//! metadata (`created_by` is this crate's name and version, no statistics that depend on
//! anything but the rows), so one run's bytes do not depend on the thread count.

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::types::{
    ArrowDictionaryKeyType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    ArrayRef, DictionaryArray, LargeStringArray, PrimitiveArray, RecordBatch, StringArray,
    StringViewArray,
};
use arrow_buffer::ArrowNativeType;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::Serialize;
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::output::schema::{ClusterLine, DocLine};

/// Rows per row group (and per batch held in memory before it is encoded).
pub const ROW_GROUP: usize = 65_536;

fn int(x: Option<u64>) -> Option<i64> {
    x.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("output values serialize")
}

/// A Parquet file being written under a temporary name.
struct Sink {
    writer: ArrowWriter<BufWriter<NamedTempFile>>,
    schema: SchemaRef,
    name: &'static str,
}

impl Sink {
    fn new(dir: &Path, name: &'static str, fields: Vec<Field>) -> Result<Self> {
        Self::with_schema(dir, name, Arc::new(Schema::new(fields)))
    }

    fn with_schema(dir: &Path, name: &'static str, schema: SchemaRef) -> Result<Self> {
        let tmp = super::temp_beside(dir, name)?;
        let props = WriterProperties::builder()
            .set_created_by(format!("neardup {}", env!("CARGO_PKG_VERSION")))
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, tmp),
            schema.clone(),
            Some(props),
        )
        .map_err(|e| parquet_error(dir, name, &e))?;
        Ok(Sink {
            writer,
            schema,
            name,
        })
    }

    fn write(&mut self, dir: &Path, columns: Vec<ArrayRef>) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| parquet_error(dir, self.name, &e))?;
        self.writer
            .write(&batch)
            .map_err(|e| parquet_error(dir, self.name, &e))
    }

    fn finish(self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        let name = self.name;
        let buf = self
            .writer
            .into_inner()
            .map_err(|e| parquet_error(dir, name, &e))?;
        let file = buf
            .into_inner()
            .map_err(|e| Error::output(dir.join(name), e.into_error()))?;
        file.as_file()
            .sync_all()
            .map_err(|e| Error::output(dir.join(name), e))?;
        Ok((file, name))
    }
}

fn parquet_error(dir: &Path, name: &str, e: &dyn std::fmt::Display) -> Error {
    Error::output(dir.join(name), std::io::Error::other(e.to_string()))
}

/// The columns of `docs.parquet`, in order.
#[must_use]
pub fn docs_fields() -> Vec<Field> {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    vec![
        s("id", false),
        i("cluster"),
        Field::new("keep", DataType::Boolean, false),
        s("duplicate_of", true),
        f("similarity"),
        f("containment"),
        s("split_from", true),
        s("provenance", true),
        s("status", false),
        s("file", false),
        i("line"),
        i("offset"),
        i("row"),
        s("repeats", true),
        s("repeat_blocks", true),
        s("boilerplate", true),
    ]
}

/// The columns of `clusters.parquet`, in order.
#[must_use]
pub fn clusters_fields() -> Vec<Field> {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    vec![
        Field::new("cluster", DataType::Int64, false),
        Field::new("size", DataType::Int64, false),
        s("representative", false),
        s("weak_links", false),
        s("split_off", false),
        Field::new("member_index", DataType::Int64, false),
        s("member_id", false),
        Field::new("member_similarity", DataType::Float64, false),
        s("member_outlet", true),
        s("member_date", true),
        s("member_provenance", true),
    ]
}

/// `docs.parquet` being written: rows are buffered into column builders and flushed as a
/// row group every `ROW_GROUP` rows.
pub(crate) struct DocsWriter {
    sink: Sink,
    rows: usize,
    id: StringBuilder,
    cluster: Int64Builder,
    keep: BooleanBuilder,
    duplicate_of: StringBuilder,
    similarity: Float64Builder,
    containment: Float64Builder,
    split_from: StringBuilder,
    provenance: StringBuilder,
    status: StringBuilder,
    file: StringBuilder,
    line: Int64Builder,
    offset: Int64Builder,
    row: Int64Builder,
    repeats: StringBuilder,
    repeat_blocks: StringBuilder,
    boilerplate: StringBuilder,
}

impl DocsWriter {
    pub(crate) fn new(dir: &Path) -> Result<Self> {
        Ok(DocsWriter {
            sink: Sink::new(dir, "docs.parquet", docs_fields())?,
            rows: 0,
            id: StringBuilder::new(),
            cluster: Int64Builder::new(),
            keep: BooleanBuilder::new(),
            duplicate_of: StringBuilder::new(),
            similarity: Float64Builder::new(),
            containment: Float64Builder::new(),
            split_from: StringBuilder::new(),
            provenance: StringBuilder::new(),
            status: StringBuilder::new(),
            file: StringBuilder::new(),
            line: Int64Builder::new(),
            offset: Int64Builder::new(),
            row: Int64Builder::new(),
            repeats: StringBuilder::new(),
            repeat_blocks: StringBuilder::new(),
            boilerplate: StringBuilder::new(),
        })
    }

    pub(crate) fn push(&mut self, dir: &Path, d: &DocLine<'_>) -> Result<()> {
        self.id.append_value(&d.id);
        self.cluster.append_option(int(d.cluster));
        self.keep.append_value(d.keep);
        self.duplicate_of.append_option(d.duplicate_of.as_deref());
        self.similarity.append_option(d.similarity);
        self.containment.append_option(d.containment);
        self.split_from.append_option(d.split_from.as_deref());
        self.provenance
            .append_option(d.provenance.as_ref().map(json));
        self.status.append_value(&d.status);
        self.file.append_value(&d.file);
        self.line.append_option(int(d.line));
        self.offset.append_option(int(d.offset));
        self.row.append_option(int(d.row));
        self.repeats.append_option(d.repeats.as_ref().map(json));
        self.repeat_blocks
            .append_option(d.repeat_blocks.as_ref().map(json));
        self.boilerplate
            .append_option(d.boilerplate.as_ref().map(json));
        self.rows += 1;
        if self.rows == ROW_GROUP {
            self.flush(dir)?;
        }
        Ok(())
    }

    fn flush(&mut self, dir: &Path) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.cluster.finish()),
            Arc::new(self.keep.finish()),
            Arc::new(self.duplicate_of.finish()),
            Arc::new(self.similarity.finish()),
            Arc::new(self.containment.finish()),
            Arc::new(self.split_from.finish()),
            Arc::new(self.provenance.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.row.finish()),
            Arc::new(self.repeats.finish()),
            Arc::new(self.repeat_blocks.finish()),
            Arc::new(self.boilerplate.finish()),
        ];
        self.sink.write(dir, columns)
    }

    pub(crate) fn finish(mut self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        self.flush(dir)?;
        self.sink.finish(dir)
    }
}

/// `clusters.parquet` being written: one row per member.
pub(crate) struct ClustersWriter {
    sink: Sink,
    rows: usize,
    cluster: Int64Builder,
    size: Int64Builder,
    representative: StringBuilder,
    weak_links: StringBuilder,
    split_off: StringBuilder,
    member_index: Int64Builder,
    member_id: StringBuilder,
    member_similarity: Float64Builder,
    member_outlet: StringBuilder,
    member_date: StringBuilder,
    member_provenance: StringBuilder,
}

impl ClustersWriter {
    pub(crate) fn new(dir: &Path) -> Result<Self> {
        Ok(ClustersWriter {
            sink: Sink::new(dir, "clusters.parquet", clusters_fields())?,
            rows: 0,
            cluster: Int64Builder::new(),
            size: Int64Builder::new(),
            representative: StringBuilder::new(),
            weak_links: StringBuilder::new(),
            split_off: StringBuilder::new(),
            member_index: Int64Builder::new(),
            member_id: StringBuilder::new(),
            member_similarity: Float64Builder::new(),
            member_outlet: StringBuilder::new(),
            member_date: StringBuilder::new(),
            member_provenance: StringBuilder::new(),
        })
    }

    pub(crate) fn push(&mut self, dir: &Path, c: &ClusterLine<'_>) -> Result<()> {
        let weak_links = json(&c.weak_links);
        let split_off = json(&c.split_off);
        for (k, m) in c.members.iter().enumerate() {
            self.cluster.append_option(int(Some(c.cluster)));
            self.size.append_option(int(Some(c.size as u64)));
            self.representative.append_value(&c.representative);
            self.weak_links.append_value(&weak_links);
            self.split_off.append_value(&split_off);
            self.member_index.append_option(int(Some(k as u64)));
            self.member_id.append_value(&m.id);
            self.member_similarity.append_value(m.similarity);
            self.member_outlet.append_option(m.outlet.as_deref());
            self.member_date.append_option(m.date.as_deref());
            self.member_provenance
                .append_option(m.provenance.as_ref().map(json));
            self.rows += 1;
            if self.rows == ROW_GROUP {
                self.flush(dir)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, dir: &Path) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.cluster.finish()),
            Arc::new(self.size.finish()),
            Arc::new(self.representative.finish()),
            Arc::new(self.weak_links.finish()),
            Arc::new(self.split_off.finish()),
            Arc::new(self.member_index.finish()),
            Arc::new(self.member_id.finish()),
            Arc::new(self.member_similarity.finish()),
            Arc::new(self.member_outlet.finish()),
            Arc::new(self.member_date.finish()),
            Arc::new(self.member_provenance.finish()),
        ];
        self.sink.write(dir, columns)
    }

    pub(crate) fn finish(mut self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        self.flush(dir)?;
        self.sink.finish(dir)
    }
}

/// The file `--emit-clean` writes Parquet into (see `write_clean`).
pub const CLEAN_FILE: &str = "clean.parquet";

/// Bytes of encoded rows `clean.parquet` buffers before it closes a row group: its rows
/// hold whole documents, so a row group is cut by size as well as at `ROW_GROUP` rows,
/// which bounds the memory whatever the documents' length. The cut depends only on the
/// rows, so the file's bytes do not depend on the thread count.
const CLEAN_GROUP_BYTES: usize = 64 << 20;

/// `clean.parquet` for Parquet and Arrow inputs: their kept rows with every column as
/// read, the text column's values replaced by the cleaned text, in the schema of the
/// inputs (which must all have the same one).
pub(crate) struct CleanRows {
    sink: Sink,
    /// The input whose schema the file has, for the message when another differs.
    first: PathBuf,
    /// The text column's index in the schema.
    text: usize,
}

impl CleanRows {
    /// Starts `clean.parquet` in the schema of `first`, whose text column is `text`.
    pub(crate) fn new(dir: &Path, first: &Path, schema: SchemaRef, text: &str) -> Result<Self> {
        let Some((index, _)) = schema.column_with_name(text) else {
            return Err(Error::Input {
                path: first.to_path_buf(),
                message: format!("no column `{text}` for the text field"),
            });
        };
        Ok(CleanRows {
            sink: Sink::with_schema(dir, CLEAN_FILE, schema)?,
            first: first.to_path_buf(),
            text: index,
        })
    }

    /// Checks that `path`'s schema is the file's: one `clean.parquet` holds one schema.
    pub(crate) fn check(&self, path: &Path, schema: &Schema) -> Result<()> {
        same_schema(&self.first, &self.sink.schema, path, schema)
    }

    /// Writes the rows of `batch` (every column of an input) whose `kept` is true, the
    /// text column's values replaced by `texts` (one per row of the batch).
    pub(crate) fn push(
        &mut self,
        dir: &Path,
        path: &Path,
        batch: &RecordBatch,
        texts: &[Option<String>],
        kept: &[bool],
    ) -> Result<()> {
        let field = self.sink.schema.field(self.text);
        let cleaned = text_array(field.data_type(), texts).map_err(|why| Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "the cleaned text cannot be written back into column `{}`: {why}",
                field.name()
            ),
        })?;
        let mut columns = batch.columns().to_vec();
        columns[self.text] = cleaned;
        let batch = RecordBatch::try_new(Arc::clone(&self.sink.schema), columns).map_err(|e| {
            Error::Input {
                path: path.to_path_buf(),
                message: format!("its rows do not fit the schema of {CLEAN_FILE}: {e}"),
            }
        })?;
        let mut i = 0;
        while i < kept.len() {
            if !kept[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < kept.len() && kept[i] {
                i += 1;
            }
            self.sink
                .writer
                .write(&batch.slice(start, i - start))
                .map_err(|e| parquet_error(dir, CLEAN_FILE, &e))?;
        }
        if self.sink.writer.in_progress_size() >= CLEAN_GROUP_BYTES {
            self.sink
                .writer
                .flush()
                .map_err(|e| parquet_error(dir, CLEAN_FILE, &e))?;
        }
        Ok(())
    }

    pub(crate) fn finish(self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        self.sink.finish(dir)
    }
}

/// An error unless `b` (the schema of the input `path_b`) is `a` (that of `path_a`): the
/// same columns in the same order, with the same names, types and nullability.
pub(crate) fn same_schema(path_a: &Path, a: &Schema, path_b: &Path, b: &Schema) -> Result<()> {
    if a.fields() == b.fields() {
        return Ok(());
    }
    let show = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| {
                let null = if f.is_nullable() { "" } else { " not null" };
                format!("{} {}{null}", f.name(), f.data_type())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(Error::Input {
        path: path_b.to_path_buf(),
        message: format!(
            "--emit-clean writes the rows of every Parquet and Arrow input into one {CLEAN_FILE}, \
             in their schema, and this file's columns ({}) differ from those of {} ({}): clean inputs \
             of different schemas in separate runs",
            show(b),
            crate::paths::text(path_a),
            show(a)
        ),
    })
}

/// An array of `data_type` (a string type the readers accept: string, large string,
/// string view, or a dictionary of one) holding `texts`.
fn text_array(
    data_type: &DataType,
    texts: &[Option<String>],
) -> std::result::Result<ArrayRef, String> {
    let values = || texts.iter().map(Option::as_deref);
    Ok(match data_type {
        DataType::Utf8 => Arc::new(values().collect::<StringArray>()),
        DataType::LargeUtf8 => Arc::new(values().collect::<LargeStringArray>()),
        DataType::Utf8View => Arc::new(values().collect::<StringViewArray>()),
        DataType::Dictionary(key, value) => {
            // each distinct text once, in order of first appearance
            let mut index: HashMap<&str, usize> = HashMap::new();
            let mut distinct: Vec<Option<String>> = Vec::new();
            let keys: Vec<Option<usize>> = values()
                .map(|t| {
                    t.map(|t| {
                        *index.entry(t).or_insert_with(|| {
                            distinct.push(Some(t.to_owned()));
                            distinct.len() - 1
                        })
                    })
                })
                .collect();
            let values = text_array(value, &distinct)?;
            match key.as_ref() {
                DataType::Int8 => dictionary::<Int8Type>(&keys, values)?,
                DataType::Int16 => dictionary::<Int16Type>(&keys, values)?,
                DataType::Int32 => dictionary::<Int32Type>(&keys, values)?,
                DataType::Int64 => dictionary::<Int64Type>(&keys, values)?,
                DataType::UInt8 => dictionary::<UInt8Type>(&keys, values)?,
                DataType::UInt16 => dictionary::<UInt16Type>(&keys, values)?,
                DataType::UInt32 => dictionary::<UInt32Type>(&keys, values)?,
                DataType::UInt64 => dictionary::<UInt64Type>(&keys, values)?,
                other => return Err(format!("{other} is not a dictionary key type")),
            }
        }
        other => return Err(format!("{other} is not a string type")),
    })
}

/// A dictionary array of `values` with keys `keys`, or why the key type cannot hold them.
fn dictionary<K: ArrowDictionaryKeyType>(
    keys: &[Option<usize>],
    values: ArrayRef,
) -> std::result::Result<ArrayRef, String> {
    let distinct = values.len();
    let keys = keys
        .iter()
        .map(|k| match k {
            None => Ok(None),
            Some(k) => K::Native::from_usize(*k).map(Some).ok_or_else(|| {
                format!(
                    "{distinct} distinct cleaned texts in one batch are more than its \
                     dictionary keys ({}) can number",
                    K::DATA_TYPE
                )
            }),
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    let keys: PrimitiveArray<K> = keys.into_iter().collect();
    DictionaryArray::<K>::try_new(keys, values)
        .map(|a| Arc::new(a) as ArrayRef)
        .map_err(|e| e.to_string())
}

/// The columns of `clean.parquet` for WARC, WET and plain-text inputs
/// (`--output-format parquet`): the record's id, URL, date, cleaned text and outlet.
#[must_use]
pub fn clean_docs_fields() -> Vec<Field> {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    vec![
        s("id", false),
        s("url", true),
        s("date", true),
        s("text", false),
        s("outlet", true),
    ]
}

/// `clean.parquet` for WARC, WET and plain-text inputs: one row per kept document.
pub(crate) struct CleanDocs {
    sink: Sink,
    rows: usize,
    bytes: usize,
    id: StringBuilder,
    url: StringBuilder,
    date: StringBuilder,
    text: StringBuilder,
    outlet: StringBuilder,
}

/// One kept document of `clean.parquet` (`clean_docs_fields`).
pub(crate) struct CleanDoc {
    pub(crate) id: String,
    pub(crate) url: Option<String>,
    pub(crate) date: Option<String>,
    pub(crate) text: String,
    pub(crate) outlet: Option<String>,
}

impl CleanDocs {
    pub(crate) fn new(dir: &Path) -> Result<Self> {
        Ok(CleanDocs {
            sink: Sink::new(dir, CLEAN_FILE, clean_docs_fields())?,
            rows: 0,
            bytes: 0,
            id: StringBuilder::new(),
            url: StringBuilder::new(),
            date: StringBuilder::new(),
            text: StringBuilder::new(),
            outlet: StringBuilder::new(),
        })
    }

    pub(crate) fn push(&mut self, dir: &Path, doc: &CleanDoc) -> Result<()> {
        self.id.append_value(&doc.id);
        self.url.append_option(doc.url.as_deref());
        self.date.append_option(doc.date.as_deref());
        self.text.append_value(&doc.text);
        self.outlet.append_option(doc.outlet.as_deref());
        self.rows += 1;
        self.bytes += doc.text.len();
        if self.rows == ROW_GROUP || self.bytes >= CLEAN_GROUP_BYTES {
            self.flush(dir)?;
        }
        Ok(())
    }

    fn flush(&mut self, dir: &Path) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        self.rows = 0;
        self.bytes = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.url.finish()),
            Arc::new(self.date.finish()),
            Arc::new(self.text.finish()),
            Arc::new(self.outlet.finish()),
        ];
        self.sink.write(dir, columns)?;
        // a row group per flush, so memory holds one
        self.sink
            .writer
            .flush()
            .map_err(|e| parquet_error(dir, CLEAN_FILE, &e))
    }

    pub(crate) fn finish(mut self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        self.flush(dir)?;
        self.sink.finish(dir)
    }
}
