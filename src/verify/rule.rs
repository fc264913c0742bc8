//! The match rule: a pair's score in; whether the two documents are copies of one story,
//! and why, out. Clustering, provenance and `explain` all ask here, so the threshold
//! comparison is written once.
//!
//! A pair matches when its Jaccard is at or above the threshold, or, with containment on,
//! when enough of the smaller document is inside the larger and they share at least
//! `min_shared` shingles (a short text inside a long one is not a copy of it). A star
//! cluster keeps a member that does not match its representative as a weak link when
//! they still share `min_shared` shingles and `star_min_containment` of the smaller.

use crate::params::ValidParams;
use crate::verify::score::PairScore;

/// Why a pair matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Jaccard at or above the threshold.
    Jaccard,
    /// Jaccard below the threshold, but the smaller document is inside the larger.
    Containment,
}

/// When two documents match, and when a member may stay in a star cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchRule {
    /// Jaccard at or above this matches.
    pub threshold: f64,
    /// With containment on, the share of the smaller document that must be in the larger.
    pub min_containment: Option<f64>,
    /// Shared shingles a containment match and a weak link need at least.
    pub min_shared: u64,
    /// The share of the smaller document a weak link needs in the representative.
    pub star_min_containment: f64,
}

impl MatchRule {
    /// The rule of a run's parameters.
    #[must_use]
    pub fn new(params: &ValidParams) -> Self {
        let c = &params.containment;
        MatchRule {
            threshold: params.lsh.threshold,
            min_containment: c.enabled.then_some(c.min_containment),
            min_shared: c.min_shared,
            star_min_containment: params.cluster.star_min_containment,
        }
    }

    /// Whether the pair matches, and by which test: Jaccard first.
    #[must_use]
    pub fn matches(&self, s: &PairScore) -> Option<Match> {
        if s.jaccard >= self.threshold {
            return Some(Match::Jaccard);
        }
        self.min_containment
            .is_some_and(|c| s.shared >= self.min_shared && s.containment() >= c)
            .then_some(Match::Containment)
    }

    /// The pair matches, by either test.
    #[must_use]
    pub fn accepts(&self, s: &PairScore) -> bool {
        self.matches(s).is_some()
    }

    /// A member matches its representative, or shares enough with it to stay in its
    /// star as a weak link: two copies of one original, each cut and edited, overlap
    /// less than either does with the original, yet an unrelated story chained in
    /// through one of them shares next to nothing with the original.
    #[must_use]
    pub fn stays(&self, s: &PairScore) -> bool {
        self.accepts(s)
            || (s.shared >= self.min_shared && s.containment() >= self.star_min_containment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_rule_needs_both_containment_and_shared_amount() {
        let rule = MatchRule {
            threshold: 0.8,
            min_containment: Some(0.5),
            min_shared: 50,
            star_min_containment: 0.2,
        };
        let score = |shared, a, b| {
            let j = shared as f64 / (a + b - shared) as f64;
            PairScore {
                jaccard: j,
                shared,
                size_a: a,
                size_b: b,
            }
        };
        assert_eq!(rule.matches(&score(90, 100, 100)), Some(Match::Jaccard)); // 0.82
        // a copy cut to 40%, all inside
        assert_eq!(
            rule.matches(&score(200, 400, 1000)),
            Some(Match::Containment)
        );
        assert!(!rule.accepts(&score(40, 60, 1000))); // contained, but 40 shingles only
        assert!(!rule.accepts(&score(100, 400, 1000))); // a quarter shared
        assert!(rule.stays(&score(100, 400, 1000)));
        assert!(!rule.stays(&score(60, 400, 1000)));
        let raw = MatchRule {
            min_containment: None,
            ..rule
        };
        assert!(!raw.accepts(&score(200, 400, 1000)));
        // the threshold itself matches
        assert!(raw.accepts(&PairScore {
            jaccard: 0.8,
            ..score(0, 1, 1)
        }));
    }

    #[test]
    fn the_rule_of_the_default_params() {
        let rule = MatchRule::new(&crate::Params::default().validate().unwrap());
        assert_eq!(rule.min_containment, Some(0.5));
        assert_eq!(rule.min_shared, 50);
    }
}
