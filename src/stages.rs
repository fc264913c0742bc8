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
//!    `opening_keys` are the keys of its opening paragraphs (the candidates of short
//!    copies; any two documents sharing one are candidates), and
//!    `ParagraphRecord::compared_record` what verification needs of it.
//! 4. `bucket_pairs`: the candidate pairs of one band bucket.
//! 5. `score_pair` and `MatchRule::accepts`: exact verification of one pair, with where
//!    the shared text sits (the rule looks at it).
//! 6. `UnionFind`: the connected components of the accepted pairs, and `place_members`:
//!    one connected component of accepted pairs placed around its
//!    representative (star split, re-clustering), as `cluster::place` does.
//!
//! Document ids (`DocId`) must be in input order: they break every remaining tie, in the
//! representative order and in capped buckets.
//!
//! This module is a facade: everything here is a re-export or a thin wrapper of the
//! module that owns it, apart from `check_supported`, the facade's own contract (which
//! parameters the distributed stages honour). Nothing in the library imports from it.

use crate::error::{Error, Result};
use crate::params::{CandidateMethod, ValidParams, VerifyMethod};

pub use crate::analyze::{Analyzer, DocumentAnalysis};
pub use crate::boilerplate::{is_boilerplate, outlet_group, removed_paragraphs};
pub use crate::cluster::{ComponentMember, Detail, Placement, UnionFind};
pub use crate::document::Compared;
pub use crate::document::ParagraphRecord;
pub use crate::ids::{DocId, Pair};
pub use crate::lsh::bucket_pairs;
pub use crate::paragraph::Repeat;
pub use crate::sketch::MinHasher;
pub use crate::sketch::pass::{CleanDocument, clean_document, opening_hasher, opening_keys};
pub use crate::verify::rule::score as score_pair;
pub use crate::verify::{MatchRule, PairScore, round6};

/// The sorted, de-duplicated article set that exact verification compares, from the
/// record and its removed paragraphs (see `ParagraphRecord::article_set`).
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

/// Places one connected component of accepted pairs exactly as the pipeline does (see
/// `cluster::place_members`), for the parameters the distributed stages support.
pub fn place_members(
    members: Vec<ComponentMember>,
    links: &[(DocId, DocId)],
    params: &ValidParams,
    detail: Detail,
) -> Result<Vec<(DocId, Placement)>> {
    check_supported(params)?;
    crate::cluster::place_members(members, links, params, detail)
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
        let whole = crate::dedup_texts(&docs, &params)
            .unwrap()
            .assignments
            .to_vec()
            .unwrap();
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
        let placed = place_members(
            members[..2].to_vec(),
            &[(0, 1)],
            &params,
            Detail::PlacementOnly,
        )
        .unwrap();
        let placement = |d: DocId| &placed.iter().find(|(m, _)| *m == d).unwrap().1;
        for d in 0..2 {
            // the longer copy is the representative, here as in the pipeline
            assert_eq!(
                placement(d).rep,
                whole[d as usize].duplicate_of().unwrap_or(d)
            );
            let sim = placement(d).score.map(|s| round6(s.jaccard));
            assert_eq!(sim, whole[d as usize].similarity());
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
