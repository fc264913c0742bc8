//! A segment's `verdicts`: the verdict of every candidate pair its run scored, so that a
//! later run takes it instead of scoring the pair again (`cluster::cluster_pairs`'
//! `known`). A pair's verdict is a function of its two documents' stored paragraph
//! records and left-out paragraphs and of the parameters, all fixed once archived, so a
//! stored verdict is the one scoring would give.
//!
//! Body: the number of entries; then the entries sorted by pair, each `a: u32`, `b: u32`
//! (archived document numbers over all runs, `a < b`) and a flag: 0 rejected, 1 accepted,
//! 2 accepted with the shared text's place; an accepted pair is followed by its score
//! (`jaccard` as the bits of an `f64`, `shared`, `size_a`, `size_b`, all `u64`) and, for
//! flag 2, `lead_a`, `lead_b`, `paragraphs_a`, `paragraphs_b` (`u32`). A run streams each
//! segment's file once, keeps the pairs among the archived documents it loaded, and
//! checks the checksum before it uses them.
//!
//! Invariant: a pair is in at most one segment's file (a run scores only pairs no loaded
//! segment holds), and a file's pairs name documents of its segment or of earlier ones.

use std::path::Path;

use crate::cluster::Verdicts;
use crate::error::Result;
use crate::ids::{DocId, Pair};
use crate::store::{self, BodyReader};
use crate::verify::{PairScore, SharedText};

/// The file's name in a segment.
pub(super) const FILE: &str = "verdicts";
/// Its kind.
const KIND: &str = "verdicts";
/// The fewest bytes of an entry.
const MIN_ENTRY: u64 = 9;

/// A pair (archived document numbers) and its verdict: `None` rejected, the score when
/// accepted.
pub(super) type Entry = (Pair, Option<PairScore>);

fn encode(out: &mut Vec<u8>, ((a, b), v): &Entry) {
    out.extend_from_slice(&a.to_le_bytes());
    out.extend_from_slice(&b.to_le_bytes());
    match v {
        None => out.push(0),
        Some(s) => {
            out.push(if s.shared_text.is_some() { 2 } else { 1 });
            for x in [s.jaccard.to_bits(), s.shared, s.size_a, s.size_b] {
                out.extend_from_slice(&x.to_le_bytes());
            }
            if let Some(t) = s.shared_text {
                for x in [t.lead_a, t.lead_b, t.paragraphs_a, t.paragraphs_b] {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }
}

/// Writes `entries` (sorted by pair, each pair once) as `path`.
pub(super) fn write(path: &Path, digest: u128, entries: &[Entry]) -> Result<()> {
    let mut body = Vec::with_capacity(8 + entries.len() * MIN_ENTRY as usize);
    body.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for e in entries {
        encode(&mut body, e);
    }
    store::write(path, KIND, digest, &body)
}

/// `verdicts` (local document numbers) as a segment's entries: `doc` gives each local
/// document's archived number, in the same order.
pub(super) fn entries(verdicts: &Verdicts, doc: impl Fn(DocId) -> DocId) -> Vec<Entry> {
    let map = |(a, b): Pair| (doc(a), doc(b));
    let mut out: Vec<Entry> = Vec::with_capacity(verdicts.len());
    let (mut r, mut s) = (
        verdicts.rejected.iter().peekable(),
        verdicts.accepted.iter().peekable(),
    );
    loop {
        let take_rejected = match (r.peek(), s.peek()) {
            (Some(&&p), Some(&&(q, _))) => p < q,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_rejected {
            let &p = r.next().expect("peeked");
            out.push((map(p), None));
        } else {
            let &(p, score) = s.next().expect("peeked");
            out.push((map(p), Some(score)));
        }
    }
    out
}

/// Reads a `verdicts` file entry by entry, checking that the pairs are sorted, each
/// pair's first document before its second and both below `docs`.
pub(super) struct Reader {
    r: BodyReader,
    left: usize,
    docs: u64,
    prev: Option<Pair>,
}

impl Reader {
    /// Opens `path`, whose pairs name documents below `docs`.
    pub(super) fn open(path: &Path, digest: u128, docs: u64) -> Result<Self> {
        let mut r = BodyReader::open(path, KIND, Some(digest))?;
        let left = r.count(MIN_ENTRY)?;
        Ok(Reader {
            r,
            left,
            docs,
            prev: None,
        })
    }

    /// The body's length in bytes.
    pub(super) fn len(&self) -> u64 {
        self.r.len()
    }

    /// The next entry, `None` after the last.
    pub(super) fn next(&mut self) -> Result<Option<Entry>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let r = &mut self.r;
        let pair = (r.u32()?, r.u32()?);
        if pair.0 >= pair.1 || u64::from(pair.1) >= self.docs {
            return Err(r.error(format!(
                "pair {pair:?}: not two documents in order below {}",
                self.docs
            )));
        }
        if self.prev.is_some_and(|p| p >= pair) {
            return Err(r.error(format!("pair {pair:?} out of order")));
        }
        self.prev = Some(pair);
        let flag = r.u8()?;
        let verdict = match flag {
            0 => None,
            1 | 2 => {
                let jaccard = f64::from_bits(r.u64()?);
                let (shared, size_a, size_b) = (r.u64()?, r.u64()?, r.u64()?);
                let shared_text = if flag == 2 {
                    Some(SharedText {
                        lead_a: r.u32()?,
                        lead_b: r.u32()?,
                        paragraphs_a: r.u32()?,
                        paragraphs_b: r.u32()?,
                    })
                } else {
                    None
                };
                Some(PairScore {
                    jaccard,
                    shared,
                    size_a,
                    size_b,
                    shared_text,
                })
            }
            f => return Err(r.error(format!("pair {pair:?}: flag byte {f}"))),
        };
        Ok(Some((pair, verdict)))
    }

    /// Fails unless every entry was read and the checksum matches.
    pub(super) fn finish(self) -> Result<()> {
        self.r.finish()
    }
}

/// Streams `path` and adds to `out` the verdicts on pairs of two documents of `members`
/// (archived document numbers, ascending; a member's local number is its position) that
/// `keep` keeps, in local numbers. Memory follows what is kept. `out` is sorted after the
/// last file (`sort`).
pub(super) fn pick(
    path: &Path,
    digest: u128,
    docs: u64,
    members: &[DocId],
    keep: impl Fn(usize) -> bool,
    out: &mut Verdicts,
) -> Result<()> {
    let mut r = Reader::open(path, digest, docs)?;
    let (mut rejected, mut accepted) = (Vec::new(), Vec::new());
    // entries are sorted by first document: a cursor over the members finds it
    let mut at = 0usize;
    while let Some(((a, b), v)) = r.next()? {
        while at < members.len() && members[at] < a {
            at += 1;
        }
        if members.get(at) != Some(&a) || !keep(at) {
            continue;
        }
        let Ok(j) = members.binary_search(&b) else {
            continue;
        };
        if !keep(j) {
            continue;
        }
        let local = (at as DocId, j as DocId);
        match v {
            None => rejected.push(local),
            Some(s) => accepted.push((local, s)),
        }
    }
    // nothing is used before the whole file is checked
    r.finish()?;
    out.rejected.extend(rejected);
    out.accepted.extend(accepted);
    Ok(())
}

/// Sorts verdicts gathered from several files (`pick`).
pub(super) fn sort(v: &mut Verdicts) {
    v.rejected.sort_unstable();
    v.accepted.sort_unstable_by_key(|&(p, _)| p);
}

/// Reads a whole `verdicts` file (`index verify`): its entry count.
pub(super) fn check(path: &Path, digest: u128, docs: u64) -> Result<u64> {
    let mut r = Reader::open(path, digest, docs)?;
    let mut n = 0;
    while r.next()?.is_some() {
        n += 1;
    }
    r.finish()?;
    Ok(n)
}

/// Merges the `verdicts` files `inputs` (each with the documents its pairs may name)
/// into `out`, streaming (`index compact`). A pair found in two files is damage.
pub(super) fn merge(out: &Path, digest: u128, inputs: &[(&Path, u64)]) -> Result<()> {
    let mut readers: Vec<Reader> = inputs
        .iter()
        .map(|&(p, docs)| Reader::open(p, digest, docs))
        .collect::<Result<_>>()?;
    // every entry is copied as it was; one count instead of one a file
    let entries: u64 = readers.iter().map(|r| r.left as u64).sum();
    let len = 8 + readers.iter().map(|r| r.len() - 8).sum::<u64>();
    let mut heads: Vec<Option<Entry>> = readers
        .iter_mut()
        .map(Reader::next)
        .collect::<Result<_>>()?;
    store::write_stream(out, KIND, digest, len, |sink| {
        sink.put(&entries.to_le_bytes())?;
        let mut last: Option<Pair> = None;
        while let Some(i) = (0..heads.len())
            .filter(|&i| heads[i].is_some())
            .min_by_key(|&i| heads[i].as_ref().map(|e| e.0))
        {
            let e = heads[i].take().expect("a head");
            if last == Some(e.0) {
                return Err(store::corrupt(
                    inputs[i].0,
                    format!("pair {:?} is in another segment's verdicts too", e.0),
                ));
            }
            last = Some(e.0);
            sink.put_with(|buf| encode(buf, &e))?;
            heads[i] = readers[i].next()?;
        }
        Ok(())
    })?;
    for r in readers {
        r.finish()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(j: f64, text: bool) -> PairScore {
        PairScore {
            jaccard: j,
            shared: 7,
            size_a: 10,
            size_b: 12,
            shared_text: text.then_some(SharedText {
                lead_a: 1,
                lead_b: 2,
                paragraphs_a: 3,
                paragraphs_b: 4,
            }),
        }
    }

    #[test]
    fn verdicts_round_trip_pick_and_merge() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one");
        let two = dir.path().join("two");
        let v = Verdicts {
            rejected: vec![(0, 1), (1, 2)],
            accepted: vec![
                ((0, 2), score(0.1 + 0.2, true)),
                ((1, 3), score(0.5, false)),
            ],
        };
        let e = entries(&v, |d| d * 2);
        assert_eq!(e[0], ((0, 2), None));
        assert_eq!(e[1], ((0, 4), Some(score(0.1 + 0.2, true))));
        write(&one, 9, &e).unwrap();
        write(&two, 9, &[((1, 7), None), ((2, 8), Some(score(1.0, true)))]).unwrap();
        assert_eq!(check(&one, 9, 7).unwrap(), 4);
        // a pair past the segment's documents is damage
        assert!(check(&one, 9, 6).is_err());
        let mut got = Verdicts::default();
        for p in [&one, &two] {
            pick(p, 9, 9, &[0, 2, 4, 6, 8], |i| i != 3, &mut got).unwrap();
        }
        sort(&mut got);
        assert_eq!(got.rejected, vec![(0, 1), (1, 2)]);
        assert_eq!(
            got.accepted,
            vec![((0, 2), score(0.1 + 0.2, true)), ((1, 4), score(1.0, true))]
        );
        assert_eq!(got.get((0, 2)), Some(Some(&score(0.1 + 0.2, true))));
        assert_eq!(got.get((0, 1)), Some(None));
        assert_eq!(got.get((1, 3)), None);
        let merged = dir.path().join("merged");
        merge(&merged, 9, &[(&one, 7), (&two, 9)]).unwrap();
        let mut r = Reader::open(&merged, 9, 9).unwrap();
        let mut all = Vec::new();
        while let Some(e) = r.next().unwrap() {
            all.push(e);
        }
        r.finish().unwrap();
        let mut want = e.clone();
        want.extend([((1, 7), None), ((2, 8), Some(score(1.0, true)))]);
        want.sort_by_key(|e| e.0);
        assert_eq!(all, want);
        // the same pair in two files is refused
        assert!(merge(&dir.path().join("twice"), 9, &[(&one, 7), (&one, 7)]).is_err());
    }
}
