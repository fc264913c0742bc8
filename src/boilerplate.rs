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
//! one group for the whole input. The key index costs 16 bytes a paragraph in memory
//! while it is sorted; the paragraph texts themselves are never held.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::params::ValidParams;

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
    if params.paragraphs.clean_articles {
        removed.extend_from_slice(flagged);
        removed.extend(repeated);
        removed.sort_unstable();
    }
    removed
}

/// The `(group, hash)` keys that are boilerplate, with their document counts: the
/// documents of this run holding each (one key per document in `keys`) plus those of
/// earlier runs in `prior` (an index's archive; `group_docs` then counts them too).
#[must_use]
pub fn frequent_keys<S: BuildHasher>(
    mut keys: Vec<(u32, u64)>,
    group_docs: &[u64],
    prior: &HashMap<(u32, u64), u64, S>,
    params: &ValidParams,
) -> HashMap<(u32, u64), u64> {
    keys.par_sort_unstable();
    let mut out = HashMap::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i + 1;
        while j < keys.len() && keys[j] == keys[i] {
            j += 1;
        }
        let count = (j - i) as u64 + prior.get(&keys[i]).copied().unwrap_or(0);
        if is_boilerplate(count, group_docs[keys[i].0 as usize], params) {
            out.insert(keys[i], count);
        }
        i = j;
    }
    out
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
        let keys = vec![(1, 7), (1, 7), (1, 7), (2, 7), (2, 7), (2, 7), (1, 8)];
        let frequent = frequent_keys(keys, &[0, 10, 1000], &HashMap::new(), &params);
        assert_eq!(frequent.len(), 1);
        assert_eq!(frequent.get(&(1, 7)), Some(&3));
    }
}
