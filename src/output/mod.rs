//! Outputs: the result of a run in, files in the output directory out.
//!
//! - `docs.jsonl`: one line per input record, in input order.
//! - `clusters.jsonl`: one line per cluster of two or more records.
//! - `summary.json`: parameters, format version, counts, timings.
//!
//! Each file is written under a temporary name in the same directory and renamed into
//! place only after all of them are complete, `summary.json` last: a directory whose
//! `summary.json` is fresh holds a complete, consistent result, and an interrupted run
//! never leaves a partial file under a final name.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::pipeline::{Dedup, Summary};

#[derive(Serialize)]
struct DocLine<'a> {
    id: &'a str,
    cluster: Option<u64>,
    keep: bool,
    duplicate_of: Option<&'a str>,
    similarity: Option<f64>,
    status: &'static str,
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
}

#[derive(Serialize)]
struct Member<'a> {
    id: &'a str,
    similarity: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    outlet: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
}

#[derive(Serialize)]
struct ClusterLine<'a> {
    cluster: u64,
    size: usize,
    representative: &'a str,
    members: Vec<Member<'a>>,
}

/// A file being written under a temporary name.
struct Pending {
    tmp: BufWriter<NamedTempFile>,
    name: &'static str,
}

impl Pending {
    fn new(dir: &Path, name: &'static str) -> Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::output(dir.join(name), e))?;
        Ok(Pending {
            tmp: BufWriter::with_capacity(1 << 20, tmp),
            name,
        })
    }

    fn line(&mut self, dir: &Path, value: &impl Serialize) -> Result<()> {
        let w = &mut self.tmp;
        serde_json::to_writer(&mut *w, value)
            .map_err(|e| Error::output(dir.join(self.name), e.into()))?;
        w.write_all(b"\n")
            .map_err(|e| Error::output(dir.join(self.name), e))
    }

    fn finish(self, dir: &Path) -> Result<(NamedTempFile, &'static str)> {
        let file = self
            .tmp
            .into_inner()
            .map_err(|e| Error::output(dir.join(self.name), e.into_error()))?;
        file.as_file()
            .sync_all()
            .map_err(|e| Error::output(dir.join(self.name), e))?;
        Ok((file, self.name))
    }
}

/// Writes every output of `dedup` into `dir`.
pub fn write_all(dir: &Path, dedup: &Dedup, summary: &mut Summary, started: Instant) -> Result<()> {
    let records = &dedup.records;
    let metas = &records.metas;
    let source_names: Vec<String> = dedup
        .sources
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();

    let mut docs = Pending::new(dir, "docs.jsonl")?;
    let mut members: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for (i, (meta, a)) in metas.iter().zip(&dedup.assignments).enumerate() {
        let line = DocLine {
            id: &meta.id,
            cluster: a.cluster,
            keep: a.keep,
            duplicate_of: a.duplicate_of.map(|r| &*metas[r as usize].id),
            similarity: a.similarity,
            status: meta.status.as_str(),
            file: source_names[meta.source as usize].clone(),
            line: (meta.line > 0).then_some(meta.line),
        };
        docs.line(dir, &line)?;
        if let (Some(c), Some(_)) = (a.cluster, a.duplicate_of) {
            members.entry(c).or_default().push(i as u32);
        }
    }

    let mut clusters = Pending::new(dir, "clusters.jsonl")?;
    for (cluster, dups) in &members {
        let rep = dedup.assignments[dups[0] as usize]
            .duplicate_of
            .expect("members are duplicates");
        let mut all: Vec<u32> = dups.clone();
        all.push(rep);
        all.sort_unstable();
        let member = |r: u32| {
            let m = &metas[r as usize];
            Member {
                id: &m.id,
                similarity: dedup.assignments[r as usize].similarity.unwrap_or(1.0),
                outlet: records.outlet(m),
                date: m.date.as_deref(),
            }
        };
        let line = ClusterLine {
            cluster: *cluster,
            size: all.len(),
            representative: &metas[rep as usize].id,
            members: all.into_iter().map(member).collect(),
        };
        clusters.line(dir, &line)?;
    }

    let docs = docs.finish(dir)?;
    let clusters = clusters.finish(dir)?;
    summary
        .seconds
        .insert("write", started.elapsed().as_secs_f64());
    let mut sum = Pending::new(dir, "summary.json")?;
    serde_json::to_writer_pretty(&mut sum.tmp, &summary)
        .map_err(|e| Error::output(dir.join("summary.json"), e.into()))?;
    sum.tmp
        .write_all(b"\n")
        .map_err(|e| Error::output(dir.join("summary.json"), e))?;
    let sum = sum.finish(dir)?;
    for (file, name) in [docs, clusters, sum] {
        file.persist(dir.join(name))
            .map_err(|e| Error::output(dir.join(name), e.error))?;
    }
    Ok(())
}
