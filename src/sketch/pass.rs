//! The sketch pass: the paragraph records the streaming pass spilled in; each document's
//! boilerplate, and the MinHash band keys (and SimHash fingerprint) of its cleaned article,
//! out.
//!
//! The streaming pass hands each compared document to an `IndexBuilder`: its record goes
//! to the spill, its distinct paragraph hashes to the boilerplate key index. Once every
//! document is in, `clean_and_sketch` finds the boilerplate keys (`boilerplate`), then
//! reads each record back in parallel chunks, leaves its boilerplate and repeated
//! paragraphs out (when articles are compared clean) and sketches the rest.
//!
//! Invariant: documents are sketched in `DocId` order whatever the thread count, so the
//! band table, and every candidate pair, is the same for any number of threads.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::analyze::DocumentAnalysis;
use crate::boilerplate::{
    KeyCounts, ParagraphSummary, frequent_keys, removed_paragraphs_into, top_boilerplate,
};
use crate::document::ParagraphRecord;
use crate::error::Result;
use crate::ids::{DocId, DocLists};
use crate::lsh::{BandTable, append_band_keys};
use crate::paragraph::Repeat;
use crate::params::{CandidateMethod, MinHashParams, OPENING_ROWS, ValidParams};
use crate::sketch::{DocFrequency, MinHasher, simhash, simhash_weighted_int};
use crate::spill::{Scratch, ShingleSets, ShingleSpill};
use crate::verify::rule::opening_paragraphs;

/// What the streaming pass gathers for the sketch pass, one compared document at a time,
/// in `DocId` order.
pub struct IndexBuilder {
    spill: ShingleSpill,
    keys: KeyCounts,
    group_docs: Vec<u64>,
    group_names: Vec<String>,
    group_index: HashMap<String, u32>,
    doc_groups: Vec<u32>,
    repeats: Vec<(DocId, Box<[Repeat]>)>,
}

impl IndexBuilder {
    /// An empty index whose records go to `spill` and whose paragraph keys are counted
    /// inside `scratch`'s budget for them.
    #[must_use]
    pub fn new(spill: ShingleSpill, scratch: &Scratch) -> Self {
        // group 0 is the whole input: documents with neither outlet nor URL
        IndexBuilder {
            spill,
            keys: KeyCounts::new(scratch.key_budget(), &scratch.dir),
            group_docs: vec![0],
            group_names: vec![String::new()],
            group_index: HashMap::new(),
            doc_groups: Vec::new(),
            repeats: Vec::new(),
        }
    }

    /// Adds the next compared document `doc`, of the outlet group `group` (see
    /// `boilerplate::outlet_group`).
    pub fn add(&mut self, doc: DocId, group: Option<String>, out: DocumentAnalysis) -> Result<()> {
        let g = match group {
            None => 0,
            Some(name) => {
                if let Some(&g) = self.group_index.get(&name) {
                    g
                } else {
                    let g = self.group_names.len() as u32;
                    self.group_names.push(name.clone());
                    self.group_docs.push(0);
                    self.group_index.insert(name, g);
                    g
                }
            }
        };
        self.group_docs[g as usize] += 1;
        self.doc_groups.push(g);
        self.keys.add(g, &out.hashes)?;
        if !out.repeats.is_empty() {
            self.repeats.push((doc, out.repeats.into_boxed_slice()));
        }
        self.spill.push_bytes(&out.record)
    }

    /// Documents added so far.
    #[must_use]
    pub fn docs(&self) -> usize {
        self.doc_groups.len()
    }

    /// Flushes the spill: the index is complete.
    pub fn finish(self) -> Result<ParagraphIndex> {
        Ok(ParagraphIndex {
            spill: self.spill.finish()?,
            keys: self.keys,
            group_docs: self.group_docs,
            group_names: self.group_names,
            doc_groups: self.doc_groups,
            repeats: self.repeats,
            prior: HashMap::new(),
        })
    }
}

/// Everything the paragraph stage collected in the streaming pass.
pub struct ParagraphIndex {
    /// The paragraph record of every compared document.
    pub spill: ShingleSets,
    /// How many documents hold each `(group, paragraph hash)`.
    pub keys: KeyCounts,
    /// Documents per group.
    pub group_docs: Vec<u64>,
    /// Each group's name: its outlet or URL host ("" for the whole input).
    pub group_names: Vec<String>,
    /// Group of each compared document.
    pub doc_groups: Vec<u32>,
    /// Repeats of the documents that have any, sorted by document.
    pub repeats: Vec<(DocId, Box<[Repeat]>)>,
    /// Documents of earlier runs (an index's archive) that had each `(group, paragraph
    /// hash)`, added to this run's counts when boilerplate is decided; `group_docs`
    /// then counts those runs' documents too.
    pub prior: HashMap<(u32, u64), u64>,
}

/// The article-level result of the cleaning pass.
pub struct CleanArticles {
    /// Every document's band keys, band-major, and its opening keys (see `opening_keys`).
    pub table: BandTable,
    /// Every document's band keys again, document-major, when the caller asked for them
    /// (an index stores them); empty otherwise.
    pub keys: Vec<u64>,
    /// `(opening key, document)` for every opening paragraph of every document, in
    /// document order, when the caller asked for the keys; empty otherwise.
    pub openings: Vec<(u64, DocId)>,
    /// The paragraph records, from which exact verification rebuilds cleaned sets.
    pub records: ShingleSets,
    /// Paragraphs left out of each document's article set (boilerplate and repeats), for
    /// the documents that have any.
    pub removed: DocLists<u32>,
    /// Signatures of the cleaned articles, when estimated verification needs them.
    pub signatures: Vec<u32>,
    /// SimHash of each cleaned article, when the candidate method uses them.
    pub fingerprints: Vec<u64>,
    /// Compared shingles of each document, counted with repeats.
    pub sizes: Vec<u32>,
    /// Boilerplate paragraph indices of the documents that have any.
    pub boilerplate: DocLists<u32>,
    /// The paragraph figures of `summary.json`.
    pub summary: ParagraphSummary,
    /// Bytes of the boilerplate keys' runs (0 when they fit their budget); gone by now.
    pub key_run_bytes: u64,
}

/// One document of the sketch pass: its boilerplate, what is left out, and the sketch of
/// the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CleanDocument {
    /// Boilerplate paragraph indices.
    pub flagged: Vec<u32>,
    /// Paragraphs left out of the article set (sorted).
    pub removed: Vec<u32>,
    /// The article's shingles, unsorted and with repeats (see
    /// `ParagraphRecord::kept_shingles`).
    pub set: Vec<u64>,
    /// MinHash signature of `set`.
    pub signature: Vec<u32>,
    /// LSH band keys of `signature`.
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
    let mut out = CleanDocument {
        set: Vec::with_capacity(rec.shingles.len()),
        ..CleanDocument::default()
    };
    clean_document_into(rec, is_frequent, repeated, hasher, params, &mut out);
    out
}

/// `clean_document` into `out`, replacing what it held and keeping its buffers: the
/// sketch pass's workers clean document after document without allocating for each.
fn clean_document_into(
    rec: &ParagraphRecord,
    is_frequent: impl Fn(u64) -> bool,
    repeated: impl IntoIterator<Item = u32>,
    hasher: &mut MinHasher,
    params: &ValidParams,
    out: &mut CleanDocument,
) {
    out.flagged.clear();
    out.flagged
        .extend((0..rec.hashes.len() as u32).filter(|&i| is_frequent(rec.hashes[i as usize])));
    removed_paragraphs_into(&out.flagged, repeated, params, &mut out.removed);
    out.set.clear();
    rec.kept_shingles(&out.removed, &mut out.set);
    hasher.sketch(&out.set, &mut out.signature);
    crate::lsh::band_keys(
        &out.signature,
        params.bands(),
        params.rows(),
        &mut out.band_keys,
    );
}

/// Seed of the opening sketches' bins (xored with `minhash.seed`) and first seed of their
/// band keys: apart from the article's bands by construction.
const OPENING_SEED: u64 = 0x6f70_656e_696e_6773;

/// The hasher of the opening sketches: `containment.opening_bands` bands of
/// `OPENING_ROWS` rows.
#[must_use]
pub fn opening_hasher(params: &ValidParams) -> MinHasher {
    MinHasher::new(&MinHashParams {
        num_perm: (params.containment.opening_bands * OPENING_ROWS).max(1),
        seed: params.minhash.seed ^ OPENING_SEED,
    })
}

/// Appends the opening keys of a document (its record and the paragraphs left out of its
/// article set) to `out`: each opening paragraph (`verify::rule::opening_paragraphs`)
/// sketched on its own into `containment.opening_bands` band keys. A short copy that kept its original's headline
/// and lede shares them with the original whatever the rest of either holds. Nothing when
/// containment is off, when the paragraph stage is (the whole text would be one
/// paragraph), or when candidates come from SimHash alone (these are MinHash bands).
pub fn opening_keys(
    record: &ParagraphRecord,
    removed: &[u32],
    hasher: &mut MinHasher,
    params: &ValidParams,
    out: &mut Vec<u64>,
) {
    let c = &params.containment;
    if !c.enabled
        || c.opening_bands == 0
        || !params.paragraphs.enabled
        || params.candidates.method == CandidateMethod::SimHash
    {
        return;
    }
    let mut sig = Vec::new();
    for (i, _) in opening_paragraphs(record, removed) {
        hasher.sketch(record.paragraph_shingles(i as usize), &mut sig);
        append_band_keys(&sig, c.opening_bands, OPENING_ROWS, OPENING_SEED, out);
    }
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
    /// Opening keys (see `opening_keys`).
    openings: Vec<u64>,
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
    keep_keys: bool,
    fingerprints: Option<Fingerprints<'_>>,
    scratch: &Scratch,
    mut advance: impl FnMut(u64),
) -> Result<CleanArticles> {
    let ParagraphIndex {
        spill,
        mut keys,
        group_docs,
        group_names,
        doc_groups,
        repeats,
        prior,
    } = index;
    let frequent = frequent_keys(&mut keys, &group_docs, &prior, params)?;
    let (_, key_run_bytes) = keys.spilled();
    drop(keys);
    let docs = doc_groups.len();
    let mut table = BandTable::with_budget(params.bands(), scratch.band_budget(), &scratch.dir);
    let mut openings = Vec::new();
    let mut doc_keys = Vec::new();
    let mut signatures = Vec::new();
    let mut boilerplate = DocLists::default();
    let mut removed_by_doc = DocLists::default();
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
    let clean = |start: usize| -> Vec<Result<CleanedDoc>> {
        (start..(start + CHUNK).min(docs))
            .into_par_iter()
            .map_init(
                || {
                    // a worker's buffers: the record's bytes, the record, its cleaned
                    // document; reused, so that a document allocates only what it hands
                    // to the fold
                    let buffers = (
                        Vec::new(),
                        ParagraphRecord::default(),
                        CleanDocument::default(),
                    );
                    (
                        MinHasher::new(&params.minhash),
                        opening_hasher(params),
                        buffers,
                    )
                },
                |(hasher, opener, (buf, rec, clean)), d| {
                    let bytes = spill.read_into(d as DocId, buf)?;
                    rec.decode_into(bytes)
                        .expect("the spill holds what this run wrote");
                    let group = doc_groups[d];
                    clean_document_into(
                        rec,
                        |h| frequent.contains_key(&(group, h)),
                        lookup_repeats(&repeats, d as DocId)
                            .iter()
                            .map(|r| r.paragraph),
                        hasher,
                        params,
                        clean,
                    );
                    let set = &clean.set;
                    let fingerprint = match fingerprints {
                        None => 0,
                        // repeats in the multiset are the term frequencies
                        Some(Fingerprints::Tf) => simhash(set),
                        Some(Fingerprints::Tfidf(df)) => {
                            let weighted: Vec<(u64, u8)> =
                                set.iter().map(|&s| (s, df.weight(s))).collect();
                            simhash_weighted_int(&weighted)
                        }
                    };
                    let mut openings = Vec::new();
                    opening_keys(rec, &clean.removed, opener, params, &mut openings);
                    let texts = clean
                        .flagged
                        .iter()
                        .map(|&i| (rec.hashes[i as usize], rec.snippet(i as usize).to_owned()))
                        .collect();
                    Ok(CleanedDoc {
                        keys: clean.band_keys.clone(),
                        openings,
                        size: u32::try_from(set.len()).unwrap_or(u32::MAX),
                        fingerprint,
                        removed: clean.removed.clone(),
                        // only estimated verification keeps signatures
                        signature: if keep_signatures {
                            clean.signature.clone()
                        } else {
                            Vec::new()
                        },
                        flagged: clean.flagged.clone(),
                        paragraphs: rec.hashes.len() as u64,
                        texts,
                    })
                },
            )
            .collect()
    };
    let mut fold = |start: usize, results: Vec<Result<CleanedDoc>>| -> Result<()> {
        for (offset, r) in results.into_iter().enumerate() {
            let CleanedDoc {
                keys,
                openings: doc_openings,
                size,
                fingerprint,
                removed,
                signature: sig,
                flagged,
                paragraphs,
                texts,
            } = r?;
            let d = (start + offset) as DocId;
            table.push(&keys, &doc_openings)?;
            if keep_keys {
                doc_keys.extend_from_slice(&keys);
                openings.extend(doc_openings.into_iter().map(|k| (k, d)));
            }
            sizes.push(size);
            if keep_signatures {
                signatures.extend_from_slice(&sig);
            }
            if fingerprints.is_some() {
                fps.push(fingerprint);
            }
            if !removed.is_empty() {
                removed_by_doc.push(d, &removed);
            }
            summary.paragraphs += paragraphs;
            if !flagged.is_empty() {
                summary.boilerplate_paragraphs += flagged.len() as u64;
                summary.docs_with_boilerplate += 1;
                boilerplate.push(d, &flagged);
            }
            let group = doc_groups[d as usize];
            for (hash, text) in texts {
                snippets.entry((group, hash)).or_insert(text);
            }
        }
        Ok(())
    };
    // A chunk is folded in document order, on one thread, while the next one is cleaned
    // and sketched on the others: the fold no longer leaves them idle.
    let mut cleaned: Option<(usize, Vec<Result<CleanedDoc>>)> = None;
    for start in (0..docs).step_by(CHUNK).chain([docs]) {
        let (folded, next) = rayon::join(
            || {
                cleaned
                    .take()
                    .map(|(from, results)| (from, fold(from, results)))
            },
            || (start < docs).then(|| clean(start)),
        );
        if let Some((from, folded)) = folded {
            folded?;
            advance(((from + CHUNK).min(docs) - from) as u64);
        }
        cleaned = next.map(|results| (start, results));
    }
    summary.top_boilerplate = top_boilerplate(&frequent, &snippets, &group_docs, &group_names);
    Ok(CleanArticles {
        table,
        keys: doc_keys,
        openings,
        records: spill,
        removed: removed_by_doc,
        signatures,
        fingerprints: fps,
        sizes,
        boilerplate,
        summary,
        key_run_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Analyzer;
    use crate::generate::{GenParams, generate};
    use crate::params::Params;

    /// One record and one `CleanDocument` reused document after document (longest first,
    /// so the buffers always hold more than the next one needs), with boilerplate flagged
    /// and repeats left out, clean each as fresh ones do: nothing of a longer document is
    /// left in another's flags, removed paragraphs, set, signature or band keys.
    #[test]
    fn a_reused_record_and_clean_document_give_what_fresh_ones_give() {
        let corpus = generate(&GenParams {
            docs: 80,
            seed: 9,
            ..GenParams::default()
        });
        let params = Params::default().validate().unwrap();
        let mut analyses: Vec<DocumentAnalysis> = corpus
            .docs
            .iter()
            .filter_map(|d| Analyzer::default().analyze(&d.text, &params))
            .collect();
        analyses.sort_by_key(|a| std::cmp::Reverse(a.record.len()));
        let mut hasher = MinHasher::new(&params.minhash);
        let mut rec = ParagraphRecord::default();
        let mut reused = clean_document(&rec, |_| false, [], &mut hasher, &params);
        let mut flagged_some = 0;
        for (i, a) in analyses.iter().enumerate() {
            rec.decode_into(&a.record).unwrap();
            let fresh_rec = ParagraphRecord::decode(&a.record).unwrap();
            assert_eq!(rec, fresh_rec);
            // every third paragraph hash of every other document is boilerplate
            let frequent = |h: u64| i.is_multiple_of(2) && h.is_multiple_of(3);
            let repeated = || a.repeats.iter().map(|r| r.paragraph);
            clean_document_into(
                &rec,
                frequent,
                repeated(),
                &mut hasher,
                &params,
                &mut reused,
            );
            let mut fresh_hasher = MinHasher::new(&params.minhash);
            let fresh =
                clean_document(&fresh_rec, frequent, repeated(), &mut fresh_hasher, &params);
            assert_eq!(reused, fresh, "document {i}");
            flagged_some += usize::from(!fresh.flagged.is_empty());
        }
        assert!(flagged_some > 5, "{flagged_some}");
    }
}
