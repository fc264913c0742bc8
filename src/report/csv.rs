//! `syndication.csv`: one row per copy (every member of a cluster but its original), in
//! the order of `clusters.jsonl`, RFC 4180 quoting by the `csv` crate. Written while
//! `clusters.jsonl` streams by, so it costs no memory per cluster.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::{ClusterLine, temp};
use crate::error::{Error, Result};

pub const HEADER: [&str; 15] = [
    "cluster",
    "original_id",
    "original_outlet",
    "original_date",
    "copy_id",
    "copy_outlet",
    "copy_date",
    "relation",
    "jaccard",
    "containment",
    "copy_in_original",
    "original_in_copy",
    "kept_paragraphs",
    "original_paragraphs",
    "weak",
];

pub(super) struct Writer {
    out: ::csv::Writer<BufWriter<NamedTempFile>>,
    path: PathBuf,
}

fn err(path: &Path, e: ::csv::Error) -> Error {
    let io = match e.into_kind() {
        ::csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    };
    Error::output(path, io)
}

impl Writer {
    pub fn new(dir: &Path) -> Result<Self> {
        let path = dir.join("syndication.csv");
        let tmp = temp(dir, "syndication.csv")?;
        let mut out = ::csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, tmp));
        out.write_record(HEADER).map_err(|e| err(&path, e))?;
        Ok(Writer { out, path })
    }

    pub fn cluster(&mut self, line: &ClusterLine) -> Result<()> {
        fn field(f: Option<&Option<String>>) -> &str {
            f.and_then(Option::as_deref).unwrap_or("")
        }
        let original = line.original();
        let cluster = line.cluster.to_string();
        for copy in line.copies() {
            let p = copy.provenance.as_ref();
            let num = |f: fn(&super::Prov) -> f64| p.map(|p| f(p).to_string()).unwrap_or_default();
            let int = |f: fn(&super::Prov) -> u32| p.map(|p| f(p).to_string()).unwrap_or_default();
            let row: [String; 15] = [
                cluster.clone(),
                line.representative.clone(),
                field(original.map(|m| &m.outlet)).to_owned(),
                field(original.map(|m| &m.date)).to_owned(),
                copy.id.clone(),
                copy.outlet.clone().unwrap_or_default(),
                copy.date.clone().unwrap_or_default(),
                p.map(|p| p.relation.clone()).unwrap_or_default(),
                num(|p| p.jaccard),
                num(super::Prov::containment),
                num(|p| p.copy_in_original),
                num(|p| p.original_in_copy),
                int(|p| p.kept_paragraphs),
                int(|p| p.original_paragraphs),
                p.map(|p| p.weak.to_string()).unwrap_or_default(),
            ];
            self.out
                .write_record(&row)
                .map_err(|e| err(&self.path, e))?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<NamedTempFile> {
        let path = self.path;
        let buf = self
            .out
            .into_inner()
            .map_err(|e| Error::output(&path, std::io::Error::other(e.to_string())))?;
        let tmp = buf
            .into_inner()
            .map_err(|e| Error::output(&path, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::output(&path, e))?;
        Ok(tmp)
    }
}
