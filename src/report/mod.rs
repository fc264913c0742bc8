//! Report: the files of a finished run in, a human-readable report out.
//!
//! Reads `summary.json`, `clusters.jsonl` and `docs.jsonl` from a run's output directory
//! (never re-clustering) and writes, into the same directory, `report.html` (one
//! self-contained page: inline CSS, JS and SVG), `report.md` and `syndication.csv` (one
//! row per copy). The texts are not in the outputs, so the input files named in
//! `summary.json` are read once more, and only the records of the clusters shown are kept:
//! memory grows with `max_clusters`, not with the corpus. Paragraph indices are cut with
//! the run's own segmentation (`paragraph::segment` with the run's `paragraphs.split`, or
//! the whole text as paragraph 0 when the paragraph stage was off), so they mean what the
//! run meant. An input that is gone or changed costs the side-by-side text, not the
//! report: the page says so.
//!
//! Invariant: the three files are written under temporary names in the directory and
//! renamed into place only when all three are complete.

mod csv;
mod html;
mod markdown;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::NamedTempFile;

use crate::document::Position;
use crate::error::{Error, Result};
use crate::input::{SourceKind, parse_record};
use crate::output::REPORT_FILES;
use crate::output::rundir::{RunDir, is_same_record};
use crate::output::schema::ClusterLine;
use crate::paragraph::{Span, segment};
use crate::params::{ErrorPolicy, InputParams};

/// Outlets shown in the outlet-by-outlet matrix (by number of copies they take part in).
pub const MATRIX_OUTLETS: usize = 20;

/// Copies of one cluster shown side by side with the original; the rest are in its table.
/// A wire story picked up by hundreds of outlets would otherwise make a page nobody reads.
pub const SIDE_BY_SIDE_PER_CLUSTER: usize = 25;

/// What to put in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// Clusters shown in detail, largest first.
    pub max_clusters: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { max_clusters: 100 }
    }
}

/// What `write_report` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    /// The files written, in the order html, markdown, csv.
    pub files: Vec<PathBuf>,
    /// Clusters of two or more records in the run.
    pub clusters: u64,
    /// Records that are copies of another (not kept).
    pub copies: u64,
    /// Clusters shown in full (the largest, at most `max_clusters`).
    pub shown: usize,
    /// Why some or all texts could not be shown (a missing or changed input), as in the page.
    pub notices: Vec<String>,
}

/// One shown document: where it came from, what the paragraph stage removed, and, when the
/// input could be read again, its text cut into the run's paragraphs.
#[derive(Debug, Clone, Default)]
pub(crate) struct DocView {
    /// Its id, as `docs.jsonl` has it.
    pub id: String,
    pub file: String,
    pub position: Position,
    /// Paragraph index -> the paragraph it repeats.
    pub repeats: BTreeMap<u32, u32>,
    pub boilerplate: HashSet<u32>,
    pub text: Option<String>,
    pub spans: Vec<Span>,
}

impl DocView {
    pub fn paragraph(&self, i: usize) -> Option<&str> {
        let text = self.text.as_deref()?;
        let &(a, b) = self.spans.get(i)?;
        text.get(a as usize..b as usize)
    }
}

/// A cluster shown in detail, with its documents by their place in `line.members`.
pub(crate) struct Shown {
    pub line: ClusterLine<'static>,
    pub docs: Vec<DocView>,
}

impl Shown {
    /// The document of the member at `index` of `line.members`.
    pub fn doc(&self, index: Option<usize>) -> Option<&DocView> {
        self.docs.get(index?)
    }
}

/// Counts of copies from the outlet of the original (row) to the outlet of the copy.
#[derive(Default)]
pub(crate) struct Matrix {
    /// The outlets shown, by volume (copies they take part in), largest first.
    pub outlets: Vec<String>,
    pub cells: HashMap<(String, String), u64>,
    pub total_outlets: usize,
    /// Copies whose original or copy outlet is not among `outlets`.
    pub copies_not_shown: u64,
}

/// Everything the renderers need.
pub(crate) struct Report {
    pub dir: PathBuf,
    pub summary: Value,
    pub clusters: u64,
    pub copies: u64,
    /// Cluster size -> number of clusters.
    pub sizes: BTreeMap<usize, u64>,
    pub relations: BTreeMap<String, u64>,
    pub weak_copies: u64,
    pub matrix: Matrix,
    pub shown: Vec<Shown>,
    pub notices: Vec<String>,
}

impl Report {
    pub fn omitted(&self) -> u64 {
        self.clusters - self.shown.len() as u64
    }

    /// A number (or string) from `summary.json` by JSON pointer, as text; "–" when absent,
    /// so a summary from another version still renders.
    pub fn figure(&self, pointer: &str) -> String {
        match self.summary.pointer(pointer) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => "–".into(),
        }
    }

    /// Records skipped, by reason.
    pub fn skipped(&self) -> Vec<(String, String)> {
        match self.summary.pointer("/counts/skipped") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every parameter as `section.name = value`, in the summary's order.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(p) = self.summary.get("params") {
            flatten("", p, &mut out);
        }
        out
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Reads the run in `dir` and writes `report.html`, `report.md` and `syndication.csv` into it.
pub fn write_report(dir: &Path, options: &ReportOptions) -> Result<ReportOutcome> {
    let run = RunDir::open(dir)?;
    // the renderers show any figure by its JSON pointer, so a figure added to the summary
    // needs no code here
    let summary = serde_json::to_value(&run.summary).expect("a summary serializes");

    // one pass over clusters.jsonl: the CSV, the figures, the largest clusters
    let mut csv_out = self::csv::Writer::new(dir)?;
    let mut report = Report {
        dir: dir.to_path_buf(),
        summary,
        clusters: 0,
        copies: 0,
        sizes: BTreeMap::new(),
        relations: BTreeMap::new(),
        weak_copies: 0,
        matrix: Matrix::default(),
        shown: Vec::new(),
        notices: Vec::new(),
    };
    let mut pairs: HashMap<(String, String), u64> = HashMap::new();
    let mut largest: Vec<ClusterLine<'static>> = Vec::new();
    let by_size = |a: &ClusterLine<'_>, b: &ClusterLine<'_>| {
        b.size.cmp(&a.size).then(a.cluster.cmp(&b.cluster))
    };
    run.for_each_cluster(|line| {
        report.clusters += 1;
        *report.sizes.entry(line.size).or_default() += 1;
        let original = line.original();
        let from = outlet_name(original.and_then(|m| m.outlet.as_deref()));
        for (_, copy) in line.copies() {
            report.copies += 1;
            if let Some(p) = &copy.provenance {
                *report
                    .relations
                    .entry(p.relation.as_str().to_owned())
                    .or_default() += 1;
                report.weak_copies += u64::from(p.weak);
            }
            let to = outlet_name(copy.outlet.as_deref());
            *pairs.entry((from.clone(), to)).or_default() += 1;
        }
        csv_out.cluster(&line)?;
        if options.max_clusters > 0 {
            largest.push(line);
            // keep the work bounded: sort and cut whenever twice the shown count is held
            if largest.len() >= options.max_clusters.saturating_mul(2).max(64) {
                largest.sort_by(by_size);
                largest.truncate(options.max_clusters);
            }
        }
        Ok(())
    })?;
    largest.sort_by(by_size);
    largest.truncate(options.max_clusters);
    report.matrix = matrix(pairs);

    let mut docs = shown_docs(&run, &largest)?;
    report.notices = shown_texts(&run, &mut docs)?;
    report.shown = assemble(largest, docs);

    let html = html::render(&report);
    let md = markdown::render(&report);
    let [html_name, md_name, _] = REPORT_FILES;
    let html = finished(dir, html_name, html.as_bytes())?;
    let md = finished(dir, md_name, md.as_bytes())?;
    let csv = csv_out.finish()?;
    let mut files = Vec::new();
    for (tmp, name) in [html, md, csv].into_iter().zip(REPORT_FILES) {
        let path = dir.join(name);
        tmp.persist(&path)
            .map_err(|e| Error::output(&path, e.error))?;
        files.push(path);
    }
    Ok(ReportOutcome {
        files,
        clusters: report.clusters,
        copies: report.copies,
        shown: report.shown.len(),
        notices: report.notices,
    })
}

/// Documents of the shown clusters, by cluster, in input order: the order of the
/// cluster's members in `clusters.jsonl`, so the i-th is the i-th member. Ids need not be
/// unique (a page crawled twice), so a record is never looked up by its id.
type ShownDocs = HashMap<u64, Vec<DocView>>;

fn shown_docs(run: &RunDir, shown: &[ClusterLine<'_>]) -> Result<ShownDocs> {
    let wanted: HashSet<u64> = shown.iter().map(|c| c.cluster).collect();
    let mut docs = ShownDocs::new();
    if wanted.is_empty() {
        return Ok(docs);
    }
    run.for_each_doc(|d| {
        if let Some(c) = d.cluster.filter(|c| wanted.contains(c)) {
            let view = DocView {
                id: d.id.to_string(),
                file: d.file.to_string(),
                position: d.position(),
                repeats: d
                    .repeats()
                    .iter()
                    .map(|r| (r.paragraph, r.copy_of))
                    .collect(),
                boilerplate: d.boilerplate().iter().copied().collect(),
                text: None,
                spans: Vec::new(),
            };
            docs.entry(c).or_default().push(view);
        }
        Ok(())
    })?;
    Ok(docs)
}

fn assemble(clusters: Vec<ClusterLine<'static>>, mut docs: ShownDocs) -> Vec<Shown> {
    clusters
        .into_iter()
        .map(|line| {
            let mut docs = docs.remove(&line.cluster).unwrap_or_default();
            // a run's two files agree member for member; a view that does not is not shown
            if docs.len() != line.members.len()
                || docs.iter().zip(&line.members).any(|(d, m)| d.id != m.id)
            {
                docs.clear();
            }
            Shown { line, docs }
        })
        .collect()
}

/// Reads the texts of `docs` from the run's inputs, streaming each needed file once.
/// Returns notices for whatever could not be shown: a missing or changed file costs its
/// records' texts, not the others'.
fn shown_texts(run: &RunDir, docs: &mut ShownDocs) -> Result<Vec<String>> {
    let mut notices = Vec::new();
    if docs.is_empty() {
        return Ok(notices);
    }
    let declared: Vec<String> = run
        .summary
        .inputs
        .iter()
        .map(|f| crate::paths::text(&f.path).into_owned())
        .collect();
    // (file, position) -> (cluster, place in the cluster's list)
    let mut wanted: HashMap<(String, Position), (u64, usize)> = HashMap::new();
    let mut files: Vec<(String, SourceKind)> = Vec::new();
    let mut seen_files = HashSet::new();
    for (d, cluster, place) in docs
        .iter()
        .flat_map(|(c, v)| v.iter().enumerate().map(move |(i, d)| (d, *c, i)))
    {
        wanted.insert((d.file.clone(), d.position), (cluster, place));
        if seen_files.insert(d.file.clone()) {
            let kind = match d.position {
                Position::File => SourceKind::Text,
                Position::Line(_) => SourceKind::Jsonl,
                Position::Offset(_) => SourceKind::Warc,
                Position::Row(_) => SourceKind::Columnar,
            };
            files.push((d.file.clone(), kind));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut sources = Vec::new();
    // the names the run wrote into docs.jsonl, one per source
    let mut names: Vec<String> = Vec::new();
    for (file, kind) in files {
        // a text file is one document: the one the run named
        let doc_id = (kind == SourceKind::Text)
            .then(|| {
                wanted
                    .get(&(file.clone(), Position::File))
                    .map(|&(c, i)| docs[&c][i].id.clone())
            })
            .flatten();
        let source = run.source(&file, kind, doc_id);
        if file == "-" {
            notices.push(
                "The run read standard input, which cannot be read again: texts of its \
                 records are not shown."
                    .into(),
            );
        } else if source.path.exists() && !source.path.is_file() {
            // looked at without opening it: opening a FIFO waits for a writer
            notices.push(format!(
                "Input {file} is not a regular file (a pipe, a FIFO or a device), which \
                 cannot be read again: texts of its records are not shown."
            ));
        } else if !source.path.is_file() {
            let listed = if declared.contains(&file) {
                ""
            } else {
                " (not listed in summary.json)"
            };
            notices.push(format!(
                "Input file {file}{listed} was not found (as {}): texts of its records are \
                 not shown.",
                source.path.display()
            ));
        } else {
            names.push(file.clone());
            sources.push(source);
        }
    }
    // file-level problems are this report's notices, never the end of it
    let params = InputParams {
        on_error: ErrorPolicy::Skip,
        ..run.params.input.clone()
    };
    let paragraphs = &run.params.paragraphs;
    let mut changed: BTreeMap<String, u64> = BTreeMap::new();
    let reports = run.replay(&sources, &params, |rec| {
        let file = names[rec.source as usize].clone();
        let Some((cluster, place)) = wanted.remove(&(file.clone(), rec.position)) else {
            return;
        };
        let position = rec.position;
        let parsed = parse_record(rec.raw, &params);
        let Some(view) = docs.get_mut(&cluster).and_then(|v| v.get_mut(place)) else {
            return;
        };
        let same = is_same_record(&parsed, &file, position, &view.id);
        if !same {
            *changed.entry(file).or_default() += 1;
            return;
        }
        let text = parsed.text;
        if paragraphs.enabled {
            segment(&text, paragraphs.split, &mut view.spans);
        } else {
            view.spans = vec![(0, text.len() as u32)];
        }
        view.text = Some(text);
    })?;
    for r in reports {
        if let Some(e) = r.error {
            notices.push(format!(
                "Input file {} could not be read to its end ({e}): texts after the damage are \
                 not shown.",
                r.path.display()
            ));
        }
    }
    for ((file, _), _) in wanted {
        if names.contains(&file) {
            *changed.entry(file).or_default() += 1;
        }
    }
    // an index past the paragraphs found means the text is not the one the run saw
    for view in docs.values_mut().flatten() {
        if view.text.is_some() {
            let n = view.spans.len() as u32;
            let max = view
                .boilerplate
                .iter()
                .chain(view.repeats.keys())
                .copied()
                .max();
            if max.is_some_and(|m| m >= n) {
                view.text = None;
                *changed.entry(view.file.clone()).or_default() += 1;
            }
        }
    }
    for (file, n) in changed {
        notices.push(format!(
            "Input file {file} changed since the run: {n} shown record(s) were not found as \
             they were, and their texts are not shown."
        ));
    }
    Ok(notices)
}

/// The shown outlets and the copies between them.
fn matrix(pairs: HashMap<(String, String), u64>) -> Matrix {
    let mut volume: HashMap<&str, u64> = HashMap::new();
    for ((from, to), n) in &pairs {
        *volume.entry(from).or_default() += n;
        if to != from {
            *volume.entry(to).or_default() += n;
        }
    }
    let mut ranked: Vec<(&str, u64)> = volume.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let total_outlets = ranked.len();
    let outlets: Vec<String> = ranked
        .iter()
        .take(MATRIX_OUTLETS)
        .map(|(o, _)| (*o).to_owned())
        .collect();
    let top: HashSet<&str> = outlets.iter().map(String::as_str).collect();
    let copies_not_shown = pairs
        .iter()
        .filter(|((f, t), _)| !top.contains(f.as_str()) || !top.contains(t.as_str()))
        .map(|(_, n)| n)
        .sum();
    Matrix {
        outlets,
        cells: pairs,
        total_outlets,
        copies_not_shown,
    }
}

pub(crate) const NO_OUTLET: &str = "(no outlet)";

/// The paragraph stage's figures in `summary.json`, with their labels, for both pages.
pub(crate) const PARAGRAPH_FIGURES: [(&str, &str); 7] = [
    ("/paragraphs/paragraphs", "paragraphs"),
    ("/paragraphs/repeats", "repeated paragraphs"),
    ("/paragraphs/repeat_blocks", "repeat blocks"),
    ("/paragraphs/docs_with_repeats", "records with repeats"),
    (
        "/paragraphs/boilerplate_paragraphs",
        "boilerplate paragraphs",
    ),
    (
        "/paragraphs/boilerplate_texts",
        "distinct boilerplate texts",
    ),
    (
        "/paragraphs/docs_with_boilerplate",
        "records with boilerplate",
    ),
];

fn outlet_name(outlet: Option<&str>) -> String {
    outlet.unwrap_or(NO_OUTLET).to_owned()
}

/// `bytes` in a temporary file of `dir`, synced, to be renamed to `name`.
fn finished(dir: &Path, name: &str, bytes: &[u8]) -> Result<NamedTempFile> {
    let mut tmp = temp(dir, name)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::output(dir.join(name), e))?;
    Ok(tmp)
}

/// A temporary file beside the final `name`, so that the rename cannot cross filesystems.
fn temp(dir: &Path, name: &str) -> Result<NamedTempFile> {
    crate::output::temp_beside(dir, name)
}

/// Days since 1970-01-01 of an ISO date (`date::parse`), `None` for any other text.
pub(crate) fn days(date: &str) -> Option<i64> {
    crate::date::parse(date).map(crate::date::IsoDate::days_since_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_keeps_the_busiest_outlets() {
        let mut pairs = HashMap::new();
        for i in 0..30u64 {
            pairs.insert((format!("o{i:02}"), "wire".to_owned()), i + 1);
        }
        let m = matrix(pairs);
        assert_eq!(m.total_outlets, 31);
        assert_eq!(m.outlets.len(), MATRIX_OUTLETS);
        assert_eq!(m.outlets[0], "wire");
        assert_eq!(m.outlets[1], "o29");
        // o00..o10 (11 outlets, 1..=11 copies) are left out
        assert_eq!(m.copies_not_shown, (1..=11).sum::<u64>());
    }
}
