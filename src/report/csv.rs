//! `syndication.csv`: one row per copy (every member of a cluster but its original), in
//! the order of `clusters.jsonl`, RFC 4180 quoting by the `csv` crate. Written while
//! `clusters.jsonl` streams by, so it costs no memory per cluster.

use std::borrow::Cow;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::temp;
use crate::error::{Error, Result};
use crate::output::schema::ClusterLine;
use crate::provenance::Provenance;

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
        let name = crate::output::REPORT_FILES[2];
        let path = dir.join(name);
        let tmp = temp(dir, name)?;
        let mut out = ::csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, tmp));
        out.write_record(HEADER).map_err(|e| err(&path, e))?;
        Ok(Writer { out, path })
    }

    pub fn cluster(&mut self, line: &ClusterLine<'_>) -> Result<()> {
        fn field(f: Option<&Option<Cow<'_, str>>>) -> String {
            f.and_then(Option::as_deref).unwrap_or("").to_owned()
        }
        let original = line.original();
        let cluster = line.cluster.to_string();
        for (_, copy) in line.copies() {
            let p = copy.provenance.as_deref();
            let num = |f: fn(&Provenance) -> f64| p.map(|p| f(p).to_string()).unwrap_or_default();
            let int = |f: fn(&Provenance) -> u32| p.map(|p| f(p).to_string()).unwrap_or_default();
            let row: [String; 15] = [
                cluster.clone(),
                line.representative.to_string(),
                field(original.map(|m| &m.outlet)),
                field(original.map(|m| &m.date)),
                copy.id.to_string(),
                field(Some(&copy.outlet)),
                field(Some(&copy.date)),
                p.map(|p| p.relation.as_str().to_owned())
                    .unwrap_or_default(),
                num(|p| p.jaccard),
                num(Provenance::containment),
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
