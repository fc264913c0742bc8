//! Boilerplate across documents, and the cleaned article sketches that depend on it.
//!
//! In: for every compared document, the paragraph record the sketch stage spilled (each
//! paragraph's hash, a snippet and its shingles), the document's outlet group, its
//! repeats; and one `(group, paragraph hash)` key per distinct paragraph per document.
//! Out: which paragraphs of each document are boilerplate, and the article-level band
//! keys and shingle sets computed without repeats and boilerplate.
//!
//! A paragraph is boilerplate for an outlet when it occurs in at least
//! `boilerplate_min_docs` (default 3) of the outlet's documents and in at least
//! `boilerplate_min_fraction` (default 0.5%) of them. The count is by document, so a
//! paragraph printed twice in one article is not evidence, and a single document is
//! never evidence. The outlet is the outlet field, else the host of the URL field, else
//! one group for the whole input. The key index costs 16 bytes a paragraph in memory
//! while it is sorted; the paragraph texts themselves are never held.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::Serialize;

use crate::document::ParagraphRecord;
use crate::error::Result;
use crate::ids::DocId;
use crate::lsh::BandTable;
use crate::paragraph::Repeat;
use crate::params::ValidParams;
use crate::sketch::{DocFrequency, MinHasher, simhash, simhash_weighted_int};
use crate::spill::ShingleSets;

/// Boilerplate statistics for `summary.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParagraphSummary {
    pub paragraphs: u64,
    pub repeats: u64,
    pub repeat_blocks: u64,
    pub docs_with_repeats: u64,
    /// Boilerplate paragraph occurrences flagged.
    pub boilerplate_paragraphs: u64,
    /// Distinct (outlet, paragraph) pairs that are boilerplate.
    pub boilerplate_texts: u64,
    pub docs_with_boilerplate: u64,
    /// Per outlet (or URL host; "" for the whole input), its most frequent boilerplate.
    pub top_boilerplate: BTreeMap<String, Vec<BoilerplateText>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoilerplateText {
    /// First 80 characters, whitespace folded.
    pub text: String,
    pub docs: u64,
}

const TOP_PER_GROUP: usize = 5;
const TOP_GROUPS: usize = 100;

/// Everything the paragraph stage collected in the streaming pass.
pub struct ParagraphIndex {
    pub spill: ShingleSets,
    /// One `(group, paragraph hash)` per distinct paragraph of each document.
    pub keys: Vec<(u32, u64)>,
    /// Documents per group.
    pub group_docs: Vec<u64>,
    pub group_names: Vec<String>,
    /// Group of each compared document.
    pub doc_groups: Vec<u32>,
    /// Repeats of the documents that have any, sorted by document.
    pub repeats: Vec<(DocId, Box<[Repeat]>)>,
}

/// The article-level result of the cleaning pass.
pub struct CleanArticles {
    pub table: BandTable,
    /// The paragraph records, from which exact verification rebuilds cleaned sets.
    pub records: ShingleSets,
    /// Paragraphs left out of each document's article set (boilerplate and repeats), for
    /// the documents that have any, sorted by document.
    pub removed: Vec<(DocId, Box<[u32]>)>,
    /// Signatures of the cleaned articles, when estimated verification needs them.
    pub signatures: Vec<u32>,
    /// SimHash of each cleaned article, when the candidate method uses them.
    pub fingerprints: Vec<u64>,
    /// Compared shingles of each document, counted with repeats.
    pub sizes: Vec<u32>,
    /// Boilerplate paragraph indices of the documents that have any, sorted by document.
    pub boilerplate: Vec<(DocId, Box<[u32]>)>,
    pub summary: ParagraphSummary,
}

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

/// One document of the sketch pass: its boilerplate, what is left out, and the sketch of
/// the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanDocument {
    /// Boilerplate paragraph indices.
    pub flagged: Vec<u32>,
    /// Paragraphs left out of the article set (sorted).
    pub removed: Vec<u32>,
    /// The article's shingles, unsorted and with repeats (see
    /// `ParagraphRecord::kept_shingles`).
    pub set: Vec<u64>,
    pub signature: Vec<u32>,
    pub band_keys: Vec<u64>,
}

/// Flags a document's boilerplate (`is_frequent` says whether a paragraph hash is its
/// group's boilerplate), leaves it and the `repeated` paragraphs out, and sketches the
/// rest: MinHash signature and LSH band keys. The OPH signature needs neither sorted nor
/// de-duplicated input (a minimum is a minimum), so the set is not sorted here.
pub fn clean_document(
    rec: &ParagraphRecord,
    is_frequent: impl Fn(u64) -> bool,
    repeated: impl IntoIterator<Item = u32>,
    hasher: &mut MinHasher,
    params: &ValidParams,
) -> CleanDocument {
    let flagged: Vec<u32> = (0..rec.hashes.len() as u32)
        .filter(|&i| is_frequent(rec.hashes[i as usize]))
        .collect();
    let removed = removed_paragraphs(&flagged, repeated, params);
    let mut set = Vec::with_capacity(rec.shingles.len());
    rec.kept_shingles(&removed, &mut set);
    let mut signature = Vec::new();
    hasher.sketch(&set, &mut signature);
    let mut band_keys = Vec::new();
    crate::lsh::band_keys(&signature, params.bands(), params.rows(), &mut band_keys);
    CleanDocument {
        flagged,
        removed,
        set,
        signature,
        band_keys,
    }
}

/// The `(group, hash)` pairs that are boilerplate, with their document counts.
fn frequent_keys(
    mut keys: Vec<(u32, u64)>,
    group_docs: &[u64],
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
        let count = (j - i) as u64;
        if is_boilerplate(count, group_docs[keys[i].0 as usize], params) {
            out.insert(keys[i], count);
        }
        i = j;
    }
    out
}

fn lookup_repeats(repeats: &[(DocId, Box<[Repeat]>)], doc: DocId) -> &[Repeat] {
    repeats
        .binary_search_by_key(&doc, |(d, _)| *d)
        .map_or(&[], |i| &repeats[i].1)
}

const CHUNK: usize = 2048;

/// One document after cleaning, as a worker hands it back.
struct CleanedDoc {
    keys: Vec<u64>,
    size: u32,
    fingerprint: u64,
    /// Paragraphs left out of the article set.
    removed: Vec<u32>,
    signature: Vec<u32>,
    /// Boilerplate paragraph indices.
    flagged: Vec<u32>,
    paragraphs: u64,
    /// Hash and snippet of each boilerplate paragraph, for the summary.
    texts: Vec<(u64, String)>,
}

/// Which article fingerprints the sketch pass computes.
#[derive(Clone, Copy)]
pub enum Fingerprints<'a> {
    /// SimHash weighted by term frequency.
    Tf,
    /// SimHash weighted by term frequency times inverse document frequency.
    Tfidf(&'a DocFrequency),
}

/// Finds boilerplate and sketches every document's cleaned article text. The OPH
/// signature needs neither sorted nor de-duplicated input (a minimum is a minimum), so no
/// set is sorted here; exact verification later rebuilds the sorted cleaned set of the
/// few documents that are candidates, from the same spill.
pub fn clean_and_sketch(
    index: ParagraphIndex,
    params: &ValidParams,
    keep_signatures: bool,
    fingerprints: Option<Fingerprints<'_>>,
    mut advance: impl FnMut(u64),
) -> Result<CleanArticles> {
    let ParagraphIndex {
        spill,
        keys,
        group_docs,
        group_names,
        doc_groups,
        repeats,
    } = index;
    let frequent = frequent_keys(keys, &group_docs, params);
    let docs = doc_groups.len();
    let mut table = BandTable::new(params.bands());
    let mut signatures = Vec::new();
    let mut boilerplate = Vec::new();
    let mut removed_by_doc = Vec::new();
    let mut fps = Vec::new();
    let mut sizes = Vec::with_capacity(docs);
    let mut summary = ParagraphSummary {
        boilerplate_texts: frequent.len() as u64,
        repeats: repeats.iter().map(|(_, r)| r.len() as u64).sum(),
        repeat_blocks: repeats
            .iter()
            .map(|(_, r)| crate::paragraph::blocks(r).len() as u64)
            .sum(),
        docs_with_repeats: repeats.len() as u64,
        ..ParagraphSummary::default()
    };
    let mut snippets: HashMap<(u32, u64), String> = HashMap::new();
    for start in (0..docs).step_by(CHUNK) {
        let end = (start + CHUNK).min(docs);
        let results: Vec<Result<CleanedDoc>> = (start..end)
            .into_par_iter()
            .map_init(
                || MinHasher::new(&params.minhash),
                |hasher, d| {
                    let bytes = spill.read_bytes(d as DocId)?;
                    let rec = ParagraphRecord::decode(&bytes)
                        .expect("the spill holds what this run wrote");
                    let group = doc_groups[d];
                    let CleanDocument {
                        flagged,
                        removed,
                        set,
                        signature: sig,
                        band_keys: keys,
                    } = clean_document(
                        &rec,
                        |h| frequent.contains_key(&(group, h)),
                        lookup_repeats(&repeats, d as DocId)
                            .iter()
                            .map(|r| r.paragraph),
                        hasher,
                        params,
                    );
                    let fingerprint = match fingerprints {
                        None => 0,
                        // repeats in the multiset are the term frequencies
                        Some(Fingerprints::Tf) => simhash(&set),
                        Some(Fingerprints::Tfidf(df)) => {
                            let weighted: Vec<(u64, u8)> =
                                set.iter().map(|&s| (s, df.weight(s))).collect();
                            simhash_weighted_int(&weighted)
                        }
                    };
                    let texts = flagged
                        .iter()
                        .map(|&i| (rec.hashes[i as usize], rec.snippet(i as usize).to_owned()))
                        .collect();
                    Ok(CleanedDoc {
                        keys,
                        size: u32::try_from(set.len()).unwrap_or(u32::MAX),
                        fingerprint,
                        removed,
                        signature: sig,
                        flagged,
                        paragraphs: rec.hashes.len() as u64,
                        texts,
                    })
                },
            )
            .collect();
        for (offset, r) in results.into_iter().enumerate() {
            let CleanedDoc {
                keys,
                size,
                fingerprint,
                removed,
                signature: sig,
                flagged,
                paragraphs,
                texts,
            } = r?;
            let d = (start + offset) as DocId;
            table.push(&keys);
            sizes.push(size);
            if keep_signatures {
                signatures.extend_from_slice(&sig);
            }
            if fingerprints.is_some() {
                fps.push(fingerprint);
            }
            if !removed.is_empty() {
                removed_by_doc.push((d, removed.into_boxed_slice()));
            }
            summary.paragraphs += paragraphs;
            if !flagged.is_empty() {
                summary.boilerplate_paragraphs += flagged.len() as u64;
                summary.docs_with_boilerplate += 1;
                boilerplate.push((d, flagged.into_boxed_slice()));
            }
            let group = doc_groups[d as usize];
            for (hash, text) in texts {
                snippets.entry((group, hash)).or_insert(text);
            }
        }
        advance((end - start) as u64);
    }
    // the most frequent boilerplate per group, largest groups first
    let mut by_group: BTreeMap<u32, Vec<BoilerplateText>> = BTreeMap::new();
    for (&(group, hash), &docs) in &frequent {
        let text = snippets
            .get(&(group, hash))
            .map(|t| crate::paragraph::snippet(t))
            .unwrap_or_default();
        by_group
            .entry(group)
            .or_default()
            .push(BoilerplateText { text, docs });
    }
    let mut groups: Vec<(u32, Vec<BoilerplateText>)> = by_group.into_iter().collect();
    groups.sort_by_key(|(g, _)| (std::cmp::Reverse(group_docs[*g as usize]), *g));
    for (g, mut texts) in groups.into_iter().take(TOP_GROUPS) {
        texts.sort_by(|a, b| b.docs.cmp(&a.docs).then_with(|| a.text.cmp(&b.text)));
        texts.truncate(TOP_PER_GROUP);
        summary
            .top_boilerplate
            .insert(group_names[g as usize].clone(), texts);
    }
    Ok(CleanArticles {
        table,
        records: spill,
        removed: removed_by_doc,
        signatures,
        fingerprints: fps,
        sizes,
        boilerplate,
        summary,
    })
}
