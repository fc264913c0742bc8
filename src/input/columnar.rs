//! Columnar files: a Parquet file or an Arrow IPC file (Feather v2) or stream, and the names
//! of the columns that hold each record's text (required) and its id, date, outlet and URL
//! (each optional), in; rows out, a batch at a time, each row with its 0-based row number
//! in the file and the values of those columns.
//!
//! The format is recognised by content: `PAR1` starts a Parquet file, `ARROW1` an Arrow
//! IPC file, the continuation marker `FF FF FF FF` an Arrow IPC stream. A Parquet file is
//! read one row group at a time, only the named columns decoded, in batches of at most
//! [`BATCH_ROWS`] rows; an Arrow file or stream one record batch (as its writer cut them)
//! at a time, its buffers compressed with LZ4 or zstd or not. Memory is bounded by a
//! batch whatever the file's size. A named column must be a string, a large string, a string
//! view or a dictionary of strings; any other type (a list, a struct, a number, binary) is
//! refused before any row is read, naming the column and its type, and so is a column
//! that is not there, listing the columns that are.
//!
//! Invariant: row numbers count every row of the file in order, so the row number of a
//! record is its position (file and row); a null value is `None`. A corrupt Parquet page is
//! an error naming the file and the first row of the batch that could not be decoded; the
//! rest of its row group is skipped (the error says how many rows) and reading goes on
//! with the next row group, so rows are lost only with a reported error. A corrupt footer,
//! or a corrupt Arrow batch, ends the file with an error. No input makes the reader panic
//! or abort (see `guarded` and `IpcMessages`); a local stress run of 21,000 randomly
//! garbled Parquet and Arrow files gave typed errors only.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, ArrowPrimitiveType, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray};
use arrow_buffer::ArrowNativeType;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};

/// The most rows in one batch: a few MB of text at typical document sizes.
pub const BATCH_ROWS: usize = 4096;

/// The five record fields a column can be named for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The record's id (`--id-field`).
    Id,
    /// The text to compare (`--text-field`).
    Text,
    /// Its date (`--date-field`).
    Date,
    /// Its outlet or site (`--outlet-field`).
    Outlet,
    /// Its URL (`--url-field`).
    Url,
}

impl Field {
    /// All fields, in the order of [`Row`]'s values.
    pub const ALL: [Field; 5] = [
        Field::Id,
        Field::Text,
        Field::Date,
        Field::Outlet,
        Field::Url,
    ];

    /// The field's name as in `--id-field`, `--text-field`...
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Text => "text",
            Field::Date => "date",
            Field::Outlet => "outlet",
            Field::Url => "url",
        }
    }

    /// Whether the field's column may hold integers as well as strings. Exported tables
    /// often number their rows and outlets; such a column is read as the numbers' decimal
    /// text, as a JSONL record's numeric id is read as its JSON text. Text, dates and URLs
    /// must be strings: a number there is a mistake (an epoch time is not a date this tool
    /// can order by without guessing its unit).
    #[must_use]
    pub fn takes_integers(self) -> bool {
        matches!(self, Field::Id | Field::Outlet)
    }
}

/// Which column holds each field; only `text` is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// The text column.
    pub text: String,
    /// The id column, if any.
    pub id: Option<String>,
    /// The date column, if any.
    pub date: Option<String>,
    /// The outlet column, if any.
    pub outlet: Option<String>,
    /// The URL column, if any.
    pub url: Option<String>,
}

impl Columns {
    /// Only a text column.
    #[must_use]
    pub fn text(name: &str) -> Columns {
        Columns {
            text: name.to_owned(),
            id: None,
            date: None,
            outlet: None,
            url: None,
        }
    }

    /// These columns less those, other than the text, that `schema` lacks: what a run
    /// reads of a file with this schema, as a JSONL record may lack a field.
    #[must_use]
    pub fn present_in(&self, schema: &Schema) -> Columns {
        let has = |c: &Option<String>| {
            c.as_ref()
                .filter(|name| schema.column_with_name(name).is_some())
                .cloned()
        };
        Columns {
            text: self.text.clone(),
            id: has(&self.id),
            date: has(&self.date),
            outlet: has(&self.outlet),
            url: has(&self.url),
        }
    }

    fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::Id => self.id.as_deref(),
            Field::Text => Some(&self.text),
            Field::Date => self.date.as_deref(),
            Field::Outlet => self.outlet.as_deref(),
            Field::Url => self.url.as_deref(),
        }
    }
}

/// The formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// The Arrow IPC file format, which Feather v2 is.
    ArrowFile,
    /// The Arrow IPC stream format.
    ArrowStream,
}

/// What went wrong, naming the file and, where there is one, the row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ColumnarError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The file is neither Parquet nor Arrow IPC.
    #[error("{}: not a Parquet or Arrow IPC file ({detail})", path.display())]
    NotColumnar {
        /// The file.
        path: PathBuf,
        /// What it starts with instead (or that it is Feather v1, with what to do).
        detail: String,
    },
    /// A named column is not in the file.
    #[error(
        "{}: no column `{column}` for the {} field; the columns are: {}",
        path.display(), field.as_str(), present.join(", ")
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The field the column was named for.
        field: Field,
        /// The name given.
        column: String,
        /// The file's columns, in schema order.
        present: Vec<String>,
    },
    /// A named column is not of a type its field can be read from (strings, and
    /// integers for the id and outlet fields).
    #[error(
        "{}: column `{column}` (the {} field) is {data_type}, not a string{} column",
        path.display(), field.as_str(), if field.takes_integers() { " or integer" } else { "" }
    )]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The field the column was named for.
        field: Field,
        /// The column's name.
        column: String,
        /// Its Arrow type as Arrow prints it, e.g. `List(...)` or `Int64`.
        data_type: String,
    },
    /// The footer or metadata cannot be decoded: nothing was read.
    #[error("{}: corrupt file: {message}", path.display())]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        message: String,
    },
    /// A page or batch cannot be decoded. `skipped` rows from `row` on were not read (for
    /// a Parquet file, the rest of the row group; reading goes on after them); `None` when
    /// reading stops here.
    #[error(
        "{}: row {row}: corrupt data ({}): {message}",
        path.display(),
        match .skipped { Some(n) => format!("{n} rows skipped"), None => "reading stopped".to_owned() }
    )]
    CorruptRows {
        /// The file.
        path: PathBuf,
        /// The 0-based row number of the first row not read.
        row: u64,
        /// Rows skipped from `row` on; `None` when reading stops.
        skipped: Option<u64>,
        /// The decoder's error.
        message: String,
    },
}

impl ColumnarError {
    /// True when no row comes after this error.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            ColumnarError::CorruptRows {
                skipped: Some(_),
                ..
            }
        )
    }
}

/// The format of `head`, the first bytes of a file, if it is one read here.
#[must_use]
pub fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"PAR1") {
        Some(Format::Parquet)
    } else if head.starts_with(b"ARROW1") {
        Some(Format::ArrowFile)
    } else if head.starts_with(&[0xff; 4]) {
        Some(Format::ArrowStream)
    } else {
        None
    }
}

/// One string column of a batch.
enum StrColumn {
    Utf8(StringArray),
    Large(LargeStringArray),
    View(StringViewArray),
    /// Dictionary-encoded: the array (for its nulls), its keys as indices (`usize::MAX`
    /// for a key that is not one), and its values.
    Dict {
        array: ArrayRef,
        keys: Vec<usize>,
        values: Box<StrColumn>,
    },
}

impl StrColumn {
    fn new(array: &ArrayRef) -> Option<StrColumn> {
        Some(match array.data_type() {
            DataType::Utf8 => StrColumn::Utf8(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => StrColumn::Large(array.as_string::<i64>().clone()),
            DataType::Utf8View => StrColumn::View(array.as_string_view().clone()),
            DataType::Int8 => StrColumn::Utf8(decimal_text::<Int8Type>(array)),
            DataType::Int16 => StrColumn::Utf8(decimal_text::<Int16Type>(array)),
            DataType::Int32 => StrColumn::Utf8(decimal_text::<Int32Type>(array)),
            DataType::Int64 => StrColumn::Utf8(decimal_text::<Int64Type>(array)),
            DataType::UInt8 => StrColumn::Utf8(decimal_text::<UInt8Type>(array)),
            DataType::UInt16 => StrColumn::Utf8(decimal_text::<UInt16Type>(array)),
            DataType::UInt32 => StrColumn::Utf8(decimal_text::<UInt32Type>(array)),
            DataType::UInt64 => StrColumn::Utf8(decimal_text::<UInt64Type>(array)),
            DataType::Dictionary(key, _) => {
                let dict = array.as_any_dictionary_opt()?;
                let keys = dict.keys();
                let keys = match key.as_ref() {
                    DataType::Int8 => key_indices::<Int8Type>(keys),
                    DataType::Int16 => key_indices::<Int16Type>(keys),
                    DataType::Int32 => key_indices::<Int32Type>(keys),
                    DataType::Int64 => key_indices::<Int64Type>(keys),
                    DataType::UInt8 => key_indices::<UInt8Type>(keys),
                    DataType::UInt16 => key_indices::<UInt16Type>(keys),
                    DataType::UInt32 => key_indices::<UInt32Type>(keys),
                    DataType::UInt64 => key_indices::<UInt64Type>(keys),
                    _ => return None,
                };
                StrColumn::Dict {
                    array: Arc::clone(array),
                    keys,
                    values: Box::new(StrColumn::new(dict.values())?),
                }
            }
            _ => return None,
        })
    }

    fn len(&self) -> usize {
        match self {
            StrColumn::Utf8(a) => a.len(),
            StrColumn::Large(a) => a.len(),
            StrColumn::View(a) => a.len(),
            StrColumn::Dict { array, .. } => array.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        match self {
            StrColumn::Utf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrColumn::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrColumn::View(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrColumn::Dict {
                array,
                keys,
                values,
            } => {
                let key = keys[i];
                if array.is_null(i) || key >= values.len() {
                    return None;
                }
                values.get(key)
            }
        }
    }
}

fn key_indices<K: ArrowDictionaryKeyType>(keys: &dyn Array) -> Vec<usize> {
    keys.as_primitive::<K>()
        .values()
        .iter()
        .map(|k| k.to_usize().unwrap_or(usize::MAX))
        .collect()
}

/// An integer column as the decimal text of its values (nulls stay null). Only the id
/// and outlet columns get here (`Field::takes_integers`), one batch at a time.
fn decimal_text<T: ArrowPrimitiveType>(array: &ArrayRef) -> StringArray
where
    T::Native: std::fmt::Display,
{
    use std::fmt::Write;
    let values = array.as_primitive::<T>();
    let mut text = StringBuilder::with_capacity(values.len(), values.len() * 8);
    for v in values {
        match v {
            Some(v) => {
                write!(text, "{v}").expect("a string builder takes any text");
                text.append_value("");
            }
            None => text.append_null(),
        }
    }
    text.finish()
}

/// Whether a column of this type can be read for `field` (see `Field::takes_integers`).
fn readable_as(field: Field, data_type: &DataType) -> bool {
    is_string(data_type) || (field.takes_integers() && data_type.is_integer())
}

/// Whether a column of this type can be read as strings.
fn is_string(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(key, values) => key.is_dictionary_key_type() && is_string(values),
        _ => false,
    }
}

/// Rows of the named columns, for one batch.
pub struct RowBatch {
    first_row: u64,
    len: usize,
    columns: [Option<StrColumn>; 5],
    /// Every column of the batch, when the reader was opened with [`ColumnarReader::open_whole`].
    whole: Option<RecordBatch>,
}

/// One row: its number in the file and the values of the named columns (`None` for a
/// null, or a field no column was named for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// 0-based row number in the file.
    pub row: u64,
    /// The id column's value.
    pub id: Option<&'a str>,
    /// The text column's value.
    pub text: Option<&'a str>,
    /// The date column's value.
    pub date: Option<&'a str>,
    /// The outlet column's value.
    pub outlet: Option<&'a str>,
    /// The URL column's value.
    pub url: Option<&'a str>,
}

impl RowBatch {
    /// The row number of the batch's first row in the file.
    #[must_use]
    pub fn first_row(&self) -> u64 {
        self.first_row
    }

    /// Rows in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a batch of no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Row `i` of the batch (`i < len()`).
    #[must_use]
    pub fn row(&self, i: usize) -> Row<'_> {
        let value = |f: Field| self.columns[f as usize].as_ref().and_then(|c| c.get(i));
        Row {
            row: self.first_row + i as u64,
            id: value(Field::Id),
            text: value(Field::Text),
            date: value(Field::Date),
            outlet: value(Field::Outlet),
            url: value(Field::Url),
        }
    }

    /// The rows in order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        (0..self.len).map(|i| self.row(i))
    }

    /// The batch with every column of the file, as decoded, when the reader was opened
    /// with [`ColumnarReader::open_whole`] (`None` otherwise).
    #[must_use]
    pub fn whole(&self) -> Option<&RecordBatch> {
        self.whole.as_ref()
    }
}

/// Where the batches come from.
enum Batches {
    Parquet {
        file: File,
        metadata: ArrowReaderMetadata,
        mask: ProjectionMask,
        /// The next row group to open, and the row number it starts at.
        next_group: usize,
        group_start: u64,
        /// The row group being read.
        current: Option<ParquetRecordBatchReader>,
    },
    Ipc(IpcMessages),
}

/// Reads the named columns of a Parquet or Arrow IPC file; an iterator of batches.
pub struct ColumnarReader {
    path: PathBuf,
    format: Format,
    /// The file's schema, every column.
    schema: SchemaRef,
    /// Whether every column is decoded and kept with each batch (`open_whole`).
    whole: bool,
    /// The column name for each field, in [`Field::ALL`] order.
    names: [Option<String>; 5],
    batches: Batches,
    next_row: u64,
    done: bool,
}

impl ColumnarReader {
    /// Opens `path`, checks that the named columns are there and hold strings (or
    /// integers, for the fields that take them: `Field::takes_integers`).
    pub fn open(path: &Path, columns: &Columns) -> Result<ColumnarReader, ColumnarError> {
        Self::open_inner(path, columns, false, false)
    }

    /// Opens `path` as [`Self::open`] does, except that a column named for a field other
    /// than the text that the file does not have is left out (its values are `None`), as
    /// a JSONL record may lack a field: the text column must be there, and every named
    /// column that is there must hold what its field takes.
    pub fn open_present(path: &Path, columns: &Columns) -> Result<ColumnarReader, ColumnarError> {
        Self::open_inner(path, columns, true, false)
    }

    /// Opens `path` as [`Self::open_present`] does, and decodes every column of the file,
    /// not only the named ones: each batch keeps them all ([`RowBatch::whole`]), for
    /// writing the rows back with one column changed (`clean.parquet`). The rows, their
    /// numbers and the named columns' values are those `open_present` gives.
    pub fn open_whole(path: &Path, columns: &Columns) -> Result<ColumnarReader, ColumnarError> {
        Self::open_inner(path, columns, true, true)
    }

    /// The file's schema: every column, whichever are read.
    #[must_use]
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn open_inner(
        path: &Path,
        columns: &Columns,
        present_only: bool,
        whole: bool,
    ) -> Result<ColumnarReader, ColumnarError> {
        let io_err = |source| ColumnarError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut head = [0u8; 8];
        let got = read_up_to(&mut file, &mut head).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        let format = detect(&head[..got]).ok_or_else(|| ColumnarError::NotColumnar {
            path: path.to_owned(),
            detail: if head.starts_with(b"FEA1") {
                "Feather v1; write it again as Feather v2 (Arrow IPC)".to_owned()
            } else {
                format!("it starts with {:02x?}", &head[..got])
            },
        })?;
        let corrupt = |e: &dyn std::fmt::Display| ColumnarError::CorruptFile {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let keep = |schema: &Schema| -> Columns {
            if present_only {
                columns.present_in(schema)
            } else {
                columns.clone()
            }
        };
        let columns: Columns;
        let schema: SchemaRef;
        let batches = match format {
            Format::Parquet => {
                let metadata =
                    guarded(|| ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()))
                        .map_err(|e| corrupt(&e))?
                        .map_err(|e| corrupt(&e))?;
                columns = keep(metadata.schema());
                let roots = check_columns(path, metadata.schema(), &columns)?;
                schema = Arc::clone(metadata.schema());
                let mask = if whole {
                    ProjectionMask::all()
                } else {
                    ProjectionMask::roots(metadata.parquet_schema(), roots)
                };
                Batches::Parquet {
                    file,
                    metadata,
                    mask,
                    next_group: 0,
                    group_start: 0,
                    current: None,
                }
            }
            Format::ArrowFile | Format::ArrowStream => {
                let len = file.metadata().map_err(io_err)?.len();
                // the file format is "ARROW1", zero padding to an 8-byte boundary (arrow-rs
                // pads to 64), then the stream format (ended by its end-of-stream marker),
                // then a footer that indexes the messages of the stream: reading the
                // stream is enough
                let mut skip = 0;
                if format == Format::ArrowFile {
                    skip = 8;
                    file.seek(io::SeekFrom::Start(skip)).map_err(io_err)?;
                    let mut group = [0u8; 8];
                    while read_up_to(&mut file, &mut group).map_err(io_err)? == 8 && group == [0; 8]
                    {
                        skip += 8;
                    }
                }
                file.seek(io::SeekFrom::Start(skip)).map_err(io_err)?;
                let mut ipc = IpcMessages {
                    reader: BufReader::new(file),
                    left: len.saturating_sub(skip),
                    decoder: StreamDecoder::new(),
                    pending: None,
                };
                schema = guarded(|| ipc.schema())
                    .and_then(|schema| schema)
                    .map_err(|e| corrupt(&e))?;
                columns = keep(&schema);
                check_columns(path, &schema, &columns)?;
                Batches::Ipc(ipc)
            }
        };
        let names: [Option<String>; 5] = Field::ALL.map(|f| columns.get(f).map(str::to_owned));
        Ok(ColumnarReader {
            path: path.to_owned(),
            format,
            schema,
            whole,
            names,
            batches,
            next_row: 0,
            done: false,
        })
    }

    /// The file's format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The next record batch, or `None` when the file (or the current row group) ends.
    fn next_record_batch(&mut self) -> Option<Result<RecordBatch, ColumnarError>> {
        match &mut self.batches {
            Batches::Parquet {
                file,
                metadata,
                mask,
                next_group,
                group_start,
                current,
            } => loop {
                if let Some(reader) = current {
                    let next = guarded(|| reader.next())
                        .unwrap_or_else(|panic| Some(Err(ArrowError::ExternalError(panic.into()))));
                    match next {
                        Some(Ok(batch)) => return Some(Ok(batch)),
                        Some(Err(e)) => {
                            // the rest of the row group is lost; the next one is read
                            *current = None;
                            let skipped = *group_start - self.next_row;
                            let error = ColumnarError::CorruptRows {
                                path: self.path.clone(),
                                row: self.next_row,
                                skipped: Some(skipped),
                                message: e.to_string(),
                            };
                            self.next_row = *group_start;
                            return Some(Err(error));
                        }
                        None => *current = None,
                    }
                }
                let groups = metadata.metadata().row_groups();
                let group = groups.get(*next_group)?;
                let rows = u64::try_from(group.num_rows()).unwrap_or(0);
                let opened = file
                    .try_clone()
                    .map_err(|source| ColumnarError::Io {
                        path: self.path.clone(),
                        source,
                    })
                    .and_then(|f| {
                        guarded(|| {
                            ParquetRecordBatchReaderBuilder::new_with_metadata(f, metadata.clone())
                                .with_projection(mask.clone())
                                .with_row_groups(vec![*next_group])
                                .with_batch_size(BATCH_ROWS)
                                .build()
                                .map_err(|e| e.to_string())
                        })
                        .and_then(|built| built)
                        .map_err(|message| ColumnarError::CorruptRows {
                            path: self.path.clone(),
                            row: *group_start,
                            skipped: Some(rows),
                            message,
                        })
                    });
                *next_group += 1;
                *group_start += rows;
                match opened {
                    Ok(reader) => *current = Some(reader),
                    Err(e) => {
                        self.next_row = *group_start;
                        return Some(Err(e));
                    }
                }
            },
            Batches::Ipc(ipc) => {
                let next = guarded(|| ipc.next_batch()).unwrap_or_else(Err);
                next.map_err(|message| ColumnarError::CorruptRows {
                    path: self.path.clone(),
                    row: self.next_row,
                    skipped: None,
                    message,
                })
                .transpose()
            }
        }
    }

    fn fatal(&self, e: &ArrowError) -> ColumnarError {
        ColumnarError::CorruptRows {
            path: self.path.clone(),
            row: self.next_row,
            skipped: None,
            message: e.to_string(),
        }
    }

    fn to_rows(&self, batch: &RecordBatch) -> Result<RowBatch, ColumnarError> {
        let mut columns: [Option<StrColumn>; 5] = Default::default();
        for (slot, name) in columns.iter_mut().zip(&self.names) {
            let Some(name) = name else { continue };
            let column = batch.column_by_name(name).and_then(StrColumn::new);
            let Some(column) = column.filter(|c| c.len() == batch.num_rows()) else {
                return Err(self.fatal(&ArrowError::SchemaError(format!(
                    "column `{name}` changed type or length within the file"
                ))));
            };
            *slot = Some(column);
        }
        Ok(RowBatch {
            first_row: self.next_row,
            len: batch.num_rows(),
            columns,
            whole: self.whole.then(|| batch.clone()),
        })
    }
}

impl Iterator for ColumnarReader {
    type Item = Result<RowBatch, ColumnarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.next_record_batch()? {
            Ok(batch) => self.to_rows(&batch),
            Err(e) => Err(e),
        };
        match &item {
            Ok(rows) => self.next_row += rows.len() as u64,
            Err(e) => self.done = e.is_fatal(),
        }
        Some(item)
    }
}

/// Runs a decoding step, turning a panic into an error message. The `parquet` and
/// `arrow-ipc` crates still panic on some corrupt pages (a slice index out of range, a
/// failed assertion): about one garbled file in a thousand in a local stress run. The
/// reader that panicked is dropped right after (its row group is skipped, or reading
/// stops), so no state it left half-updated is used again. The default panic hook still
/// prints the panic to standard error.
fn guarded<T>(step: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        format!("the decoder panicked: {message}")
    })
}

/// An Arrow IPC stream read message by message. Each message's lengths are checked
/// against what is left of the file before anything is allocated for it, and so are the
/// row count and the uncompressed sizes a compressed batch declares: `arrow-ipc` trusts
/// them, and a corrupt length makes it allocate terabytes, which aborts the process
/// where a panic could be caught. Checked messages go to arrow's `StreamDecoder`.
struct IpcMessages {
    reader: BufReader<File>,
    /// Bytes of the file not read yet.
    left: u64,
    decoder: StreamDecoder,
    /// A batch decoded while looking for the schema.
    pending: Option<RecordBatch>,
}

/// Rows in one batch, and bytes in one uncompressed buffer, past which a batch is taken
/// for corrupt: far above what any writer produces (arrow's own batches stay under a
/// few million rows), far below what would exhaust memory.
const MAX_IPC_ROWS: i64 = 1 << 31;
const MAX_IPC_BUFFER: i64 = 1 << 31;

impl IpcMessages {
    /// Reads messages up to the schema.
    fn schema(&mut self) -> Result<Arc<Schema>, String> {
        loop {
            if let Some(schema) = self.decoder.schema() {
                return Ok(schema);
            }
            let Some(message) = self.message()? else {
                return Err("the stream has no schema".to_owned());
            };
            if let Some(batch) = self.decode(message)? {
                self.pending = Some(batch);
            }
        }
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, String> {
        if let Some(batch) = self.pending.take() {
            return Ok(Some(batch));
        }
        while let Some(message) = self.message()? {
            if let Some(batch) = self.decode(message)? {
                return Ok(Some(batch));
            }
        }
        self.decoder.finish().map_err(|e| e.to_string())?;
        Ok(None)
    }

    fn decode(&mut self, message: Vec<u8>) -> Result<Option<RecordBatch>, String> {
        let mut buffer = arrow_buffer::Buffer::from_vec(message);
        let batch = self
            .decoder
            .decode(&mut buffer)
            .map_err(|e| e.to_string())?;
        if !buffer.is_empty() {
            return Err("a message holds more than one batch".to_owned());
        }
        Ok(batch)
    }

    fn read(&mut self, n: u64) -> Result<Vec<u8>, String> {
        if n > self.left {
            return Err(format!(
                "a message of {n} bytes runs past the end of the file ({} bytes left)",
                self.left
            ));
        }
        let mut buf = vec![0; n as usize];
        self.reader
            .read_exact(&mut buf)
            .map_err(|e| e.to_string())?;
        self.left -= n;
        Ok(buf)
    }

    /// The next message, framed as in a stream (continuation marker, metadata length,
    /// metadata, body); `None` at the end-of-stream marker or the end of the file.
    fn message(&mut self) -> Result<Option<Vec<u8>>, String> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut prefix = self.read(4)?;
        if prefix == [0xff; 4] {
            prefix = self.read(4)?;
        }
        let meta_len = u32::from_le_bytes(prefix[..4].try_into().expect("4 bytes"));
        if meta_len == 0 {
            return Ok(None);
        }
        let meta = self.read(u64::from(meta_len))?;
        let message = arrow_ipc::root_as_message(&meta)
            .map_err(|e| format!("a message's metadata does not decode: {e}"))?;
        let body_len =
            u64::try_from(message.bodyLength()).map_err(|_| "a negative body length".to_owned())?;
        let batch = message
            .header_as_record_batch()
            .or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()));
        let body = self.read(body_len)?;
        if let Some(batch) = batch {
            if !(0..=MAX_IPC_ROWS).contains(&batch.length()) {
                return Err(format!("a batch of {} rows", batch.length()));
            }
            if batch.compression().is_some() {
                for buffer in batch.buffers().iter().flatten() {
                    let at = usize::try_from(buffer.offset()).unwrap_or(usize::MAX);
                    let declared = body
                        .get(at..at.saturating_add(8))
                        .filter(|_| buffer.length() >= 8)
                        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")));
                    if declared.is_some_and(|n| n > MAX_IPC_BUFFER) {
                        return Err(format!(
                            "a compressed buffer declares {} uncompressed bytes",
                            declared.unwrap_or_default()
                        ));
                    }
                }
            }
        }
        let mut framed = Vec::with_capacity(8 + meta.len() + body.len());
        framed.extend_from_slice(&[0xff; 4]);
        framed.extend_from_slice(&meta_len.to_le_bytes());
        framed.extend_from_slice(&meta);
        framed.extend_from_slice(&body);
        Ok(Some(framed))
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The rule a run applies to a Parquet or Arrow file's schema, for readers of the same
/// files elsewhere (the Spark job reads Parquet with Spark's reader, and checks the schema
/// it sees here): the columns read are [`Columns::present_in`] `schema`, each must hold
/// strings (plain, large, view or dictionary-encoded), or integers for the id and outlet
/// (`Field::takes_integers`), and the text column must be there.
/// `path` names the file (or the input) in the error.
pub fn check_schema(
    path: &Path,
    schema: &Schema,
    columns: &Columns,
) -> Result<Columns, ColumnarError> {
    let present = columns.present_in(schema);
    check_columns(path, schema, &present)?;
    Ok(present)
}

/// Checks the named columns against `schema`; returns their indices, sorted and unique.
fn check_columns(
    path: &Path,
    schema: &Schema,
    columns: &Columns,
) -> Result<Vec<usize>, ColumnarError> {
    let mut indices = Vec::new();
    for field in Field::ALL {
        let Some(name) = columns.get(field) else {
            continue;
        };
        let Some((index, column)) = schema.column_with_name(name) else {
            return Err(ColumnarError::MissingColumn {
                path: path.to_owned(),
                field,
                column: name.to_owned(),
                present: schema.fields().iter().map(|f| f.name().clone()).collect(),
            });
        };
        if !readable_as(field, column.data_type()) {
            return Err(ColumnarError::WrongType {
                path: path.to_owned(),
                field,
                column: name.to_owned(),
                data_type: column.data_type().to_string(),
            });
        }
        indices.push(index);
    }
    indices.sort_unstable();
    indices.dedup();
    Ok(indices)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder, StringDictionaryBuilder};
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{Field as ArrowField, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression as ParquetCompression, GzipLevel, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A batch of `n` rows from `start`: id (string), text (string, null every 7th),
    /// outlet (dictionary), n (integer), tags (list of strings).
    fn batch(start: usize, n: usize) -> RecordBatch {
        let ids = StringArray::from_iter_values((start..start + n).map(|i| format!("doc-{i}")));
        let texts: StringArray = (start..start + n)
            .map(|i| (i % 7 != 3).then(|| format!("text of document {i}")))
            .collect();
        let mut outlets = StringDictionaryBuilder::<Int32Type>::new();
        for i in start..start + n {
            if i % 5 == 0 {
                outlets.append_null();
            } else {
                outlets.append_value(["a.example", "b.example"][i % 2]);
            }
        }
        let numbers = Int64Array::from_iter_values(
            (start..start + n).map(|i| i64::try_from(i).expect("small")),
        );
        let mut tags = ListBuilder::new(StringBuilder::new());
        for _ in 0..n {
            tags.values().append_value("x");
            tags.append(true);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids),
            Arc::new(texts),
            Arc::new(outlets.finish()),
            Arc::new(numbers),
            Arc::new(tags.finish()),
        ];
        let schema = Schema::new(
            ["id", "text", "outlet", "n", "tags"]
                .iter()
                .zip(&columns)
                .map(|(name, c)| ArrowField::new(*name, c.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(Arc::new(schema), columns).expect("consistent batch")
    }

    fn write_parquet(path: &Path, rows: usize, group_rows: usize, compression: ParquetCompression) {
        let file = File::create(path).expect("create");
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .set_compression(compression)
            .build();
        let first = batch(0, 1);
        let mut writer = ArrowWriter::try_new(file, first.schema(), Some(props)).expect("writer");
        let mut start = 0;
        while start < rows {
            let n = 250.min(rows - start);
            writer.write(&batch(start, n)).expect("write");
            start += n;
        }
        writer.close().expect("close");
    }

    /// Row number, id, text, outlet.
    type OwnedRow = (u64, Option<String>, Option<String>, Option<String>);

    fn columns() -> Columns {
        Columns {
            text: "text".to_owned(),
            id: Some("id".to_owned()),
            date: None,
            outlet: Some("outlet".to_owned()),
            url: None,
        }
    }

    fn read(path: &Path, columns: &Columns) -> Vec<Result<Vec<OwnedRow>, String>> {
        ColumnarReader::open(path, columns)
            .expect("opens")
            .map(|b| {
                b.map(|b| {
                    b.rows()
                        .map(|r| {
                            (
                                r.row,
                                r.id.map(str::to_owned),
                                r.text.map(str::to_owned),
                                r.outlet.map(str::to_owned),
                            )
                        })
                        .collect()
                })
                .map_err(|e| e.to_string())
            })
            .collect()
    }

    fn expected_row(i: usize) -> OwnedRow {
        (
            i as u64,
            Some(format!("doc-{i}")),
            (i % 7 != 3).then(|| format!("text of document {i}")),
            (!i.is_multiple_of(5)).then(|| ["a.example", "b.example"][i % 2].to_owned()),
        )
    }

    #[test]
    fn parquet_rows_in_order_across_row_groups_and_codecs() {
        let dir = tempfile::tempdir().expect("tmp");
        for (name, codec) in [
            ("snappy", ParquetCompression::SNAPPY),
            ("zstd", ParquetCompression::ZSTD(ZstdLevel::default())),
            ("gzip", ParquetCompression::GZIP(GzipLevel::default())),
            ("lz4", ParquetCompression::LZ4_RAW),
            ("none", ParquetCompression::UNCOMPRESSED),
        ] {
            let path = dir.path().join(format!("{name}.parquet"));
            write_parquet(&path, 10_000, 3_000, codec);
            let reader = ColumnarReader::open(&path, &columns()).expect("opens");
            assert_eq!(reader.format(), Format::Parquet);
            let mut rows = Vec::new();
            for b in reader {
                let b = b.expect("batch");
                assert!(b.len() <= BATCH_ROWS);
                assert_eq!(b.first_row(), rows.len() as u64);
                rows.extend(b.rows().map(|r| {
                    (
                        r.row,
                        r.id.map(str::to_owned),
                        r.text.map(str::to_owned),
                        r.outlet.map(str::to_owned),
                    )
                }));
            }
            assert_eq!(rows.len(), 10_000, "{name}");
            assert!(
                rows.iter().enumerate().all(|(i, r)| *r == expected_row(i)),
                "{name}"
            );
        }
    }

    #[test]
    fn integer_ids_and_outlets_read_as_their_decimal_text() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("data.parquet");
        write_parquet(&path, 20, 8, ParquetCompression::SNAPPY);
        // the file's `n` is Int64 (the row number): as the id, and as the outlet
        let by_number = Columns {
            id: Some("n".to_owned()),
            outlet: Some("n".to_owned()),
            ..columns()
        };
        let rows: Vec<OwnedRow> = read(&path, &by_number)
            .into_iter()
            .flat_map(|b| b.expect("batch"))
            .collect();
        assert_eq!(rows.len(), 20);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.1.as_deref(), Some(i.to_string().as_str()));
            assert_eq!(r.3.as_deref(), Some(i.to_string().as_str()));
        }
        // the same rule for every integer width, and nulls stay null
        let array: ArrayRef = Arc::new(arrow_array::UInt64Array::from(vec![
            Some(u64::MAX),
            None,
            Some(0),
        ]));
        let text = decimal_text::<UInt64Type>(&array);
        assert_eq!(text.value(0), "18446744073709551615");
        assert!(text.is_null(1));
        assert_eq!(text.value(2), "0");
        let array: ArrayRef = Arc::new(arrow_array::Int8Array::from(vec![-128i8, 7]));
        let text = decimal_text::<Int8Type>(&array);
        assert_eq!((text.value(0), text.value(1)), ("-128", "7"));
        // a number is no url or text
        let err = ColumnarReader::open(
            &path,
            &Columns {
                url: Some("n".to_owned()),
                ..columns()
            },
        )
        .err()
        .expect("refused");
        assert!(
            err.to_string()
                .contains("column `n` (the url field) is Int64, not a string column"),
            "{err}"
        );
        let err = ColumnarReader::open(
            &path,
            &Columns {
                id: Some("tags".to_owned()),
                ..columns()
            },
        )
        .err()
        .expect("refused");
        let message = err.to_string();
        assert!(
            message.contains("column `tags` (the id field) is List(")
                && message.ends_with("not a string or integer column"),
            "{err}"
        );
    }

    #[test]
    fn arrow_file_and_stream() {
        let dir = tempfile::tempdir().expect("tmp");
        let file_path = dir.path().join("data.arrow");
        let stream_path = dir.path().join("data.arrows");
        let schema = batch(0, 1).schema();
        let mut fw = arrow_ipc::writer::FileWriter::try_new(
            File::create(&file_path).expect("create"),
            &schema,
        )
        .expect("writer");
        let mut sw = arrow_ipc::writer::StreamWriter::try_new(
            File::create(&stream_path).expect("create"),
            &schema,
        )
        .expect("writer");
        for start in (0..1000).step_by(300) {
            let b = batch(start, 300.min(1000 - start));
            fw.write(&b).expect("write");
            sw.write(&b).expect("write");
        }
        fw.finish().expect("finish");
        sw.finish().expect("finish");
        for (path, format) in [
            (&file_path, Format::ArrowFile),
            (&stream_path, Format::ArrowStream),
        ] {
            assert_eq!(
                ColumnarReader::open(path, &columns())
                    .expect("opens")
                    .format(),
                format
            );
            let rows: Vec<_> = read(path, &columns())
                .into_iter()
                .flat_map(|b| b.expect("batch"))
                .collect();
            assert_eq!(rows.len(), 1000);
            assert!(rows.iter().enumerate().all(|(i, r)| *r == expected_row(i)));
        }
    }

    #[test]
    fn large_string_and_view_columns() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("large.arrow");
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("c")]));
        let view: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("x"),
            Some("a longer string than twelve bytes"),
            None,
        ]));
        let schema = Arc::new(Schema::new(vec![
            ArrowField::new("body", DataType::LargeUtf8, true),
            ArrowField::new("key", DataType::Utf8View, true),
        ]));
        let b = RecordBatch::try_new(schema.clone(), vec![large, view]).expect("batch");
        let mut w =
            arrow_ipc::writer::FileWriter::try_new(File::create(&path).expect("create"), &schema)
                .expect("writer");
        w.write(&b).expect("write");
        w.finish().expect("finish");
        let cols = Columns {
            id: Some("key".to_owned()),
            ..Columns::text("body")
        };
        let batches: Vec<RowBatch> = ColumnarReader::open(&path, &cols)
            .expect("opens")
            .map(|b| b.expect("ok"))
            .collect();
        let rows: Vec<(Option<&str>, Option<&str>)> =
            batches[0].rows().map(|r| (r.id, r.text)).collect();
        assert_eq!(
            rows,
            [
                (Some("x"), Some("a")),
                (Some("a longer string than twelve bytes"), None),
                (None, Some("c"))
            ]
        );
    }

    #[test]
    fn missing_and_wrongly_typed_columns_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("data.parquet");
        write_parquet(&path, 10, 10, ParquetCompression::SNAPPY);
        let err = ColumnarReader::open(
            &path,
            &Columns {
                url: Some("link".to_owned()),
                ..columns()
            },
        )
        .err()
        .expect("refused");
        assert!(
            matches!(&err, ColumnarError::MissingColumn { field: Field::Url, column, present, .. } if column == "link" && present == &["id", "text", "outlet", "n", "tags"]),
            "{err}"
        );
        assert!(
            err.to_string().contains(
                "no column `link` for the url field; the columns are: id, text, outlet, n, tags"
            ),
            "{err}"
        );
        let err = ColumnarReader::open(&path, &Columns::text("tags"))
            .err()
            .expect("refused");
        assert!(
            matches!(&err, ColumnarError::WrongType { column, data_type, .. } if column == "tags" && data_type.starts_with("List")),
            "{err}"
        );
        let err = ColumnarReader::open(
            &path,
            &Columns {
                date: Some("n".to_owned()),
                ..columns()
            },
        )
        .err()
        .expect("refused");
        assert!(
            err.to_string()
                .contains("column `n` (the date field) is Int64, not a string column"),
            "{err}"
        );
    }

    #[test]
    fn check_schema_decides_as_open_present_does() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("data.parquet");
        write_parquet(&path, 10, 10, ParquetCompression::SNAPPY);
        let schema = ColumnarReader::open_present(&path, &Columns::text("text"))
            .expect("opens")
            .schema();
        let named = Columns {
            url: Some("link".to_owned()),
            ..columns()
        };
        // a named column the file lacks is left out, as open_present leaves it out
        let present = check_schema(&path, &schema, &named).expect("accepted");
        assert_eq!(present.url, None);
        assert_eq!(present.id.as_deref(), Some("id"));
        assert!(ColumnarReader::open_present(&path, &named).is_ok());
        for bad in [
            Columns::text("tags"),
            Columns::text("missing"),
            Columns {
                date: Some("n".to_owned()),
                ..columns()
            },
        ] {
            let by_schema = check_schema(&path, &schema, &bad).expect_err("refused");
            let by_reader = ColumnarReader::open_present(&path, &bad)
                .err()
                .expect("refused");
            assert_eq!(by_schema.to_string(), by_reader.to_string());
        }
    }

    #[test]
    fn not_columnar_and_corrupt_footer() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("x.parquet");
        std::fs::write(&path, b"{\"text\": \"json\"}\n").expect("write");
        assert!(matches!(
            ColumnarReader::open(&path, &columns()),
            Err(ColumnarError::NotColumnar { .. })
        ));
        write_parquet(&path, 100, 100, ParquetCompression::SNAPPY);
        let mut bytes = std::fs::read(&path).expect("read");
        let n = bytes.len();
        // the footer's metadata sits just before its length and the closing magic
        for b in &mut bytes[n - 60..n - 8] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &bytes).expect("write");
        let err = ColumnarReader::open(&path, &columns())
            .err()
            .expect("corrupt");
        assert!(matches!(err, ColumnarError::CorruptFile { .. }), "{err}");
        // cut short: no footer at all
        std::fs::write(&path, &bytes[..n / 2]).expect("write");
        let err = ColumnarReader::open(&path, &columns())
            .err()
            .expect("corrupt");
        assert!(matches!(err, ColumnarError::CorruptFile { .. }), "{err}");
    }

    #[test]
    fn corrupt_page_skips_its_row_group_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("data.parquet");
        write_parquet(&path, 3000, 1000, ParquetCompression::SNAPPY);
        let bytes = std::fs::read(&path).expect("read");
        // find the text column chunk of the second row group and garble its pages
        let metadata =
            ArrowReaderMetadata::load(&File::open(&path).expect("open"), ArrowReaderOptions::new())
                .expect("metadata");
        let chunk = metadata.metadata().row_group(1).column(1);
        let (start, len) = chunk.byte_range();
        let mut garbled = bytes.clone();
        for b in &mut garbled[start as usize + 40..(start + len) as usize] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        std::fs::write(&path, &garbled).expect("write");
        let mut got = Vec::new();
        let mut errors = Vec::new();
        for b in ColumnarReader::open(&path, &columns()).expect("opens") {
            match b {
                Ok(b) => got.extend(b.rows().map(|r| r.row)),
                Err(e) => errors.push(e),
            }
        }
        assert_eq!(errors.len(), 1, "{errors:?}");
        let ColumnarError::CorruptRows {
            row,
            skipped: Some(skipped),
            ..
        } = &errors[0]
        else {
            panic!("{:?}", errors[0]);
        };
        assert_eq!(*row + skipped, 2000, "the rest of row group 1 is skipped");
        assert!((1000..2000).contains(row));
        let expected: Vec<u64> = (0..*row).chain(2000..3000).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn truncated_arrow_stream_stops_with_the_row() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("data.arrows");
        let schema = batch(0, 1).schema();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).expect("writer");
        w.write(&batch(0, 100)).expect("write");
        w.write(&batch(100, 100)).expect("write");
        w.finish().expect("finish");
        let bytes = w.into_inner().expect("bytes");
        std::fs::write(&path, &bytes[..bytes.len() - 200]).expect("write");
        let got = read(&path, &columns());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().map(Vec::len), Ok(100));
        let err = got[1].as_ref().expect_err("cut short");
        assert!(
            err.contains("row 100: corrupt data (reading stopped)"),
            "{err}"
        );
    }

    #[test]
    fn compressed_arrow_and_corrupt_lengths() {
        use arrow_ipc::CompressionType;
        use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
        let dir = tempfile::tempdir().expect("tmp");
        let schema = batch(0, 1).schema();
        for (name, compression) in [
            ("lz4", CompressionType::LZ4_FRAME),
            ("zstd", CompressionType::ZSTD),
        ] {
            let options = IpcWriteOptions::default()
                .try_with_compression(Some(compression))
                .expect("codec");
            let path = dir.path().join(format!("{name}.arrow"));
            let mut w = FileWriter::try_new_with_options(
                File::create(&path).expect("create"),
                &schema,
                options.clone(),
            )
            .expect("writer");
            w.write(&batch(0, 500)).expect("write");
            w.finish().expect("finish");
            let rows: Vec<_> = read(&path, &columns())
                .into_iter()
                .flat_map(|b| b.expect("batch"))
                .collect();
            assert!(
                rows.iter().enumerate().all(|(i, r)| *r == expected_row(i)) && rows.len() == 500,
                "{name}"
            );
        }
        // the second message (the first batch) claims 2 GB of metadata: an error, not an
        // allocation of 2 GB
        let mut w = StreamWriter::try_new(Vec::new(), &schema).expect("writer");
        w.write(&batch(0, 10)).expect("write");
        w.finish().expect("finish");
        let mut bytes = w.into_inner().expect("bytes");
        let first = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
        let second = 8 + first;
        assert_eq!(bytes[second..second + 4], [0xff; 4]);
        bytes[second + 4..second + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        let path = dir.path().join("long.arrows");
        std::fs::write(&path, &bytes).expect("write");
        let err = ColumnarReader::open(&path, &columns())
            .err()
            .expect("corrupt");
        assert!(
            err.to_string().contains("runs past the end of the file"),
            "{err}"
        );
    }
}
