//! Boilerplate across documents: the paragraphs an outlet prints on many of its pages.
//!
//! In: one `(group, paragraph hash)` key per distinct paragraph of each compared document,
//! and the number of documents in each group. Out: the keys that are boilerplate with
//! their document counts, the paragraphs each article set leaves out, and the figures
//! `summary.json` reports (the sketch pass, `sketch::pass`, applies them).
//!
//! A paragraph is boilerplate for an outlet when it occurs in at least
//! `boilerplate_min_docs` (default 3) of the outlet's documents and in at least
//! `boilerplate_min_fraction` (default 0.5%) of them. The count is by document, so a
//! paragraph printed twice in one article is not evidence, and a single document is
//! never evidence. The outlet is the outlet field, else the host of the URL field, else
//! one group for the whole input. The keys cost 16 bytes a paragraph in memory up to the
//! share of `--memory` that `KeyCounts` is given; past it they are counted into sorted
//! runs on disk and merged (see `KeyCounts`). The paragraph texts themselves are never
//! held.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::ValidParams;
use crate::spill::RunCursor;

/// The boilerplate group of a document: its outlet, else the host of its URL, else
/// `None` (one group for all such documents, the whole input).
#[must_use]
pub fn outlet_group(outlet: Option<&str>, url: Option<&str>) -> Option<String> {
    outlet.map(str::to_owned).or_else(|| url.and_then(url_host))
}

/// The host of a URL, lower-cased, without `www.`: the outlet of a record without one,
/// and of a WARC record (its WARC-Target-URI's host).
#[must_use]
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest
        .split(['/', '?', '#'])
        .next()?
        .rsplit('@')
        .next()?
        .split(':')
        .next()?;
    let host = host.trim().to_ascii_lowercase();
    let host = host.strip_prefix("www.").map(str::to_owned).unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

/// Boilerplate statistics for `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParagraphSummary {
    /// Paragraphs of the compared documents.
    pub paragraphs: u64,
    /// Paragraphs that repeat an earlier one of their document.
    pub repeats: u64,
    /// Runs of consecutive repeats.
    pub repeat_blocks: u64,
    /// Documents with at least one repeat.
    pub docs_with_repeats: u64,
    /// Boilerplate paragraph occurrences flagged.
    pub boilerplate_paragraphs: u64,
    /// Distinct (outlet, paragraph) pairs that are boilerplate.
    pub boilerplate_texts: u64,
    /// Documents with at least one boilerplate paragraph.
    pub docs_with_boilerplate: u64,
    /// Per outlet (or URL host; "" for the whole input), its most frequent boilerplate.
    pub top_boilerplate: BTreeMap<String, Vec<BoilerplateText>>,
}

/// One boilerplate text of a group, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoilerplateText {
    /// First 80 characters, whitespace folded.
    pub text: String,
    /// Documents of the group it occurs in.
    pub docs: u64,
}

/// Texts shown per group in the summary.
pub const TOP_PER_GROUP: usize = 5;
/// Groups shown in the summary, largest first.
pub const TOP_GROUPS: usize = 100;

/// True when a paragraph found in `count` of its outlet group's `group_docs` documents is
/// the group's boilerplate.
#[must_use]
pub fn is_boilerplate(count: u64, group_docs: u64, params: &ValidParams) -> bool {
    let pp = &params.paragraphs;
    count >= pp.boilerplate_min_docs
        && count as f64 >= pp.boilerplate_min_fraction * group_docs as f64
}

/// The paragraphs left out of a document's article set, sorted: its boilerplate
/// (`flagged`) and its repeated paragraphs, when articles are compared clean; none
/// otherwise.
#[must_use]
pub fn removed_paragraphs(
    flagged: &[u32],
    repeated: impl IntoIterator<Item = u32>,
    params: &ValidParams,
) -> Vec<u32> {
    let mut removed: Vec<u32> = Vec::new();
    removed_paragraphs_into(flagged, repeated, params, &mut removed);
    removed
}

/// `removed_paragraphs` into `removed`, replacing what it held and keeping its buffer.
pub fn removed_paragraphs_into(
    flagged: &[u32],
    repeated: impl IntoIterator<Item = u32>,
    params: &ValidParams,
    removed: &mut Vec<u32>,
) {
    removed.clear();
    if params.paragraphs.clean_articles {
        removed.extend_from_slice(flagged);
        removed.extend(repeated);
        removed.sort_unstable();
    }
}

/// A `(group, paragraph hash)` key: one per distinct paragraph of each compared document.
pub type ParagraphKey = (u32, u64);

/// Bytes of one counted key in a run: group `u32`, hash `u64`, documents `u64`,
/// little-endian.
const COUNT_ENTRY: usize = 20;

/// How many documents hold each `(group, paragraph hash)` key, gathered in the streaming
/// pass inside a memory budget.
///
/// Keys are held as they come (16 bytes each) until the budget's worth is pending; then
/// they are sorted, each distinct key is written once with its count to a sorted run (an
/// unnamed temporary file, removed by the OS whatever happens), and the buffer is reused.
/// Boilerplate often repeats within a block, so a run is usually smaller than its keys.
/// `for_each_count` merges the runs k-way and sums the counts of equal keys: the counts,
/// and so every boilerplate decision, are those of one sort over all keys, whatever the
/// budget. Below the budget nothing is written and the keys are sorted in memory.
pub struct KeyCounts {
    pending: Vec<ParagraphKey>,
    limit: usize,
    dir: PathBuf,
    runs: Vec<(File, u64)>,
    bytes: u64,
}

impl KeyCounts {
    /// Counts holding at most `budget` bytes of keys in memory; runs go to `dir`.
    #[must_use]
    pub fn new(budget: usize, dir: &Path) -> Self {
        // a power of two, so the buffer's doubling stops exactly at the limit
        let entries = budget / std::mem::size_of::<ParagraphKey>();
        let limit = if entries < 2 { 1 } else { 1 << entries.ilog2() };
        KeyCounts {
            pending: Vec::new(),
            limit: limit.max(1 << 10),
            dir: dir.to_path_buf(),
            runs: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds one document's keys: `hashes` are its distinct paragraph hashes, `group` its
    /// boilerplate group.
    pub fn add(&mut self, group: u32, hashes: &[u64]) -> Result<()> {
        for &h in hashes {
            if self.pending.len() == self.limit {
                self.write_run()?;
            }
            self.pending.push((group, h));
        }
        Ok(())
    }

    /// Sorts the pending keys and writes each distinct one with its count as a new run.
    fn write_run(&mut self) -> Result<()> {
        let err = |e| Error::spill(&self.dir, e);
        self.pending.par_sort_unstable();
        let file = tempfile::tempfile_in(&self.dir).map_err(err)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut bytes = 0u64;
        for ((group, hash), documents) in counted(&self.pending) {
            out.write_all(&group.to_le_bytes())
                .and_then(|()| out.write_all(&hash.to_le_bytes()))
                .and_then(|()| out.write_all(&documents.to_le_bytes()))
                .map_err(err)?;
            bytes += COUNT_ENTRY as u64;
        }
        let file = out.into_inner().map_err(|e| err(e.into_error()))?;
        self.pending.clear();
        self.bytes += bytes;
        self.runs.push((file, bytes));
        Ok(())
    }

    /// Runs written, and their bytes (0 and 0 when the keys fit the budget).
    #[must_use]
    pub fn spilled(&self) -> (usize, u64) {
        (self.runs.len(), self.bytes)
    }

    /// Calls `f` with every distinct key and the number of documents holding it, in
    /// ascending key order.
    pub fn for_each_count(&mut self, mut f: impl FnMut(ParagraphKey, u64)) -> Result<()> {
        if self.runs.is_empty() {
            self.pending.par_sort_unstable();
            for (key, documents) in counted(&self.pending) {
                f(key, documents);
            }
            return Ok(());
        }
        if !self.pending.is_empty() {
            self.write_run()?;
        }
        let read_err = |e| Error::spill(&self.dir, e);
        let mut cursors: Vec<RunCursor<'_, COUNT_ENTRY>> = self
            .runs
            .iter()
            .map(|(file, bytes)| RunCursor::new(file, 0, *bytes))
            .collect();
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(e) = c.next_entry().map_err(read_err)? {
                let (key, n) = decode_count(e);
                heap.push(Reverse((key, n, i)));
            }
        }
        let mut current: Option<(ParagraphKey, u64)> = None;
        while let Some(Reverse((key, n, i))) = heap.pop() {
            current = match current {
                Some((k, total)) if k == key => Some((k, total + n)),
                Some((k, total)) => {
                    f(k, total);
                    Some((key, n))
                }
                None => Some((key, n)),
            };
            if let Some(e) = cursors[i].next_entry().map_err(read_err)? {
                let (key, n) = decode_count(e);
                heap.push(Reverse((key, n, i)));
            }
        }
        if let Some((k, total)) = current {
            f(k, total);
        }
        Ok(())
    }
}

/// Each distinct key of sorted `keys` with the number of times it occurs.
fn counted(keys: &[ParagraphKey]) -> impl Iterator<Item = (ParagraphKey, u64)> + '_ {
    keys.chunk_by(|a, b| a == b)
        .map(|run| (run[0], run.len() as u64))
}

/// A counted key as `KeyCounts::write_run` encodes it.
fn decode_count(e: [u8; COUNT_ENTRY]) -> (ParagraphKey, u64) {
    let group = u32::from_le_bytes(e[..4].try_into().expect("4 bytes"));
    let hash = u64::from_le_bytes(e[4..12].try_into().expect("8 bytes"));
    let documents = u64::from_le_bytes(e[12..].try_into().expect("8 bytes"));
    ((group, hash), documents)
}

/// The `(group, hash)` keys that are boilerplate, with their document counts: the
/// documents of this run holding each (`keys`) plus those of earlier runs in `prior` (an
/// index's archive; `group_docs` then counts them too).
pub fn frequent_keys<S: BuildHasher>(
    keys: &mut KeyCounts,
    group_docs: &[u64],
    prior: &HashMap<ParagraphKey, u64, S>,
    params: &ValidParams,
) -> Result<HashMap<ParagraphKey, u64>> {
    let mut out = HashMap::new();
    keys.for_each_count(|key, documents| {
        let count = documents + prior.get(&key).copied().unwrap_or(0);
        if is_boilerplate(count, group_docs[key.0 as usize], params) {
            out.insert(key, count);
        }
    })?;
    Ok(out)
}

/// The most frequent boilerplate of each group, for the summary: at most
/// `TOP_PER_GROUP` texts (most documents first) of each of the `TOP_GROUPS` largest
/// groups. `frequent` are the boilerplate keys with their document counts, `snippets` the
/// snippet of each key's text (`document::snippet`) as one of its documents had it.
#[must_use]
pub fn top_boilerplate<S: BuildHasher>(
    frequent: &HashMap<(u32, u64), u64, S>,
    snippets: &HashMap<(u32, u64), String, S>,
    group_docs: &[u64],
    group_names: &[String],
) -> BTreeMap<String, Vec<BoilerplateText>> {
    // the most frequent boilerplate per group, largest groups first
    let mut by_group: BTreeMap<u32, Vec<BoilerplateText>> = BTreeMap::new();
    for (&(group, hash), &docs) in frequent {
        let text = snippets.get(&(group, hash)).cloned().unwrap_or_default();
        by_group
            .entry(group)
            .or_default()
            .push(BoilerplateText { text, docs });
    }
    let mut groups: Vec<(u32, Vec<BoilerplateText>)> = by_group.into_iter().collect();
    let mut top = BTreeMap::new();
    groups.sort_by_key(|(g, _)| (std::cmp::Reverse(group_docs[*g as usize]), *g));
    for (g, mut texts) in groups.into_iter().take(TOP_GROUPS) {
        texts.sort_by(|a, b| b.docs.cmp(&a.docs).then_with(|| a.text.cmp(&b.text)));
        texts.truncate(TOP_PER_GROUP);
        top.insert(group_names[g as usize].clone(), texts);
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_outlets_else_url_hosts() {
        assert_eq!(
            outlet_group(None, Some("https://www.Example.com/x")).as_deref(),
            Some("example.com")
        );
        assert_eq!(
            outlet_group(Some("Wire"), Some("https://example.com")).as_deref(),
            Some("Wire")
        );
        assert_eq!(
            outlet_group(None, Some("http://user@host:8080/a")).as_deref(),
            Some("host")
        );
        assert_eq!(outlet_group(None, None), None);
    }

    #[test]
    fn boilerplate_needs_enough_documents_of_its_group() {
        let params = crate::Params::default().validate().unwrap();
        // at least 3 documents and 0.5% of the group
        assert!(is_boilerplate(3, 600, &params));
        assert!(!is_boilerplate(3, 601, &params));
        assert!(!is_boilerplate(2, 10, &params));
        let dir = tempfile::tempdir().unwrap();
        let mut keys = KeyCounts::new(1 << 20, dir.path());
        for (g, h) in [(1, 7), (1, 7), (1, 7), (2, 7), (2, 7), (2, 7), (1, 8)] {
            keys.add(g, &[h]).unwrap();
        }
        let frequent = frequent_keys(&mut keys, &[0, 10, 1000], &HashMap::new(), &params).unwrap();
        assert_eq!(frequent.len(), 1);
        assert_eq!(frequent.get(&(1, 7)), Some(&3));
    }

    /// The oracle: counts merged from runs equal one in-memory count over all keys.
    #[test]
    fn counts_from_runs_equal_one_sort_whatever_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        // 3 groups, hashes with heavy repeats, spread over many documents
        let docs: Vec<(u32, Vec<u64>)> = (0..3000u64)
            .map(|d| {
                let hashes = (0..=(d % 7)).map(|p| (d * 31 + p * 17) % 211 + p).collect();
                ((d % 3) as u32, hashes)
            })
            .collect();
        let mut whole: BTreeMap<ParagraphKey, u64> = BTreeMap::new();
        for (g, hashes) in &docs {
            for &h in hashes {
                *whole.entry((*g, h)).or_default() += 1;
            }
        }
        let want: Vec<(ParagraphKey, u64)> = whole.into_iter().collect();
        for budget in [0, 16 << 10, 64 << 10, 1 << 30] {
            let mut keys = KeyCounts::new(budget, dir.path());
            for (g, hashes) in &docs {
                keys.add(*g, hashes).unwrap();
            }
            let mut got = Vec::new();
            keys.for_each_count(|k, n| got.push((k, n))).unwrap();
            assert_eq!(got, want, "budget {budget}");
            let (runs, _) = keys.spilled();
            assert_eq!(runs > 0, budget < (1 << 20), "budget {budget}: {runs} runs");
        }
    }
}
