//! The persistent index (`dedup --index DIR`): every document seen by earlier runs, kept so
//! that a new batch is compared with all of them without reading the archive's text again.
//!
//! An index directory holds a `MANIFEST` (the live segments, the parameters, the run
//! count; replaced atomically by rename), a `LOCK` (held by the one writer, naming its
//! pid) and `segments/NAME/`, one directory per run that added documents (or one per
//! compaction), each holding, in `store` files (magic, format version, parameters'
//! digest, checksum):
//!
//! | file | what |
//! |---|---|
//! | `records` | every record of the run in input order: run, id, date, outlet, status |
//! | `sets.idx`, `sets.dat` | each compared document's paragraph record (the spill record), with offsets, a checksum each, sizes and the paragraphs left out |
//! | `bands` | each document's band keys, and its opening keys |
//! | `paragraphs` | per outlet group, the documents and the paragraph-key counts (boilerplate) |
//! | `clusters` | the cluster table of every record up to this segment: stable cluster id, kept or not, component |
//!
//! A run loads the archive's records, band keys and set-store offsets (not its text),
//! puts them before the batch's (`pipeline::Archive`), finds candidates over all band
//! keys, and then verifies and places only the components (documents joined by accepted
//! pairs) that a batch document is a candidate of: every other archived pair would be
//! decided as before, since nothing new is joined to either side. So the batch's records
//! get exactly the clusters and representatives a full run over everything would give
//! them (with the paragraph stage off, and no LSH bucket over `max_bucket`; see
//! docs/index.md). Archived decisions about boilerplate stand: an archived document keeps
//! the paragraphs its own run left out.
//!
//! Cluster ids with an index are the index position (0-based, over all runs) of the
//! cluster's first record: a cluster only ever gains members, so its id never changes;
//! when a late document joins two clusters the union keeps the smaller id.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cluster::UnionFind;
use crate::document::{PackedPosition, Position};
use crate::error::{Error, Result, SkipReason};
use crate::ids::{DocId, DocLists, Pair};
use crate::lsh::BandTable;
use crate::output::DirLock;
use crate::output::schema::IndexRun;
use crate::params::{CandidateMethod, Params, ValidParams, VerifyMethod};
use crate::pipeline::{Archive, RunOptions, run_with};
use crate::progress::Progress;
use crate::records::{Archived, Assignment, Dedup, RecordMeta, Records, Status};
use crate::sketch::pass::{CleanArticles, ParagraphIndex};
use crate::spill::{Scratch, ShingleSets};
use crate::store::{self, Decoder, Encoder};

/// The manifest's file name in an index directory.
pub const MANIFEST: &str = "MANIFEST";
/// The lock file's name in an index directory.
pub const LOCK: &str = "LOCK";
/// The directory of the segments.
pub const SEGMENTS: &str = "segments";
/// A segment being written: a directory of this prefix is never live.
const TEMP_PREFIX: &str = ".tmp-";

const NO_CLUSTER: u64 = u64::MAX;

/// The current version of an index: what `MANIFEST` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The parameters every segment was written under, as validated.
    pub params: Params,
    /// `store::params_digest` of them, in hex.
    pub params_digest: String,
    /// Runs that added documents so far.
    pub runs: u64,
    /// The live segments, in archive order.
    pub segments: Vec<SegmentEntry>,
    /// The segment whose `clusters` file is the current cluster table.
    pub clusters: String,
}

/// One live segment, as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Its directory under `segments/`.
    pub name: String,
    /// The first and last run whose records it holds.
    pub runs: (u64, u64),
    /// Records it holds.
    pub records: u64,
    /// Compared documents among them.
    pub docs: u64,
}

/// How a run uses an index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// The index directory (created by the first run).
    pub dir: PathBuf,
    /// Compare with the index without adding the batch to it (`--index-readonly`).
    pub readonly: bool,
}

fn index_error(dir: &Path, message: impl Into<String>) -> Error {
    Error::Index {
        dir: dir.to_path_buf(),
        message: message.into(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Refuses what an index cannot hold: candidates or scores that depend on the whole
/// corpus (SimHash's tf-idf weights) or on per-document data the index does not keep
/// (signatures for estimated verification, SimHash fingerprints).
fn check_supported(dir: &Path, params: &ValidParams) -> Result<()> {
    if params.candidates.method != CandidateMethod::MinHash {
        return Err(index_error(
            dir,
            "an index keeps MinHash band keys only: use --method minhash (the default) with \
             --index",
        ));
    }
    if params.verify.method != VerifyMethod::Exact {
        return Err(index_error(
            dir,
            "an index verifies from its stored sets: use --verify exact (the default) with \
             --index",
        ));
    }
    Ok(())
}

/// Every leaf of a JSON value, by dotted path.
fn leaves(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, x, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The parameters of `now` that differ from the index's, each as `name: index has X, this
/// run Y`.
fn params_differences(index: &Params, now: &Params) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves(
        "",
        &serde_json::to_value(index).expect("params serialize"),
        &mut a,
    );
    leaves(
        "",
        &serde_json::to_value(now).expect("params serialize"),
        &mut b,
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let none = "(none)".to_owned();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}: index has {}, this run {}",
                a.get(k).unwrap_or(&none),
                b.get(k).unwrap_or(&none)
            )
        })
        .collect()
}

/// Reads `dir`'s manifest, `None` when there is none (an index not created yet).
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(None);
    }
    let body = store::read(&path, "manifest", None)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| store::corrupt(&path, format!("not a manifest: {e}")))
}

fn write_manifest(dir: &Path, m: &Manifest, digest: u128) -> Result<()> {
    let body = serde_json::to_vec_pretty(m).expect("a manifest serializes");
    store::write(&dir.join(MANIFEST), "manifest", digest, &body)
}

fn parse_digest(dir: &Path, m: &Manifest) -> Result<u128> {
    u128::from_str_radix(&m.params_digest, 16)
        .map_err(|_| store::corrupt(&dir.join(MANIFEST), "params_digest is not hex"))
}

/// One record of a segment's record table.
#[derive(Debug, Clone, PartialEq)]
struct RecordRow {
    run: u64,
    id: String,
    date: Option<String>,
    outlet: Option<String>,
    status: Status,
}

fn status_from(s: &str) -> Option<Status> {
    match s {
        "ok" => Some(Status::Ok),
        "empty" => Some(Status::Empty),
        other => SkipReason::ALL
            .iter()
            .find(|r| r.as_str() == other)
            .map(|&r| Status::Skipped(r)),
    }
}

fn encode_records(rows: &[RecordRow]) -> Vec<u8> {
    let mut e = Encoder::default();
    e.count(rows.len());
    for r in rows {
        e.u64(r.run);
        e.str(&r.id);
        e.opt_str(r.date.as_deref());
        e.opt_str(r.outlet.as_deref());
        e.str(r.status.as_str());
    }
    e.buf
}

fn decode_records(path: &Path, body: &[u8]) -> Result<Vec<RecordRow>> {
    let mut d = Decoder::new(path, body);
    let n = d.count()?;
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        let run = d.u64()?;
        let id = d.str()?.to_owned();
        let date = d.opt_str()?.map(str::to_owned);
        let outlet = d.opt_str()?.map(str::to_owned);
        let s = d.str()?;
        let status = status_from(s).ok_or_else(|| d.error(format!("unknown status {s:?}")))?;
        rows.push(RecordRow {
            run,
            id,
            date,
            outlet,
            status,
        });
    }
    d.finish()?;
    Ok(rows)
}

/// The index of a segment's set store: where each document's record lies in `sets.dat`
/// (offsets into its body), its checksum, its size and the paragraphs left out.
#[derive(Debug, Default)]
struct SetsIndex {
    offsets: Vec<u64>,
    digests: Vec<u64>,
    sizes: Vec<u32>,
    removed: Vec<(u32, Vec<u32>)>,
}

impl SetsIndex {
    fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.count(self.digests.len());
        for &o in &self.offsets {
            e.u64(o);
        }
        for &x in &self.digests {
            e.u64(x);
        }
        e.u32s(&self.sizes);
        e.count(self.removed.len());
        for (d, r) in &self.removed {
            e.u32(*d);
            e.u32s(r);
        }
        e.buf
    }

    fn decode(path: &Path, body: &[u8]) -> Result<Self> {
        let mut d = Decoder::new(path, body);
        let n = d.count()?;
        let offsets = (0..=n).map(|_| d.u64()).collect::<Result<Vec<_>>>()?;
        let digests = (0..n).map(|_| d.u64()).collect::<Result<Vec<_>>>()?;
        let sizes = d.u32s()?;
        let k = d.count()?;
        let removed = (0..k)
            .map(|_| Ok((d.u32()?, d.u32s()?)))
            .collect::<Result<Vec<_>>>()?;
        if sizes.len() != n || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(d.error("sizes or offsets do not fit the document count"));
        }
        d.finish()?;
        Ok(SetsIndex {
            offsets,
            digests,
            sizes,
            removed,
        })
    }
}

/// A segment's band keys (document-major) and opening keys.
#[derive(Debug, Default)]
struct BandsFile {
    bands: usize,
    keys: Vec<u64>,
    openings: Vec<(u64, u32)>,
}

impl BandsFile {
    fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.count(self.bands);
        e.count(self.keys.len());
        for &k in &self.keys {
            e.u64(k);
        }
        e.count(self.openings.len());
        for &(k, d) in &self.openings {
            e.u64(k);
            e.u32(d);
        }
        e.buf
    }

    fn decode(path: &Path, body: &[u8]) -> Result<Self> {
        let mut d = Decoder::new(path, body);
        let bands = d.count()?;
        let n = d.count()?;
        let keys = (0..n).map(|_| d.u64()).collect::<Result<Vec<_>>>()?;
        let m = d.count()?;
        let openings = (0..m)
            .map(|_| Ok((d.u64()?, d.u32()?)))
            .collect::<Result<Vec<_>>>()?;
        if bands == 0 && n > 0 || bands > 0 && n % bands != 0 {
            return Err(d.error("the keys are not a whole number of documents"));
        }
        d.finish()?;
        Ok(BandsFile {
            bands,
            keys,
            openings,
        })
    }

    fn docs(&self) -> usize {
        self.keys.len().checked_div(self.bands).unwrap_or(0)
    }
}

/// Per outlet group: documents, and documents holding each paragraph key.
#[derive(Debug, Default)]
struct ParagraphCounts {
    /// `(group name, documents)`.
    groups: Vec<(String, u64)>,
    /// `(group index, paragraph hash, documents)`, sorted.
    keys: Vec<(u32, u64, u64)>,
}

impl ParagraphCounts {
    fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.count(self.groups.len());
        for (name, n) in &self.groups {
            e.str(name);
            e.u64(*n);
        }
        e.count(self.keys.len());
        for &(g, h, n) in &self.keys {
            e.u32(g);
            e.u64(h);
            e.u64(n);
        }
        e.buf
    }

    fn decode(path: &Path, body: &[u8]) -> Result<Self> {
        let mut d = Decoder::new(path, body);
        let n = d.count()?;
        let groups = (0..n)
            .map(|_| Ok((d.str()?.to_owned(), d.u64()?)))
            .collect::<Result<Vec<_>>>()?;
        let m = d.count()?;
        let keys = (0..m)
            .map(|_| Ok((d.u32()?, d.u64()?, d.u64()?)))
            .collect::<Result<Vec<_>>>()?;
        if keys.iter().any(|&(g, _, _)| g as usize >= groups.len()) {
            return Err(d.error("a paragraph key names a group that is not there"));
        }
        d.finish()?;
        Ok(ParagraphCounts { groups, keys })
    }

    /// Adds `other`'s counts, by group name.
    fn merge(&mut self, other: &ParagraphCounts) {
        let mut index: HashMap<String, u32> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i as u32))
            .collect();
        let mut counts: HashMap<(u32, u64), u64> =
            self.keys.iter().map(|&(g, h, n)| ((g, h), n)).collect();
        let mut map = Vec::with_capacity(other.groups.len());
        for (name, n) in &other.groups {
            let g = *index.entry(name.clone()).or_insert_with(|| {
                self.groups.push((name.clone(), 0));
                (self.groups.len() - 1) as u32
            });
            self.groups[g as usize].1 += n;
            map.push(g);
        }
        for &(g, h, n) in &other.keys {
            *counts.entry((map[g as usize], h)).or_default() += n;
        }
        self.keys = counts.into_iter().map(|((g, h), n)| (g, h, n)).collect();
        self.keys.sort_unstable();
    }
}

/// One row of the cluster table, per record of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClusterRow {
    /// Its stable cluster id (`NO_CLUSTER` for a record that could not be read).
    cluster: u64,
    /// Whether it is its cluster's representative.
    keep: bool,
    /// Its component (the documents joined by accepted pairs, before the star check
    /// splits them), named by the index position of its first record: a run reconsiders
    /// only the components its documents touch.
    component: u64,
}

fn encode_clusters(rows: &[ClusterRow]) -> Vec<u8> {
    let mut e = Encoder::default();
    e.count(rows.len());
    for r in rows {
        e.u64(r.cluster);
        e.u8(u8::from(r.keep));
        e.u64(r.component);
    }
    e.buf
}

fn decode_clusters(path: &Path, body: &[u8]) -> Result<Vec<ClusterRow>> {
    let mut d = Decoder::new(path, body);
    let n = d.count()?;
    let rows = (0..n)
        .map(|_| {
            Ok(ClusterRow {
                cluster: d.u64()?,
                keep: d.u8()? != 0,
                component: d.u64()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    d.finish()?;
    Ok(rows)
}

/// The files of one segment, as read back.
struct Segment {
    records: Vec<RecordRow>,
    sets: SetsIndex,
    bands: BandsFile,
    paragraphs: ParagraphCounts,
}

fn segment_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(SEGMENTS).join(name)
}

impl Segment {
    /// Reads a live segment's small files, each checked whole; `sets.dat` is checked
    /// record by record as it is read (`ShingleSets`), or whole by `verify`.
    fn read(seg: &Path, digest: u128, entry: &SegmentEntry) -> Result<Self> {
        let file = |name: &str| seg.join(name);
        let records = decode_records(
            &file("records"),
            &store::read(&file("records"), "records", Some(digest))?,
        )?;
        let sets = SetsIndex::decode(
            &file("sets.idx"),
            &store::read(&file("sets.idx"), "setsidx", Some(digest))?,
        )?;
        let bands = BandsFile::decode(
            &file("bands"),
            &store::read(&file("bands"), "bands", Some(digest))?,
        )?;
        let paragraphs = ParagraphCounts::decode(
            &file("paragraphs"),
            &store::read(&file("paragraphs"), "paras", Some(digest))?,
        )?;
        let docs = records.iter().filter(|r| r.status == Status::Ok).count();
        let mismatch = |what: &str, n: usize, want: u64| {
            store::corrupt(
                &file(what),
                format!(
                    "holds {n} entries where the manifest names {want} (records {}, \
                     documents {})",
                    entry.records, entry.docs
                ),
            )
        };
        if records.len() as u64 != entry.records {
            return Err(mismatch("records", records.len(), entry.records));
        }
        if docs as u64 != entry.docs {
            return Err(mismatch("records", docs, entry.docs));
        }
        if sets.digests.len() != docs {
            return Err(mismatch("sets.idx", sets.digests.len(), entry.docs));
        }
        if bands.docs() != docs {
            return Err(mismatch("bands", bands.docs(), entry.docs));
        }
        if let Some(r) = records
            .iter()
            .find(|r| r.run < entry.runs.0 || r.run > entry.runs.1)
        {
            return Err(store::corrupt(
                &file("records"),
                format!(
                    "record {:?} says run {}, outside the segment's runs {}-{}",
                    r.id, r.run, entry.runs.0, entry.runs.1
                ),
            ));
        }
        Ok(Segment {
            records,
            sets,
            bands,
            paragraphs,
        })
    }

    /// Opens `sets.dat` for reading by document.
    fn open_sets(&self, seg: &Path) -> Result<ShingleSets> {
        let path = seg.join("sets.dat");
        let file = std::fs::File::open(&path).map_err(|e| io_error(&path, e))?;
        let size = file.metadata().map_err(|e| io_error(&path, e))?.len();
        let end = self.sets.offsets.last().copied().unwrap_or(0);
        if end + (store::HEADER + 16) as u64 != size {
            return Err(store::corrupt(
                &path,
                format!(
                    "{size} bytes where sets.idx needs {}: cut short or extended",
                    end + (store::HEADER + 16) as u64
                ),
            ));
        }
        let offsets = self
            .sets
            .offsets
            .iter()
            .map(|&o| o + store::HEADER as u64)
            .collect();
        Ok(ShingleSets::from_file(
            path,
            file,
            offsets,
            Some(self.sets.digests.clone()),
        ))
    }
}

/// Writes a segment's files into `seg` (which exists): everything but `sets.dat`, which
/// the caller streams.
fn write_segment_files(seg: &Path, digest: u128, s: &Segment) -> Result<()> {
    store::write(
        &seg.join("records"),
        "records",
        digest,
        &encode_records(&s.records),
    )?;
    store::write(&seg.join("sets.idx"), "setsidx", digest, &s.sets.encode())?;
    store::write(&seg.join("bands"), "bands", digest, &s.bands.encode())?;
    store::write(
        &seg.join("paragraphs"),
        "paras",
        digest,
        &s.paragraphs.encode(),
    )
}

/// Streams the first `n` records of each `(sets, n)` of `sources`, in order, into
/// `seg/sets.dat`, filling `index`'s offsets and checksums.
fn write_sets(
    seg: &Path,
    digest: u128,
    sources: &[(&ShingleSets, usize)],
    index: &mut SetsIndex,
) -> Result<()> {
    index.offsets = vec![0];
    index.digests.clear();
    let mut len = 0u64;
    // one pass for the length the header needs, one to copy: the page cache holds them
    for &(sets, n) in sources {
        for d in 0..n {
            let b = sets.read_bytes(d as DocId)?;
            len += b.len() as u64;
            index.offsets.push(len);
            index.digests.push(xxhash_rust::xxh3::xxh3_64(&b));
        }
    }
    store::write_stream(&seg.join("sets.dat"), "setsdat", digest, len, |sink| {
        for &(sets, n) in sources {
            for d in 0..n {
                sink(&sets.read_bytes(d as DocId)?)?;
            }
        }
        Ok(())
    })
}

/// An open index: its directory, manifest (`None` until the first run adds one) and, for
/// a writer, its lock.
pub struct Index {
    dir: PathBuf,
    manifest: Option<Manifest>,
    digest: u128,
    _lock: Option<DirLock>,
}

impl Index {
    /// Opens `dir` for writing (`readonly` false: takes the lock, failing at once when
    /// another writer holds it; creates the directory) or for reading.
    pub fn open(dir: &Path, readonly: bool) -> Result<Self> {
        if readonly && !dir.join(MANIFEST).exists() {
            return Err(index_error(
                dir,
                "no index here (no MANIFEST): a read-only run needs an index made by an \
                 earlier run",
            ));
        }
        let lock = if readonly {
            None
        } else {
            std::fs::create_dir_all(dir.join(SEGMENTS)).map_err(|e| Error::output(dir, e))?;
            Some(DirLock::try_acquire(&dir.join(LOCK))?.map_err(|holder| {
                index_error(
                    dir,
                    format!("in use by another neardup run ({holder}); wait for it to finish"),
                )
            })?)
        };
        let manifest = read_manifest(dir)?;
        let digest = match &manifest {
            Some(m) => parse_digest(dir, m)?,
            None => 0,
        };
        Ok(Index {
            dir: dir.to_path_buf(),
            manifest,
            digest,
            _lock: lock,
        })
    }

    /// The manifest, `None` for an index no run has added to yet.
    #[must_use]
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Refuses `params` when they differ from the index's, naming each difference.
    fn check_params(&mut self, params: &ValidParams) -> Result<()> {
        check_supported(&self.dir, params)?;
        let digest = store::params_digest(params);
        match &self.manifest {
            None => {
                self.digest = digest;
                Ok(())
            }
            Some(_) if digest == self.digest => Ok(()),
            Some(m) => {
                let diffs = params_differences(&m.params, params.get());
                Err(index_error(
                    &self.dir,
                    format!(
                        "this run's parameters would change the answer; the index was built \
                         with others ({}). Use the index's parameters (a run's config file: \
                         `neardup index info` shows them) or another --index",
                        if diffs.is_empty() {
                            "the parameters' digest differs".to_owned()
                        } else {
                            diffs.join("; ")
                        }
                    ),
                ))
            }
        }
    }

    /// Reads every live segment.
    fn segments(&self) -> Result<Vec<(SegmentEntry, Segment)>> {
        let Some(m) = &self.manifest else {
            return Ok(Vec::new());
        };
        m.segments
            .iter()
            .map(|e| {
                Ok((
                    e.clone(),
                    Segment::read(&segment_dir(&self.dir, &e.name), self.digest, e)?,
                ))
            })
            .collect()
    }

    /// The current cluster table.
    fn clusters(&self) -> Result<Vec<ClusterRow>> {
        let Some(m) = &self.manifest else {
            return Ok(Vec::new());
        };
        let path = segment_dir(&self.dir, &m.clusters).join("clusters");
        let rows = decode_clusters(&path, &store::read(&path, "clusters", Some(self.digest))?)?;
        let records: u64 = m.segments.iter().map(|s| s.records).sum();
        if rows.len() as u64 != records {
            return Err(store::corrupt(
                &path,
                format!("{} rows for the index's {records} records", rows.len()),
            ));
        }
        Ok(rows)
    }
}

/// Runs `dedup` on `inputs` against the index `index.dir` (created when absent), writing
/// the batch's outputs into `opts.out_dir` and then, unless read-only, adding the batch to
/// the index.
pub fn run(
    inputs: &[PathBuf],
    params: &ValidParams,
    opts: &RunOptions,
    index: &IndexOptions,
    progress: &dyn Progress,
) -> Result<crate::output::schema::Summary> {
    if opts.emit_clean {
        return Err(Error::params(
            "emit_clean",
            "--emit-clean reads the run's records again, and an index run's archived \
             records are not among its inputs: run --emit-clean without --index",
        ));
    }
    let mut ix = Index::open(&index.dir, index.readonly)?;
    ix.check_params(params)?;
    let mut archive = IndexArchive::load(ix, index.readonly)?;
    run_with(inputs, params, opts, progress, Some(&mut archive))
}

/// The archive as a run needs it, and what the run adds.
struct IndexArchive {
    index: Index,
    readonly: bool,
    rows: Vec<RecordRow>,
    sets: Vec<ShingleSets>,
    sizes: Vec<u32>,
    removed: DocLists<u32>,
    bands: usize,
    keys: Vec<u64>,
    openings: Vec<(u64, DocId)>,
    paragraphs: ParagraphCounts,
    clusters: Vec<ClusterRow>,
    docs: usize,
    /// The record of each archived document.
    doc_records: Vec<u32>,
    /// Per archived document: whether a batch document touches its component (set by
    /// `candidates`); the others keep their stored answer.
    in_scope: Vec<bool>,
    /// This run's segment, written into a temporary directory until `commit`.
    pending: Option<tempfile::TempDir>,
    /// The batch's own paragraph counts.
    batch_paragraphs: ParagraphCounts,
    batch_records: usize,
    batch_docs: usize,
    /// Every record's component after this run (see `ClusterRow::component`).
    components: Vec<u64>,
}

impl IndexArchive {
    fn load(index: Index, readonly: bool) -> Result<Self> {
        let mut a = IndexArchive {
            rows: Vec::new(),
            sets: Vec::new(),
            sizes: Vec::new(),
            removed: DocLists::default(),
            bands: 0,
            keys: Vec::new(),
            openings: Vec::new(),
            paragraphs: ParagraphCounts::default(),
            clusters: index.clusters()?,
            docs: 0,
            doc_records: Vec::new(),
            in_scope: Vec::new(),
            pending: None,
            batch_paragraphs: ParagraphCounts::default(),
            batch_records: 0,
            batch_docs: 0,
            components: Vec::new(),
            readonly,
            index,
        };
        for (entry, seg) in a.index.segments()? {
            let base = a.docs as DocId;
            a.sets
                .push(seg.open_sets(&segment_dir(&a.index.dir, &entry.name))?);
            a.sizes.extend_from_slice(&seg.sets.sizes);
            for (d, r) in &seg.sets.removed {
                a.removed.push(base + d, r);
            }
            a.bands = seg.bands.bands;
            a.keys.extend_from_slice(&seg.bands.keys);
            a.openings
                .extend(seg.bands.openings.iter().map(|&(k, d)| (k, base + d)));
            a.paragraphs.merge(&seg.paragraphs);
            a.docs += seg.sets.digests.len();
            for r in seg.records {
                if r.status == Status::Ok {
                    a.doc_records.push(a.rows.len() as u32);
                }
                a.rows.push(r);
            }
        }
        Ok(a)
    }

    fn run_number(&self) -> u64 {
        self.index.manifest.as_ref().map_or(0, |m| m.runs) + 1
    }
}

impl Archive for IndexArchive {
    fn before_clean(&mut self, index: &mut ParagraphIndex) -> Result<()> {
        // the batch's own counts, for its segment
        let mut keys: Vec<(u32, u64, u64)> = Vec::new();
        index
            .keys
            .for_each_count(|(g, h), n| keys.push((g, h, n)))?;
        self.batch_paragraphs = ParagraphCounts {
            groups: index
                .group_names
                .iter()
                .cloned()
                .zip(index.group_docs.iter().copied())
                .collect(),
            keys,
        };
        // and the archive's, added to the batch's when its boilerplate is decided
        let archived: HashMap<&str, u32> = self
            .paragraphs
            .groups
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i as u32))
            .collect();
        let mut to_batch: HashMap<u32, u32> = HashMap::new();
        for (g, name) in index.group_names.iter().enumerate() {
            if let Some(&a) = archived.get(name.as_str()) {
                index.group_docs[g] += self.paragraphs.groups[a as usize].1;
                to_batch.insert(a, g as u32);
            }
        }
        for &(a, h, n) in &self.paragraphs.keys {
            if let Some(&g) = to_batch.get(&a) {
                index.prior.insert((g, h), n);
            }
        }
        Ok(())
    }

    fn prepend(
        &mut self,
        records: &mut Records,
        cleaned: &mut CleanArticles,
        params: &ValidParams,
        scratch: &Scratch,
    ) -> Result<()> {
        let batch_docs = records.doc_records.len();
        let bands = params.bands();
        if self.docs > 0 && self.bands != bands {
            return Err(index_error(
                &self.index.dir,
                format!(
                    "the index holds {} bands a document, this run {bands}",
                    self.bands
                ),
            ));
        }
        self.batch_records = records.metas.len();
        self.batch_docs = batch_docs;
        let batch_spill = std::mem::replace(&mut cleaned.records, ShingleSets::chain(Vec::new()));
        if !self.readonly {
            let seg = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempdir_in(self.index.dir.join(SEGMENTS))
                .map_err(|e| Error::output(&self.index.dir, e))?;
            let run = self.run_number();
            let mut sets = SetsIndex {
                sizes: cleaned.sizes.clone(),
                removed: cleaned
                    .removed
                    .iter()
                    .map(|(d, r)| (d, r.to_vec()))
                    .collect(),
                ..SetsIndex::default()
            };
            write_sets(
                seg.path(),
                self.index.digest,
                &[(&batch_spill, batch_docs)],
                &mut sets,
            )?;
            let segment = Segment {
                records: records
                    .metas
                    .iter()
                    .map(|m| RecordRow {
                        run,
                        id: m.id.to_string(),
                        date: m.date.as_deref().map(str::to_owned),
                        outlet: records.outlet(m).map(str::to_owned),
                        status: m.status,
                    })
                    .collect(),
                sets,
                bands: BandsFile {
                    bands,
                    keys: cleaned.keys.clone(),
                    openings: cleaned.openings.clone(),
                },
                paragraphs: std::mem::take(&mut self.batch_paragraphs),
            };
            write_segment_files(seg.path(), self.index.digest, &segment)?;
            self.pending = Some(seg);
        }

        // the archive's records, then the batch's
        let base_records = self.rows.len();
        let base_docs = self.docs as DocId;
        let mut all = Records::default();
        for row in &self.rows {
            let outlet = row.outlet.clone().map(|o| all.outlet_id(o));
            let doc = (row.status == Status::Ok).then(|| {
                let d = all.doc_records.len() as DocId;
                all.doc_records.push(all.metas.len() as u32);
                d
            });
            all.metas.push(RecordMeta {
                id: row.id.as_str().into(),
                date: row.date.as_deref().map(Into::into),
                outlet,
                // archived records are never written to docs.jsonl, where these go
                source: 0,
                position: PackedPosition::from(Position::Line(0)),
                status: row.status,
                doc,
                raw_digest: 0,
            });
        }
        let batch = std::mem::take(records);
        for mut m in batch.metas {
            m.outlet = m
                .outlet
                .map(|o| all.outlet_id(batch.outlets[o as usize].clone()));
            m.doc = m.doc.map(|d| d + base_docs);
            all.metas.push(m);
        }
        let shift = u32::try_from(base_records).map_err(|_| {
            index_error(
                &self.index.dir,
                "more than 2^32 records: too many for one index",
            )
        })?;
        all.doc_records
            .extend(batch.doc_records.iter().map(|&r| r + shift));
        all.repeats = batch
            .repeats
            .into_iter()
            .map(|(d, r)| (d + base_docs, r))
            .collect();
        all.boilerplate = DocLists::default();
        all.boilerplate
            .extend_shifted(&batch.boilerplate, base_docs);
        *records = all;

        let mut table = BandTable::with_budget(bands, scratch.band_budget(), &scratch.dir);
        for doc in self.keys.chunks(bands.max(1)) {
            table.push(doc)?;
        }
        for doc in cleaned.keys.chunks(bands.max(1)) {
            table.push(doc)?;
        }
        cleaned.table = table;
        let mut openings = std::mem::take(&mut self.openings);
        openings.extend(cleaned.openings.iter().map(|&(k, d)| (k, d + base_docs)));
        cleaned.openings = openings;
        let mut parts = std::mem::take(&mut self.sets);
        parts.push(batch_spill);
        cleaned.records = ShingleSets::chain(parts);
        let mut removed = std::mem::take(&mut self.removed);
        removed.extend_shifted(&cleaned.removed, base_docs);
        cleaned.removed = removed;
        let mut sizes = std::mem::take(&mut self.sizes);
        sizes.extend_from_slice(&cleaned.sizes);
        cleaned.sizes = sizes;
        Ok(())
    }

    fn candidates(&mut self, pairs: &mut Vec<Pair>) {
        let first_new = self.docs as DocId;
        let component = |d: DocId| self.clusters[self.doc_records[d as usize] as usize].component;
        let touched: HashSet<u64> = pairs
            .iter()
            .filter(|&&(a, b)| a < first_new && b >= first_new)
            .map(|&(a, _)| component(a))
            .collect();
        self.in_scope = (0..first_new)
            .map(|d| touched.contains(&component(d)))
            .collect();
        let in_scope = |d: DocId| d >= first_new || self.in_scope[d as usize];
        pairs.retain(|&(a, b)| in_scope(a) && in_scope(b));
    }

    fn after_cluster(&mut self, dedup: &mut Dedup) -> Result<()> {
        let archived = self.rows.len();
        // stable ids: the position of each cluster's first record
        let mut first: HashMap<u64, u64> = HashMap::new();
        for (i, a) in dedup.assignments.iter_mut().enumerate() {
            if let Some(c) = a.cluster() {
                *a = a.in_cluster(*first.entry(c).or_insert(i as u64));
            }
        }
        // the archived records no batch document touched keep what their runs decided
        // (this run saw none of their pairs; see `candidates`)
        let metas = &dedup.records.metas;
        for (i, a) in dedup.assignments[..archived].iter_mut().enumerate() {
            let touched = metas[i].doc.is_some_and(|d| self.in_scope[d as usize]);
            if !touched {
                let row = self.clusters[i];
                *a = Assignment::stored(
                    (row.cluster != NO_CLUSTER).then_some(row.cluster),
                    row.keep,
                );
            }
        }
        // components, for the next run's scope: of the touched, from this run's edges
        let mut uf = UnionFind::new(dedup.records.doc_records.len());
        for e in &dedup.edges {
            uf.union(e.a, e.b);
        }
        let mut first_of_root: HashMap<DocId, u64> = HashMap::new();
        self.components = (0..metas.len())
            .map(|i| match metas[i].doc {
                Some(d) if i >= archived || self.in_scope[d as usize] => {
                    *first_of_root.entry(uf.find(d)).or_insert(i as u64)
                }
                _ if i < archived => self.clusters[i].component,
                _ => i as u64,
            })
            .collect();
        let mut size: HashMap<u64, u64> = HashMap::new();
        let mut rep: HashMap<u64, u32> = HashMap::new();
        for (i, a) in dedup.assignments.iter().enumerate() {
            if let Some(c) = a.cluster() {
                *size.entry(c).or_default() += 1;
                if a.keep() {
                    rep.insert(c, i as u32);
                }
            }
        }
        // what the representative of each touched cluster was before this run
        let before: HashMap<u64, u32> = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(_, r)| r.keep && r.cluster != NO_CLUSTER)
            .map(|(i, r)| (r.cluster, i as u32))
            .collect();
        let mut previous = BTreeMap::new();
        let mut touched = std::collections::BTreeSet::new();
        for a in &dedup.assignments[archived..] {
            if let Some(c) = a.cluster() {
                touched.insert(c);
            }
        }
        for &c in &touched {
            if let (Some(&old), Some(&new)) = (before.get(&c), rep.get(&c))
                && old != new
            {
                previous.insert(c, old);
            }
        }
        // the batch's counts: of its records, not the archive's
        let counts = &mut dedup.summary.counts;
        counts.clusters = touched
            .iter()
            .filter(|c| size.get(c).copied().unwrap_or(0) > 1)
            .count() as u64;
        counts.docs_in_clusters = 0;
        counts.duplicates = 0;
        counts.kept = 0;
        for a in &dedup.assignments[archived..] {
            if a.cluster().is_some_and(|c| size[&c] > 1) {
                counts.docs_in_clusters += 1;
            }
            if a.duplicate_of().is_some() {
                counts.duplicates += 1;
            }
            if a.keep() {
                counts.kept += 1;
            }
        }
        let run = self.run_number();
        dedup.summary.index = Some(IndexRun {
            dir: self.index.dir.clone(),
            run,
            added: !self.readonly,
            archived_records: archived as u64,
            archived_docs: self.docs as u64,
            representative_changes: previous.len() as u64,
        });
        dedup.archived = Some(Archived {
            records: archived,
            runs: self.rows.iter().map(|r| r.run).collect(),
            run,
            previous_representative: previous,
        });
        Ok(())
    }

    fn commit(&mut self, dedup: &Dedup) -> Result<()> {
        let Some(seg) = self.pending.take() else {
            return Ok(()); // read-only
        };
        let table: Vec<ClusterRow> = dedup
            .assignments
            .iter()
            .zip(&self.components)
            .map(|(a, &component)| ClusterRow {
                cluster: a.cluster().unwrap_or(NO_CLUSTER),
                keep: a.keep(),
                component,
            })
            .collect();
        store::write(
            &seg.path().join("clusters"),
            "clusters",
            self.index.digest,
            &encode_clusters(&table),
        )?;
        let run = self.run_number();
        let name = format!("s{run:06}-{run:06}");
        let dest = segment_dir(&self.index.dir, &name);
        if dest.exists() {
            // an orphan of a run killed after its rename, before its manifest: never live
            std::fs::remove_dir_all(&dest).map_err(|e| Error::output(&dest, e))?;
        }
        let tmp = seg.keep();
        std::fs::rename(&tmp, &dest).map_err(|e| Error::output(&dest, e))?;
        let mut m = self.index.manifest.clone().unwrap_or_else(|| Manifest {
            params: dedup.summary.params.clone(),
            params_digest: format!("{:032x}", self.index.digest),
            runs: 0,
            segments: Vec::new(),
            clusters: String::new(),
        });
        m.runs = run;
        m.segments.push(SegmentEntry {
            name: name.clone(),
            runs: (run, run),
            records: self.batch_records as u64,
            docs: self.batch_docs as u64,
        });
        m.clusters = name;
        write_manifest(&self.index.dir, &m, self.index.digest)?;
        self.index.manifest = Some(m);
        Ok(())
    }
}

/// What `neardup index info` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// The manifest.
    pub manifest: Manifest,
    /// Records and compared documents in the live segments.
    pub records: u64,
    /// Compared documents.
    pub docs: u64,
    /// Bytes of the live segments' files.
    pub bytes: u64,
    /// Directories under `segments/` that the manifest does not name (a killed run's, a
    /// compaction's leftovers): not part of the index; `compact` removes them.
    pub orphans: Vec<String>,
}

fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let e = e.map_err(|e| io_error(dir, e))?;
        n += e.metadata().map_err(|x| io_error(&e.path(), x))?.len();
    }
    Ok(n)
}

fn orphans(dir: &Path, m: &Manifest) -> Result<Vec<String>> {
    let seg = dir.join(SEGMENTS);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&seg).map_err(|e| io_error(&seg, e))? {
        let name = e
            .map_err(|e| io_error(&seg, e))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !m.segments.iter().any(|s| s.name == name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn existing(dir: &Path) -> Result<Manifest> {
    read_manifest(dir)?.ok_or_else(|| index_error(dir, "no index here (no MANIFEST)"))
}

/// The index's size, runs, parameters and orphans, from the manifest and the directory.
pub fn info(dir: &Path) -> Result<Info> {
    let m = existing(dir)?;
    let mut bytes = 0;
    for s in &m.segments {
        bytes += dir_bytes(&segment_dir(dir, &s.name))?;
    }
    Ok(Info {
        records: m.segments.iter().map(|s| s.records).sum(),
        docs: m.segments.iter().map(|s| s.docs).sum(),
        bytes,
        orphans: orphans(dir, &m)?,
        manifest: m,
    })
}

/// Checks every file of every live segment whole (checksums, lengths, counts against the
/// manifest, every record of every run in exactly one segment, the cluster table covering
/// every record). Returns the index's figures; an error names the first bad file. Orphans
/// are listed in the figures, never taken as part of the index.
pub fn verify(dir: &Path) -> Result<Info> {
    let info = info(dir)?;
    let ix = Index::open(dir, true)?;
    let m = &info.manifest;
    let mut run_seen = vec![0u64; usize::try_from(m.runs).unwrap_or(0) + 1];
    let mut next_run = 1;
    for (entry, seg) in ix.segments()? {
        let path = segment_dir(dir, &entry.name);
        let len = store::check_stream(&path.join("sets.dat"), "setsdat", Some(ix.digest))?;
        if len != seg.sets.offsets.last().copied().unwrap_or(0) {
            return Err(store::corrupt(
                &path.join("sets.dat"),
                "its length is not the one sets.idx gives",
            ));
        }
        if entry.runs.0 != next_run || entry.runs.1 < entry.runs.0 {
            return Err(store::corrupt(
                &dir.join(MANIFEST),
                format!(
                    "segment {} holds runs {}-{}, expected to start at run {next_run}",
                    entry.name, entry.runs.0, entry.runs.1
                ),
            ));
        }
        next_run = entry.runs.1 + 1;
        for r in &seg.records {
            run_seen[r.run as usize] += 1;
        }
    }
    if next_run != m.runs + 1 {
        return Err(store::corrupt(
            &dir.join(MANIFEST),
            format!(
                "the segments hold runs 1-{}, the manifest counts {}",
                next_run - 1,
                m.runs
            ),
        ));
    }
    let clusters = ix.clusters()?;
    let path = segment_dir(dir, &m.clusters).join("clusters");
    let mut reps: HashMap<u64, u64> = HashMap::new();
    for (i, row) in clusters.iter().enumerate() {
        let (c, keep) = (row.cluster, row.keep);
        if row.component as usize > i {
            return Err(store::corrupt(
                &path,
                format!(
                    "record {i} is in component {}, which starts after it",
                    row.component
                ),
            ));
        }
        if c != NO_CLUSTER && (c as usize > i) {
            return Err(store::corrupt(
                &path,
                format!("record {i} is in cluster {c}, which starts after it"),
            ));
        }
        if keep && c != NO_CLUSTER {
            *reps.entry(c).or_default() += 1;
        }
    }
    if let Some((c, n)) = reps.iter().find(|(_, n)| **n != 1) {
        return Err(store::corrupt(
            &path,
            format!("cluster {c} has {n} representatives"),
        ));
    }
    Ok(info)
}

/// One record of the index as it stands: `neardup index records` prints one a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedRecord {
    /// The record's id.
    pub id: String,
    /// The run that added it.
    pub run: u64,
    /// `ok`, `empty` or why it could not be read, as in `docs.jsonl`.
    pub status: &'static str,
    /// Its cluster now (`None` for a record that could not be read).
    pub cluster: Option<u64>,
    /// True for its cluster's representative now.
    pub keep: bool,
}

/// Every record of the index in index order, with its cluster and representative as they
/// stand after the last run (which may differ from what that record's own run wrote: a
/// later run's `clusters.jsonl` says so).
pub fn records(dir: &Path) -> Result<Vec<IndexedRecord>> {
    existing(dir)?;
    let ix = Index::open(dir, true)?;
    let clusters = ix.clusters()?;
    let rows = ix.segments()?.into_iter().flat_map(|(_, s)| s.records);
    Ok(rows
        .zip(clusters)
        .map(|(r, c)| IndexedRecord {
            id: r.id,
            run: r.run,
            status: r.status.as_str(),
            cluster: (c.cluster != NO_CLUSTER).then_some(c.cluster),
            keep: c.keep,
        })
        .collect())
}

/// Merges every live segment into one and removes the rest (old segments, orphans): the
/// index's answer is unchanged, its files fewer. Takes the lock.
pub fn compact(dir: &Path) -> Result<Info> {
    let ix = Index::open(dir, false)?;
    let m = ix
        .manifest
        .clone()
        .ok_or_else(|| index_error(dir, "no index here (no MANIFEST)"))?;
    if m.segments.len() > 1 {
        let segs = ix.segments()?;
        let seg_dir = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(dir.join(SEGMENTS))
            .map_err(|e| Error::output(dir, e))?;
        let opened: Vec<ShingleSets> = segs
            .iter()
            .map(|(e, s)| s.open_sets(&segment_dir(dir, &e.name)))
            .collect::<Result<_>>()?;
        let mut merged = Segment {
            records: Vec::new(),
            sets: SetsIndex::default(),
            bands: BandsFile::default(),
            paragraphs: ParagraphCounts::default(),
        };
        let mut base: u32 = 0;
        for (_, s) in &segs {
            merged.records.extend(s.records.iter().cloned());
            merged.sets.sizes.extend_from_slice(&s.sets.sizes);
            merged
                .sets
                .removed
                .extend(s.sets.removed.iter().map(|(d, r)| (base + d, r.clone())));
            merged.bands.bands = s.bands.bands;
            merged.bands.keys.extend_from_slice(&s.bands.keys);
            merged
                .bands
                .openings
                .extend(s.bands.openings.iter().map(|&(k, d)| (k, base + d)));
            merged.paragraphs.merge(&s.paragraphs);
            base += s.sets.digests.len() as u32;
        }
        let sources: Vec<(&ShingleSets, usize)> = opened.iter().map(|s| (s, s.docs())).collect();
        write_sets(seg_dir.path(), ix.digest, &sources, &mut merged.sets)?;
        write_segment_files(seg_dir.path(), ix.digest, &merged)?;
        let clusters = ix.clusters()?;
        store::write(
            &seg_dir.path().join("clusters"),
            "clusters",
            ix.digest,
            &encode_clusters(&clusters),
        )?;
        let first = m.segments[0].runs.0;
        let name = format!("s{first:06}-{:06}", m.runs);
        let dest = segment_dir(dir, &name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(|e| Error::output(&dest, e))?;
        }
        std::fs::rename(seg_dir.keep(), &dest).map_err(|e| Error::output(&dest, e))?;
        let new = Manifest {
            segments: vec![SegmentEntry {
                name: name.clone(),
                runs: (first, m.runs),
                records: m.segments.iter().map(|s| s.records).sum(),
                docs: m.segments.iter().map(|s| s.docs).sum(),
            }],
            clusters: name,
            ..m
        };
        write_manifest(dir, &new, ix.digest)?;
    }
    // what the manifest no longer names goes, only now that the new one is in place
    let now = existing(dir)?;
    for o in orphans(dir, &now)? {
        let p = dir.join(SEGMENTS).join(o);
        std::fs::remove_dir_all(&p).map_err(|e| Error::output(&p, e))?;
    }
    drop(ix);
    info(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_differences_are_named() {
        let a = Params::default();
        let mut b = Params::default();
        b.shingle.size += 1;
        b.minhash.seed += 1;
        let d = params_differences(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("minhash.seed: index has"), "{d:?}");
        assert!(d[1].starts_with("shingle.size"), "{d:?}");
    }

    #[test]
    fn paragraph_counts_merge_by_group_name() {
        let mut a = ParagraphCounts {
            groups: vec![(String::new(), 2), ("x".into(), 3)],
            keys: vec![(1, 7, 2)],
        };
        let b = ParagraphCounts {
            groups: vec![("x".into(), 1), ("y".into(), 4)],
            keys: vec![(0, 7, 1), (1, 9, 4)],
        };
        a.merge(&b);
        assert_eq!(
            a.groups,
            vec![(String::new(), 2), ("x".into(), 4), ("y".into(), 4)]
        );
        assert_eq!(a.keys, vec![(1, 7, 3), (2, 9, 4)]);
    }
}
