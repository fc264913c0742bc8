//! The run's per-record table: what became of every record, where it came from, and
//! where it ended up.
//!
//! In: one entry per input record, in input order, from the streaming pass; one placement
//! per compared document from clustering. Out: the table the outputs are written from
//! (`output`) and a sweep re-clusters (`tune`). The rows of the record table and the
//! provenance of the duplicates live in temporary files (`RecordTable`,
//! `ProvenanceTable`): they grow with the documents and are read in input order, or by
//! record for the few records the outputs name.
//!
//! Invariant: every input record has exactly one `RecordMeta` and one `Assignment`, at
//! its index in input order; nothing is dropped silently.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use compact_str::CompactString;
use rayon::slice::ParallelSliceMut;
use serde::Serialize;

use crate::cluster::{AcceptedPairs, Edge};
use crate::document::PackedPosition;
use crate::error::{Error, Result, SkipReason};
use crate::ids::{DocId, DocLists};
use crate::input::Source;
use crate::output::schema::Summary;
use crate::paragraph::Repeat;
use crate::provenance::{Provenance, Relation};
use crate::spill::{Scratch, read_exact_at};

/// What became of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Compared with the others.
    Ok,
    /// Read fine but has no words: kept as a cluster of its own, never compared.
    Empty,
    /// Could not be used; see the reason.
    Skipped(SkipReason),
}

impl Status {
    /// The status as `docs.jsonl` writes it: `ok`, `empty` or the skip reason.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Empty => "empty",
            Status::Skipped(r) => r.as_str(),
        }
    }
}

/// A row of the record table: the little that is kept per record for the whole run
/// (on disk, in `RecordTable`; a `RecordMeta` exists only while a row is read back).
///
/// Ids and dates are `CompactString`s: up to 24 bytes (a typical id, any ISO date) sit
/// inside the record itself, so a million records do not cost two million small heap
/// allocations (about 64 bytes a record with the allocator's overhead).
#[derive(Debug, Clone)]
pub struct RecordMeta {
    /// The record's id, or its name in its source when it has none.
    pub id: CompactString,
    /// The date field, when it is an ISO date.
    pub date: Option<CompactString>,
    /// Index into `Records::outlets`.
    pub outlet: Option<u32>,
    /// Index of its source in the run's list of sources.
    pub source: u32,
    /// Where the record stands in its source.
    pub position: PackedPosition,
    /// What became of it.
    pub status: Status,
    /// Index among compared documents, for `Status::Ok`.
    pub doc: Option<DocId>,
    /// `Raw::digest` of the record as the first pass read it: `--emit-clean` reads the
    /// inputs again and refuses a record whose bytes changed in between.
    pub raw_digest: u64,
}

/// Per-record table of a run, in input order.
#[derive(Debug)]
pub struct Records {
    /// One per record, in input order, on disk.
    pub metas: RecordTable,
    /// Record index of each compared document.
    pub doc_records: Vec<u32>,
    /// Distinct outlet names, in order of first appearance.
    pub outlets: Vec<String>,
    /// Index of each outlet name in `outlets`.
    pub outlet_index: HashMap<String, u32>,
    /// Paragraph repeats of the documents that have any, sorted by document.
    pub repeats: Vec<(DocId, Box<[Repeat]>)>,
    /// Boilerplate paragraph indices of the documents that have any.
    pub boilerplate: DocLists<u32>,
}

impl Records {
    /// An empty table whose rows go to a temporary file in `dir` (the spill directory).
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Records::with_table(RecordTable::new(dir))
    }

    /// An empty table whose rows go to a temporary file in the spill directory, keeping
    /// in memory a share of the budget (`tail_bytes`) of the last rows appended.
    #[must_use]
    pub fn in_scratch(scratch: &Scratch) -> Self {
        Records::with_table(RecordTable::with_tail(
            &scratch.dir,
            tail_bytes(scratch.memory),
        ))
    }

    fn with_table(metas: RecordTable) -> Self {
        Records {
            metas,
            doc_records: Vec::new(),
            outlets: Vec::new(),
            outlet_index: HashMap::new(),
            repeats: Vec::new(),
            boilerplate: DocLists::default(),
        }
    }

    /// The index of an outlet name in `outlets`, added on first sight.
    pub fn outlet_id(&mut self, outlet: String) -> u32 {
        if let Some(&i) = self.outlet_index.get(&outlet) {
            return i;
        }
        let i = self.outlets.len() as u32;
        self.outlets.push(outlet.clone());
        self.outlet_index.insert(outlet, i);
        i
    }

    /// The compared document of record `i`, if it is one (`RecordMeta::doc`, without
    /// reading the table: `doc_records` rises with records).
    #[must_use]
    pub fn doc_of(&self, i: usize) -> Option<DocId> {
        let i = u32::try_from(i).ok()?;
        self.doc_records.binary_search(&i).ok().map(|d| d as DocId)
    }

    /// A record's outlet name.
    #[must_use]
    pub fn outlet(&self, meta: &RecordMeta) -> Option<&str> {
        meta.outlet.map(|o| self.outlets[o as usize].as_str())
    }

    /// The paragraph repeats of a compared document.
    #[must_use]
    pub fn repeats_of(&self, doc: DocId) -> &[Repeat] {
        self.repeats
            .binary_search_by_key(&doc, |(d, _)| *d)
            .map_or(&[], |i| &self.repeats[i].1)
    }

    /// The boilerplate paragraphs of a compared document.
    #[must_use]
    pub fn boilerplate_of(&self, doc: DocId) -> &[u32] {
        self.boilerplate.get(doc)
    }
}

/// Bytes kept in memory before an on-disk table appends them to its file.
const TAIL_BYTES: usize = 1 << 20;

/// The bytes an on-disk table keeps in memory under a budget of `memory`: `TAIL_BYTES`
/// with the default budget, down to 4 KiB for a budget of 1 MiB (so a small run under a
/// tiny budget reads its tables back from disk, as a large one does).
fn tail_bytes(memory: u64) -> usize {
    usize::try_from(memory / 256)
        .unwrap_or(TAIL_BYTES)
        .clamp(4 << 10, TAIL_BYTES)
}

/// Records of the table whose rows share one offset held in memory: a lookup decodes at
/// most this many rows, and the offsets cost half a byte a record.
const BLOCK: usize = 16;

/// An append-only temporary file (unnamed, in the run's spill directory) read back by
/// position: the last bytes appended stay in memory until there are `TAIL_BYTES` of them,
/// so a small run never creates the file, and a read needs no flush. The caller chooses
/// where `flush` may cut, so that no item it reads back straddles the file and the tail.
#[derive(Debug)]
struct Appended {
    dir: PathBuf,
    /// Bytes of the tail that send it to the file.
    tail_bytes: usize,
    file: Option<File>,
    /// Bytes in `file`.
    flushed: u64,
    tail: Vec<u8>,
}

impl Appended {
    fn new(dir: &Path, tail_bytes: usize) -> Self {
        Appended {
            dir: dir.to_path_buf(),
            tail_bytes,
            file: None,
            flushed: 0,
            tail: Vec::new(),
        }
    }

    /// An empty file in the directory of `records`, keeping as many bytes in memory: the
    /// one home of every table that lives beside the record table.
    fn beside(records: &RecordTable) -> Self {
        Appended::new(records.dir(), records.tail_bytes())
    }

    /// An empty file in the same directory as `self`, keeping as many bytes in memory.
    fn like(&self) -> Self {
        Appended::new(&self.dir, self.tail_bytes)
    }

    /// Bytes appended so far.
    fn len(&self) -> u64 {
        self.flushed + self.tail.len() as u64
    }

    /// Moves the tail to the file once it is large enough.
    fn flush_if_full(&mut self) -> Result<()> {
        if self.tail.len() < self.tail_bytes {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(tempfile::tempfile_in(&self.dir).map_err(|e| Error::spill(&self.dir, e))?),
        };
        file.write_all(&self.tail)
            .map_err(|e| Error::spill(&self.dir, e))?;
        self.flushed += self.tail.len() as u64;
        self.tail.clear();
        Ok(())
    }

    /// The bytes from `start` to `end`.
    fn read(&self, start: u64, end: u64) -> Result<Cow<'_, [u8]>> {
        if start >= self.flushed {
            let (s, e) = (
                (start - self.flushed) as usize,
                (end - self.flushed) as usize,
            );
            return Ok(Cow::Borrowed(&self.tail[s..e]));
        }
        let mut buf = vec![0; (end - start) as usize];
        let in_file = (end.min(self.flushed) - start) as usize;
        let file = self
            .file
            .as_ref()
            .expect("bytes before `flushed` are in the file");
        read_exact_at(file, &mut buf[..in_file], start).map_err(|e| Error::spill(&self.dir, e))?;
        if end > self.flushed {
            buf[in_file..].copy_from_slice(&self.tail[..(end - self.flushed) as usize]);
        }
        Ok(Cow::Owned(buf))
    }

    /// Decodes the bytes from `start` to `end` with `decode`: the one place a table's
    /// bytes become a `Rows` cursor, so every decoding error names this file's directory.
    fn decode<T>(
        &self,
        start: u64,
        end: u64,
        decode: impl FnOnce(&mut Rows<'_>) -> Result<T>,
    ) -> Result<T> {
        let bytes = self.read(start, end)?;
        decode(&mut Rows {
            bytes: &bytes,
            dir: &self.dir,
        })
    }

    /// Rows `first..last` of a table whose rows are `width` bytes each, decoded in order
    /// by `row`: the one read of every fixed-width table (assignments, accepted pairs,
    /// duplicates, a merge's runs).
    fn fixed_rows<T>(
        &self,
        first: u64,
        last: u64,
        width: usize,
        mut row: impl FnMut(&mut Rows<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let width = width as u64;
        self.decode(first * width, last * width, |rows| {
            (first..last).map(|_| row(rows)).collect()
        })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over bytes this process wrote: a row that does not decode means the
/// temporary file changed under the run, an error naming its directory.
struct Rows<'a> {
    bytes: &'a [u8],
    dir: &'a Path,
}

impl Rows<'_> {
    fn bad(&self) -> Error {
        Error::spill(
            self.dir,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a row of the run's temporary record table does not decode",
            ),
        )
    }

    fn byte(&mut self) -> Result<u8> {
        let (&b, rest) = self.bytes.split_first().ok_or_else(|| self.bad())?;
        self.bytes = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.bad())
    }

    fn u32(&mut self) -> Result<u32> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| self.bad())
    }

    fn u32_le(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64_le(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.bytes.len() < n {
            return Err(self.bad());
        }
        let (b, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(b)
    }

    fn text(&mut self, len: usize) -> Result<CompactString> {
        let dir = self.dir;
        let b = self.take(len)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(CompactString::from(s)),
            Err(_) => Err(Rows { bytes: &[], dir }.bad()),
        }
    }

    /// `None` when the varint is 0, else the varint less one.
    fn option(&mut self) -> Result<Option<u64>> {
        Ok(self.varint()?.checked_sub(1))
    }
}

fn status_code(s: Status) -> u8 {
    match s {
        Status::Ok => 0,
        Status::Empty => 1,
        Status::Skipped(r) => {
            2 + SkipReason::ALL
                .iter()
                .position(|&x| x == r)
                .expect("every reason is in ALL") as u8
        }
    }
}

fn encode_meta(m: &RecordMeta, out: &mut Vec<u8>) {
    put_varint(out, m.id.len() as u64);
    out.extend_from_slice(m.id.as_bytes());
    match &m.date {
        Some(d) => {
            put_varint(out, d.len() as u64 + 1);
            out.extend_from_slice(d.as_bytes());
        }
        None => out.push(0),
    }
    put_varint(out, m.outlet.map_or(0, |o| u64::from(o) + 1));
    put_varint(out, u64::from(m.source));
    let bits = m.position.to_bits();
    out.push((bits >> 62) as u8);
    put_varint(out, bits & ((1 << 62) - 1));
    out.push(status_code(m.status));
    put_varint(out, m.doc.map_or(0, |d| u64::from(d) + 1));
    out.extend_from_slice(&m.raw_digest.to_le_bytes());
}

/// Moves past one row of `encode_meta`.
fn skip_meta(rows: &mut Rows<'_>) -> Result<()> {
    let id_len = rows.varint()? as usize;
    rows.take(id_len)?;
    if let Some(len) = rows.option()? {
        rows.take(len as usize)?;
    }
    rows.varint()?; // outlet
    rows.varint()?; // source
    rows.byte()?; // position kind
    rows.varint()?; // position value
    rows.byte()?; // status
    rows.varint()?; // doc
    rows.take(8)?; // raw digest
    Ok(())
}

fn decode_meta(rows: &mut Rows<'_>) -> Result<RecordMeta> {
    let id_len = rows.varint()? as usize;
    let id = rows.text(id_len)?;
    let date = match rows.option()? {
        Some(len) => Some(rows.text(len as usize)?),
        None => None,
    };
    let outlet = match rows.option()? {
        Some(o) => Some(u32::try_from(o).map_err(|_| rows.bad())?),
        None => None,
    };
    let source = rows.u32()?;
    let kind = u64::from(rows.byte()?);
    let value = rows.varint()?;
    if kind > 3 || value >= 1 << 62 {
        return Err(rows.bad());
    }
    let position = PackedPosition::from_bits(kind << 62 | value);
    let status = match rows.byte()? {
        0 => Status::Ok,
        1 => Status::Empty,
        c => Status::Skipped(
            *SkipReason::ALL
                .get(usize::from(c) - 2)
                .ok_or_else(|| rows.bad())?,
        ),
    };
    let doc = match rows.option()? {
        Some(d) => Some(DocId::try_from(d).map_err(|_| rows.bad())?),
        None => None,
    };
    let raw_digest = rows.u64_le()?;
    Ok(RecordMeta {
        id,
        date,
        outlet,
        source,
        position,
        status,
        doc,
        raw_digest,
    })
}

/// The record table of a run, one row a record in input order, on disk: what is kept per
/// record but read at random only for a few records (the representatives and members of
/// clusters, as the outputs name them) or in input order (the outputs, the index's
/// `records` file). In memory it keeps the byte offset of every `BLOCK`th row (half a
/// byte a record) and the last rows appended; a row is about 50 bytes on disk (a typical
/// id and an ISO date) against 88 as a `RecordMeta`.
#[derive(Debug)]
pub struct RecordTable {
    bytes: Appended,
    /// Byte offset of the first row of each block.
    blocks: Vec<u64>,
    rows: usize,
    scratch: Vec<u8>,
}

impl RecordTable {
    /// An empty table whose file, when it needs one, goes in `dir`.
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        RecordTable::with_tail(dir, TAIL_BYTES)
    }

    /// An empty table that keeps up to `tail` bytes of its last rows in memory.
    fn with_tail(dir: &Path, tail: usize) -> Self {
        RecordTable {
            bytes: Appended::new(dir, tail),
            blocks: Vec::new(),
            rows: 0,
            scratch: Vec::new(),
        }
    }

    /// Rows in the table.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Bytes of its rows in its temporary file (the last ones appended may still be in
    /// memory).
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        self.bytes.flushed
    }

    /// The directory of its file.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.bytes.dir
    }

    /// True when the table has no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of its last rows it keeps in memory, at most.
    #[must_use]
    pub fn tail_bytes(&self) -> usize {
        self.bytes.tail_bytes
    }

    /// Appends the next record's row.
    pub fn push(&mut self, meta: &RecordMeta) -> Result<()> {
        if self.rows.is_multiple_of(BLOCK) {
            // a block never straddles the file and the tail
            self.bytes.flush_if_full()?;
            self.blocks.push(self.bytes.len());
        }
        self.scratch.clear();
        encode_meta(meta, &mut self.scratch);
        self.bytes.tail.extend_from_slice(&self.scratch);
        self.rows += 1;
        Ok(())
    }

    /// The rows of blocks `first..=last`, decoded.
    fn blocks(&self, first: usize, last: usize) -> Result<Vec<RecordMeta>> {
        let start = self.blocks[first];
        let end = self
            .blocks
            .get(last + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        let n = ((last + 1) * BLOCK).min(self.rows) - first * BLOCK;
        self.bytes.decode(start, end, |rows| {
            (0..n).map(|_| decode_meta(rows)).collect()
        })
    }

    /// Row `i`: the rows before it in its block are skipped, not decoded.
    pub fn get(&self, i: usize) -> Result<RecordMeta> {
        assert!(i < self.rows, "row {i} of a table of {}", self.rows);
        let b = i / BLOCK;
        let start = self.blocks[b];
        let end = self.blocks.get(b + 1).copied().unwrap_or(self.bytes.len());
        self.bytes.decode(start, end, |rows| {
            for _ in 0..i % BLOCK {
                skip_meta(rows)?;
            }
            decode_meta(rows)
        })
    }

    /// Rows `start..end`, read in one go.
    pub fn range(&self, start: usize, end: usize) -> Result<Vec<RecordMeta>> {
        assert!(
            start <= end && end <= self.rows,
            "rows {start}..{end} of {}",
            self.rows
        );
        if start == end {
            return Ok(Vec::new());
        }
        let mut rows = self.blocks(start / BLOCK, (end - 1) / BLOCK)?;
        rows.truncate(end - start / BLOCK * BLOCK);
        rows.drain(..start % BLOCK);
        Ok(rows)
    }

    /// Every row in order, a few thousand at a time: `f(index, row)`.
    pub fn scan(&self, mut f: impl FnMut(usize, RecordMeta) -> Result<()>) -> Result<()> {
        const CHUNK: usize = 256 * BLOCK;
        for start in (0..self.rows).step_by(CHUNK) {
            let end = (start + CHUNK).min(self.rows);
            for (k, m) in self.range(start, end)?.into_iter().enumerate() {
                f(start + k, m)?;
            }
        }
        Ok(())
    }
}

/// The provenance of the duplicates of a run, on disk: written per component as
/// clustering places it (so out of record order), read when the outputs are written (in
/// input order for `docs.jsonl`, by record for a cluster's members). In memory: the
/// record index, length and byte offset of each entry (16 bytes a duplicate), sorted by
/// record once every entry is in (`finish`), against about 150 bytes for a boxed
/// `Provenance` and its lists.
#[derive(Debug)]
pub struct ProvenanceTable {
    bytes: Appended,
    /// One per entry; sorted by record after `finish`.
    entries: Vec<ProvenanceEntry>,
    sorted: bool,
    scratch: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct ProvenanceEntry {
    record: u32,
    len: u32,
    offset: u64,
}

const RELATIONS: [Relation; 6] = [
    Relation::Identical,
    Relation::NearIdentical,
    Relation::Trimmed,
    Relation::Extended,
    Relation::Edited,
    Relation::Digest,
];

impl ProvenanceTable {
    /// An empty table whose file, when it needs one, goes in `dir`.
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        ProvenanceTable::in_file(Appended::new(dir, TAIL_BYTES))
    }

    /// An empty table in the directory of `records`, keeping as many bytes in memory.
    #[must_use]
    pub fn beside(records: &RecordTable) -> Self {
        ProvenanceTable::in_file(Appended::beside(records))
    }

    fn in_file(bytes: Appended) -> Self {
        ProvenanceTable {
            bytes,
            entries: Vec::new(),
            sorted: true,
            scratch: Vec::new(),
        }
    }

    /// Duplicates with a provenance.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no record has a provenance.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of the entries in its temporary file (the last ones may still be in memory).
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        self.bytes.flushed
    }

    /// Adds the provenance of record `record`, in any order of records; `finish` before
    /// reading.
    pub fn push(&mut self, record: u32, p: &Provenance) -> Result<()> {
        // entries whose records rise need no sort: the common case of a table built in
        // input order (the tests, an index's records)
        self.sorted &= self.entries.last().is_none_or(|e| e.record < record);
        self.bytes.flush_if_full()?;
        let out = &mut self.scratch;
        out.clear();
        out.push(
            RELATIONS
                .iter()
                .position(|&r| r == p.relation)
                .expect("every relation is listed") as u8,
        );
        for f in [p.jaccard, p.copy_in_original, p.original_in_copy] {
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        put_varint(out, p.shared_shingles);
        put_varint(out, u64::from(p.kept_paragraphs));
        put_varint(out, u64::from(p.original_paragraphs));
        for list in [&p.cut_paragraphs, &p.added_paragraphs] {
            put_varint(out, list.len() as u64);
            for &i in list {
                put_varint(out, u64::from(i));
            }
        }
        out.push(u8::from(p.weak));
        self.entries.push(ProvenanceEntry {
            record,
            len: u32::try_from(self.scratch.len()).expect("an entry is far below 4 GB"),
            offset: self.bytes.len(),
        });
        self.bytes.tail.extend_from_slice(&self.scratch);
        Ok(())
    }

    /// Sorts the index by record, so that `get` finds them. A record has at most one
    /// provenance.
    pub fn finish(&mut self) {
        if !self.sorted {
            self.entries.par_sort_unstable_by_key(|e| e.record);
            self.sorted = true;
        }
        assert!(
            self.entries.windows(2).all(|w| w[0].record < w[1].record),
            "a record has at most one provenance"
        );
    }

    /// The provenance of record `record`, if it has one.
    pub fn get(&self, record: u32) -> Result<Option<Provenance>> {
        assert!(self.sorted, "the provenance table is read after `finish`");
        let Ok(k) = self.entries.binary_search_by_key(&record, |e| e.record) else {
            return Ok(None);
        };
        let e = self.entries[k];
        self.bytes
            .decode(e.offset, e.offset + u64::from(e.len), decode_provenance)
            .map(Some)
    }

    /// True when record `record` is a weak link of its cluster.
    pub fn is_weak(&self, record: u32) -> Result<bool> {
        Ok(self.get(record)?.is_some_and(|p| p.weak))
    }
}

/// A provenance row, as `ProvenanceTable::push` wrote it.
fn decode_provenance(rows: &mut Rows<'_>) -> Result<Provenance> {
    let relation = *RELATIONS
        .get(usize::from(rows.byte()?))
        .ok_or_else(|| rows.bad())?;
    let jaccard = f64::from_bits(rows.u64_le()?);
    let copy_in_original = f64::from_bits(rows.u64_le()?);
    let original_in_copy = f64::from_bits(rows.u64_le()?);
    let shared_shingles = rows.varint()?;
    let kept_paragraphs = rows.u32()?;
    let original_paragraphs = rows.u32()?;
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        let n = rows.varint()? as usize;
        for _ in 0..n {
            list.push(rows.u32()?);
        }
    }
    let weak = rows.byte()? != 0;
    let [cut_paragraphs, added_paragraphs] = lists;
    Ok(Provenance {
        relation,
        jaccard,
        copy_in_original,
        original_in_copy,
        shared_shingles,
        kept_paragraphs,
        original_paragraphs,
        cut_paragraphs,
        added_paragraphs,
        weak,
    })
}

/// Where each record ended up. Held for every record until the outputs are written, so
/// it is packed: absent values are sentinels inside the fields rather than `Option`s
/// (40 bytes a record instead of 72); the accessors give the `Option`s back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// `NONE_U64` for a record that could not be read.
    cluster: u64,
    /// `f64::to_bits` of the Jaccard similarity to the representative; `NONE_U64` unless
    /// a duplicate (the bits of a NaN no rounded score has).
    similarity: u64,
    /// `f64::to_bits` of |A ∩ B| / min(|A|, |B|) with the representative; as `similarity`.
    containment: u64,
    /// Record index of the representative, `NONE_U32` unless a duplicate.
    duplicate_of: u32,
    /// Record index of the representative a chain had joined it to, or `NONE_U32`.
    split_from: u32,
    keep: bool,
}

const NONE_U64: u64 = u64::MAX;
const NONE_U32: u32 = u32::MAX;

fn some_u64(v: u64) -> Option<u64> {
    (v != NONE_U64).then_some(v)
}

fn some_u32(v: u32) -> Option<u32> {
    (v != NONE_U32).then_some(v)
}

fn packed_u32(v: Option<u32>) -> u32 {
    v.unwrap_or(NONE_U32)
}

const _: () = assert!(std::mem::size_of::<Assignment>() == 40);

impl Assignment {
    /// A record that could not be read: no cluster, not kept.
    pub const UNREAD: Assignment = Assignment {
        cluster: NONE_U64,
        similarity: NONE_U64,
        containment: NONE_U64,
        duplicate_of: NONE_U32,
        split_from: NONE_U32,
        keep: false,
    };

    /// A kept record: the representative of cluster `cluster` (or a record of its own),
    /// split off the cluster of record `split_from` by the star check, if it was.
    #[must_use]
    pub fn kept(cluster: u64, split_from: Option<u32>) -> Self {
        Assignment {
            cluster,
            keep: true,
            split_from: packed_u32(split_from),
            ..Self::UNREAD
        }
    }

    /// A duplicate of record `of` in cluster `cluster`, with its scores against it.
    #[must_use]
    pub fn duplicate(
        cluster: u64,
        of: u32,
        similarity: f64,
        containment: f64,
        split_from: Option<u32>,
    ) -> Self {
        Assignment {
            cluster,
            similarity: similarity.to_bits(),
            containment: containment.to_bits(),
            duplicate_of: of,
            split_from: packed_u32(split_from),
            keep: false,
        }
    }

    /// What an earlier run decided about a record, as an index stores it: its cluster
    /// and whether it was kept, nothing else.
    #[must_use]
    pub fn stored(cluster: Option<u64>, keep: bool) -> Self {
        Assignment {
            cluster: cluster.unwrap_or(NONE_U64),
            keep,
            ..Self::UNREAD
        }
    }

    /// The same assignment in cluster `cluster`.
    #[must_use]
    pub fn in_cluster(self, cluster: u64) -> Self {
        Assignment { cluster, ..self }
    }

    /// `None` for a record that could not be read.
    #[must_use]
    pub fn cluster(&self) -> Option<u64> {
        some_u64(self.cluster)
    }

    /// The representative of its cluster (or a record of its own): kept.
    #[must_use]
    pub fn keep(&self) -> bool {
        self.keep
    }

    /// Record index of the representative, for a duplicate.
    #[must_use]
    pub fn duplicate_of(&self) -> Option<u32> {
        some_u32(self.duplicate_of)
    }

    /// Jaccard similarity to the representative, for a duplicate.
    #[must_use]
    pub fn similarity(&self) -> Option<f64> {
        some_u64(self.similarity).map(f64::from_bits)
    }

    /// |A ∩ B| / min(|A|, |B|) with the representative, for a duplicate.
    #[must_use]
    pub fn containment(&self) -> Option<f64> {
        some_u64(self.containment).map(f64::from_bits)
    }

    /// Record index of the representative of the cluster a chain of matches had joined
    /// this record to, before the star check split it off.
    #[must_use]
    pub fn split_from(&self) -> Option<u32> {
        some_u32(self.split_from)
    }
}

impl Serialize for Assignment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Assignment", 6)?;
        st.serialize_field("cluster", &self.cluster())?;
        st.serialize_field("keep", &self.keep)?;
        st.serialize_field("duplicate_of", &self.duplicate_of())?;
        st.serialize_field("similarity", &self.similarity())?;
        st.serialize_field("containment", &self.containment())?;
        st.serialize_field("split_from", &self.split_from())?;
        st.end()
    }
}

/// Bytes of an assignment's row: its cluster, similarity and containment bits, the
/// records it is a duplicate of and split from (little-endian, the sentinels as they are)
/// and whether it is kept.
const ASSIGNMENT_BYTES: usize = 8 + 8 + 8 + 4 + 4 + 1;

/// Rows an `AssignmentTable` reads at a time when it goes through them in order (about
/// 1 MiB).
const ASSIGNMENT_CHUNK: usize = 1 << 15;

/// Where each record ended up, one row a record in input order, on disk: clustering
/// appends them in input order and the outputs read them back in order, or by record for
/// the few records they name. Rows have one width, so row `i` is at `i` times it and
/// nothing is kept in memory but the last rows appended (against 40 bytes a record for a
/// `Vec<Assignment>`).
#[derive(Debug)]
pub struct AssignmentTable {
    bytes: Appended,
    rows: usize,
}

impl AssignmentTable {
    /// Bytes of a row on disk, one a record.
    pub const ROW_BYTES: usize = ASSIGNMENT_BYTES;

    /// An empty table whose file, when it needs one, goes in `dir`.
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        AssignmentTable::in_file(Appended::new(dir, TAIL_BYTES))
    }

    /// An empty table in the directory of `records`, keeping as many bytes in memory.
    #[must_use]
    pub fn beside(records: &RecordTable) -> Self {
        AssignmentTable::in_file(Appended::beside(records))
    }

    fn in_file(bytes: Appended) -> Self {
        AssignmentTable { bytes, rows: 0 }
    }

    /// The table of `assignments`, its file (when it needs one) in `dir`.
    pub fn from_slice(dir: &Path, assignments: &[Assignment]) -> Result<Self> {
        let mut t = AssignmentTable::new(dir);
        for &a in assignments {
            t.push(a)?;
        }
        Ok(t)
    }

    /// Rows in the table.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when the table has no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of its rows in its temporary file (the last ones appended may still be in
    /// memory).
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        self.bytes.flushed
    }

    /// The directory of its file.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.bytes.dir
    }

    /// Appends the next record's assignment.
    pub fn push(&mut self, a: Assignment) -> Result<()> {
        // a row never straddles the file and the tail
        self.bytes.flush_if_full()?;
        let tail = &mut self.bytes.tail;
        tail.extend_from_slice(&a.cluster.to_le_bytes());
        tail.extend_from_slice(&a.similarity.to_le_bytes());
        tail.extend_from_slice(&a.containment.to_le_bytes());
        tail.extend_from_slice(&a.duplicate_of.to_le_bytes());
        tail.extend_from_slice(&a.split_from.to_le_bytes());
        tail.push(u8::from(a.keep));
        self.rows += 1;
        Ok(())
    }

    /// Row `i`.
    pub fn get(&self, i: usize) -> Result<Assignment> {
        Ok(self.range(i, i + 1)?[0])
    }

    /// Rows `start..end`, read in one go.
    pub fn range(&self, start: usize, end: usize) -> Result<Vec<Assignment>> {
        assert!(
            start <= end && end <= self.rows,
            "rows {start}..{end} of {}",
            self.rows
        );
        self.bytes.fixed_rows(
            start as u64,
            end as u64,
            ASSIGNMENT_BYTES,
            decode_assignment,
        )
    }

    /// Rows `start..end` in order, a chunk at a time: `f(index, assignment)`.
    pub fn scan_range(
        &self,
        start: usize,
        end: usize,
        mut f: impl FnMut(usize, Assignment) -> Result<()>,
    ) -> Result<()> {
        for from in (start..end).step_by(ASSIGNMENT_CHUNK) {
            let to = (from + ASSIGNMENT_CHUNK).min(end);
            for (k, a) in self.range(from, to)?.into_iter().enumerate() {
                f(from + k, a)?;
            }
        }
        Ok(())
    }

    /// Every row in order: `f(index, assignment)`.
    pub fn scan(&self, f: impl FnMut(usize, Assignment) -> Result<()>) -> Result<()> {
        self.scan_range(0, self.rows, f)
    }

    /// Every row, in memory: for callers that hold a few records (a library call on
    /// texts in memory, a sweep), not for a dump.
    pub fn to_vec(&self) -> Result<Vec<Assignment>> {
        self.range(0, self.rows)
    }

    /// A new table (in the same directory) of `f(index, assignment)` for every row.
    pub fn map(&self, mut f: impl FnMut(usize, Assignment) -> Assignment) -> Result<Self> {
        let mut out = AssignmentTable::in_file(self.bytes.like());
        self.scan(|i, a| out.push(f(i, a)))?;
        Ok(out)
    }

    /// Every duplicate grouped by cluster, the groups in cluster order and a group's
    /// duplicates in record order (what one sort by cluster and record gives), keeping the
    /// clusters whose duplicates `keep` accepts (it sees each cluster's once); `each` sees
    /// every row on the way, in input order. Sorted runs of a share of `--memory` (four
    /// times the tail the table keeps in memory) go to a temporary file, then are merged
    /// into the kept groups' file, which the outputs read by cluster.
    pub fn duplicates_by_cluster(
        &self,
        mut each: impl FnMut(usize, Assignment),
        mut keep: impl FnMut(&[ClusterDuplicate]) -> bool,
    ) -> Result<DuplicatesByCluster> {
        let run_rows = (4 * self.bytes.tail_bytes / DUPLICATE_BYTES).max(1);
        let mut runs_file = self.bytes.like();
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut run: Vec<ClusterDuplicate> = Vec::new();
        let push_run = |run: &mut Vec<ClusterDuplicate>,
                        file: &mut Appended,
                        runs: &mut Vec<(u64, u64)>|
         -> Result<()> {
            if run.is_empty() {
                return Ok(());
            }
            // (cluster, record) is unique: the order is that of one sort
            run.par_sort_unstable_by_key(|d| (d.cluster, d.record));
            let first = file.len() / DUPLICATE_BYTES as u64;
            for d in run.drain(..) {
                file.flush_if_full()?;
                encode_duplicate(&d, &mut file.tail);
            }
            runs.push((first, file.len() / DUPLICATE_BYTES as u64));
            Ok(())
        };
        self.scan(|i, a| {
            if let (Some(cluster), Some(rep)) = (a.cluster(), a.duplicate_of()) {
                run.push(ClusterDuplicate {
                    cluster,
                    record: i as u32,
                    rep,
                    similarity: a.similarity().unwrap_or(1.0),
                });
                if run.len() == run_rows {
                    push_run(&mut run, &mut runs_file, &mut runs)?;
                }
            }
            each(i, a);
            Ok(())
        })?;
        push_run(&mut run, &mut runs_file, &mut runs)?;
        drop(run);
        let mut out = DuplicatesByCluster {
            bytes: self.bytes.like(),
            groups: Vec::new(),
            run_bytes: runs_file.flushed,
        };
        let mut merge = Merge::new(&runs_file, DUPLICATE_BYTES, &runs, decode_duplicate, |d| {
            (d.cluster, d.record)
        });
        let mut group: Vec<ClusterDuplicate> = Vec::new();
        let mut close = |group: &mut Vec<ClusterDuplicate>| -> Result<()> {
            if !group.is_empty() && keep(group) {
                let bytes = &mut out.bytes;
                let start = bytes.len() / DUPLICATE_BYTES as u64;
                for d in group.iter() {
                    bytes.flush_if_full()?;
                    encode_duplicate(d, &mut bytes.tail);
                }
                let too_many = || {
                    Error::spill(
                        &bytes.dir,
                        std::io::Error::other("more duplicates than 32-bit record numbers"),
                    )
                };
                out.groups.push((
                    u32::try_from(start).map_err(|_| too_many())?,
                    u32::try_from(group.len()).map_err(|_| too_many())?,
                ));
            }
            group.clear();
            Ok(())
        };
        while let Some(d) = merge.next()? {
            if group.first().is_some_and(|g| g.cluster != d.cluster) {
                close(&mut group)?;
            }
            group.push(d);
        }
        close(&mut group)?;
        Ok(out)
    }

    /// A reader for rows asked for in rising order, mostly one after the other: it reads
    /// a chunk at a time.
    #[must_use]
    pub fn reader(&self) -> AssignmentReader<'_> {
        AssignmentReader {
            table: self,
            start: 0,
            chunk: Vec::new(),
        }
    }
}

/// An assignment row, as `AssignmentTable::push` wrote it.
fn decode_assignment(rows: &mut Rows<'_>) -> Result<Assignment> {
    let cluster = rows.u64_le()?;
    let similarity = rows.u64_le()?;
    let containment = rows.u64_le()?;
    let duplicate_of = rows.u32_le()?;
    let split_from = rows.u32_le()?;
    let keep = match rows.byte()? {
        0 => false,
        1 => true,
        _ => return Err(rows.bad()),
    };
    Ok(Assignment {
        cluster,
        similarity,
        containment,
        duplicate_of,
        split_from,
        keep,
    })
}

/// Reads an `AssignmentTable` a chunk at a time (`AssignmentTable::reader`).
pub struct AssignmentReader<'a> {
    table: &'a AssignmentTable,
    /// Index of the first row of `chunk`.
    start: usize,
    chunk: Vec<Assignment>,
}

impl AssignmentReader<'_> {
    /// Row `i`: from the chunk in memory when it holds it, else from the chunk that
    /// starts at `i`.
    pub fn get(&mut self, i: usize) -> Result<Assignment> {
        if i < self.start || i >= self.start + self.chunk.len() {
            let end = (i + ASSIGNMENT_CHUNK).min(self.table.rows);
            self.chunk = self.table.range(i, end)?;
            self.start = i;
        }
        Ok(self.chunk[i - self.start])
    }
}

/// What placement decided for one member of a component of two or more, as the
/// assignments need it: its representative, its scores against it (`None` for the
/// representative) and the representative a chain had joined it to before the star
/// check split it off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedRow {
    /// The member.
    pub doc: DocId,
    /// The representative of its cluster (itself for a representative).
    pub rep: DocId,
    /// Jaccard and containment against the representative.
    pub score: Option<(f64, f64)>,
    /// The representative it was split off from.
    pub split_from: Option<DocId>,
}

/// Bytes of a `PlacedRow` on disk: document, representative, the two scores' bits
/// (`u64::MAX` for none: no score is a NaN), split-off representative (`u32::MAX` for
/// none).
const PLACED_BYTES: usize = 4 + 4 + 8 + 8 + 4;

/// The placements of every member of a component of two or more, on temporary disk
/// (they were 56 bytes a member in memory from placement to the assignments). Placement
/// goes a group of components at a time, out of document order: each group's rows are
/// sorted by document and appended as a run; `merged` gives them back in document order
/// (the members of different groups are disjoint), a chunk of each run in memory.
#[derive(Debug)]
pub struct PlacementRuns {
    bytes: Appended,
    /// Each run's first and last row.
    runs: Vec<(u64, u64)>,
}

impl PlacementRuns {
    /// Bytes of a row on disk, one a member.
    pub const ROW_BYTES: usize = PLACED_BYTES;

    /// An empty set of runs in the directory of `records`, keeping as many bytes in
    /// memory.
    #[must_use]
    pub fn beside(records: &RecordTable) -> Self {
        PlacementRuns {
            bytes: Appended::beside(records),
            runs: Vec::new(),
        }
    }

    /// Members placed.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.bytes.len() / PLACED_BYTES as u64
    }

    /// Bytes of its rows in its temporary file (the last ones may still be in memory).
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        self.bytes.flushed
    }

    /// True when nothing was placed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.len() == 0
    }

    /// Appends one group's rows as a run, sorted by document (and empties `rows`).
    pub fn push_run(&mut self, rows: &mut Vec<PlacedRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        rows.sort_unstable_by_key(|r| r.doc);
        let first = self.len();
        for r in rows.drain(..) {
            self.bytes.flush_if_full()?;
            let (jaccard, containment) = r
                .score
                .map_or((u64::MAX, u64::MAX), |(j, c)| (j.to_bits(), c.to_bits()));
            let tail = &mut self.bytes.tail;
            tail.extend_from_slice(&r.doc.to_le_bytes());
            tail.extend_from_slice(&r.rep.to_le_bytes());
            tail.extend_from_slice(&jaccard.to_le_bytes());
            tail.extend_from_slice(&containment.to_le_bytes());
            tail.extend_from_slice(&r.split_from.unwrap_or(u32::MAX).to_le_bytes());
        }
        self.runs.push((first, self.len()));
        Ok(())
    }

    /// Every row in document order, the runs merged.
    #[must_use]
    pub fn merged(&self) -> MergedPlacements<'_> {
        MergedPlacements(Merge::new(
            &self.bytes,
            PLACED_BYTES,
            &self.runs,
            decode_placed,
            |r| r.doc,
        ))
    }

    /// Every row in document order, in memory: for tests and small runs.
    pub fn to_vec(&self) -> Result<Vec<PlacedRow>> {
        let mut merged = self.merged();
        let mut out = Vec::new();
        while let Some(r) = merged.next()? {
            out.push(r);
        }
        Ok(out)
    }
}

fn decode_placed(rows: &mut Rows<'_>) -> Result<PlacedRow> {
    let doc = rows.u32_le()?;
    let rep = rows.u32_le()?;
    let jaccard = rows.u64_le()?;
    let containment = rows.u64_le()?;
    let split_from = rows.u32_le()?;
    Ok(PlacedRow {
        doc,
        rep,
        score: (jaccard != u64::MAX)
            .then(|| (f64::from_bits(jaccard), f64::from_bits(containment))),
        split_from: (split_from != u32::MAX).then_some(split_from),
    })
}

/// Rows a run's cursor reads at a time while sorted runs are merged (24-28 KiB a run).
const MERGE_CHUNK: u64 = 1024;

/// One sorted run being merged: the rows not yet read, and a chunk read.
struct RunCursor<T> {
    next: u64,
    end: u64,
    chunk: std::collections::VecDeque<T>,
}

/// The k-way merge of sorted runs of fixed-width rows appended to one file (each run a
/// range of rows, sorted by `key`, the keys of all runs distinct): every row in the
/// order of one sort, a chunk of each run in memory.
struct Merge<'a, T, K> {
    bytes: &'a Appended,
    row_bytes: usize,
    decode: fn(&mut Rows<'_>) -> Result<T>,
    key: fn(&T) -> K,
    cursors: Vec<RunCursor<T>>,
    /// Each run's next key, smallest first; made on the first call.
    heap: Option<std::collections::BinaryHeap<std::cmp::Reverse<(K, usize)>>>,
}

impl<'a, T, K: Ord + Copy> Merge<'a, T, K> {
    fn new(
        bytes: &'a Appended,
        row_bytes: usize,
        runs: &[(u64, u64)],
        decode: fn(&mut Rows<'_>) -> Result<T>,
        key: fn(&T) -> K,
    ) -> Self {
        Merge {
            bytes,
            row_bytes,
            decode,
            key,
            cursors: runs
                .iter()
                .map(|&(start, end)| RunCursor {
                    next: start,
                    end,
                    chunk: std::collections::VecDeque::new(),
                })
                .collect(),
            heap: None,
        }
    }

    /// The key of run `i`'s next row, reading its next chunk when the one in memory is
    /// used up.
    fn head(&mut self, i: usize) -> Result<Option<K>> {
        let c = &mut self.cursors[i];
        if c.chunk.is_empty() && c.next < c.end {
            let to = (c.next + MERGE_CHUNK).min(c.end);
            c.chunk.extend(
                self.bytes
                    .fixed_rows(c.next, to, self.row_bytes, self.decode)?,
            );
            c.next = to;
        }
        Ok(c.chunk.front().map(self.key))
    }

    /// Each run's first key in the heap, on the first call.
    fn start(&mut self) -> Result<()> {
        if self.heap.is_none() {
            let mut heap = std::collections::BinaryHeap::new();
            for i in 0..self.cursors.len() {
                if let Some(k) = self.head(i)? {
                    heap.push(std::cmp::Reverse((k, i)));
                }
            }
            self.heap = Some(heap);
        }
        Ok(())
    }

    /// The next row, `None` after the last.
    fn next(&mut self) -> Result<Option<T>> {
        self.start()?;
        let Some(std::cmp::Reverse((_, i))) = self
            .heap
            .as_mut()
            .and_then(std::collections::BinaryHeap::pop)
        else {
            return Ok(None);
        };
        let row = self.cursors[i].chunk.pop_front().expect("a head");
        if let Some(k) = self.head(i)? {
            self.heap
                .as_mut()
                .expect("made by start")
                .push(std::cmp::Reverse((k, i)));
        }
        Ok(Some(row))
    }

    /// The key of the next row, `None` after the last.
    fn peek(&mut self) -> Result<Option<K>> {
        self.start()?;
        Ok(self
            .heap
            .as_ref()
            .and_then(|h| h.peek())
            .map(|std::cmp::Reverse((k, _))| *k))
    }
}

/// The rows of a `PlacementRuns` in document order (`PlacementRuns::merged`).
pub struct MergedPlacements<'a>(Merge<'a, PlacedRow, DocId>);

impl MergedPlacements<'_> {
    /// The row of the next document placed, `None` after the last.
    #[allow(clippy::should_implement_trait)] // fallible: not an `Iterator`
    pub fn next(&mut self) -> Result<Option<PlacedRow>> {
        self.0.next()
    }

    /// The row of `doc` when it is the next document placed (documents asked for in
    /// rising order), else `None`.
    pub fn take(&mut self, doc: DocId) -> Result<Option<PlacedRow>> {
        if self.0.peek()? == Some(doc) {
            self.0.next()
        } else {
            Ok(None)
        }
    }
}

/// A duplicate as `clusters.jsonl` lists it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterDuplicate {
    /// Its cluster.
    pub cluster: u64,
    /// Its record.
    pub record: u32,
    /// The record of its cluster's representative.
    pub rep: u32,
    /// Its similarity to the representative (1 when it has none).
    pub similarity: f64,
}

/// Bytes of a `ClusterDuplicate` on disk.
const DUPLICATE_BYTES: usize = 8 + 4 + 4 + 8;

fn encode_duplicate(d: &ClusterDuplicate, out: &mut Vec<u8>) {
    out.extend_from_slice(&d.cluster.to_le_bytes());
    out.extend_from_slice(&d.record.to_le_bytes());
    out.extend_from_slice(&d.rep.to_le_bytes());
    out.extend_from_slice(&d.similarity.to_bits().to_le_bytes());
}

fn decode_duplicate(rows: &mut Rows<'_>) -> Result<ClusterDuplicate> {
    Ok(ClusterDuplicate {
        cluster: rows.u64_le()?,
        record: rows.u32_le()?,
        rep: rows.u32_le()?,
        similarity: f64::from_bits(rows.u64_le()?),
    })
}

/// The duplicates of the clusters `clusters.jsonl` writes, grouped by cluster and in
/// record order inside one, on temporary disk (they were one sorted list in memory, 24
/// bytes a duplicate, while the file was written): the assignments' duplicates are
/// sorted in runs that fit a share of `--memory` and merged into one file, and memory
/// keeps where each cluster's duplicates start (8 bytes a cluster written).
#[derive(Debug)]
pub struct DuplicatesByCluster {
    bytes: Appended,
    /// The first duplicate and the number of duplicates of each cluster, in cluster order.
    groups: Vec<(u32, u32)>,
    /// Bytes the runs wrote to their file (gone once merged).
    run_bytes: u64,
}

impl DuplicatesByCluster {
    /// Bytes of a duplicate on disk, in the runs and in the merged file.
    pub const ROW_BYTES: usize = DUPLICATE_BYTES;

    /// Clusters kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Bytes of temporary disk at the end of the merge, when the runs and the merged
    /// groups are both there (the last bytes appended to either may still be in memory).
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        self.run_bytes + self.bytes.flushed
    }

    /// True when no cluster was kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The duplicates of the `k`th cluster kept, in record order.
    pub fn group(&self, k: usize) -> Result<Vec<ClusterDuplicate>> {
        let (start, len) = self.groups[k];
        let (start, end) = (u64::from(start), u64::from(start) + u64::from(len));
        self.bytes
            .fixed_rows(start, end, DUPLICATE_BYTES, decode_duplicate)
    }
}

/// Bytes of an accepted pair on disk: its two documents and the bits of its Jaccard and
/// containment (so they read back exactly).
const EDGE_BYTES: usize = 4 + 4 + 8 + 8;

/// Pairs read at a time while the table is scanned (24 KiB).
const EDGE_CHUNK: usize = 1024;

/// The accepted pairs of a run, in candidate order, on temporary disk (they were 24 bytes
/// a pair in memory from verification to the end of the run): verification appends
/// them, and every reader takes them in that order, a chunk at a time (the components'
/// links for star clusters, an index's components for its next run's scope), so nothing
/// is read at random and only the last pairs appended stay in memory.
#[derive(Debug)]
pub struct EdgeTable {
    bytes: Appended,
}

impl EdgeTable {
    /// Bytes of a pair on disk.
    pub const ROW_BYTES: usize = EDGE_BYTES;

    /// An empty table whose file, when it needs one, goes in `dir`.
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        EdgeTable {
            bytes: Appended::new(dir, TAIL_BYTES),
        }
    }

    /// An empty table in the directory of `records`, keeping as many bytes in memory.
    #[must_use]
    pub fn beside(records: &RecordTable) -> Self {
        EdgeTable {
            bytes: Appended::beside(records),
        }
    }

    /// Bytes of its pairs in its temporary file (the last ones may still be in memory).
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        self.bytes.flushed
    }

    /// Pairs `start..end`, decoded.
    fn rows(&self, start: u64, end: u64) -> Result<Vec<Edge>> {
        self.bytes.fixed_rows(start, end, EDGE_BYTES, |rows| {
            Ok(Edge {
                a: rows.u32_le()?,
                b: rows.u32_le()?,
                jaccard: f64::from_bits(rows.u64_le()?),
                containment: f64::from_bits(rows.u64_le()?),
            })
        })
    }

    /// Every pair, in memory: for callers that hold a few documents (tests, a library
    /// call on texts in memory), not for a dump.
    pub fn to_vec(&self) -> Result<Vec<Edge>> {
        self.rows(0, self.len())
    }
}

impl AcceptedPairs for EdgeTable {
    fn push(&mut self, e: Edge) -> Result<()> {
        // a pair never straddles the file and the tail
        self.bytes.flush_if_full()?;
        let tail = &mut self.bytes.tail;
        tail.extend_from_slice(&e.a.to_le_bytes());
        tail.extend_from_slice(&e.b.to_le_bytes());
        tail.extend_from_slice(&e.jaccard.to_bits().to_le_bytes());
        tail.extend_from_slice(&e.containment.to_bits().to_le_bytes());
        Ok(())
    }

    fn len(&self) -> u64 {
        self.bytes.len() / EDGE_BYTES as u64
    }

    fn scan(&self, f: &mut dyn FnMut(Edge) -> Result<()>) -> Result<()> {
        let n = self.len();
        for from in (0..n).step_by(EDGE_CHUNK) {
            for e in self.rows(from, (from + EDGE_CHUNK as u64).min(n))? {
                f(e)?;
            }
        }
        Ok(())
    }
}

/// The result of the comparison stages, before anything is written.
pub struct Dedup {
    /// The inputs, in the order their records were read.
    pub sources: Vec<Source>,
    /// The per-record table.
    pub records: Records,
    /// Where each record ended up, in input order, on disk.
    pub assignments: AssignmentTable,
    /// Per duplicate: how it relates to its representative.
    pub provenance: ProvenanceTable,
    /// Accepted pairs (document indices, see `Records::doc_records`), in candidate order,
    /// on disk.
    pub edges: EdgeTable,
    /// What `summary.json` will say (timings of the write still to come).
    pub summary: Summary,
    /// For a run against an index: the records before the batch's, which came from the
    /// index and are not written to `docs.jsonl`.
    pub archived: Option<Archived>,
}

/// The archived part of a run against an index (`index`): its first `records` records,
/// what run added each and what changed for their clusters.
#[derive(Debug, Clone, Default)]
pub struct Archived {
    /// Records read from the index, before the batch's.
    pub records: usize,
    /// The run that added each archived record (1 for the run that created the index).
    pub runs: Vec<u64>,
    /// This run's number, as the index will record it.
    pub run: u64,
    /// Clusters whose representative this run changed: cluster id -> the record index
    /// of the representative before.
    pub previous_representative: std::collections::BTreeMap<u64, u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Position;

    fn row(i: usize) -> RecordMeta {
        RecordMeta {
            // ids longer than 24 bytes too, so that some are not inline
            id: format!("id-{i}-{}", "x".repeat(i % 40)).into(),
            date: (!i.is_multiple_of(3)).then(|| format!("2024-01-{:02}", i % 28 + 1).into()),
            outlet: (!i.is_multiple_of(5)).then_some((i % 7) as u32),
            source: (i % 4) as u32,
            position: match i % 4 {
                0 => Position::Line(i as u64 * 1_000_003),
                1 => Position::Offset(i as u64),
                2 => Position::Row(i as u64),
                _ => Position::File,
            }
            .pack(),
            status: match i % 9 {
                0 => Status::Empty,
                1 => Status::Skipped(SkipReason::ALL[i % SkipReason::ALL.len()]),
                _ => Status::Ok,
            },
            doc: (i % 9 > 1).then_some(i as DocId),
            raw_digest: (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    fn same(a: &RecordMeta, b: &RecordMeta) -> bool {
        (a.id == b.id)
            && a.date == b.date
            && a.outlet == b.outlet
            && a.source == b.source
            && a.position == b.position
            && a.status == b.status
            && a.doc == b.doc
            && a.raw_digest == b.raw_digest
    }

    #[test]
    fn the_record_table_gives_back_every_row_at_random_in_ranges_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = RecordTable::new(dir.path());
        assert!(t.is_empty());
        // enough rows that most of them went to the file, the last ones still in memory
        let n = 40_003;
        for i in 0..n {
            t.push(&row(i)).unwrap();
        }
        assert_eq!(t.len(), n);
        assert!(t.bytes.flushed > 0 && !t.bytes.tail.is_empty());
        for i in [0, 1, 15, 16, 17, 12_345, n - 17, n - 16, n - 1] {
            assert!(same(&t.get(i).unwrap(), &row(i)), "row {i}");
        }
        // a range across the file and the tail, and ranges cut inside blocks
        let flushed_rows = t
            .blocks
            .iter()
            .take_while(|&&b| b < t.bytes.flushed)
            .count()
            * BLOCK;
        for (a, b) in [
            (0, 0),
            (3, 5),
            (15, 33),
            (flushed_rows - 20, flushed_rows + 20),
            (n - 3, n),
        ] {
            let got = t.range(a, b).unwrap();
            assert_eq!(got.len(), b - a);
            for (k, m) in got.iter().enumerate() {
                assert!(same(m, &row(a + k)), "row {}", a + k);
            }
        }
        let mut seen = 0;
        t.scan(|i, m| {
            assert_eq!(i, seen);
            assert!(same(&m, &row(i)), "row {i}");
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, n);
    }

    #[test]
    fn the_provenance_table_gives_back_what_was_put_by_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = ProvenanceTable::new(dir.path());
        let p = |i: u32| Provenance {
            relation: RELATIONS[i as usize % RELATIONS.len()],
            jaccard: f64::from(i) / 7.0,
            copy_in_original: 1.0 / f64::from(i + 1),
            original_in_copy: 0.1 + f64::from(i % 10) / 3.0,
            shared_shingles: u64::from(i) << 20,
            kept_paragraphs: i % 11,
            original_paragraphs: i % 13,
            cut_paragraphs: (0..i % 5).collect(),
            added_paragraphs: (0..i % 3).map(|k| k * 1000 + i).collect(),
            weak: i.is_multiple_of(4),
        };
        // every third record has one; enough that the file is used; pushed out of
        // record order, as clustering places components
        let mut order: Vec<u32> = (0..120_000).step_by(3).collect();
        order.sort_by_key(|&r| (r % 7, std::cmp::Reverse(r)));
        for &r in &order {
            t.push(r, &p(r)).unwrap();
        }
        t.finish();
        assert!(t.bytes.flushed > 0);
        assert_eq!(t.len(), 40_000);
        for r in [0, 1, 2, 3, 30_000, 30_001, 119_997, 119_998] {
            let want = (r % 3 == 0).then(|| p(r));
            assert_eq!(t.get(r).unwrap(), want, "record {r}");
            assert_eq!(t.is_weak(r).unwrap(), want.is_some_and(|p| p.weak));
        }
    }

    fn assignment(i: usize) -> Assignment {
        match i % 5 {
            0 => Assignment::UNREAD,
            1 => Assignment::kept(i as u64, None),
            2 => Assignment::kept(i as u64 / 3, Some(i as u32 - 1)),
            3 => Assignment::duplicate(
                i as u64 * 1_000_003,
                i as u32 / 2,
                1.0 / i as f64,
                0.5,
                None,
            ),
            _ => Assignment::duplicate(u64::MAX - 1, u32::MAX - 1, 0.0, 1.0, Some(7)),
        }
    }

    /// Runs of every size (empty, one row, across the file and the tail, past a cursor's
    /// chunk) merge into the rows sorted by document, and `take` finds each document
    /// asked for in rising order and only those.
    #[test]
    fn placement_runs_merge_into_document_order() {
        let dir = tempfile::tempdir().unwrap();
        for tail in [4 << 10, TAIL_BYTES] {
            let records = RecordTable::with_tail(dir.path(), tail);
            let mut runs = PlacementRuns::beside(&records);
            // 20,000 documents, every third placed, dealt to runs of uneven sizes
            let placed: Vec<DocId> = (0..20_000).filter(|d| d % 3 != 1).collect();
            let mut want = Vec::new();
            let mut at = 0;
            for size in [0usize, 1, 5000, 2, 3000, 0, 1500].into_iter().cycle() {
                if at >= placed.len() {
                    break;
                }
                // a run's members spread over the documents, as a group's components'
                // are (7919 is prime to 20,000: distinct documents stay distinct)
                let mut run: Vec<PlacedRow> = placed[at..(at + size).min(placed.len())]
                    .iter()
                    .rev()
                    .map(|&d| PlacedRow {
                        doc: d * 7919 % 20_000,
                        rep: d / 2,
                        score: (d % 2 == 0).then(|| (1.0 / f64::from(d + 1), 0.5)),
                        split_from: (d % 5 == 0).then_some(d + 1),
                    })
                    .collect();
                at += size;
                want.extend(run.iter().copied());
                runs.push_run(&mut run).unwrap();
                assert!(run.is_empty());
            }
            want.sort_by_key(|r| r.doc);
            assert_eq!(runs.len(), want.len() as u64);
            assert_eq!(runs.to_vec().unwrap(), want);
            let mut merged = runs.merged();
            let mut found = 0;
            for d in 0..20_000 {
                match merged.take(d).unwrap() {
                    Some(r) => {
                        assert_eq!(r.doc, d);
                        found += 1;
                    }
                    None => assert!(want.binary_search_by_key(&d, |r| r.doc).is_err()),
                }
            }
            assert_eq!(found, want.len());
            assert_eq!(merged.next().unwrap(), None);
        }
    }

    /// Pairs come back exactly (the scores' bits too) and in the order appended, whether
    /// they went to the file or stayed in the tail, and scanned a chunk at a time.
    #[test]
    fn the_edge_table_gives_back_the_pairs_in_the_order_appended() {
        let dir = tempfile::tempdir().unwrap();
        for (tail, n) in [
            (4 << 10, 0u32),
            (4 << 10, 1),
            (4 << 10, 5_000),
            (TAIL_BYTES, 50_000),
        ] {
            let records = RecordTable::with_tail(dir.path(), tail);
            let mut t = EdgeTable::beside(&records);
            let want: Vec<Edge> = (0..n)
                .map(|i| Edge {
                    a: i.wrapping_mul(7919) % 100_003,
                    b: u32::MAX - i,
                    jaccard: 1.0 / f64::from(i + 3),
                    containment: f64::from(i % 17) / 3.0,
                })
                .collect();
            for &e in &want {
                AcceptedPairs::push(&mut t, e).unwrap();
            }
            assert_eq!(AcceptedPairs::len(&t), u64::from(n));
            assert_eq!(t.is_empty(), n == 0);
            // past the tail, most pairs are in the file
            assert_eq!(
                t.file_bytes() > 0,
                n as usize * EDGE_BYTES > tail,
                "{tail} {n}"
            );
            assert_eq!(t.to_vec().unwrap(), want);
            let mut seen = Vec::new();
            t.scan(&mut |e| {
                seen.push(e);
                Ok(())
            })
            .unwrap();
            assert!(
                seen.iter()
                    .zip(&want)
                    .all(|(a, b)| a.jaccard.to_bits() == b.jaccard.to_bits() && a == b)
            );
            assert_eq!(seen.len(), want.len());
        }
    }

    /// Under a tiny tail (runs of 16 KiB, many of them) and the default (one run), the
    /// groups are those of one sort of every duplicate by cluster and record, filtered by
    /// `keep`, and `each` sees every row in order.
    #[test]
    fn duplicates_by_cluster_are_one_sort_in_runs_of_any_size() {
        let dir = tempfile::tempdir().unwrap();
        let n = 30_000usize;
        // clusters numbered out of record order, of every size, some records alone or
        // unread
        let row = |i: usize| match i % 7 {
            0 => Assignment::UNREAD,
            1 => Assignment::kept(i as u64, None),
            _ => Assignment::duplicate(
                (i * 7919 % 997) as u64,
                (i * 7919 % 997) as u32 + 1_000_000,
                1.0 / (i + 1) as f64,
                0.5,
                None,
            ),
        };
        let mut want: Vec<ClusterDuplicate> = (0..n)
            .filter_map(|i| {
                let a = row(i);
                Some(ClusterDuplicate {
                    cluster: a.cluster()?,
                    record: i as u32,
                    rep: a.duplicate_of()?,
                    similarity: a.similarity().unwrap_or(1.0),
                })
            })
            .collect();
        want.sort_by_key(|d| (d.cluster, d.record));
        let keep = |g: &[ClusterDuplicate]| !g[0].cluster.is_multiple_of(3);
        let want: Vec<Vec<ClusterDuplicate>> = want
            .chunk_by(|a, b| a.cluster == b.cluster)
            .filter(|g| keep(g))
            .map(<[_]>::to_vec)
            .collect();
        assert!(want.len() > 500);
        for tail in [4 << 10, TAIL_BYTES] {
            let records = RecordTable::with_tail(dir.path(), tail);
            let mut table = AssignmentTable::beside(&records);
            for i in 0..n {
                table.push(row(i)).unwrap();
            }
            let mut seen = 0;
            let dups = table
                .duplicates_by_cluster(
                    |i, a| {
                        assert_eq!((i, a), (seen, row(seen)));
                        seen += 1;
                    },
                    keep,
                )
                .unwrap();
            assert_eq!(seen, n);
            assert_eq!(dups.file_bytes() > 0, tail < TAIL_BYTES, "{tail}");
            assert_eq!(dups.len(), want.len());
            for (k, g) in want.iter().enumerate() {
                assert_eq!(&dups.group(k).unwrap(), g, "cluster {k}");
            }
        }
    }

    #[test]
    fn the_assignment_table_gives_back_every_row_at_random_in_ranges_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        // 3.3 MB of rows: most in the file, the last in the tail
        let n = 100_000;
        let want: Vec<Assignment> = (0..n).map(assignment).collect();
        let table = AssignmentTable::from_slice(dir.path(), &want).unwrap();
        assert_eq!(table.len(), n);
        assert!(
            table.file_bytes() >= 3 * (1 << 20),
            "{}",
            table.file_bytes()
        );
        assert!(table.file_bytes() < (n * ASSIGNMENT_BYTES) as u64);
        assert_eq!(table.to_vec().unwrap(), want);
        // rows on both sides of the boundary between the file and the tail
        let boundary = table.file_bytes() as usize / ASSIGNMENT_BYTES;
        for i in [0, 1, boundary - 1, boundary, boundary + 1, n - 1]
            .into_iter()
            .chain((0..n).step_by(997))
        {
            assert_eq!(table.get(i).unwrap(), want[i], "row {i}");
        }
        for (start, end) in [(0, 0), (5, 6), (boundary - 3, boundary + 3), (n - 10, n)] {
            assert_eq!(table.range(start, end).unwrap(), &want[start..end]);
        }
        let mut seen = Vec::new();
        table
            .scan_range(boundary - 40_000, n, |i, a| {
                seen.push((i, a));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), n - boundary + 40_000);
        assert!(seen.iter().all(|&(i, a)| want[i] == a));
        // the reader, in rising order with jumps, then back
        let mut reader = table.reader();
        for i in (0..n).step_by(3).chain([n - 1, 0, 40_000]) {
            assert_eq!(reader.get(i).unwrap(), want[i], "row {i}");
        }
        let doubled = table.map(|i, a| a.in_cluster(i as u64 * 2)).unwrap();
        assert_eq!(doubled.len(), n);
        doubled
            .scan(|i, a| {
                assert_eq!(a, want[i].in_cluster(i as u64 * 2));
                Ok(())
            })
            .unwrap();
        // an empty table reads as one
        let empty = AssignmentTable::new(dir.path());
        assert!(empty.is_empty() && empty.to_vec().unwrap().is_empty());
    }

    #[test]
    fn packed_assignments_give_back_what_they_were_built_with() {
        let dup = Assignment::duplicate(7, 3, 0.875, 1.0, Some(2));
        assert_eq!(dup.cluster(), Some(7));
        assert!(!dup.keep());
        assert_eq!(dup.duplicate_of(), Some(3));
        assert_eq!(dup.similarity(), Some(0.875));
        assert_eq!(dup.containment(), Some(1.0));
        assert_eq!(dup.split_from(), Some(2));
        assert_eq!(dup.in_cluster(9).cluster(), Some(9));
        let kept = Assignment::kept(0, None);
        assert_eq!((kept.cluster(), kept.keep()), (Some(0), true));
        assert_eq!(
            (kept.duplicate_of(), kept.similarity(), kept.split_from()),
            (None, None, None)
        );
        let unread = Assignment::UNREAD;
        assert_eq!((unread.cluster(), unread.keep()), (None, false));
        assert_eq!(Assignment::stored(None, false), unread);
        assert_eq!(Assignment::stored(Some(4), true), Assignment::kept(4, None));
        // the JSON shape is that of the unpacked fields
        assert_eq!(
            serde_json::to_string(&dup).unwrap(),
            r#"{"cluster":7,"keep":false,"duplicate_of":3,"similarity":0.875,"containment":1.0,"split_from":2}"#
        );
        assert_eq!(
            serde_json::to_string(&unread).unwrap(),
            r#"{"cluster":null,"keep":false,"duplicate_of":null,"similarity":null,"containment":null,"split_from":null}"#
        );
    }
}
