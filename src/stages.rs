//! The pipeline's stages one document or one group at a time, for callers that
//! distribute the work (the Spark job of the Python package in `python/`).
//!
//! In: one document's text (and its outlet and URL), or one group of documents (an outlet,
//! an LSH bucket, a connected component). Out: the same per-document and per-group values
//! the single-machine pipeline computes, by the same functions, so that a distributed run
//! that puts the groups together the same way gets the same clusters:
//! 1. `Analyzer::analyze`: normalize, segment, shingle, find repeats -> `DocumentAnalysis`
//!    (the paragraph record, its distinct paragraph hashes, its repeats); `outlet_group`
//!    is the boilerplate group of a document.
//! 2. `is_boilerplate`: the test on one `(group, paragraph hash)` document count.
//! 3. `clean_document`: flag boilerplate, leave it and the repeats out, MinHash and LSH
//!    band keys of the rest; `sorted_set` is the exact set verification compares.
//! 4. `bucket_pairs`: the candidate pairs of one band bucket.
//! 5. `PairScore::of_sets` and `MatchRule::accepts`: exact verification of one pair.
//! 6. `place_members`: one connected component of accepted pairs placed around its
//!    representative (star split, re-clustering), as `cluster::place` does.
//!
//! Document ids (`DocId`) must be in input order: they break every remaining tie, in the
//! representative order and in capped buckets.

use std::collections::HashMap;

use crate::cluster::{Members, Placement, RepresentativeOrder, is_iso_date, place_component};
use crate::document::ParagraphRecord;
use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::params::{CandidateMethod, ValidParams, VerifyMethod};
use crate::verify::PairScore;

pub use crate::analyze::{Analyzer, DocumentAnalysis};
pub use crate::boilerplate::{is_boilerplate, outlet_group, removed_paragraphs};
pub use crate::lsh::bucket_pairs;
pub use crate::sketch::MinHasher;
pub use crate::sketch::pass::{CleanDocument, clean_document};
pub use crate::verify::{MatchRule, round6};

/// The sorted, de-duplicated article set that exact verification compares, from the
/// record and its removed paragraphs (as `Verifier::set` rebuilds it from the spill).
#[must_use]
pub fn sorted_set(record: &ParagraphRecord, removed: &[u32]) -> Vec<u64> {
    record.article_set(removed)
}

/// Appends the shingles of `record`'s paragraphs not in `removed` to `out` (see
/// `ParagraphRecord::kept_shingles`).
pub fn kept_shingles(record: &ParagraphRecord, removed: &[u32], out: &mut Vec<u64>) {
    record.kept_shingles(removed, out);
}

/// The distributed stages support what the default run does: MinHash candidates and
/// exact verification. Anything else is an error, not a different answer.
pub fn check_supported(params: &ValidParams) -> Result<()> {
    if params.candidates.method != CandidateMethod::MinHash {
        return Err(Error::params(
            "method",
            "the distributed stages support --method minhash only",
        ));
    }
    if params.verify.method != VerifyMethod::Exact {
        return Err(Error::params(
            "verify",
            "the distributed stages support --verify exact only",
        ));
    }
    Ok(())
}

/// One member of a component, as `place_members` needs it.
#[derive(Debug, Clone)]
pub struct ComponentMember {
    /// Position in input order.
    pub doc: DocId,
    pub id: String,
    /// The raw date field; only ISO dates count, as in the pipeline.
    pub date: Option<String>,
    pub outlet: Option<String>,
    pub record: ParagraphRecord,
    /// Paragraphs left out of its article set (from `clean_document`).
    pub removed: Vec<u32>,
    /// Compared shingles counted with repeats (`CleanDocument::set.len()`).
    pub size: u32,
}

/// The members of one component held in memory.
struct InMemory {
    /// Sorted by document.
    docs: Vec<ComponentMember>,
    sets: Vec<Vec<u64>>,
}

impl InMemory {
    fn index(&self, doc: DocId) -> Result<usize> {
        self.docs
            .binary_search_by_key(&doc, |m| m.doc)
            .map_err(|_| Error::params("links", format!("document {doc} is not a member")))
    }
}

impl Members for InMemory {
    fn load(&self, doc: DocId) -> Result<(ParagraphRecord, &[u32], Vec<u64>)> {
        let i = self.index(doc)?;
        let m = &self.docs[i];
        Ok((m.record.clone(), &m.removed, self.sets[i].clone()))
    }
    fn size(&self, doc: DocId) -> u32 {
        self.index(doc).map_or(0, |i| self.docs[i].size)
    }
    fn score(&self, a: DocId, b: DocId) -> Result<PairScore> {
        Ok(PairScore::of_sets(
            &self.sets[self.index(a)?],
            &self.sets[self.index(b)?],
        ))
    }
    fn is_estimate(&self) -> bool {
        false
    }
}

/// Places one connected component of accepted pairs exactly as `cluster::place` does on
/// one machine: the representative is the first member in the representative order,
/// and with star clusters the members that do not stay are split off and re-clustered
/// over the accepted pairs among them. `links` are the accepted pairs inside the
/// component (any order; the set of accepted pairs, not which were verified first,
/// decides the result). Returns each member's placement, in no particular order.
pub fn place_members(
    mut members: Vec<ComponentMember>,
    links: &[(DocId, DocId)],
    params: &ValidParams,
) -> Result<Vec<(DocId, Placement)>> {
    check_supported(params)?;
    members.sort_by_key(|m| m.doc);
    let sets = members
        .iter()
        .map(|m| sorted_set(&m.record, &m.removed))
        .collect();
    let data = InMemory {
        docs: members,
        sets,
    };
    let docs: Vec<DocId> = data.docs.iter().map(|m| m.doc).collect();
    let links: Vec<(DocId, DocId, bool)> = links.iter().map(|&(a, b)| (a, b, true)).collect();
    let last = params.cluster.prefer_outlets.len();
    let outlet_rank: HashMap<&str, usize> = params
        .cluster
        .prefer_outlets
        .iter()
        .enumerate()
        .map(|(rank, name)| (name.as_str(), rank))
        .collect();
    let member = |d: DocId| &data.docs[data.index(d).expect("a member")];
    let order = RepresentativeOrder {
        rules: &params.cluster.representative,
        date: Box::new(|d| member(d).date.as_deref().filter(|s| is_iso_date(s))),
        outlet_rank: Box::new(|d| {
            member(d)
                .outlet
                .as_deref()
                .and_then(|o| outlet_rank.get(o).copied())
                .unwrap_or(last)
        }),
        id: Box::new(|d| member(d).id.as_str()),
    };
    let rule = MatchRule::new(params);
    let (placed, _, _) = place_component(
        &docs,
        &links,
        &data,
        &rule,
        params.cluster.shape,
        &|a, b, length| order.compare(a, b, length),
    )?;
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Params;

    fn member(doc: DocId, id: &str, text: &str, params: &ValidParams) -> ComponentMember {
        let a = Analyzer::default().analyze(text, params).expect("words");
        let record = ParagraphRecord::decode(&a.record).expect("encoded");
        let mut hasher = MinHasher::new(&params.minhash);
        let clean = clean_document(&record, |_| false, [], &mut hasher, params);
        ComponentMember {
            doc,
            id: id.to_owned(),
            date: None,
            outlet: None,
            size: clean.set.len() as u32,
            removed: clean.removed,
            record,
        }
    }

    #[test]
    fn the_stages_give_the_pipeline_clusters() {
        let params = Params::default().validate().unwrap();
        let body = "the quick brown fox jumps over the lazy dog near the river bank today \
                    while the farmer watches from the old red barn across the valley";
        let docs = [
            ("a", body.to_string()),
            ("b", format!("{body} and more")),
            (
                "c",
                "an entirely different story about markets and rates and banks".into(),
            ),
        ];
        let whole = crate::dedup_texts(&docs, &params).unwrap().assignments;
        let members: Vec<ComponentMember> = docs
            .iter()
            .enumerate()
            .map(|(i, (id, text))| member(i as DocId, id, text, &params))
            .collect();
        let rule = MatchRule::new(&params);
        let score = PairScore::of_sets(
            &sorted_set(&members[0].record, &members[0].removed),
            &sorted_set(&members[1].record, &members[1].removed),
        );
        assert!(rule.accepts(&score));
        let placed = place_members(members[..2].to_vec(), &[(0, 1)], &params).unwrap();
        let placement = |d: DocId| &placed.iter().find(|(m, _)| *m == d).unwrap().1;
        for d in 0..2 {
            // the longer copy is the representative, here as in the pipeline
            assert_eq!(
                placement(d).rep,
                whole[d as usize].duplicate_of.unwrap_or(d)
            );
            let sim = placement(d).score.map(|s| round6(s.jaccard));
            assert_eq!(sim, whole[d as usize].similarity);
        }
        assert_eq!(placement(0).rep, 1);
        let mut pairs = Vec::new();
        bucket_pairs(&[0u32, 1, 2, 5], |&d| d, 3, &mut pairs);
        assert_eq!(pairs, vec![(0, 1), (0, 2), (1, 2), (1, 5), (2, 5)]);
        assert_eq!(
            outlet_group(None, Some("https://www.Example.com/x")).as_deref(),
            Some("example.com")
        );
    }
}
