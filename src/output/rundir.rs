//! A finished run read back: its output directory in; its summary, its validated
//! parameters, its `docs.jsonl` and `clusters.jsonl` lines and its inputs read once more
//! out. `explain`, `eval` and `report` all start here.
//!
//! Lines are parsed with the writer's own structs (`output::schema`). `docs.jsonl` is
//! streamed (`for_each_doc`: the report keeps only the records it shows) or loaded whole
//! (`docs`: `explain` and `eval`). Texts are not in the outputs: `replay` reads inputs
//! named by the run again with the run's reader and input parameters, relative paths
//! resolved against the directory the run was started in, and `is_same_record` tells
//! whether a record read again is the one the run saw.
//!
//! Invariant: nothing here trusts an input more than its check: `read_texts` vouches for
//! the texts it handed out only when every record, every count and every byte matched.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::document::Position;
use crate::error::{Error, Result};
use crate::input::{
    FileReport, ParsedRecord, RawRecord, Source, SourceKind, parse_record, read_sources, rereadable,
};
use crate::output::schema::{ClusterLine, DocLine, Summary};
use crate::params::{InputParams, ValidParams};
use crate::paths;

/// A run's output directory, with its summary read and its parameters validated.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory.
    pub dir: PathBuf,
    /// Its `summary.json`.
    pub summary: Summary,
    /// The run's parameters, validated again.
    pub params: ValidParams,
}

impl RunDir {
    /// Reads `summary.json` in `dir`, and checks that every file it was written with
    /// (`Summary::outputs`) is still the one it was: a mixture of two runs is an error
    /// naming the file.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let summary: Summary =
            serde_json::from_str(&text).map_err(|e| not_an_output(&path, 0, &e))?;
        let params = summary.params.clone().validate()?;
        // A Parquet run (`--output-format parquet`) is for other engines to read; this
        // reader reads JSONL only, and says so rather than fail on a missing file.
        if let Some(name) = crate::output::OutputFormat::Parquet
            .files()
            .into_iter()
            .find(|n| summary.outputs.contains_key(*n))
        {
            return Err(Error::Input {
                path: dir.join(name),
                message: "this run wrote its docs and clusters as Parquet \
                          (--output-format parquet); report, eval and explain read only \
                          docs.jsonl and clusters.jsonl: run dedup again with \
                          --output-format jsonl (the default)"
                    .to_owned(),
            });
        }
        for (name, digest) in &summary.outputs {
            let file = dir.join(name);
            let found = crate::output::digest_file(&file).map_err(|e| Error::io(&file, e))?;
            if &found != digest {
                return Err(Error::Input {
                    path: file,
                    message: format!(
                        "does not belong to the run of {} (its digest differs from the one \
                         recorded there): the directory mixes the outputs of two runs; run \
                         dedup again",
                        path.display()
                    ),
                });
            }
        }
        Ok(RunDir {
            dir: dir.to_path_buf(),
            summary,
            params,
        })
    }

    /// Its `docs.jsonl`.
    #[must_use]
    pub fn docs_path(&self) -> PathBuf {
        self.dir.join("docs.jsonl")
    }

    /// Its `clusters.jsonl`.
    #[must_use]
    pub fn clusters_path(&self) -> PathBuf {
        self.dir.join("clusters.jsonl")
    }

    /// Every line of `docs.jsonl`, in input order.
    pub fn docs(&self) -> Result<Vec<DocLine<'static>>> {
        let mut docs = Vec::new();
        self.for_each_doc(|d| {
            docs.push(d);
            Ok(())
        })?;
        Ok(docs)
    }

    /// Calls `f` with each line of `docs.jsonl`, in input order, holding one at a time.
    pub fn for_each_doc(&self, f: impl FnMut(DocLine<'static>) -> Result<()>) -> Result<()> {
        for_lines(&self.docs_path(), f)
    }

    /// Calls `f` with each line of `clusters.jsonl`, in cluster order.
    pub fn for_each_cluster(
        &self,
        f: impl FnMut(ClusterLine<'static>) -> Result<()>,
    ) -> Result<()> {
        for_lines(&self.clusters_path(), f)
    }

    /// An input path as the run saw it (see `resolve`).
    #[must_use]
    pub fn resolve(&self, path: &Path) -> PathBuf {
        let working_dir = self.summary.working_dir.as_deref().map(|dir| {
            paths::from_output(&paths::text(dir), self.summary.working_dir_hex.as_deref())
        });
        resolve(working_dir.as_deref(), path)
    }

    /// The source to read an input of the run again: `name` as the run wrote it (the
    /// exact path when `summary.json` lists it, even one that is not UTF-8), resolved; a
    /// text file's record gets the id the run gave it.
    #[must_use]
    pub fn source(&self, name: &str, kind: SourceKind, doc_id: Option<String>) -> Source {
        let path = self
            .summary
            .inputs
            .iter()
            .find(|i| paths::text(&i.path) == name)
            .map_or_else(|| PathBuf::from(name), FileReport::source_path);
        Source {
            path: self.resolve(&path),
            kind,
            doc_id,
        }
    }

    /// Reads `sources` again with the run's reader and `params`, calling `visit` with
    /// every record in order. Returns what happened to each source.
    pub fn replay(
        &self,
        sources: &[Source],
        params: &InputParams,
        mut visit: impl FnMut(RawRecord),
    ) -> Result<Vec<FileReport>> {
        read_sources(sources, params, |batch| {
            batch.records.into_iter().for_each(&mut visit);
            Ok(())
        })
    }

    /// Streams the run's inputs once and calls `visit(record, text)` for every record
    /// index in `wanted` whose status is ok or empty; `docs` are the run's `docs.jsonl`
    /// lines. Texts passed to `visit` can only be trusted when the result is
    /// `Texts::Available`: a change is sometimes noticed only at the end (a file grew), so
    /// callers keep what they collect until then and drop it otherwise.
    pub fn read_texts<S: std::hash::BuildHasher>(
        &self,
        docs: &[DocLine<'_>],
        wanted: &HashSet<usize, S>,
        visit: &mut dyn FnMut(usize, &str),
    ) -> Texts {
        if wanted.is_empty() {
            return Texts::Available;
        }
        let inputs = &self.summary.inputs;
        if inputs.iter().any(|i| i.path.as_os_str() == "-") {
            return Texts::Unavailable("the run read standard input".into());
        }
        // Sources are rebuilt from the run's own account rather than by expanding the
        // paths again: a directory's text files were named relative to the directory, and
        // a file found in a directory is JSONL by its name alone, not by its first byte.
        let mut first_doc: HashMap<&str, &DocLine<'_>> = HashMap::new();
        for d in docs {
            first_doc.entry(&d.file).or_insert(d);
        }
        // the names the run wrote into docs.jsonl: the paths as typed
        let names: Vec<String> = inputs
            .iter()
            .map(|i| paths::text(&i.path).into_owned())
            .collect();
        let mut sources = Vec::with_capacity(inputs.len());
        for name in &names {
            let doc = first_doc.get(name.as_str()).copied();
            let position = doc.map(DocLine::position);
            let text_file = position == Some(Position::File);
            let kind = match position {
                Some(Position::File) => SourceKind::Text,
                Some(Position::Offset(_)) => SourceKind::Warc,
                Some(Position::Row(_)) => SourceKind::Columnar,
                _ => SourceKind::Jsonl,
            };
            let source = self.source(
                name,
                kind,
                doc.filter(|_| text_file).map(|d| d.id.to_string()),
            );
            if !source.path.exists() {
                return Texts::Unavailable(format!("{name}: no longer exists"));
            }
            // looked at without opening it: opening a FIFO waits for a writer
            if !rereadable(&source.path) {
                return Texts::Unavailable(format!(
                    "{name}: not a regular file (a pipe, a FIFO or a device), so it cannot \
                     be read again"
                ));
            }
            sources.push(source);
        }
        let mut next = 0usize;
        let mut changed: Option<String> = None;
        let input = &self.params.input;
        let result = self.replay(&sources, input, |rec| {
            let index = next;
            next += 1;
            if changed.is_some() {
                return;
            }
            let Some(doc) = docs.get(index) else {
                changed = Some(format!(
                    "more records than the {} of docs.jsonl",
                    docs.len()
                ));
                return;
            };
            let name = &names[rec.source as usize];
            let line = rec.position.line().unwrap_or(0);
            if doc.file != *name || doc.position() != rec.position {
                changed = Some(format!(
                    "record {} is {name}:{line} now, {}:{} in the run",
                    index + 1,
                    doc.file,
                    doc.line.unwrap_or(0)
                ));
                return;
            }
            if !wanted.contains(&index) || !doc.is_scored() {
                return;
            }
            let position = rec.position;
            let parsed = parse_record(rec.raw, input);
            if !is_same_record(&parsed, name, position, &doc.id) {
                changed = Some(format!(
                    "{name}:{line}: not the record {:?} any more",
                    doc.id
                ));
                return;
            }
            visit(index, &parsed.text);
        });
        let reports = match result {
            Ok(r) => r,
            Err(e) => return Texts::Unavailable(e.to_string()),
        };
        if let Some(why) = changed {
            return Texts::Unavailable(format!("the inputs changed since the run: {why}"));
        }
        if next != docs.len() {
            return Texts::Unavailable(format!(
                "the inputs changed since the run: {next} records now, {} then",
                docs.len()
            ));
        }
        for (now, then) in reports.iter().zip(inputs) {
            if now.bytes != then.bytes || now.records != then.records {
                return Texts::Unavailable(format!(
                    "the inputs changed since the run: {} has {} bytes now, {} then",
                    then.path.display(),
                    now.bytes,
                    then.bytes
                ));
            }
        }
        Texts::Available
    }
}

/// Whether the texts read back are the ones the run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum Texts {
    /// Every input read again matched the run.
    Available,
    /// Why not: the inputs are gone, were standard input, or changed since the run.
    Unavailable(String),
}

/// An input path as the run saw it: relative paths are relative to the directory the run
/// was started in (`summary.json`'s `working_dir`, absent in older runs: then the current
/// directory).
#[must_use]
pub fn resolve(working_dir: Option<&Path>, path: &Path) -> PathBuf {
    match working_dir {
        Some(dir) if path.is_relative() && path.as_os_str() != "-" => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Whether a record read again from the input the run named `name`, at `position`, is
/// the record the run gave the id `id`: it still parses, and it has that id (a record
/// without an id field was named after its place, see `Position::name_in`).
#[must_use]
pub fn is_same_record(parsed: &ParsedRecord, name: &str, position: Position, id: &str) -> bool {
    parsed.skip.is_none()
        && match &parsed.id {
            Some(got) => got == id,
            None => position.name_in(name) == id,
        }
}

/// A file (`line` 0) or a line of it that is not what neardup writes.
fn not_an_output(path: &Path, line: u64, e: &serde_json::Error) -> Error {
    let path = path.to_path_buf();
    let message = format!("not a neardup output ({e})");
    if line == 0 {
        Error::Input { path, message }
    } else {
        Error::BadLine {
            path,
            line,
            message,
        }
    }
}

/// Calls `f` with each non-blank line of a JSONL output file, parsed.
fn for_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
    mut f: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = String::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        if reader.read_line(&mut buf).map_err(|e| Error::io(path, e))? == 0 {
            return Ok(());
        }
        line += 1;
        if buf.trim().is_empty() {
            continue;
        }
        f(serde_json::from_str(&buf).map_err(|e| not_an_output(path, line, &e))?)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(id: Option<&str>) -> ParsedRecord {
        ParsedRecord {
            id: id.map(str::to_owned),
            text: "words".into(),
            date: None,
            outlet: None,
            url: None,
            skip: None,
        }
    }

    #[test]
    fn a_record_is_the_same_by_its_id_or_its_place() {
        let line = Position::Line(3);
        assert!(is_same_record(&parsed(Some("a")), "x.jsonl", line, "a"));
        assert!(!is_same_record(&parsed(Some("b")), "x.jsonl", line, "a"));
        assert!(is_same_record(&parsed(None), "x.jsonl", line, "x.jsonl:3"));
        assert!(!is_same_record(&parsed(None), "x.jsonl", line, "x.jsonl:4"));
        let skipped = ParsedRecord {
            skip: Some((crate::SkipReason::InvalidJson, String::new())),
            ..parsed(Some("a"))
        };
        assert!(!is_same_record(&skipped, "x.jsonl", line, "a"));
    }

    #[test]
    fn relative_inputs_resolve_against_the_run_directory() {
        let dir = Some(Path::new("/runs/here"));
        assert_eq!(
            resolve(dir, Path::new("in.jsonl")),
            Path::new("/runs/here/in.jsonl")
        );
        assert_eq!(
            resolve(dir, Path::new("/abs.jsonl")),
            Path::new("/abs.jsonl")
        );
        assert_eq!(resolve(dir, Path::new("-")), Path::new("-"));
        assert_eq!(resolve(None, Path::new("in.jsonl")), Path::new("in.jsonl"));
    }

    #[test]
    fn a_bad_line_names_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.jsonl");
        std::fs::write(&path, "\n{\"id\":\"a\"}\n").unwrap();
        let err = for_lines(&path, |_: DocLine<'static>| Ok(())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("docs.jsonl:2: not a neardup output"), "{msg}");
    }
}
