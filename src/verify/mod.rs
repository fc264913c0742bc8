//! Verification: candidate pairs in, their similarity out.
//!
//! Exact verification needs every candidate's full shingle set, but holding the sets of a
//! whole corpus would make memory grow with the text. Instead the streaming pass appends
//! each document's paragraph record (its paragraphs' shingles, 8 bytes each, unsorted) to an
//! unnamed temporary file (the "spill", removed by the OS even after a crash), keeping only
//! its offset in memory. The verifier reads the two records of a pair back with positioned
//! reads and rebuilds the sorted article sets, without the paragraphs the sketch pass left
//! out (repeats, boilerplate). Only candidates pay for sorting; memory stays at a few
//! bytes per document and the operating system's page cache does the caching.
//!
//! Estimated verification uses the MinHash signatures kept in memory instead.
//!
//! What a pair's score is (`score`) and when a pair matches (`rule`) live here too: every
//! stage that compares two documents asks these.

pub mod rule;
pub mod score;

pub use rule::{Match, MatchRule};
pub use score::{PairScore, SharedText, intersection_size, jaccard, round6};

use crate::document::{Compared, ParagraphRecord};
use crate::error::Result;
use crate::ids::{DocId, DocLists};
use crate::sketch::estimate_jaccard;
use crate::spill::ShingleSets;

/// A document as `Verifier::load` reads it back: its paragraph record, the paragraphs left
/// out of its article set, and that set.
pub type Loaded<'a> = (ParagraphRecord, &'a [u32], Vec<u64>);

/// The loaded document as compared.
#[must_use]
pub fn compared<'a>(l: &'a Loaded<'_>) -> Compared<'a> {
    Compared {
        record: &l.0,
        removed: l.1,
        set: &l.2,
    }
}

/// Similarity of documents, exact from the spill or estimated from signatures.
pub struct Verifier {
    records: ShingleSets,
    /// Paragraphs left out of each document's article set (see `ParagraphRecord::kept_shingles`),
    /// for the documents that have any, sorted by document.
    removed: DocLists<u32>,
    /// Compared shingles of each document (with repeats), from the sketch pass.
    sizes: Vec<u32>,
    /// `(signatures, num_perm)` when similarity is estimated.
    estimate: Option<(Vec<u32>, usize)>,
}

impl Verifier {
    /// Exact scores, from the sets rebuilt from the spill.
    #[must_use]
    pub fn exact(records: ShingleSets, removed: DocLists<u32>, sizes: Vec<u32>) -> Self {
        Verifier {
            records,
            removed,
            sizes,
            estimate: None,
        }
    }

    /// The spill: each document's paragraph record as the streaming pass encoded it.
    #[must_use]
    pub fn records(&self) -> &ShingleSets {
        &self.records
    }

    /// Scores from MinHash signatures; shared counts are derived from the estimated
    /// Jaccard and the sizes the sketch pass counted.
    #[must_use]
    pub fn estimated(
        records: ShingleSets,
        removed: DocLists<u32>,
        sizes: Vec<u32>,
        signatures: Vec<u32>,
        num_perm: usize,
    ) -> Self {
        Verifier {
            records,
            removed,
            sizes,
            estimate: Some((signatures, num_perm)),
        }
    }

    /// Compared shingles of `doc`, counted with repeats (an upper bound of its set size).
    #[must_use]
    pub fn size(&self, doc: DocId) -> u32 {
        self.sizes[doc as usize]
    }

    /// The paragraph record of `doc` and the paragraphs left out of its article set.
    pub fn paragraphs(&self, doc: DocId) -> Result<(ParagraphRecord, &[u32])> {
        thread_local! {
            // each rayon worker reads records into its own buffer, kept across records
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let rec = BUF.with_borrow_mut(|buf| -> Result<ParagraphRecord> {
            let bytes = self.records.read_into(doc, buf)?;
            Ok(ParagraphRecord::decode(bytes).expect("the spill holds what this run wrote"))
        })?;
        let gone = self.removed.get(doc);
        Ok((rec, gone))
    }

    /// The paragraph record, removed paragraphs and sorted article set of `doc`.
    pub fn load(&self, doc: DocId) -> Result<Loaded<'_>> {
        let (rec, gone) = self.paragraphs(doc)?;
        let set = rec.article_set(gone);
        Ok((rec, gone, set))
    }

    /// True when scores come from signatures, not from the sets.
    #[must_use]
    pub fn is_estimate(&self) -> bool {
        self.estimate.is_some()
    }

    /// The sorted article set of `doc`.
    pub fn set(&self, doc: DocId) -> Result<Vec<u64>> {
        let (rec, gone) = self.paragraphs(doc)?;
        Ok(rec.article_set(gone))
    }

    /// Scores `a` against `b`: exactly, with where their shared text starts, or from
    /// their signatures.
    pub fn score(&self, a: DocId, b: DocId) -> Result<PairScore> {
        match &self.estimate {
            None => Ok(rule::score(
                compared(&self.load(a)?),
                compared(&self.load(b)?),
            )),
            Some(_) => Ok(self.estimated_score(a, b)),
        }
    }

    /// Scores `a`, loaded by the caller with `load_for_scoring`, against each of `others`.
    pub fn score_many(
        &self,
        a: DocId,
        loaded_a: Option<&Loaded<'_>>,
        others: &[DocId],
    ) -> Result<Vec<PairScore>> {
        others
            .iter()
            .map(|&b| match (&self.estimate, loaded_a) {
                (None, Some(la)) => Ok(rule::score(compared(la), compared(&self.load(b)?))),
                (None, None) => self.score(a, b),
                (Some(_), _) => Ok(self.estimated_score(a, b)),
            })
            .collect()
    }

    /// What `score_many` needs of `a`: nothing when estimating.
    pub fn load_for_scoring(&self, a: DocId) -> Result<Option<Loaded<'_>>> {
        match &self.estimate {
            None => self.load(a).map(Some),
            Some(_) => Ok(None),
        }
    }

    fn estimated_score(&self, a: DocId, b: DocId) -> PairScore {
        let (signatures, k) = self.estimate.as_ref().expect("estimating");
        let k = *k;
        let (ia, ib) = (a as usize, b as usize);
        let j = estimate_jaccard(
            &signatures[ia * k..(ia + 1) * k],
            &signatures[ib * k..(ib + 1) * k],
        );
        let (na, nb) = (u64::from(self.size(a)), u64::from(self.size(b)));
        // |A ∩ B| = J (|A| + |B|) / (1 + J), never more than the smaller set
        let shared = ((j * (na + nb) as f64 / (1.0 + j)).round() as u64).min(na.min(nb));
        PairScore {
            jaccard: j,
            shared,
            size_a: na,
            size_b: nb,
            shared_text: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spill::ShingleSpill;

    fn record(paragraphs: &[&[u64]]) -> Vec<u8> {
        let mut rec = ParagraphRecord::default();
        for (i, p) in paragraphs.iter().enumerate() {
            rec.shingles.extend_from_slice(p);
            rec.offsets.push(rec.shingles.len() as u32);
            rec.hashes.push(i as u64);
            rec.push_snippet("");
        }
        rec.encode()
    }

    #[test]
    fn sets_are_rebuilt_from_the_spill_without_removed_paragraphs() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = ShingleSpill::create_in(dir.path()).unwrap();
        // doc 0: two paragraphs (the second a footer); doc 1: the first paragraph twice
        spill
            .push_bytes(&record(&[&[4, 1, 2, 3, 1], &[9, 8]]))
            .unwrap();
        spill
            .push_bytes(&record(&[&[1, 2, 3, 4], &[3, 2, 1, 4], &[5]]))
            .unwrap();
        let records = spill.finish().unwrap();
        let v = Verifier::exact(records, [(0, vec![1])].into_iter().collect(), vec![5, 8]);
        assert_eq!(v.set(0).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(v.set(1).unwrap(), vec![1, 2, 3, 4, 5]);
        let s = v.score(0, 1).unwrap();
        assert!((s.jaccard - 0.8).abs() < 1e-12);
        assert_eq!((s.shared, s.size_a, s.size_b), (4, 4, 5));
        assert!((s.containment() - 1.0).abs() < 1e-12);
        assert!((s.b_in_a() - 0.8).abs() < 1e-12);
    }
}
