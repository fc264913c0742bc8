//! The whole run: inputs in, `docs.jsonl`, `clusters.jsonl` and `summary.json` out.
//!
//! Stages, each a plain function over plain data:
//! 1. read (streaming): a reader thread turns files into batches of raw records; worker
//!    threads parse, segment, normalize and shingle each record and find its repeated
//!    paragraphs; a collector thread folds each batch, in input order, into a small
//!    per-record table, the boilerplate key index and the spill (one paragraph record per
//!    document). No document text outlives its batch.
//! 2. sketch: one parallel pass over the spill flags boilerplate and computes each cleaned
//!    article's MinHash band keys (and SimHash fingerprint).
//! 3. candidates: band keys -> sorted candidate pairs (and/or the Hamming index).
//! 4. verify + cluster: exact (or estimated) Jaccard per candidate, union-find.
//! 5. assign: cluster ids, representatives, similarity of each copy to its representative.
//! 6. write: every output to a temporary name, then renamed.
//!
//! Everything observable is a function of the input and the parameters: worker results
//! are put back in input order before anything depends on them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use rayon::prelude::*;
use rustc_hash::FxHashSet;
use xxhash_rust::xxh3::xxh3_64;

use crate::analyze::{Analyzer, DocumentAnalysis};
use crate::boilerplate::{ParagraphSummary, outlet_group};
use crate::cluster::{
    Component, Detail, Placed, RepresentativeOrder, Verdicts, Verified, VerifyStats, cluster_pairs,
    cluster_scored, components, place_component,
};
use crate::document::Position;
use crate::error::{Error, Result};
use crate::hamming::{HammingStats, near_pairs};
use crate::ids::{DocId, Pair};
use crate::input::{
    FileReport, Inputs, Raw, RawRecord, Source, expand_inputs, parse_record, read_sources,
    rereadable,
};
use crate::lsh::{CandidateStats, candidates};
use crate::output::OutputFormat;
use crate::output::schema::{Counts, FORMAT_VERSION, Summary};
use crate::params::{CandidateMethod, ErrorPolicy, SimHashWeights, ValidParams, VerifyMethod};
use crate::progress::{NoProgress, Progress, check_cancel};
use crate::records::{
    Assignment, AssignmentTable, Dedup, EdgeTable, PlacedRow, PlacementRuns, ProvenanceTable,
    RecordMeta, Records, Status,
};
use crate::sketch::DocFrequency;
use crate::sketch::pass::{
    CleanArticles, Fingerprints, IndexBuilder, ParagraphIndex, clean_and_sketch,
};
use crate::spill::{DEFAULT_MEMORY, Scratch, ShingleSets, ShingleSpill, TextPacker};
use crate::verify::{MatchRule, PairScore, Verifier, round6};

/// Everything about a run that is not a parameter of the result.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where the outputs go.
    pub out_dir: PathBuf,
    /// Worker threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Where the spill file goes; `None` uses `out_dir`.
    pub spill_dir: Option<PathBuf>,
    /// Bytes of memory for what grows with the documents (`--memory`); `None` is
    /// `spill::DEFAULT_MEMORY`. Results do not depend on it.
    pub memory: Option<u64>,
    /// Also write the clean files, `clean.jsonl` and/or `clean.parquet` (reads the inputs
    /// a second time; see `output::write_clean`).
    pub emit_clean: bool,
    /// The format of docs and clusters (`--output-format`); results do not depend on it.
    pub output_format: OutputFormat,
}

const MAX_WARNINGS: usize = 20;

/// Bytes each compared document keeps in memory from the read stage to the end of the
/// run, outside what `--memory` bounds because they are read at random by document: its
/// spill offset and compared size (12), its record (`Records::doc_records`, 4) and its
/// union-find parent (4).
pub const RESIDENT_BYTES_A_DOCUMENT: u64 = 20;

/// What `--memory` bounds (two quarters for keys and paragraph counts, the tables'
/// tails, a batch of text and its workers' buffers) peaks near three quarters of it
/// (benches/README.md): the per-document data may take an eighth before the peak passes
/// the budget.
const RESIDENT_SHARE: u64 = 8;

/// The warning for a run whose `docs` compared documents keep more in memory than a
/// budget of `memory` bytes leaves for them, naming the budget that would hold them.
#[must_use]
pub fn resident_beyond_budget(docs: usize, memory: u64) -> Option<String> {
    let resident = docs as u64 * RESIDENT_BYTES_A_DOCUMENT;
    (resident > memory / RESIDENT_SHARE).then(|| {
        let mib = |b: u64| b.div_ceil(1 << 20);
        format!(
            "{docs} documents keep {} MiB in memory beside what --memory bounds \
             ({RESIDENT_BYTES_A_DOCUMENT} bytes a document: spill offset and size, record, \
             union-find), more than the eighth of the {} MiB budget left for them: the \
             peak can pass the budget by about that much; --memory {}M or more holds it",
            mib(resident),
            mib(memory),
            mib(resident * RESIDENT_SHARE),
        )
    })
}

/// Runs the pipeline on files and writes the outputs into `opts.out_dir`.
pub fn run(
    inputs: &[PathBuf],
    params: &ValidParams,
    opts: &RunOptions,
    progress: &dyn Progress,
) -> Result<Summary> {
    run_with(inputs, params, opts, progress, None)
}

/// What a run against a persistent index (`index`) adds to the stages. The stages call
/// it at four points; everything else is the same run.
pub trait Archive: Send {
    /// Sees the batch's paragraph index before boilerplate is decided (to add the
    /// archive's paragraph counts to it).
    fn before_clean(&mut self, index: &mut ParagraphIndex) -> Result<()>;
    /// Whether the batch's texts are to be kept (`spill::TextEntry`, one a compared
    /// document, packed by the streaming pass's workers) and handed to `prepend`: an
    /// archive that adds the batch keeps them, a read-only one does not pay for them.
    fn keeps_texts(&self) -> bool;
    /// Puts the archive's records and documents before the batch's, in `records` and
    /// `cleaned` (whose `keys` hold the batch's band keys), so that candidates,
    /// verification and clustering run over both. `texts` holds the batch's documents'
    /// `TextEntry`s, in document order, when `keeps_texts` asked for them.
    fn prepend(
        &mut self,
        records: &mut Records,
        cleaned: &mut CleanArticles,
        texts: Option<ShingleSets>,
        params: &ValidParams,
        scratch: &Scratch,
    ) -> Result<()>;
    /// Sees the candidate pairs of the whole (sorted, archive's documents first) before
    /// verification, and keeps those that can change an answer: the pairs among
    /// archived documents whose components no batch document touches were decided by
    /// earlier runs and would be decided the same way again.
    fn candidates(&mut self, pairs: &mut Vec<Pair>);
    /// After `candidates`: the verdicts earlier runs reached on pairs among the archive's
    /// documents of this run (local document numbers), taken instead of scoring them
    /// again (see `cluster::cluster_pairs`).
    fn known(&mut self) -> Result<Verdicts>;
    /// Turns the clustered whole into this run's answer (stable cluster ids, the batch's
    /// counts, what changed for archived clusters); `scored` are the verdicts of the pairs
    /// verification scored, `taken` how many it took from `known`.
    fn after_cluster(&mut self, dedup: &mut Dedup, scored: Verdicts, taken: u64) -> Result<()>;
    /// After the outputs are written: adds the batch to the archive (a no-op for a
    /// read-only run).
    fn commit(&mut self, dedup: &Dedup) -> Result<()>;
}

/// `run`, against an archive when one is given.
pub fn run_with(
    inputs: &[PathBuf],
    params: &ValidParams,
    opts: &RunOptions,
    progress: &dyn Progress,
    mut archive: Option<&mut (dyn Archive + '_)>,
) -> Result<Summary> {
    opts.output_format.check()?;
    if opts.emit_clean
        && let Some(p) = inputs
            .iter()
            .find(|p| !rereadable(p) && (p.as_os_str() == "-" || p.exists() && !p.is_dir()))
    {
        return Err(Error::params(
            "emit_clean",
            format!(
                "--emit-clean reads the inputs twice; {} cannot be read twice (it is standard \
                 input, a pipe, a FIFO or a device)",
                crate::paths::text(p)
            ),
        ));
    }
    // The inputs are looked at (not read) before anything is created: a missing input or
    // an input that overlaps the outputs leaves no output directory behind.
    let t0 = Instant::now();
    let Inputs {
        sources,
        repeated,
        unread,
    } = expand_inputs(inputs, params.input.on_error)?;
    refuse_overlap(inputs, &sources, &opts.out_dir)?;
    // which clean files, and whether the Parquet and Arrow inputs share one schema, is
    // known from the inputs' heads and footers: a mismatch fails before the run, not after
    let clean_plan = if opts.emit_clean {
        Some(crate::output::CleanPlan::new(
            &sources,
            params,
            opts.output_format,
        )?)
    } else {
        None
    };
    if opts.out_dir.exists() && !opts.out_dir.is_dir() {
        return Err(Error::output(
            &opts.out_dir,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it is a file, not a directory (--out names the directory the outputs go into)",
            ),
        ));
    }
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::output(&opts.out_dir, e))?;
    // Held to the end of the run, past the last rename: a second run into the same
    // directory fails here, before it reads anything.
    let _lock = crate::output::DirLock::acquire(&opts.out_dir)?;
    let probe = tempfile::NamedTempFile::new_in(&opts.out_dir)
        .map_err(|e| Error::output(&opts.out_dir, e))?;
    drop(probe);
    let (threads, lowered) = capped_threads(opts.threads);
    let dedup = with_threads(threads, || {
        let mut warnings = Vec::new();
        if let Some(msg) = lowered {
            progress.warn(&msg);
            warnings.push(msg);
        }
        for p in repeated {
            let msg = format!("{}: named more than once; read once", p.display());
            progress.warn(&msg);
            warnings.push(msg);
        }
        for entry in &unread {
            progress.warn(&entry.message);
            warnings.push(entry.message.clone());
        }
        let scratch = Scratch::new(opts.spill_dir.as_deref().unwrap_or(&opts.out_dir))
            .with_memory(opts.memory.unwrap_or(DEFAULT_MEMORY));
        let reader_sources = sources.clone();
        let input = params.input.clone();
        let mut d = dedup_stream_with(
            sources,
            |sink| read_sources(&reader_sources, &input, sink),
            params,
            &scratch,
            progress,
            archive.as_deref_mut(),
        )?;
        for entry in &unread {
            let counts = if entry.reason.is_error() {
                &mut d.summary.counts.input_errors
            } else {
                &mut d.summary.counts.inputs_skipped
            };
            *counts.entry(entry.reason.as_str().to_owned()).or_default() += 1;
        }
        d.summary.unread_inputs = unread;
        d.summary.warnings.splice(0..0, warnings);
        d.summary.warnings.truncate(MAX_WARNINGS);
        d.summary
            .seconds
            .insert("total".into(), t0.elapsed().as_secs_f64());
        Ok(d)
    })?;
    let t = Instant::now();
    let mut extra = Vec::new();
    if let Some(plan) = &clean_plan {
        progress.stage("clean", Some(dedup.records.metas.len() as u64));
        extra.extend(with_threads(threads, || {
            crate::output::write_clean(&opts.out_dir, &dedup, params, plan, progress)
        })?);
        progress.finish_stage();
    }
    progress.stage("write", Some(dedup.records.metas.len() as u64));
    let mut summary = dedup.summary.clone();
    check_cancel(progress)?;
    // the lines are formatted on the run's threads (see `output::write_lines`)
    with_threads(threads, || {
        crate::output::write_all(
            &opts.out_dir,
            &dedup,
            &mut summary,
            t,
            extra,
            opts.output_format,
            progress,
        )
    })?;
    progress.finish_stage();
    if let Some(a) = archive {
        check_cancel(progress)?;
        a.commit(&dedup)?;
    }
    Ok(summary)
}

/// Refuses inputs that overlap the output directory `out`: an input (named, or found in
/// a directory) that lies inside `out`, where this run writes, replaces and removes
/// files (an input called `docs.jsonl` would be overwritten, one called `clean.jsonl`
/// removed as stale), and an `out` inside a directory named as input, which a later run
/// would read this run's outputs from. Paths are compared canonically (`paths::canonical`:
/// links resolved, `./` and `..` applied, relative or absolute alike); an input that
/// cannot be resolved (standard input) is left alone.
fn refuse_overlap(inputs: &[PathBuf], sources: &[Source], out: &Path) -> Result<()> {
    let Ok(out_real) = crate::paths::canonical(out) else {
        return Ok(()); // creating it fails with the system's reason
    };
    let text = crate::paths::text;
    for dir in inputs.iter().filter(|p| p.is_dir()) {
        if let Ok(dir_real) = crate::paths::canonical(dir)
            && out_real.starts_with(&dir_real)
        {
            return Err(Error::Overlap {
                input: dir.clone(),
                out: out.to_path_buf(),
                message: format!(
                    "the output directory {} lies inside the input directory {}, which is read \
                     whole: a later run would read this run's outputs as input",
                    text(out),
                    text(dir)
                ),
            });
        }
    }
    let named = inputs.iter().filter(|p| p.as_os_str() != "-");
    for input in named.chain(sources.iter().map(|s| &s.path)) {
        if let Ok(real) = crate::paths::canonical(input)
            && real.starts_with(&out_real)
        {
            return Err(Error::Overlap {
                input: input.clone(),
                out: out.to_path_buf(),
                message: format!(
                    "the input {} lies inside the output directory {}, where a run writes, \
                     replaces and removes files",
                    text(input),
                    text(out)
                ),
            });
        }
    }
    Ok(())
}

/// The most worker threads a run starts: four a core, and never more than 1024. The work
/// is cut into batches whatever the count, so more threads only add their stacks and
/// their start-up (5,000 threads took 20 s on 20 records).
#[must_use]
pub fn max_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_mul(4)
        .min(1024)
}

/// The worker threads for a request of `requested` (`None`: one a core), lowered to
/// `max_threads()`, with the message to show when it was lowered.
#[must_use]
pub fn capped_threads(requested: Option<usize>) -> (Option<usize>, Option<String>) {
    let max = max_threads();
    match requested {
        Some(n) if n > max => (
            Some(max),
            Some(format!(
                "--threads {n}: using {max} threads, four per available core (at most 1024)"
            )),
        ),
        other => (other, None),
    }
}

/// Runs `f` on a pool of `threads` worker threads (`None`: rayon's global pool, one thread
/// a core), at most `max_threads()`. Every parallel stage of the run, and of a sweep, runs
/// inside it.
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    match capped_threads(threads).0 {
        None => f(),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::params("threads", e.to_string()))?
            .install(f),
    }
}

/// Deduplicates in-memory documents `(id, text)`, for library callers. The result holds
/// one assignment per document, in order.
pub fn dedup_texts<I: AsRef<str> + Sync, T: AsRef<str> + Sync>(
    docs: &[(I, T)],
    params: &ValidParams,
) -> Result<Dedup> {
    dedup_stream(
        memory_sources(),
        |sink| read_memory(docs, sink),
        params,
        &Scratch::new(std::env::temp_dir()),
        &NoProgress,
    )
}

/// The stages up to candidate pairs on in-memory documents `(id, text)`: for callers that
/// look at the candidates and the verifier themselves (a brute-force check of the
/// candidates, a sweep).
pub fn sketch_texts<I: AsRef<str> + Sync, T: AsRef<str> + Sync>(
    docs: &[(I, T)],
    params: &ValidParams,
) -> Result<Sketched> {
    sketch_stream(
        memory_sources(),
        |sink| read_memory(docs, sink),
        params,
        &Scratch::new(std::env::temp_dir()),
        &NoProgress,
    )
}

fn memory_sources() -> Vec<Source> {
    vec![Source {
        path: PathBuf::from("<memory>"),
        kind: crate::input::SourceKind::Jsonl,
        doc_id: None,
    }]
}

/// Hands in-memory documents to the stages as one batch of records.
fn read_memory<I: AsRef<str>, T: AsRef<str>>(
    docs: &[(I, T)],
    sink: &mut dyn FnMut(crate::input::RawBatch) -> Result<()>,
) -> Result<Vec<FileReport>> {
    let records = docs
        .iter()
        .enumerate()
        .map(|(i, (id, text))| RawRecord {
            source: 0,
            position: Position::Line(i as u64 + 1),
            raw: Raw::Document {
                id: id.as_ref().to_owned(),
                text: text.as_ref().to_owned(),
                date: None,
                outlet: None,
            },
        })
        .collect();
    sink(crate::input::RawBatch { records })?;
    Ok(Vec::new())
}

/// One processed record, as a worker hands it back.
struct Processed {
    record: RawRecordHeader,
    id: Option<String>,
    date: Option<String>,
    outlet: Option<String>,
    status: Status,
    detail: String,
    /// The outlet group (paragraph mode) and the record to spill.
    group: Option<String>,
    paragraphs: Option<DocumentAnalysis>,
    /// A compared document's `TextEntry`, when the run keeps texts.
    text: Option<Vec<u8>>,
}

struct RawRecordHeader {
    source: u32,
    position: Position,
    /// `Raw::digest` of the record's bytes.
    digest: u64,
}

fn process(
    worker: &mut Analyzer,
    packer: Option<&mut TextPacker>,
    rec: RawRecord,
    params: &ValidParams,
    docfreq: Option<&DocFrequency>,
) -> Processed {
    let header = RawRecordHeader {
        source: rec.source,
        position: rec.position,
        digest: rec.raw.digest(),
    };
    let parsed = parse_record(rec.raw, &params.input);
    let mut out = Processed {
        record: header,
        id: parsed.id,
        date: parsed.date,
        outlet: parsed.outlet,
        status: Status::Ok,
        detail: String::new(),
        group: None,
        paragraphs: None,
        text: None,
    };
    if let Some((reason, detail)) = parsed.skip {
        out.status = Status::Skipped(reason);
        out.detail = detail;
        return out;
    }
    if params.paragraphs.enabled {
        out.group = outlet_group(out.outlet.as_deref(), parsed.url.as_deref());
    }
    let Some(analysis) = worker.analyze(&parsed.text, params) else {
        out.status = Status::Empty;
        return out;
    };
    if let Some(df) = docfreq {
        let mut distinct = worker.record().shingles.clone();
        distinct.sort_unstable();
        distinct.dedup();
        df.add_document(&distinct);
    }
    // packed here, in the parallel workers, while the text is at hand: the index's set
    // store keeps it, and the collector only appends it
    out.text = packer.map(|p| p.pack(&parsed.text, &worker.record().hashes));
    out.paragraphs = Some(analysis);
    out
}

/// Collects processed records in input order.
struct Collector<'a> {
    params: &'a ValidParams,
    sources: &'a [Source],
    records: Records,
    paragraphs: IndexBuilder,
    /// The compared documents' `TextEntry`s, when the run keeps texts.
    texts: Option<ShingleSpill>,
    counts: Counts,
    /// xxh3 of each id: already mixed, so hashed again by a multiply (the collector is
    /// one thread for the whole read stage), not SipHash.
    seen_ids: FxHashSet<u64>,
    warnings: Vec<String>,
    progress: &'a dyn Progress,
}

impl Collector<'_> {
    fn add(&mut self, p: Processed) -> Result<()> {
        let index = self.records.metas.len() as u64;
        let source = &self.sources[p.record.source as usize];
        let id =
            p.id.unwrap_or_else(|| p.record.position.name_in(&crate::paths::text(&source.path)));
        // messages name a whole-file document's line as 0, as they always have
        let line = p.record.position.line().unwrap_or(0);
        self.counts.records += 1;
        if let Status::Skipped(reason) = p.status
            && !reason.is_error()
        {
            // fine, but not a document (a WARC response that is an image, a 404)
            *self
                .counts
                .skipped
                .entry(reason.as_str().to_owned())
                .or_default() += 1;
        } else if let Status::Skipped(reason) = p.status {
            let err = Error::BadRecord {
                path: source.path.clone(),
                position: p.record.position,
                reason,
                detail: p.detail,
            };
            if self.params.input.on_error == ErrorPolicy::Stop {
                return Err(err);
            }
            *self
                .counts
                .skipped
                .entry(reason.as_str().to_owned())
                .or_default() += 1;
            self.warn(err.to_string());
        }
        if !self.seen_ids.insert(xxh3_64(id.as_bytes())) {
            self.counts.duplicate_ids += 1;
            let at = match p.record.position {
                Position::Offset(n) => format!("@{n}"),
                Position::Row(n) => format!("#{n}"),
                _ => format!(":{line}"),
            };
            self.warn(format!(
                "{}{at}: duplicate id {id:?}",
                source.path.display(),
            ));
        }
        let date = p.date.filter(|d| {
            let ok = crate::date::is_iso_date(d);
            if !ok {
                self.counts.dates_not_iso += 1;
            }
            ok
        });
        let outlet = p.outlet.map(|o| self.records.outlet_id(o));
        let mut doc = None;
        match p.status {
            Status::Ok => {
                let d = self.records.doc_records.len() as DocId;
                self.records.doc_records.push(index as u32);
                let out = p
                    .paragraphs
                    .expect("a compared record carries its paragraph record");
                self.paragraphs.add(d, p.group, out)?;
                if let Some(t) = &mut self.texts {
                    t.push_bytes(
                        &p.text
                            .expect("a run keeping texts packs every compared one"),
                    )?;
                }
                self.counts.compared += 1;
                doc = Some(d);
            }
            Status::Empty => self.counts.empty += 1,
            Status::Skipped(_) => {}
        }
        self.records.metas.push(&RecordMeta {
            id: id.into(),
            date: date.map(Into::into),
            outlet,
            source: p.record.source,
            position: p.record.position.pack(),
            status: p.status,
            doc,
            raw_digest: p.record.digest,
        })
    }

    fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.progress.warn(&message);
            self.warnings.push(message);
        }
    }
}

/// The comparison stages over a stream of raw batches produced by `read`, which runs on
/// its own thread and returns the per-file reports.
pub fn dedup_stream<R>(
    sources: Vec<Source>,
    read: R,
    params: &ValidParams,
    scratch: &Scratch,
    progress: &dyn Progress,
) -> Result<Dedup>
where
    R: FnOnce(&mut dyn FnMut(crate::input::RawBatch) -> Result<()>) -> Result<Vec<FileReport>>
        + Send,
{
    dedup_stream_with(sources, read, params, scratch, progress, None)
}

/// `dedup_stream`, against an archive when one is given.
pub fn dedup_stream_with<R>(
    sources: Vec<Source>,
    read: R,
    params: &ValidParams,
    scratch: &Scratch,
    progress: &dyn Progress,
    mut archive: Option<&mut (dyn Archive + '_)>,
) -> Result<Dedup>
where
    R: FnOnce(&mut dyn FnMut(crate::input::RawBatch) -> Result<()>) -> Result<Vec<FileReport>>
        + Send,
{
    let sketched = sketch_stream_with(
        sources,
        read,
        params,
        scratch,
        progress,
        archive.as_deref_mut(),
    )?;
    let Clustered {
        counts,
        seconds: cluster_seconds,
        assignments,
        provenance,
        edges,
        placement_bytes,
        stats,
        scored,
        taken,
    } = cluster_stage(&sketched, None, params, progress)?;
    // the spill and the candidates go here: what is written needs neither
    let Sketched {
        sources,
        records,
        reports,
        warnings,
        candidates,
        simhash,
        paragraphs,
        spill_bytes,
        text_bytes,
        band_run_bytes,
        key_run_bytes,
        mut seconds,
        ..
    } = sketched;
    seconds.extend(cluster_seconds);
    let working_dir = std::env::current_dir().ok();
    let summary = Summary {
        format_version: FORMAT_VERSION,
        neardup_version: env!("CARGO_PKG_VERSION").into(),
        working_dir_hex: working_dir.as_deref().and_then(crate::paths::hex),
        working_dir,
        params: params.get().clone(),
        inputs: reports,
        unread_inputs: Vec::new(),
        counts,
        candidates,
        simhash,
        verification: stats,
        spill_bytes,
        paragraphs,
        seconds,
        disk: temporary_disk(
            spill_bytes,
            text_bytes,
            band_run_bytes,
            key_run_bytes,
            records.metas.file_bytes(),
            &ClusteredDisk {
                accepted_pairs: edges.file_bytes(),
                placements: placement_bytes,
                provenance: provenance.file_bytes(),
                assignments: assignments.file_bytes(),
            },
        ),
        warnings,
        outputs: BTreeMap::new(),
        index: None,
    };
    let mut dedup = Dedup {
        sources,
        records,
        assignments,
        provenance,
        edges,
        summary,
        archived: None,
    };
    if let Some(a) = archive {
        a.after_cluster(&mut dedup, scored.unwrap_or_default(), taken)?;
    }
    Ok(dedup)
}

/// `summary.json`'s `disk`: the bytes of the run's temporary files. `spill` (one paragraph
/// record a document) lives from the first batch to the end of clustering;
/// `paragraph_runs` (boilerplate keys counted into runs when they outgrow their share of
/// `--memory`) from the streaming pass until boilerplate is decided at the start of the
/// sketch pass; `band_runs` (band and opening keys sorted into runs past a quarter of `--memory`) from
/// the sketch pass to the end of the candidate stage. The two kinds of run never exist
/// at once, and the spill is there with either. A run that adds to an index also keeps
/// its documents' compressed texts (`texts`, only then) from the streaming pass until its
/// segment is written in the sketch pass, beside either kind of run. The record table
/// (`records`) lives from the first batch to the end; the accepted pairs
/// (`accepted_pairs`) from verification to the end; the duplicates' provenance
/// (`provenance`) and the assignments (`assignments`) from clustering to the end; the
/// placements (`placements`) from clustering until the assignments are made, when all
/// four are there at once: so `peak`, the most held at once, is the record table and the
/// spill plus the larger of the texts and runs (before clustering) and those four (from
/// verification on). Outputs written under temporary names are not counted: they
/// become the outputs.
fn temporary_disk(
    spill_bytes: u64,
    text_bytes: u64,
    band_run_bytes: u64,
    key_run_bytes: u64,
    record_bytes: u64,
    clustered: &ClusteredDisk,
) -> BTreeMap<String, u64> {
    let ClusteredDisk {
        accepted_pairs,
        placements,
        provenance,
        assignments,
    } = *clustered;
    let mut disk = BTreeMap::from([
        ("spill".to_owned(), spill_bytes),
        ("band_runs".to_owned(), band_run_bytes),
        ("paragraph_runs".to_owned(), key_run_bytes),
        ("records".to_owned(), record_bytes),
        ("accepted_pairs".to_owned(), accepted_pairs),
        ("placements".to_owned(), placements),
        ("provenance".to_owned(), provenance),
        ("assignments".to_owned(), assignments),
        (
            "peak".to_owned(),
            record_bytes
                + spill_bytes
                + (text_bytes + band_run_bytes.max(key_run_bytes))
                    .max(accepted_pairs + placements + provenance + assignments),
        ),
    ]);
    if text_bytes > 0 {
        disk.insert("texts".to_owned(), text_bytes);
    }
    disk
}

/// Bytes of the temporary files clustering writes (`summary.json`'s `disk`).
#[derive(Clone, Copy)]
struct ClusteredDisk {
    accepted_pairs: u64,
    placements: u64,
    provenance: u64,
    assignments: u64,
}

/// The stages up to candidate pairs: every record read and accounted for, every document
/// sketched, the candidates found. A parameter sweep (`tune`) clusters this many times.
pub struct Sketched {
    /// The inputs, in reading order.
    pub sources: Vec<Source>,
    /// The per-record table.
    pub records: Records,
    /// The counts so far (clustering adds its own).
    pub counts: Counts,
    /// What happened to each input.
    pub reports: Vec<FileReport>,
    /// The first messages about skipped records and inputs.
    pub warnings: Vec<String>,
    /// Scores pairs from the spill (or the signatures).
    pub verifier: Verifier,
    /// The candidate pairs, sorted.
    pub pairs: Vec<Pair>,
    /// With an archive: the verdicts its earlier runs reached on some of `pairs`.
    pub known: Option<Verdicts>,
    /// The candidate stage's figures.
    pub candidates: CandidateStats,
    /// The SimHash index's figures, when it ran.
    pub simhash: Option<HammingStats>,
    /// The paragraph stage's figures, when it ran.
    pub paragraphs: Option<ParagraphSummary>,
    /// Bytes spilled.
    pub spill_bytes: u64,
    /// Bytes of the compressed texts kept for an index's set store (0 unless the run adds
    /// to an index).
    pub text_bytes: u64,
    /// Bytes of band-key runs written (0 when the band table fit its budget).
    pub band_run_bytes: u64,
    /// Bytes of boilerplate-key runs written (0 when the keys fit their budget).
    pub key_run_bytes: u64,
    /// Seconds of each stage so far.
    pub seconds: BTreeMap<String, f64>,
}

/// What clustering produces from the candidates.
pub struct Clustered {
    /// The sketch pass's counts with clustering's added.
    pub counts: Counts,
    /// Seconds of verification and clustering.
    pub seconds: BTreeMap<String, f64>,
    /// Where each record ended up, in input order, on disk.
    pub assignments: AssignmentTable,
    /// Per duplicate: how a copy relates to its representative, on disk.
    pub provenance: ProvenanceTable,
    /// The accepted pairs, in candidate order, on disk.
    pub edges: EdgeTable,
    /// Bytes the placements' runs wrote to their temporary file (gone once the
    /// assignments are made).
    pub placement_bytes: u64,
    /// What verification and placement did.
    pub stats: VerifyStats,
    /// With an archive's `known` verdicts: the verdicts of the pairs scored now.
    pub scored: Option<Verdicts>,
    /// Pairs whose verdict was taken from the archive's `known` verdicts.
    pub taken: u64,
}

/// Reads, sketches and finds candidates (see `dedup_stream`).
pub fn sketch_stream<R>(
    sources: Vec<Source>,
    read: R,
    params: &ValidParams,
    scratch: &Scratch,
    progress: &dyn Progress,
) -> Result<Sketched>
where
    R: FnOnce(&mut dyn FnMut(crate::input::RawBatch) -> Result<()>) -> Result<Vec<FileReport>>
        + Send,
{
    sketch_stream_with(sources, read, params, scratch, progress, None)
}

/// `sketch_stream`, with the archive's documents before the batch's when one is given.
fn sketch_stream_with<R>(
    sources: Vec<Source>,
    read: R,
    params: &ValidParams,
    scratch: &Scratch,
    progress: &dyn Progress,
    mut archive: Option<&mut (dyn Archive + '_)>,
) -> Result<Sketched>
where
    R: FnOnce(&mut dyn FnMut(crate::input::RawBatch) -> Result<()>) -> Result<Vec<FileReport>>
        + Send,
{
    let mut seconds = BTreeMap::new();
    let t = Instant::now();
    // The streaming pass spills one paragraph record per document (with the paragraph
    // stage off, the whole text is one paragraph); the sketch pass and exact verification
    // both read it back.
    // document frequencies, for SimHash weighted by tf-idf only
    let docfreq = (params.candidates.method != CandidateMethod::MinHash
        && params.simhash.weights == SimHashWeights::Tfidf)
        .then(DocFrequency::default);
    let collector = Collector {
        params,
        sources: &sources,
        records: Records::in_scratch(scratch),
        paragraphs: IndexBuilder::new(ShingleSpill::create_in(&scratch.dir)?, scratch),
        texts: match archive.as_deref() {
            Some(a) if a.keeps_texts() => Some(ShingleSpill::create_in(&scratch.dir)?),
            _ => None,
        },
        counts: Counts::default(),
        seen_ids: FxHashSet::default(),
        warnings: Vec::new(),
        progress,
    };
    let keep_texts = collector.texts.is_some();
    progress.stage("read", None);
    // Three kinds of thread overlap here: the reader splits files into batches, the rayon
    // workers process one batch while the collector thread folds the previous one into
    // the record table and the spill, so the sequential parts do not idle the workers.
    let (reports, collector) =
        std::thread::scope(|scope| -> Result<(Vec<FileReport>, Collector<'_>)> {
            let (raw_tx, raw_rx) = mpsc::sync_channel::<crate::input::RawBatch>(4);
            let (done_tx, done_rx) = mpsc::sync_channel::<Vec<Processed>>(2);
            let reader = scope.spawn(move || {
                read(&mut |batch| {
                    raw_tx.send(batch).map_err(|_| Error::Input {
                        path: PathBuf::from("-"),
                        message: "reading cancelled".into(),
                    })
                })
            });
            let mut collector = collector;
            let folder = scope.spawn(move || -> Result<Collector<'_>> {
                for batch in &done_rx {
                    let n = batch.len() as u64;
                    for p in batch {
                        collector.add(p)?;
                    }
                    collector.progress.advance(n);
                }
                Ok(collector)
            });
            for batch in &raw_rx {
                if progress.cancelled() {
                    break; // reported after the threads are joined
                }
                let processed: Vec<Processed> = batch
                    .records
                    .into_par_iter()
                    .map_init(
                        || (Analyzer::default(), keep_texts.then(TextPacker::new)),
                        |(w, packer), rec| {
                            process(w, packer.as_mut(), rec, params, docfreq.as_ref())
                        },
                    )
                    .collect();
                if done_tx.send(processed).is_err() {
                    break; // the collector stopped on an error; it reports it below
                }
            }
            drop(raw_rx);
            drop(done_tx);
            let folded = folder.join().expect("the collector thread does not panic");
            if progress.cancelled() {
                // the reader's "cancelled" send error is a consequence, not the cause
                return Err(Error::Interrupted);
            }
            let read_result = reader.join().expect("the reader thread does not panic");
            let collector = folded?;
            Ok((read_result?, collector))
        })?;
    let mut collector = collector;
    progress.finish_stage();
    check_cancel(progress)?;
    for r in &reports {
        for note in &r.notes {
            collector.warn(note.clone());
        }
        for (kind, n) in &r.warc_records {
            *collector
                .counts
                .warc_records
                .entry(kind.clone())
                .or_default() += n;
        }
        if let Some(e) = &r.error {
            collector.warn(e.clone());
        }
        if let Some(reason) = r.reason {
            *collector
                .counts
                .input_errors
                .entry(reason.as_str().to_owned())
                .or_default() += 1;
        }
    }
    seconds.insert("read".into(), t.elapsed().as_secs_f64());

    let Collector {
        mut records,
        paragraphs: pc,
        texts,
        counts,
        warnings,
        seen_ids,
        ..
    } = collector;
    // what a partial move leaves of a struct lives to the end of the scope: the ids'
    // hashes (16-18 bytes a record) would be held through the sketch pass
    drop(seen_ids);
    let t = Instant::now();
    progress.stage("sketch", Some(pc.docs() as u64));
    let mut index = pc.finish()?;
    if let Some(a) = archive.as_deref_mut() {
        a.before_clean(&mut index)?;
    }
    let estimate = params.verify.method == VerifyMethod::Estimate;
    let mut repeats = index.repeats.clone();
    let fingerprints =
        (params.candidates.method != CandidateMethod::MinHash).then_some(match &docfreq {
            Some(df) => Fingerprints::Tfidf(df),
            None => Fingerprints::Tf,
        });
    let mut cleaned = clean_and_sketch(
        index,
        params,
        estimate,
        archive.is_some(),
        fingerprints,
        scratch,
        |n| {
            progress.advance(n);
        },
    )?;
    drop(docfreq);
    records.boilerplate = std::mem::take(&mut cleaned.boilerplate);
    records.repeats = std::mem::take(&mut repeats);
    let texts = texts.map(ShingleSpill::finish).transpose()?;
    let text_bytes = texts.as_ref().map_or(0, ShingleSets::total_bytes);
    if let Some(a) = archive.as_deref_mut() {
        a.prepend(&mut records, &mut cleaned, texts, params, scratch)?;
    }
    // every document this run compares is known here, before what it keeps in memory
    // per document is used: a budget that cannot hold it is said now, not by the kernel
    if let Some(message) = resident_beyond_budget(records.doc_records.len(), scratch.memory) {
        progress.warn(&message);
    }
    let mut table = cleaned.table;
    // the last block too: `disk` counts every run the candidate stage reads
    table.flush()?;
    let (_, band_run_bytes) = table.spilled();
    let paragraph_summary = params.paragraphs.enabled.then_some(cleaned.summary);
    progress.finish_stage();
    seconds.insert("sketch".into(), t.elapsed().as_secs_f64());
    check_cancel(progress)?;
    let t = Instant::now();
    progress.stage("candidates", Some(params.bands() as u64));
    // the opening keys are in the table: the index needed them apart, and is done with them
    drop(std::mem::take(&mut cleaned.openings));
    let (mut pairs, cand_stats) = if params.candidates.method == CandidateMethod::SimHash {
        (Vec::new(), CandidateStats::default())
    } else {
        candidates(table, params.lsh.max_bucket)?
    };
    let mut simhash_stats = None;
    if params.candidates.method != CandidateMethod::MinHash {
        let (near, stats) = near_pairs(&cleaned.fingerprints, params.simhash.max_hamming);
        pairs.extend(near);
        pairs.par_sort_unstable();
        pairs.dedup();
        simhash_stats = Some(stats);
    }
    let known = match archive {
        Some(a) => {
            a.candidates(&mut pairs);
            Some(a.known()?)
        }
        None => None,
    };
    progress.finish_stage();
    seconds.insert("candidates".into(), t.elapsed().as_secs_f64());

    let spill_bytes = cleaned.records.total_bytes();
    let verifier = if estimate {
        Verifier::estimated(
            cleaned.records,
            cleaned.removed,
            cleaned.sizes,
            cleaned.signatures,
            params.minhash.num_perm,
        )
    } else {
        Verifier::exact(cleaned.records, cleaned.removed, cleaned.sizes)
    };
    Ok(Sketched {
        sources,
        records,
        counts,
        reports,
        warnings,
        verifier,
        pairs,
        known,
        candidates: cand_stats,
        simhash: simhash_stats,
        paragraphs: paragraph_summary,
        spill_bytes,
        text_bytes,
        band_run_bytes,
        key_run_bytes: cleaned.key_run_bytes,
        seconds,
    })
}

/// Verifies the candidates (or takes their `scores`, one per pair, already computed),
/// clusters and places every document of `sketched`. Only `params`' match rule and
/// cluster parameters matter here; the candidates came from the sketch parameters.
pub fn cluster_stage(
    sketched: &Sketched,
    scores: Option<&[PairScore]>,
    params: &ValidParams,
    progress: &dyn Progress,
) -> Result<Clustered> {
    let Sketched {
        records,
        verifier,
        pairs,
        known,
        ..
    } = sketched;
    let mut counts = sketched.counts.clone();
    let mut seconds = BTreeMap::new();
    let t = Instant::now();
    check_cancel(progress)?;
    progress.stage("verify", Some(pairs.len() as u64));
    let docs = records.doc_records.len();
    let rule = MatchRule::new(params);
    let Verified {
        mut uf,
        edges,
        skipped,
        stats: mut verify_stats,
        scored,
        taken,
    } = match scores {
        None => cluster_pairs(
            docs,
            pairs,
            verifier,
            &rule,
            known.as_ref(),
            EdgeTable::beside(&records.metas),
            |n| {
                progress.advance(n);
            },
        )?,
        Some(scores) => cluster_scored(
            docs,
            pairs,
            scores,
            &rule,
            EdgeTable::beside(&records.metas),
        )?,
    };
    progress.finish_stage();
    seconds.insert("verify".into(), t.elapsed().as_secs_f64());

    check_cancel(progress)?;
    let t = Instant::now();
    progress.stage("cluster", Some(records.metas.len() as u64));
    let comps = components(&mut uf, &edges, &skipped, params.cluster.shape)?;
    drop(skipped);
    drop(uf);
    let (placements, provenance) =
        place_all(records, comps, verifier, &rule, params, &mut verify_stats)?;
    let assignments = assign(records, &placements, &mut counts)?;
    let placement_bytes = placements.file_bytes();
    drop(placements);
    progress.finish_stage();
    seconds.insert("cluster".into(), t.elapsed().as_secs_f64());
    Ok(Clustered {
        counts,
        seconds,
        assignments,
        provenance,
        edges,
        placement_bytes,
        stats: verify_stats,
        scored,
        taken,
    })
}

/// Members placed at a time: a group's order keys (about 60 bytes a member) and the
/// provenance of its duplicates (about 130 bytes each, until written to the table) stay
/// a few MB whatever the number of documents.
const PLACE_GROUP_MEMBERS: usize = 1 << 16;

/// Places every component, a group of components at a time (in parallel inside a
/// group): the group's order keys are read from the record table when it is placed,
/// and the provenance of its duplicates goes to the provenance table before the next
/// group is placed. Returns the placements (on disk, a run a group) and the table. Groups
/// are formed in component order and each component is placed alone, so neither the
/// thread count nor the group size changes the result.
fn place_all(
    records: &Records,
    mut comps: Vec<Component>,
    verifier: &Verifier,
    rule: &MatchRule,
    params: &ValidParams,
    stats: &mut VerifyStats,
) -> Result<(PlacementRuns, ProvenanceTable)> {
    place_groups(
        records,
        &mut comps,
        verifier,
        rule,
        params,
        stats,
        PLACE_GROUP_MEMBERS,
    )
}

/// `place_all` with groups of up to `group_members` members (a component larger than
/// that is a group of its own).
fn place_groups(
    records: &Records,
    comps: &mut [Component],
    verifier: &Verifier,
    rule: &MatchRule,
    params: &ValidParams,
    stats: &mut VerifyStats,
    group_members: usize,
) -> Result<(PlacementRuns, ProvenanceTable)> {
    let mut out = PlacementRuns::beside(&records.metas);
    let mut rows = Vec::new();
    let mut table = ProvenanceTable::beside(&records.metas);
    let mut start = 0;
    while start < comps.len() {
        let mut end = start + 1;
        let mut n = comps[start].members.len();
        while end < comps.len() && n + comps[end].members.len() <= group_members {
            n += comps[end].members.len();
            end += 1;
        }
        let group = &mut comps[start..end];
        let keys = OrderKeys::load(records, group)?;
        let keys = &keys;
        let order = RepresentativeOrder::new(
            &params.cluster,
            move |d| keys.get(d).date.as_deref(),
            move |d| {
                keys.get(d)
                    .outlet
                    .map(|o| records.outlets[o as usize].as_str())
            },
            move |d| &*keys.get(d).id,
        );
        let compare =
            |a: DocId, b: DocId, length: &dyn Fn(DocId) -> (u64, u64)| order.compare(a, b, length);
        let placed: Vec<Placed> = group
            .par_iter()
            .map(|c| {
                place_component(
                    &c.members,
                    &c.links,
                    verifier,
                    rule,
                    params.cluster.shape,
                    &compare,
                    Detail::Provenance,
                )
            })
            .collect::<Result<_>>()?;
        for c in group.iter_mut() {
            *c = Component::default();
        }
        for (list, split, weak) in placed {
            stats.split_off += split;
            stats.weak_links += weak;
            for (d, p) in list {
                if let Some(prov) = &p.provenance {
                    table.push(records.doc_records[d as usize], prov)?;
                }
                rows.push(PlacedRow {
                    doc: d,
                    rep: p.rep,
                    score: p.score.map(|s| (s.jaccard, s.containment)),
                    split_from: p.split_from,
                });
            }
        }
        out.push_run(&mut rows)?;
        start = end;
    }
    table.finish();
    Ok((out, table))
}

/// Cluster ids, representatives and similarities for every record, in input order, to a
/// table on disk. `placements` are those of the documents in components of two or more
/// (`place_all`); every other compared document is alone.
fn assign(
    records: &Records,
    placements: &PlacementRuns,
    counts: &mut Counts,
) -> Result<AssignmentTable> {
    let docs = records.doc_records.len();
    let mut size = vec![0u32; docs];
    let mut merged = placements.merged();
    while let Some(p) = merged.next()? {
        size[p.rep as usize] += 1;
    }
    let mut merged = placements.merged();
    let mut cluster_of_rep: Vec<u64> = vec![u64::MAX; docs];
    let mut next = 0u64;
    let mut out = AssignmentTable::beside(&records.metas);
    records.metas.scan(|_, meta| {
        let a = match (meta.status, meta.doc) {
            (Status::Ok, Some(d)) => {
                // documents come in rising order with the records
                let p = merged.take(d)?.unwrap_or(PlacedRow {
                    doc: d,
                    rep: d,
                    score: None,
                    split_from: None,
                });
                let rep = p.rep as usize;
                if cluster_of_rep[rep] == u64::MAX {
                    cluster_of_rep[rep] = next;
                    next += 1;
                }
                let cluster = cluster_of_rep[rep];
                if size[rep] > 1 {
                    counts.docs_in_clusters += 1;
                    if rep == d as usize {
                        counts.clusters += 1;
                    }
                }
                let split_from = p.split_from.map(|r| records.doc_records[r as usize]);
                match p.score {
                    None => Assignment::kept(cluster, split_from),
                    Some((jaccard, containment)) => {
                        counts.duplicates += 1;
                        Assignment::duplicate(
                            cluster,
                            records.doc_records[rep],
                            round6(jaccard),
                            round6(containment),
                            split_from,
                        )
                    }
                }
            }
            (Status::Empty, _) => {
                next += 1;
                Assignment::kept(next - 1, None)
            }
            _ => Assignment::UNREAD,
        };
        if a.keep() {
            counts.kept += 1;
        }
        out.push(a)
    })?;
    // every placed document is a compared record, met in rising order: a row left over
    // would mean a placement no record took (the documents after it taken as alone)
    assert!(
        merged.next()?.is_none(),
        "every placement is taken by its record"
    );
    Ok(out)
}

/// What the representative order reads of the members of a group of components: their
/// id, date and outlet, read from the record table when the group is placed, sorted by
/// document. The documents alone, most of a large dump, are never compared and not
/// loaded.
struct OrderKeys {
    docs: Vec<DocId>,
    keys: Vec<OrderKey>,
}

struct OrderKey {
    id: compact_str::CompactString,
    date: Option<compact_str::CompactString>,
    outlet: Option<u32>,
}

impl OrderKeys {
    fn load(records: &Records, group: &[Component]) -> Result<Self> {
        let mut docs: Vec<DocId> = group
            .iter()
            .flat_map(|c| c.members.iter().copied())
            .collect();
        docs.par_sort_unstable();
        // a lookup reads one block of the table: the members' rows, scattered over the
        // whole table, are read in parallel
        let keys = docs
            .par_iter()
            .map(|&d| {
                let m = records
                    .metas
                    .get(records.doc_records[d as usize] as usize)?;
                Ok(OrderKey {
                    id: m.id,
                    date: m.date,
                    outlet: m.outlet,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(OrderKeys { docs, keys })
    }

    fn get(&self, d: DocId) -> &OrderKey {
        let k = self
            .docs
            .binary_search(&d)
            .expect("only members of a component are ordered");
        &self.keys[k]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::PackedPosition;
    use crate::error::SkipReason;

    fn meta(status: Status, doc: Option<DocId>) -> RecordMeta {
        RecordMeta {
            id: "x".into(),
            date: None,
            outlet: None,
            source: 0,
            position: PackedPosition::from(Position::Line(1)),
            status,
            doc,
            raw_digest: 0,
        }
    }

    #[test]
    fn a_budget_is_warned_of_when_the_documents_pass_its_eighth() {
        let memory = 256 << 20;
        let fits = (memory / RESIDENT_SHARE / RESIDENT_BYTES_A_DOCUMENT) as usize;
        assert_eq!(resident_beyond_budget(0, memory), None);
        assert_eq!(resident_beyond_budget(fits, memory), None);
        let message = resident_beyond_budget(fits + 1, memory).expect("one document too many");
        assert!(
            message.contains(&format!("{} documents", fits + 1)),
            "{message}"
        );
        assert!(message.contains("of the 256 MiB budget"), "{message}");
        // the budget named holds them: no warning under it
        let ten_million = 10_000_000;
        let message = resident_beyond_budget(ten_million, memory).expect("10M documents");
        assert!(message.contains("keep 191 MiB"), "{message}");
        assert!(message.contains("--memory 1526M or more"), "{message}");
        assert_eq!(resident_beyond_budget(ten_million, 1526 << 20), None);
    }

    fn placed(doc: DocId, rep: DocId, score: Option<PairScore>) -> PlacedRow {
        let score = score.as_ref().map(crate::cluster::Similarity::from);
        PlacedRow {
            doc,
            rep,
            score: score.map(|s| (s.jaccard, s.containment)),
            split_from: None,
        }
    }

    #[test]
    fn clusters_are_numbered_in_record_order_and_every_record_is_assigned() {
        let dir = tempfile::tempdir().unwrap();
        let mut records = Records::new(dir.path());
        for m in [
            meta(Status::Ok, Some(0)),
            meta(Status::Skipped(SkipReason::InvalidJson), None),
            meta(Status::Ok, Some(1)),
            meta(Status::Empty, None),
            meta(Status::Ok, Some(2)),
        ] {
            records.metas.push(&m).unwrap();
        }
        records.doc_records = vec![0, 2, 4];
        let copy = PairScore {
            jaccard: 0.123_456_789,
            shared: 9,
            size_a: 10,
            size_b: 12,
            shared_text: None,
        };
        // document 2 is alone: not listed
        let mut placements = PlacementRuns::beside(&records.metas);
        placements
            .push_run(&mut vec![placed(1, 0, Some(copy)), placed(0, 0, None)])
            .unwrap();
        let mut counts = Counts::default();
        let a = assign(&records, &placements, &mut counts)
            .unwrap()
            .to_vec()
            .unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!((a[0].cluster(), a[0].keep()), (Some(0), true));
        assert_eq!(a[1], Assignment::UNREAD);
        // the copy points at its representative's record, with rounded scores
        assert_eq!(
            (a[2].cluster(), a[2].keep(), a[2].duplicate_of()),
            (Some(0), false, Some(0))
        );
        assert_eq!(a[2].similarity(), Some(0.123_457));
        assert_eq!(a[2].containment(), Some(0.9));
        // an empty record is a cluster of its own, numbered where it stands
        assert_eq!((a[3].cluster(), a[3].keep()), (Some(1), true));
        assert_eq!((a[4].cluster(), a[4].keep()), (Some(2), true));
        assert_eq!(
            (
                counts.clusters,
                counts.docs_in_clusters,
                counts.duplicates,
                counts.kept
            ),
            (1, 2, 1, 3)
        );
    }

    /// Stories of eight paragraphs, each with copies that cut, add or edit paragraphs, so
    /// that duplicates carry provenance lists and some chains are split off.
    fn near_copies() -> Vec<(String, String)> {
        let word =
            |s: usize, p: usize, w: usize| format!("w{}x{}", (s * 31 + p * 7 + w) % 997, w % 13);
        let paragraph = |s: usize, p: usize| -> String {
            (0..40).map(|w| word(s, p, w)).collect::<Vec<_>>().join(" ")
        };
        let mut docs = Vec::new();
        for s in 0..60 {
            let story: Vec<String> = (0..8).map(|p| paragraph(s, p)).collect();
            for c in 0..=(s % 5) {
                let mut paras = story.clone();
                match c {
                    1 => drop(paras.pop()),
                    2 => paras.push(paragraph(s + 1000, 0)),
                    3 => paras[2] = paragraph(s + 2000, 2),
                    4 => {
                        paras.truncate(5);
                        paras.push(paragraph(s + 3000, 1));
                    }
                    _ => {}
                }
                docs.push((format!("s{s}-c{c}"), paras.join("\n\n")));
            }
        }
        docs
    }

    #[test]
    fn placement_in_groups_of_any_size_and_threads_gives_the_same_placements_and_provenance() {
        let docs = near_copies();
        let params = crate::params::Params::default().validate().unwrap();
        let sketched = sketch_texts(&docs, &params).unwrap();
        let place = |group: usize, threads: usize| {
            with_threads(Some(threads), || {
                let rule = MatchRule::new(&params);
                let Verified {
                    mut uf,
                    edges,
                    skipped,
                    mut stats,
                    ..
                } = cluster_pairs(
                    sketched.records.doc_records.len(),
                    &sketched.pairs,
                    &sketched.verifier,
                    &rule,
                    None,
                    EdgeTable::beside(&sketched.records.metas),
                    |_| {},
                )?;
                let mut comps = components(&mut uf, &edges, &skipped, params.cluster.shape)?;
                let (placements, table) = place_groups(
                    &sketched.records,
                    &mut comps,
                    &sketched.verifier,
                    &rule,
                    &params,
                    &mut stats,
                    group,
                )?;
                let provenance = (0..docs.len() as u32)
                    .map(|r| table.get(r))
                    .collect::<Result<Vec<_>>>()?;
                Ok((
                    placements.to_vec()?,
                    provenance,
                    stats.split_off,
                    stats.weak_links,
                ))
            })
            .unwrap()
        };
        let want = place(PLACE_GROUP_MEMBERS, 1);
        // the corpus exercises what could go wrong: many components, duplicates with
        // provenance (out of record order when groups are small), split-off members
        let with_provenance = want.1.iter().flatten().count();
        assert!(with_provenance > 50, "{with_provenance} duplicates");
        assert!(
            want.1
                .iter()
                .flatten()
                .any(|p| !p.cut_paragraphs.is_empty()),
            "a copy with cut paragraphs"
        );
        for (group, threads) in [(1, 2), (2, 1), (7, 2), (PLACE_GROUP_MEMBERS, 2)] {
            assert!(
                place(group, threads) == want,
                "groups of {group} members, {threads} threads"
            );
        }
    }
}
