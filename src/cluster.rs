//! Clustering: verified pairs in, clusters around one representative each out.
//!
//! Candidate pairs are scored and those the `MatchRule` accepts (Jaccard, or containment
//! with a minimum shared amount) are joined by union-find. Pairs are visited in sorted
//! order in fixed-size batches, and a pair whose ends are already connected is not scored
//! again: that saves most of the work inside large groups of copies without changing the
//! components, which depend only on the set of matching pairs. `place_component` then
//! shapes each component (listed by `components`) as a star around its representative
//! (the original): members are scored against it and those joined only through others
//! are split off. Cluster ids are numbered in input order of each cluster's first
//! record, so the result is the same whatever the thread count.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap};
use serde::{Deserialize, Serialize};

use crate::document::{Compared, ParagraphRecord};
use crate::error::{Error, Result};
use crate::ids::{DocId, Pair};
use crate::params::{ClusterParams, ClusterShape, RepresentativeRule, ValidParams};
use crate::provenance::{Provenance, align_in, provenance};
use crate::verify::rule::SetIndex;
use crate::verify::{Match, MatchRule, PairScore, Verifier, intersection_size};

/// Disjoint sets over documents `0..n`.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<DocId>,
}

impl UnionFind {
    /// `n` documents, each a set of its own.
    #[must_use]
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as DocId).collect(),
        }
    }

    /// The root of `x`'s set, halving the path on the way.
    pub fn find(&mut self, mut x: DocId) -> DocId {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins the sets of `a` and `b`; the smaller root becomes the root.
    pub fn union(&mut self, a: DocId, b: DocId) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        true
    }

    /// Number of documents.
    #[must_use]
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// True without documents.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }
}

/// Counts from the verification stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerifyStats {
    /// Candidate pairs whose similarity was computed.
    pub verified: u64,
    /// Pairs that match (see `MatchRule`): of those verified, and in an index run of those
    /// whose verdict was taken from the index too.
    pub accepted: u64,
    /// Of the accepted, pairs below the Jaccard threshold that matched by containment.
    pub by_containment: u64,
    /// Of the accepted, short copies: pairs that matched by the short clause (nearly all of
    /// the smaller inside the larger, the shared text opening both, too few shingles for
    /// the containment clause).
    pub by_short: u64,
    /// Candidate pairs skipped because their documents were already connected.
    pub already_connected: u64,
    /// Star clusters: members split off because they did not match the representative
    /// (only a chain of others joined them).
    pub split_off: u64,
    /// Members kept in a cluster though they do not match its representative by the
    /// pair rule (they pass the looser star rule); listed as weak links.
    pub weak_links: u64,
}

const VERIFY_BATCH: usize = 1 << 14;

/// A verified matching pair: the evidence that joined two documents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Edge {
    /// The smaller document.
    pub a: DocId,
    /// The larger document.
    pub b: DocId,
    /// Their Jaccard similarity.
    pub jaccard: f64,
    /// |A ∩ B| / min(|A|, |B|).
    pub containment: f64,
}

/// The accepted pairs as verification appends them, in candidate order, and as the
/// stages after it read them back, in the same order: a `Vec` for a few documents,
/// `records::EdgeTable` (on temporary disk) for a run, which grows with the documents.
pub trait AcceptedPairs {
    /// Appends the next accepted pair.
    fn push(&mut self, e: Edge) -> Result<()>;

    /// Pairs appended.
    fn len(&self) -> u64;

    /// True without pairs.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every pair, in the order appended.
    fn scan(&self, f: &mut dyn FnMut(Edge) -> Result<()>) -> Result<()>;
}

impl AcceptedPairs for Vec<Edge> {
    fn push(&mut self, e: Edge) -> Result<()> {
        Vec::push(self, e);
        Ok(())
    }

    fn len(&self) -> u64 {
        Vec::len(self) as u64
    }

    fn scan(&self, f: &mut dyn FnMut(Edge) -> Result<()>) -> Result<()> {
        self.iter().try_for_each(|&e| f(e))
    }
}

/// What verification leaves for clustering.
pub struct Verified<E = Vec<Edge>> {
    /// The components of the accepted pairs.
    pub uf: UnionFind,
    /// The accepted pairs, in candidate order.
    pub edges: E,
    /// Candidate pairs not verified because their documents were already connected;
    /// star refinement verifies the few it needs.
    pub skipped: Vec<Pair>,
    /// What verification did.
    pub stats: VerifyStats,
    /// With verdicts known before (`cluster_pairs`' `known`): the verdicts of the pairs
    /// scored now, for the index to keep.
    pub scored: Option<Verdicts>,
    /// Pairs whose verdict was taken from `known` instead of being scored.
    pub taken: u64,
}

/// Verdicts on candidate pairs: rejected, or accepted with the score that decided (what
/// joining the pair and its edge need). Each list is sorted by pair; a pair is in at
/// most one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdicts {
    /// Pairs the match rule rejected.
    pub rejected: Vec<Pair>,
    /// Pairs the match rule accepted, with their scores.
    pub accepted: Vec<(Pair, PairScore)>,
}

impl Verdicts {
    /// The verdict on `pair`: `None` when unknown, `Some(None)` when rejected,
    /// `Some(Some(score))` when accepted.
    #[must_use]
    pub fn get(&self, pair: Pair) -> Option<Option<&PairScore>> {
        if self.rejected.binary_search(&pair).is_ok() {
            return Some(None);
        }
        self.accepted
            .binary_search_by(|(p, _)| p.cmp(&pair))
            .ok()
            .map(|i| Some(&self.accepted[i].1))
    }

    /// Pairs with a verdict.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rejected.len() + self.accepted.len()
    }

    /// True without verdicts.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Verifies candidate pairs and joins the matching ones. With `known` (the verdicts of an
/// index's earlier runs), a pair found there takes its stored verdict instead of being
/// scored: a verdict is a function of the two documents and the parameters, so the
/// result is the same, pair for pair and in the same order; and the verdicts of the
/// pairs scored now are returned in `Verified::scored`.
///
/// The accepted pairs go to `edges`, in candidate order.
pub fn cluster_pairs<E: AcceptedPairs>(
    docs: usize,
    pairs: &[Pair],
    verifier: &Verifier,
    rule: &MatchRule,
    known: Option<&Verdicts>,
    mut edges: E,
    mut advance: impl FnMut(u64),
) -> Result<Verified<E>> {
    let mut uf = UnionFind::new(docs);
    let mut skipped = Vec::new();
    let mut stats = VerifyStats::default();
    let mut scored = known.map(|_| Verdicts::default());
    let mut taken = 0u64;
    let mut todo: Vec<Pair> = Vec::with_capacity(VERIFY_BATCH);
    // per pair to join, in candidate order: the index of its score in `todo`, or its
    // stored verdict
    let mut order: Vec<(Pair, Result<usize, Option<&PairScore>>)> =
        Vec::with_capacity(VERIFY_BATCH);
    for batch in pairs.chunks(VERIFY_BATCH) {
        todo.clear();
        order.clear();
        for &(a, b) in batch {
            if uf.find(a) == uf.find(b) {
                stats.already_connected += 1;
                skipped.push((a, b));
            } else if let Some(v) = known.and_then(|k| k.get((a, b))) {
                taken += 1;
                order.push(((a, b), Err(v)));
            } else {
                order.push(((a, b), Ok(todo.len())));
                todo.push((a, b));
            }
        }
        let scores = score_pairs(&todo, verifier)?;
        stats.verified += todo.len() as u64;
        for &(pair, at) in &order {
            match at {
                Ok(i) => {
                    let s = &scores[i];
                    let accepted = join_if_match(rule, pair, s, &mut uf, &mut edges, &mut stats)?;
                    if let Some(v) = &mut scored {
                        if accepted {
                            v.accepted.push((pair, *s));
                        } else {
                            v.rejected.push(pair);
                        }
                    }
                }
                Err(Some(s)) => {
                    join_if_match(rule, pair, s, &mut uf, &mut edges, &mut stats)?;
                }
                Err(None) => {}
            }
        }
        advance(batch.len() as u64);
    }
    Ok(Verified {
        uf,
        edges,
        skipped,
        stats,
        scored,
        taken,
    })
}

/// Pairs of one first document scored by one task: a document of a large family has
/// hundreds of candidates, and scoring them all on one thread left the other cores idle
/// at the end of each batch.
const SCORE_CHUNK: usize = 16;

/// Scores every pair (sorted by first document, so each run of one first document builds
/// its set once; a long run is scored in chunks of `SCORE_CHUNK` pairs in parallel).
pub fn score_pairs(pairs: &[Pair], verifier: &Verifier) -> Result<Vec<PairScore>> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i + 1;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        runs.push(i..j);
        i = j;
    }
    let scores: Vec<Vec<PairScore>> = runs
        .par_iter()
        .map(|r| {
            let a = pairs[r.start].0;
            let loaded = verifier.load_for_scoring(a)?;
            let others: Vec<DocId> = pairs[r.clone()].iter().map(|p| p.1).collect();
            if others.len() <= SCORE_CHUNK {
                return verifier.score_many(a, loaded.as_ref(), &others);
            }
            let chunks: Vec<Vec<PairScore>> = others
                .par_chunks(SCORE_CHUNK)
                .map(|chunk| verifier.score_many(a, loaded.as_ref(), chunk))
                .collect::<Result<_>>()?;
            Ok(chunks.concat())
        })
        .collect::<Result<_>>()?;
    Ok(scores.into_iter().flatten().collect())
}

/// Clusters pairs whose scores are already known (`scores[i]` belongs to `pairs[i]`): what
/// a parameter sweep does once per setting after scoring every candidate once. The
/// accepted pairs go to `edges`, in candidate order.
pub fn cluster_scored<E: AcceptedPairs>(
    docs: usize,
    pairs: &[Pair],
    scores: &[PairScore],
    rule: &MatchRule,
    mut edges: E,
) -> Result<Verified<E>> {
    let mut uf = UnionFind::new(docs);
    let mut stats = VerifyStats {
        verified: pairs.len() as u64,
        ..VerifyStats::default()
    };
    for (&pair, s) in pairs.iter().zip(scores) {
        join_if_match(rule, pair, s, &mut uf, &mut edges, &mut stats)?;
    }
    Ok(Verified {
        uf,
        edges,
        skipped: Vec::new(),
        stats,
        scored: None,
        taken: 0,
    })
}

/// Joins a scored pair's documents when the rule accepts it, keeping the edge as
/// evidence; true when it does.
fn join_if_match(
    rule: &MatchRule,
    (a, b): Pair,
    s: &PairScore,
    uf: &mut UnionFind,
    edges: &mut impl AcceptedPairs,
    stats: &mut VerifyStats,
) -> Result<bool> {
    if rule.accepts(s) {
        stats.accepted += 1;
        match rule.matches(s) {
            Some(Match::Containment) => stats.by_containment += 1,
            Some(Match::Short) => stats.by_short += 1,
            _ => {}
        }
        edges.push(Edge {
            a,
            b,
            jaccard: s.jaccard,
            containment: s.containment(),
        })?;
        uf.union(a, b);
        Ok(true)
    } else {
        Ok(false)
    }
}

/// How similar a member is to its representative: what the outputs print of its
/// `PairScore` (a placement is held for every member of every component until the
/// assignments are made, so it keeps these two numbers, not the whole score).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// |A ∩ B| / |A ∪ B|, exact or estimated.
    pub jaccard: f64,
    /// |A ∩ B| / min(|A|, |B|).
    pub containment: f64,
}

impl From<&PairScore> for Similarity {
    fn from(s: &PairScore) -> Self {
        Similarity {
            jaccard: s.jaccard,
            containment: s.containment(),
        }
    }
}

/// Where a document ended up: its representative and how it relates to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The representative of its cluster (itself for a representative).
    pub rep: DocId,
    /// The member against the representative; `None` for the representative.
    pub score: Option<Similarity>,
    /// Kept in the cluster without matching the representative by the pair rule.
    pub weak: bool,
    /// The representative of the cluster a chain had joined it to, before the star check
    /// split it off.
    pub split_from: Option<DocId>,
    /// How a member relates to the representative; `None` for the representative.
    pub provenance: Option<Box<Provenance>>,
}

/// A connected component of two or more documents, to be placed by `place_component`.
#[derive(Debug, Clone, Default)]
pub struct Component {
    /// Its documents, ascending.
    pub members: Vec<DocId>,
    /// With `ClusterShape::Star`: the matching pairs among them (`true`) and the
    /// candidate pairs not verified yet (`false`); empty otherwise.
    pub links: Vec<(DocId, DocId, bool)>,
}

/// The components of two or more documents of `uf`, in order of their first member,
/// each with the links `place_component` needs. Components are independent: the caller
/// places them in any grouping and in parallel, and the result does not depend on the
/// thread count. A document in none of them is alone, its own representative (most
/// documents of a large dump are).
pub fn components(
    uf: &mut UnionFind,
    verified_edges: &impl AcceptedPairs,
    skipped: &[Pair],
    shape: ClusterShape,
) -> Result<Vec<Component>> {
    if verified_edges.is_empty() {
        return Ok(Vec::new());
    }
    let docs = uf.len();
    let roots: Vec<DocId> = (0..docs as DocId).map(|d| uf.find(d)).collect();
    let mut comp_of_root: Vec<u32> = vec![u32::MAX; docs];
    let mut comps: Vec<Component> = Vec::new();
    let mut size = vec![0u32; docs];
    for &r in &roots {
        size[r as usize] += 1;
    }
    for d in 0..docs as DocId {
        let r = roots[d as usize] as usize;
        if size[r] < 2 {
            continue;
        }
        if comp_of_root[r] == u32::MAX {
            comp_of_root[r] = comps.len() as u32;
            comps.push(Component::default());
        }
        // members are pushed in ascending order: place_component relies on it
        comps[comp_of_root[r] as usize].members.push(d);
    }
    drop(size);
    let comp = |d: DocId| comp_of_root[roots[d as usize] as usize] as usize;
    // links inside each component: matching pairs, and skipped pairs still to be scored
    if shape == ClusterShape::Star {
        verified_edges.scan(&mut |e| {
            comps[comp(e.a)].links.push((e.a, e.b, true));
            Ok(())
        })?;
        for &(a, b) in skipped {
            comps[comp(a)].links.push((a, b, false));
        }
    }
    Ok(comps)
}

/// How much of the story each member carries: its shingles found in at least one other
/// member. An outlet's byline, footer and word edits are its own, so they do not make a
/// copy look longer than the original it was taken from.
fn story_sizes<'a>(sets: impl Iterator<Item = &'a [u64]> + Clone) -> Vec<u64> {
    let sets: Vec<&[u64]> = sets.collect();
    // the sets are sorted and distinct: of two members, each carries what the two share,
    // counted by one merge
    if let [a, b] = sets[..] {
        let shared = intersection_size(a, b) as u64;
        return vec![shared, shared];
    }
    // shingles are hashes already: Fx hashing them again is enough and fast; sized for
    // every shingle at once, the table is not grown and rehashed on the way
    let total = sets.iter().map(|s| s.len()).sum();
    let mut count: FxHashMap<u64, u32> = FxHashMap::with_capacity_and_hasher(total, FxBuildHasher);
    for set in &sets {
        for &s in *set {
            *count.entry(s).or_default() += 1;
        }
    }
    sets.iter()
        .map(|set| set.iter().filter(|s| count[s] > 1).count() as u64)
        .collect()
}

/// Compares two candidate representatives; the third argument gives a member's length
/// as `(story shingles, compared shingles)`.
pub type OrderFn<'a> = dyn Fn(DocId, DocId, &dyn Fn(DocId) -> (u64, u64)) -> Ordering + Sync + 'a;

/// The placements of one component, with its split-off and weak-link counts.
pub type Placed = (Vec<(DocId, Placement)>, u64, u64);

/// What placing a component needs to know about its members: the spill-backed
/// `Verifier` of a run, or the members of one component held in memory by a caller that
/// distributes the work (see `stages`).
pub trait Members: Sync {
    /// The paragraph record, removed paragraphs and sorted article set of `doc`.
    fn load(&self, doc: DocId) -> Result<(ParagraphRecord, &[u32], Vec<u64>)>;
    /// Compared shingles of `doc`, counted with repeats.
    fn size(&self, doc: DocId) -> u32;
    /// Scores `a` against `b`.
    fn score(&self, a: DocId, b: DocId) -> Result<PairScore>;
    /// True when scores come from signatures, not from the sets.
    fn is_estimate(&self) -> bool;
}

impl Members for Verifier {
    fn load(&self, doc: DocId) -> Result<(ParagraphRecord, &[u32], Vec<u64>)> {
        Verifier::load(self, doc)
    }
    fn size(&self, doc: DocId) -> u32 {
        Verifier::size(self, doc)
    }
    fn score(&self, a: DocId, b: DocId) -> Result<PairScore> {
        Verifier::score(self, a, b)
    }
    fn is_estimate(&self) -> bool {
        Verifier::is_estimate(self)
    }
}

/// Members of one component loaded and scored by one task: small components, most of
/// them, stay on the thread that places them.
const PLACE_CHUNK: usize = 8;

/// Skipped pairs among split-off members scored at a time: enough for every thread,
/// few enough that a pair joined by the previous chunk's matches is not scored.
const LINK_CHUNK: usize = 256;

/// What placing a component works out for each member besides its representative, its
/// score and the star split (which do not depend on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Also each member's provenance, from its paragraph alignment with the
    /// representative: what docs.jsonl, clusters.jsonl and the report write.
    Provenance,
    /// Placements without provenance (`Placement::provenance` is `None`), for a caller
    /// that writes only representatives and similarities (the distributed job): the
    /// alignment costs about as much again as the score.
    PlacementOnly,
}

/// Places one component: `members` in ascending order, `links` the matching pairs among
/// them (`true`) and the candidate pairs not verified yet (`false`) (see `components`).
/// The representative is the first member in `order`. With `ClusterShape::Star` every
/// member is scored against the representative; members that do not `stay` are split
/// off and their own components (over the matching pairs among them) are placed the
/// same way. `detail` says whether each member's provenance is worked out too.
pub fn place_component<V: Members + ?Sized>(
    members: &[DocId],
    links: &[(DocId, DocId, bool)],
    verifier: &V,
    rule: &MatchRule,
    shape: ClusterShape,
    order: &OrderFn<'_>,
    detail: Detail,
) -> Result<Placed> {
    let mut out = Vec::with_capacity(members.len());
    let (mut split, mut weak_links) = (0u64, 0u64);
    let mut work: Vec<(Vec<DocId>, Option<DocId>)> = vec![(members.to_vec(), None)];
    while let Some((set, split_from)) = work.pop() {
        // each member is read from the spill once: its set serves the representative
        // choice, the score and the paragraph alignment
        // a large family, placed alone, would keep one core busy and the others idle: its
        // members are loaded and scored in parallel, in order
        let loaded: Vec<(ParagraphRecord, &[u32], Vec<u64>)> = set
            .par_iter()
            .with_min_len(PLACE_CHUNK)
            .map(|&d| verifier.load(d))
            .collect::<Result<_>>()?;
        // counted only if the order gets that far (dates and preferred outlets tie)
        let story = std::cell::OnceCell::new();
        let length = |d: DocId| {
            let story = story.get_or_init(|| story_sizes(loaded.iter().map(|l| l.2.as_slice())));
            let i = set.binary_search(&d).expect("a member");
            (story[i], u64::from(verifier.size(d)))
        };
        let rep_index = (0..set.len())
            .min_by(|&a, &b| order(set[a], set[b], &length))
            .expect("components are not empty");
        let rep = set[rep_index];
        out.push((
            rep,
            Placement {
                rep,
                score: None,
                weak: false,
                split_from,
                provenance: None,
            },
        ));
        let compared = |i: usize| Compared {
            record: &loaded[i].0,
            removed: loaded[i].1,
            set: &loaded[i].2,
        };
        // the representative is aligned with every member that stays: its set's index
        // is made once
        let rep_set = (detail == Detail::Provenance).then(|| SetIndex::new(&loaded[rep_index].2));
        // each member against the representative: its placement, or `None` when it is
        // split off
        let fates: Vec<(DocId, Option<Placement>)> = set
            .par_iter()
            .enumerate()
            .with_min_len(PLACE_CHUNK)
            .filter(|&(i, _)| i != rep_index)
            .map(|(i, &m)| -> Result<(DocId, Option<Placement>)> {
                let s = if verifier.is_estimate() {
                    verifier.score(m, rep)?
                } else {
                    crate::verify::rule::score(compared(i), compared(rep_index))
                };
                if shape != ClusterShape::Components && !rule.stays(&s) {
                    return Ok((m, None));
                }
                let weak = !rule.accepts(&s);
                let member_provenance = rep_set.as_ref().map(|rep_set| {
                    let alignment = align_in(compared(rep_index), compared(i), rep_set);
                    Box::new(provenance(&s, alignment, rule, weak))
                });
                Ok((
                    m,
                    Some(Placement {
                        rep,
                        score: Some(Similarity::from(&s)),
                        weak,
                        split_from,
                        provenance: member_provenance,
                    }),
                ))
            })
            .collect::<Result<_>>()?;
        let mut detached = Vec::new();
        for (m, fate) in fates {
            match fate {
                Some(p) => {
                    weak_links += u64::from(p.weak);
                    out.push((m, p));
                }
                None => detached.push(m),
            }
        }
        drop(loaded);
        if detached.is_empty() {
            continue;
        }
        split += detached.len() as u64;
        // the split-off members form their own components, over the matching pairs
        // among them (pairs skipped during verification are scored now)
        detached.sort_unstable();
        let local = |d: DocId| detached.binary_search(&d).ok();
        let mut uf = UnionFind::new(detached.len());
        let mut skipped = Vec::new();
        for &(a, b, known) in links {
            if let (Some(x), Some(y)) = (local(a), local(b)) {
                if known {
                    uf.union(x as DocId, y as DocId);
                } else {
                    skipped.push((a, b, x as DocId, y as DocId));
                }
            }
        }
        // The skipped pairs, scored a chunk at a time in parallel: a pair whose members
        // are joined already is not scored. Which pairs that spares depends on the order,
        // but not the components: they are those of the matching pairs, whatever order
        // they are joined in, and a union-find's roots are the smallest members.
        for chunk in skipped.chunks(LINK_CHUNK) {
            let open: Vec<&(DocId, DocId, DocId, DocId)> = chunk
                .iter()
                .filter(|&&(_, _, x, y)| uf.find(x) != uf.find(y))
                .collect();
            let accepted: Vec<bool> = open
                .par_iter()
                .with_min_len(PLACE_CHUNK)
                .map(|&&(a, b, _, _)| Ok(rule.accepts(&verifier.score(a, b)?)))
                .collect::<Result<_>>()?;
            for (&&(_, _, x, y), ok) in open.iter().zip(accepted) {
                if ok {
                    uf.union(x, y);
                }
            }
        }
        let mut groups: BTreeMap<DocId, Vec<DocId>> = BTreeMap::new();
        for (i, &d) in detached.iter().enumerate() {
            groups.entry(uf.find(i as DocId)).or_default().push(d);
        }
        work.extend(groups.into_values().map(|g| (g, Some(rep))));
    }
    Ok((out, split, weak_links))
}

/// One member of a component, as `place_members` needs it.
#[derive(Debug, Clone)]
pub struct ComponentMember {
    /// Position in input order.
    pub doc: DocId,
    /// Its id.
    pub id: String,
    /// The raw date field; only ISO dates count, as in the pipeline.
    pub date: Option<String>,
    /// Its outlet.
    pub outlet: Option<String>,
    /// Its paragraph record.
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
        let side = |d: DocId| -> Result<Compared<'_>> {
            let i = self.index(d)?;
            Ok(Compared {
                record: &self.docs[i].record,
                removed: &self.docs[i].removed,
                set: &self.sets[i],
            })
        };
        Ok(crate::verify::rule::score(side(a)?, side(b)?))
    }
    fn is_estimate(&self) -> bool {
        false
    }
}

/// Places one connected component of accepted pairs exactly as a run does on one machine
/// (`components`, `place_component`): the representative is the first member in the representative order,
/// and with star clusters the members that do not stay are split off and re-clustered
/// over the accepted pairs among them. `links` are the accepted pairs inside the
/// component (any order; the set of accepted pairs, not which were verified first,
/// decides the result). Returns each member's placement, in no particular order, with
/// its provenance when `detail` asks for it.
pub fn place_members(
    mut members: Vec<ComponentMember>,
    links: &[(DocId, DocId)],
    params: &ValidParams,
    detail: Detail,
) -> Result<Vec<(DocId, Placement)>> {
    members.sort_by_key(|m| m.doc);
    let sets = members
        .iter()
        .map(|m| m.record.article_set(&m.removed))
        .collect();
    let data = InMemory {
        docs: members,
        sets,
    };
    let docs: Vec<DocId> = data.docs.iter().map(|m| m.doc).collect();
    let links: Vec<(DocId, DocId, bool)> = links.iter().map(|&(a, b)| (a, b, true)).collect();
    let member = |d: DocId| &data.docs[data.index(d).expect("a member")];
    let order = RepresentativeOrder::new(
        &params.cluster,
        move |d| member(d).date.as_deref(),
        move |d| member(d).outlet.as_deref(),
        move |d| member(d).id.as_str(),
    );
    let rule = MatchRule::new(params);
    let (placed, _, _) = place_component(
        &docs,
        &links,
        &data,
        &rule,
        params.cluster.shape,
        &|a, b, length| order.compare(a, b, length),
        detail,
    )?;
    Ok(placed)
}

/// The representative order of `ClusterParams::representative`, then input order.
pub struct RepresentativeOrder<'a> {
    /// The rules, in order; input order breaks the remaining ties.
    pub rules: &'a [RepresentativeRule],
    /// Per document: ISO date (None when missing or not ISO).
    pub date: Box<dyn Fn(DocId) -> Option<&'a str> + Sync + 'a>,
    /// Per document: position of its outlet in the preference list (unlisted: after all).
    pub outlet_rank: Box<dyn Fn(DocId) -> usize + Sync + 'a>,
    /// Per document: its id.
    pub id: Box<dyn Fn(DocId) -> &'a str + Sync + 'a>,
}

impl<'a> RepresentativeOrder<'a> {
    /// The order of `params.representative` over documents described by `date` (the date
    /// field as read; only ISO dates count), `outlet` (its name; its rank comes from
    /// `params.prefer_outlets`) and `id`.
    pub fn new(
        params: &'a ClusterParams,
        date: impl Fn(DocId) -> Option<&'a str> + Sync + 'a,
        outlet: impl Fn(DocId) -> Option<&'a str> + Sync + 'a,
        id: impl Fn(DocId) -> &'a str + Sync + 'a,
    ) -> Self {
        let rank: HashMap<&'a str, usize> = params
            .prefer_outlets
            .iter()
            .enumerate()
            .map(|(rank, name)| (name.as_str(), rank))
            .collect();
        let last = params.prefer_outlets.len();
        RepresentativeOrder {
            rules: &params.representative,
            date: Box::new(move |d| date(d).filter(|s| crate::date::is_iso_date(s))),
            outlet_rank: Box::new(move |d| {
                outlet(d).and_then(|o| rank.get(o).copied()).unwrap_or(last)
            }),
            id: Box::new(id),
        }
    }

    /// `Less` when `a` is the better representative; `length` gives `(story shingles,
    /// compared shingles)`, longest first. Document ids are in input order, which breaks
    /// every remaining tie.
    #[must_use]
    pub fn compare(&self, a: DocId, b: DocId, length: &dyn Fn(DocId) -> (u64, u64)) -> Ordering {
        for rule in self.rules {
            let o = match rule {
                RepresentativeRule::Date => match ((self.date)(a), (self.date)(b)) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                },
                RepresentativeRule::Outlet => (self.outlet_rank)(a).cmp(&(self.outlet_rank)(b)),
                RepresentativeRule::Longest => length(b).cmp(&length(a)),
                RepresentativeRule::Id => (self.id)(a).cmp((self.id)(b)),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.cmp(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_roots_are_smallest() {
        let mut uf = UnionFind::new(6);
        uf.union(4, 5);
        uf.union(5, 2);
        uf.union(0, 1);
        assert_eq!(uf.find(4), 2);
        assert_eq!(uf.find(5), 2);
        assert_eq!(uf.find(1), 0);
        assert_eq!(uf.find(3), 3);
        assert!(!uf.union(2, 4));
    }

    #[test]
    fn representative_ordering() {
        let by_outlet = [RepresentativeRule::Outlet, RepresentativeRule::Id];
        let dates = [
            Some("2024-01-02"),
            Some("2024-01-01T23:00"),
            None,
            Some("2024-01-01T23:00"),
        ];
        let sizes = [10u32, 5, 100, 7];
        let ids = ["d", "c", "b", "a"];
        let rules = crate::params::ClusterParams::default().representative;
        let order = RepresentativeOrder {
            rules: &rules,
            date: Box::new(move |d| dates[d as usize]),
            outlet_rank: Box::new(|d| usize::from(d != 0)),
            id: Box::new(move |d| ids[d as usize]),
        };
        let length = move |d: DocId| (0, u64::from(sizes[d as usize]));
        let mut v: Vec<DocId> = (0..4).collect();
        v.sort_by(|&a, &b| order.compare(a, b, &length));
        // same earliest date: the longer (3 is longer than 1) wins; undated last
        assert_eq!(v, vec![3, 1, 0, 2]);
        let order = RepresentativeOrder {
            rules: &by_outlet,
            ..order
        };
        v.sort_by(|&a, &b| order.compare(a, b, &length));
        assert_eq!(v, vec![0, 3, 2, 1]);
    }

    /// Documents of one paragraph each: runs of shingles that overlap by degrees.
    fn verifier(dir: &std::path::Path) -> (Verifier, usize) {
        let mut spill = crate::spill::ShingleSpill::create_in(dir).unwrap();
        let docs: Vec<Vec<u64>> = (0..12u64)
            .map(|i| {
                let start = (i / 3) * 100 + (i % 3) * 3;
                (start..start + 40).collect()
            })
            .collect();
        let mut sizes = Vec::new();
        for d in &docs {
            let mut rec = ParagraphRecord::default();
            rec.shingles.extend_from_slice(d);
            rec.offsets.push(rec.shingles.len() as u32);
            rec.hashes.push(0);
            rec.push_snippet("");
            spill.push_bytes(&rec.encode()).unwrap();
            sizes.push(d.len() as u32);
        }
        let records = spill.finish().unwrap();
        (
            Verifier::exact(records, crate::ids::DocLists::default(), sizes),
            docs.len(),
        )
    }

    #[test]
    fn known_verdicts_give_what_scoring_gives() {
        let dir = tempfile::tempdir().unwrap();
        let (v, n) = verifier(dir.path());
        let rule = MatchRule::new(&crate::Params::default().validate().unwrap());
        let pairs: Vec<Pair> = (0..n as DocId)
            .flat_map(|a| (a + 1..n as DocId).map(move |b| (a, b)))
            .collect();
        let plain = cluster_pairs(n, &pairs, &v, &rule, None, Vec::new(), |_| {}).unwrap();
        assert!(plain.scored.is_none());
        let first = cluster_pairs(
            n,
            &pairs,
            &v,
            &rule,
            Some(&Verdicts::default()),
            Vec::new(),
            |_| {},
        )
        .unwrap();
        let scored = first.scored.clone().unwrap();
        assert_eq!(scored.len() as u64, first.stats.verified);
        assert!(!scored.accepted.is_empty() && !scored.rejected.is_empty());
        assert_eq!(first.edges, plain.edges);
        assert_eq!(first.stats, plain.stats);
        // every verdict known: nothing scored, the same edges, skips and counts
        let again = cluster_pairs(n, &pairs, &v, &rule, Some(&scored), Vec::new(), |_| {}).unwrap();
        assert_eq!(again.stats.verified, 0);
        assert_eq!(again.taken, first.stats.verified);
        assert_eq!(again.scored, Some(Verdicts::default()));
        assert_eq!(again.edges, plain.edges);
        assert_eq!(again.skipped, plain.skipped);
        let mut stats = again.stats.clone();
        stats.verified = plain.stats.verified;
        assert_eq!(stats, plain.stats);
        // some known (the rejected only): the rest scored, the same answer
        let part = Verdicts {
            rejected: scored.rejected.clone(),
            accepted: Vec::new(),
        };
        let mixed = cluster_pairs(n, &pairs, &v, &rule, Some(&part), Vec::new(), |_| {}).unwrap();
        assert_eq!(mixed.taken, scored.rejected.len() as u64);
        assert_eq!(mixed.stats.verified, scored.accepted.len() as u64);
        assert_eq!(mixed.edges, plain.edges);
        assert_eq!(mixed.skipped, plain.skipped);
    }

    /// `families` families of `size` documents, each a run of 60 shingles shifted by 2
    /// from the previous member's: long candidate runs, large components, and members far
    /// enough from any representative to be split off.
    fn family_verifier(dir: &std::path::Path, families: u64, size: u64) -> Verifier {
        let mut spill = crate::spill::ShingleSpill::create_in(dir).unwrap();
        let mut sizes = Vec::new();
        for i in 0..families * size {
            let start = (i / size) * 10_000 + (i % size) * 2;
            let mut rec = ParagraphRecord::default();
            rec.shingles.extend(start..start + 60);
            rec.offsets.push(rec.shingles.len() as u32);
            rec.hashes.push(0);
            rec.push_snippet("");
            spill.push_bytes(&rec.encode()).unwrap();
            sizes.push(60);
        }
        Verifier::exact(
            spill.finish().unwrap(),
            crate::ids::DocLists::default(),
            sizes,
        )
    }

    fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    #[test]
    fn long_runs_scored_in_parallel_give_each_pairs_own_score_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let v = family_verifier(dir.path(), 3, 70);
        // every pair inside a family: runs of up to 69 pairs, several chunks each
        let pairs: Vec<Pair> = (0..210u32)
            .flat_map(|a| (a + 1..(a / 70 + 1) * 70).map(move |b| (a, b)))
            .collect();
        let want: Vec<PairScore> = pairs.iter().map(|&(a, b)| v.score(a, b).unwrap()).collect();
        assert!(want.iter().any(|s| s.shared == 0) && want.iter().any(|s| s.shared > 50));
        for threads in [1, 2, 5] {
            let got = in_pool(threads, || score_pairs(&pairs, &v).unwrap());
            assert_eq!(got, want, "{threads} threads");
        }
    }

    #[test]
    fn a_large_component_placed_in_parallel_is_placed_as_on_one_thread() {
        let dir = tempfile::tempdir().unwrap();
        let v = family_verifier(dir.path(), 1, 40);
        let members: Vec<DocId> = (0..40).collect();
        // a third of the neighbours matched in verification, the rest (and the members
        // two apart) skipped there and scored when their members are split off
        let links: Vec<(DocId, DocId, bool)> = (0..39)
            .map(|a| (a, a + 1, a % 3 == 0))
            .chain((0..38).map(|a| (a, a + 2, false)))
            .collect();
        let rule = MatchRule::new(&crate::Params::default().validate().unwrap());
        // every member but the two ends carries the whole story: member 1 is the
        // representative, and the members far from it are split off and placed again
        let order = |a: DocId, b: DocId, length: &dyn Fn(DocId) -> (u64, u64)| {
            length(b).cmp(&length(a)).then(a.cmp(&b))
        };
        for shape in [ClusterShape::Star, ClusterShape::Components] {
            let place = |threads, detail| {
                in_pool(threads, || {
                    place_component(&members, &links, &v, &rule, shape, &order, detail).unwrap()
                })
            };
            let want = place(1, Detail::Provenance);
            assert_eq!(want.0.len(), 40);
            if shape == ClusterShape::Star {
                assert!(want.1 > PLACE_CHUNK as u64, "members split off: {}", want.1);
                let reps: std::collections::BTreeSet<DocId> =
                    want.0.iter().map(|(_, p)| p.rep).collect();
                assert!(reps.len() > 2, "split-off members placed again: {reps:?}");
            }
            for threads in [2, 3] {
                assert_eq!(
                    place(threads, Detail::Provenance),
                    want,
                    "{shape:?}, {threads} threads"
                );
            }
            // without provenance: the same representatives, scores and split, each
            // member's provenance left out
            let lean = place(2, Detail::PlacementOnly);
            let mut stripped = want.clone();
            for (d, p) in &mut stripped.0 {
                assert_eq!(p.provenance.is_some(), p.rep != *d, "{shape:?}, member {d}");
                p.provenance = None;
            }
            assert_eq!(lean, stripped, "{shape:?}");
        }
    }

    /// `story_sizes` as it was: every set's shingles counted in one growing table.
    fn story_sizes_by_counting(sets: &[Vec<u64>]) -> Vec<u64> {
        let mut count: FxHashMap<u64, u32> = FxHashMap::default();
        for set in sets {
            for &s in set {
                *count.entry(s).or_default() += 1;
            }
        }
        sets.iter()
            .map(|set| set.iter().filter(|s| count[s] > 1).count() as u64)
            .collect()
    }

    #[test]
    fn story_sizes_count_as_the_growing_table_did() {
        let mut next = crate::testing::xorshift(0x6a09_e667_f3bc_c908u64);
        // components of 1 to 12 members, sharing all, some or nothing; empty sets too
        for round in 0..1200u64 {
            let members = (round % 12 + 1) as usize;
            let universe = [5, 50, 5000, u64::MAX][(round / 12) as usize % 4];
            let sets: Vec<Vec<u64>> = (0..members)
                .map(|_| {
                    let mut set: Vec<u64> = (0..next() % 300).map(|_| next() % universe).collect();
                    set.sort_unstable();
                    set.dedup();
                    set
                })
                .collect();
            assert_eq!(
                story_sizes(sets.iter().map(Vec::as_slice)),
                story_sizes_by_counting(&sets),
                "round {round}"
            );
        }
    }
}
