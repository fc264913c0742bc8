//! The fast path checked against brute force: exact Jaccard over every pair.

use std::collections::{HashMap, HashSet};

use neardup::Params;
use neardup::params::{ClusterShape, RepresentativeRule};
use neardup::pipeline::dedup_texts;

use crate::util::{exact_jaccard, small_corpus, string_shingles};

struct Brute {
    sets: Vec<HashSet<String>>,
}

impl Brute {
    /// Whole-text shingles, as the article stage uses with `--paragraphs off`.
    fn new(texts: &[&str], k: usize) -> Self {
        Brute {
            sets: texts.iter().map(|t| string_shingles(t, k)).collect(),
        }
    }

    /// The union of each paragraph's shingles, as the article stage uses when the
    /// paragraph stage is on (and finds no repeats or boilerplate to remove).
    fn per_paragraph(texts: &[&str], k: usize) -> Self {
        let sets = texts
            .iter()
            .map(|t| {
                t.split("\n\n")
                    .flat_map(|p| string_shingles(p, k))
                    .collect()
            })
            .collect();
        Brute { sets }
    }

    /// Every pair with Jaccard >= `at_least`, skipping pairs whose sizes alone rule it out.
    fn pairs_at_least(&self, at_least: f64) -> Vec<(usize, usize, f64)> {
        let mut out = Vec::new();
        for i in 0..self.sets.len() {
            for j in i + 1..self.sets.len() {
                let (a, b) = (self.sets[i].len(), self.sets[j].len());
                if a == 0 || b == 0 || (a.min(b) as f64) < at_least * a.max(b) as f64 {
                    continue;
                }
                let jac = exact_jaccard(&self.sets[i], &self.sets[j]);
                if jac >= at_least {
                    out.push((i, j, jac));
                }
            }
        }
        out
    }
}

/// Many syndicated copies, no boilerplate and no repeats: the oracle's per-paragraph sets
/// are then exactly what the article stage compares.
fn syndicated_without_boilerplate(
    docs: usize,
    seed: u64,
    (min_words, max_words): (usize, usize),
    max_edit_rate: f64,
) -> neardup::generate::Corpus {
    neardup::generate::generate(&neardup::generate::GenParams {
        docs,
        seed,
        min_words,
        max_words,
        syndicated_frac: 0.35,
        max_edit_rate,
        boilerplate_prob: 0.0,
        repeat_frac: 0.0,
        ..neardup::generate::GenParams::default()
    })
}

/// Jaccard alone, connected components: the plain near-duplicate oracle.
fn article_params() -> neardup::ValidParams {
    let mut p = Params::default();
    p.paragraphs.enabled = false;
    p.containment.enabled = false;
    p.cluster.shape = ClusterShape::Components;
    // undated documents: input order then picks the representative
    p.cluster.representative = vec![RepresentativeRule::Date];
    p.validate().unwrap()
}

#[test]
fn every_pair_above_threshold_plus_margin_is_clustered_and_no_edge_is_below() {
    let corpus = small_corpus(2500, 11);
    let texts: Vec<&str> = corpus.docs.iter().map(|d| d.text.as_str()).collect();
    let brute = Brute::new(&texts, 5);
    check_against_brute_force(&corpus, &brute, &article_params());
}

#[test]
fn the_same_holds_with_the_paragraph_stage_on() {
    let corpus = syndicated_without_boilerplate(2000, 12, (120, 300), 0.025);
    let texts: Vec<&str> = corpus.docs.iter().map(|d| d.text.as_str()).collect();
    let brute = Brute::per_paragraph(&texts, 5);
    // compare the paragraphs as they are: the oracle knows nothing of boilerplate
    let mut params = Params::default();
    params.paragraphs.clean_articles = false;
    params.containment.enabled = false;
    params.cluster.shape = ClusterShape::Components;
    check_against_brute_force(&corpus, &brute, &params.validate().unwrap());
}

fn check_against_brute_force(
    corpus: &neardup::generate::Corpus,
    brute: &Brute,
    params: &neardup::ValidParams,
) {
    let docs: Vec<(&str, &str)> = corpus
        .docs
        .iter()
        .map(|d| (d.id.as_str(), d.text.as_str()))
        .collect();
    let t = params.lsh.threshold;
    let result = dedup_texts(&docs, params).unwrap();
    let assignments = result.assignments.to_vec().unwrap();

    let must = brute.pairs_at_least(t + 0.05);
    assert!(
        must.len() > 100,
        "the corpus must exercise the test: {} pairs",
        must.len()
    );
    let cluster = |i: usize| assignments[i].cluster();
    let missed: Vec<_> = must
        .iter()
        .filter(|&&(i, j, _)| cluster(i) != cluster(j))
        .collect();
    assert!(
        missed.is_empty(),
        "pairs above t+0.05 not clustered: {missed:?}"
    );

    // every accepted edge is a real pair at or above the threshold, with the exact value
    let edges = result.edges.to_vec().unwrap();
    assert!(!edges.is_empty());
    for e in &edges {
        let (i, j) = (
            result.records.doc_records[e.a as usize] as usize,
            result.records.doc_records[e.b as usize] as usize,
        );
        let exact = exact_jaccard(&brute.sets[i], &brute.sets[j]);
        assert!(exact >= t, "edge {i}-{j} has exact Jaccard {exact} < {t}");
        assert!(
            (exact - e.jaccard).abs() < 1e-9,
            "edge {i}-{j}: reported {} vs exact {exact}",
            e.jaccard
        );
    }
}

#[test]
fn lsh_candidates_cover_brute_force_pairs_at_the_rate_the_s_curve_predicts() {
    // Recall of the candidate stage alone: brute-force pairs at J >= 0.9 must essentially all
    // be candidates (S-curve >= 0.9999 there for the default bands and rows).
    let corpus = small_corpus(1500, 5);
    let texts: Vec<&str> = corpus.docs.iter().map(|d| d.text.as_str()).collect();
    let docs: Vec<(&str, &str)> = corpus
        .docs
        .iter()
        .map(|d| (d.id.as_str(), d.text.as_str()))
        .collect();
    let params = article_params();
    let assignments = dedup_texts(&docs, &params)
        .unwrap()
        .assignments
        .to_vec()
        .unwrap();
    let brute = Brute::new(&texts, params.shingle.size);
    let high = brute.pairs_at_least(0.9);
    assert!(high.len() > 50, "{} high pairs", high.len());
    let together = high
        .iter()
        .filter(|&&(i, j, _)| assignments[i].cluster() == assignments[j].cluster())
        .count();
    assert_eq!(together, high.len());
}

#[test]
fn clusters_are_exactly_the_components_of_accepted_edges_and_representatives_are_earliest() {
    let corpus = small_corpus(800, 3);
    let docs: Vec<(&str, &str)> = corpus
        .docs
        .iter()
        .map(|d| (d.id.as_str(), d.text.as_str()))
        .collect();
    let params = article_params();
    let r = dedup_texts(&docs, &params).unwrap();
    let assignments = r.assignments.to_vec().unwrap();
    // components by a plain BFS over the edges
    let n = r.records.doc_records.len();
    let mut adj: HashMap<u32, Vec<u32>> = HashMap::new();
    for e in &r.edges.to_vec().unwrap() {
        adj.entry(e.a).or_default().push(e.b);
        adj.entry(e.b).or_default().push(e.a);
    }
    let mut comp = vec![usize::MAX; n];
    for start in 0..n {
        if comp[start] != usize::MAX {
            continue;
        }
        let mut stack = vec![start as u32];
        comp[start] = start;
        while let Some(x) = stack.pop() {
            for &y in adj.get(&x).map_or(&[][..], Vec::as_slice) {
                if comp[y as usize] == usize::MAX {
                    comp[y as usize] = start;
                    stack.push(y);
                }
            }
        }
    }
    for d in 0..n {
        for e in 0..n.min(d + 40) {
            let same_comp = comp[d] == comp[e];
            let ra = r.records.doc_records[d] as usize;
            let rb = r.records.doc_records[e] as usize;
            assert_eq!(
                same_comp,
                assignments[ra].cluster() == assignments[rb].cluster()
            );
        }
    }
    // without dates, the representative is the first member in input order
    for (i, a) in assignments.iter().enumerate() {
        if let Some(rep) = a.duplicate_of() {
            assert!((rep as usize) < i, "representative {rep} after member {i}");
            assert!(assignments[rep as usize].keep());
        }
    }
    // exactly one kept record per cluster
    let mut kept: HashMap<u64, u32> = HashMap::new();
    for a in &assignments {
        *kept.entry(a.cluster().unwrap()).or_default() += u32::from(a.keep());
    }
    assert!(kept.values().all(|&k| k == 1));
}

#[test]
fn containment_matches_agree_with_brute_force() {
    // trimmed copies with heavier edits: many pairs match by containment alone
    let corpus = syndicated_without_boilerplate(1500, 21, (150, 500), 0.06);
    let texts: Vec<&str> = corpus.docs.iter().map(|d| d.text.as_str()).collect();
    let brute = Brute::per_paragraph(&texts, 5);
    let mut p = Params::default();
    p.paragraphs.clean_articles = false;
    p.cluster.shape = ClusterShape::Components;
    let params = p.validate().unwrap();
    let docs: Vec<(&str, &str)> = corpus
        .docs
        .iter()
        .map(|d| (d.id.as_str(), d.text.as_str()))
        .collect();
    let r = dedup_texts(&docs, &params).unwrap();
    let assignments = r.assignments.to_vec().unwrap();
    let (t, c, m) = (
        params.lsh.threshold,
        params.containment.min_containment,
        params.containment.min_shared,
    );
    // every pair sharing anything, through an inverted index
    let mut postings: HashMap<&String, Vec<usize>> = HashMap::new();
    for (i, set) in brute.sets.iter().enumerate() {
        for s in set {
            postings.entry(s).or_default().push(i);
        }
    }
    let mut shared: HashMap<(usize, usize), u64> = HashMap::new();
    for docs in postings.values() {
        for (x, &i) in docs.iter().enumerate() {
            for &j in &docs[x + 1..] {
                *shared.entry((i, j)).or_default() += 1;
            }
        }
    }
    let score = |i: usize, j: usize, inter: u64| {
        let (a, b) = (brute.sets[i].len() as u64, brute.sets[j].len() as u64);
        let jac = inter as f64 / (a + b - inter) as f64;
        (jac, inter as f64 / a.min(b) as f64)
    };
    // pairs clearly inside the rule, and likely LSH candidates (J >= 0.35: P >= 0.9997)
    let mut must = 0;
    let mut by_containment = 0;
    for (&(i, j), &inter) in &shared {
        let (jac, cont) = score(i, j, inter);
        if jac >= 0.35 && (jac >= t + 0.05 || (cont >= c + 0.05 && inter >= m + 10)) {
            must += 1;
            by_containment += u32::from(jac < t);
            assert_eq!(
                assignments[i].cluster(),
                assignments[j].cluster(),
                "pair {i}-{j}: J {jac:.3}, containment {cont:.3}, shared {inter}"
            );
        }
    }
    assert!(
        by_containment > 100,
        "{by_containment} of {must} pairs by containment"
    );
    // every edge obeys the rule, with the exact values
    for e in &r.edges.to_vec().unwrap() {
        let (i, j) = (
            r.records.doc_records[e.a as usize] as usize,
            r.records.doc_records[e.b as usize] as usize,
        );
        let inter = shared.get(&(i.min(j), i.max(j))).copied().unwrap_or(0);
        let (jac, cont) = score(i, j, inter);
        assert!((jac - e.jaccard).abs() < 1e-9 && (cont - e.containment).abs() < 1e-9);
        assert!(
            jac >= t || (cont >= c && inter >= m),
            "edge {i}-{j}: {jac} {cont} {inter}"
        );
    }
}
