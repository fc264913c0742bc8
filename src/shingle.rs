//! Shingles: a normalized token string in, the sorted, de-duplicated set of its 64-bit
//! shingle hashes out.
//!
//! A word k-shingle is k consecutive tokens: each token is hashed once with seeded xxh3
//! and the k token hashes are folded into one 64-bit value (hashing each token once
//! instead of each k-token substring halves the cost of this stage). A char k-shingle is
//! k consecutive characters of the normalized text, hashed with seeded xxh3. A non-empty
//! text shorter than k yields a single shingle (all of it), so short documents still
//! compare; an empty text yields none.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::params::{ShingleKind, ShingleParams};
use crate::text::Normalized;

/// Reusable buffers for one worker thread.
#[derive(Default)]
pub struct Shingler {
    token_hashes: Vec<u64>,
    char_starts: Vec<u32>,
}

impl Shingler {
    /// The token hashes of the last text given to `shingles` with word shingles.
    #[must_use]
    pub fn token_hashes(&self) -> &[u64] {
        &self.token_hashes
    }
}

/// Folds a window of token hashes into a shingle hash: order-sensitive, and a bijection
/// in each token hash, so distinct windows collide only by chance (about 2^-64).
#[inline]
#[must_use]
pub fn fold_tokens(window: &[u64]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for &t in window {
        h = (h.rotate_left(23) ^ t).wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    h ^ (h >> 29)
}

/// `fold_tokens` of each window of `k` token hashes of `tokens`, appended to `out`
/// (nothing when there are fewer than `k`). The usual sizes get a loop of their own, in
/// which the fold of a window is unrolled: over windows of a length known only when
/// running, the fold's own loop cost as much as its arithmetic.
pub fn fold_windows(tokens: &[u64], k: usize, out: &mut Vec<u64>) {
    fn fixed<const K: usize>(tokens: &[u64], out: &mut Vec<u64>) {
        out.extend(tokens.windows(K).map(|w| {
            let w: &[u64; K] = w.try_into().expect("windows of K");
            fold_tokens(w)
        }));
    }
    if tokens.len() < k {
        return;
    }
    out.reserve(tokens.len() + 1 - k);
    match k {
        2 => fixed::<2>(tokens, out),
        3 => fixed::<3>(tokens, out),
        4 => fixed::<4>(tokens, out),
        5 => fixed::<5>(tokens, out),
        6 => fixed::<6>(tokens, out),
        _ => out.extend(tokens.windows(k).map(fold_tokens)),
    }
}

impl Shingler {
    /// Writes the shingle set of `normalized` into `out`: sorted ascending, no duplicates.
    pub fn shingles(
        &mut self,
        normalized: &Normalized,
        params: &ShingleParams,
        out: &mut Vec<u64>,
    ) {
        out.clear();
        self.append(normalized, params, out);
        out.sort_unstable();
        out.dedup();
    }

    /// Appends the shingles of `normalized` to `out` in text order, repeats included: for
    /// callers that merge several texts and sort once.
    pub fn append(&mut self, normalized: &Normalized, params: &ShingleParams, out: &mut Vec<u64>) {
        let (spans, normalized) = (&normalized.spans, normalized.text.as_str());
        if normalized.is_empty() {
            return;
        }
        let bytes = normalized.as_bytes();
        let k = params.size;
        let seed = params.seed;
        match params.kind {
            ShingleKind::Word => {
                self.token_hashes.clear();
                self.token_hashes.extend(
                    spans
                        .iter()
                        .map(|&(a, b)| xxh3_64_with_seed(&bytes[a as usize..b as usize], seed)),
                );
                let th = &self.token_hashes;
                if th.len() < k {
                    out.push(fold_tokens(th));
                } else {
                    fold_windows(th, k, out);
                }
            }
            ShingleKind::Char => {
                self.char_starts.clear();
                self.char_starts
                    .extend(normalized.char_indices().map(|(i, _)| i as u32));
                self.char_starts.push(bytes.len() as u32);
                let n = self.char_starts.len() - 1;
                if n < k {
                    out.push(xxh3_64_with_seed(bytes, seed));
                } else {
                    out.reserve(n + 1 - k);
                    for i in 0..=n - k {
                        let (start, end) = (
                            self.char_starts[i] as usize,
                            self.char_starts[i + k] as usize,
                        );
                        out.push(xxh3_64_with_seed(&bytes[start..end], seed));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Normalized, normalize_into};
    use std::collections::HashSet;

    fn norm(text: &str) -> Normalized {
        let mut n = Normalized::default();
        normalize_into(text, &mut n);
        n
    }

    fn word(k: usize) -> ShingleParams {
        ShingleParams {
            kind: ShingleKind::Word,
            size: k,
            ..ShingleParams::default()
        }
    }

    #[test]
    fn word_shingles_match_distinct_token_windows() {
        let text = norm("A b c d e f. A b c d e! b a c d e f a b");
        let mut out = Vec::new();
        Shingler::default().shingles(&text, &word(5), &mut out);
        let toks: Vec<&str> = text.text.split(' ').collect();
        let distinct: HashSet<String> = toks.windows(5).map(|w| w.join(" ")).collect();
        assert_eq!(out.len(), distinct.len());
        assert!(out.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        // a permutation of a window is a different shingle
        let (mut x, mut y) = (Vec::new(), Vec::new());
        Shingler::default().shingles(&norm("a b c d e"), &word(5), &mut x);
        Shingler::default().shingles(&norm("b a c d e"), &word(5), &mut y);
        assert_ne!(x, y);
    }

    #[test]
    fn windows_of_every_size_fold_as_fold_tokens() {
        // the sizes with a loop of their own and the general one, below, at and above k
        // tokens
        let tokens: Vec<u64> = (0..40u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i << 7))
            .collect();
        for k in 1..=9 {
            for len in 0..=tokens.len() {
                let mut out = vec![7];
                fold_windows(&tokens[..len], k, &mut out);
                let want: Vec<u64> = std::iter::once(7)
                    .chain(tokens[..len].windows(k).map(fold_tokens))
                    .collect();
                assert_eq!(out, want, "k {k}, {len} tokens");
            }
        }
    }

    #[test]
    fn short_and_empty_texts() {
        let mut out = Vec::new();
        let mut s = Shingler::default();
        s.shingles(&norm("two words"), &word(5), &mut out);
        assert_eq!(out.len(), 1);
        s.shingles(&norm(""), &word(5), &mut out);
        assert!(out.is_empty());
        let c = ShingleParams {
            kind: ShingleKind::Char,
            size: 9,
            ..ShingleParams::default()
        };
        s.shingles(&norm("北京"), &c, &mut out);
        assert_eq!(out.len(), 1);
        s.shingles(&norm("abcdefghij"), &c, &mut out);
        assert_eq!(out.len(), 2);
    }
}
