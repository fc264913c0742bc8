//! The Hamming index against brute force, and SimHash properties.

use neardup::hamming::near_pairs;
use neardup::sketch::{hamming, simhash};

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 3,000 fingerprints: random ones, and near copies of them with 0 to 10 bits flipped.
fn planted() -> Vec<u64> {
    let mut s = 7u64;
    let mut fps: Vec<u64> = (0..1500).map(|_| splitmix(&mut s)).collect();
    for i in 0..1500 {
        let mut f = fps[i % 700];
        let flips = splitmix(&mut s) % 11;
        for _ in 0..flips {
            f ^= 1 << (splitmix(&mut s) % 64);
        }
        fps.push(f);
    }
    fps
}

#[test]
fn index_returns_exactly_the_brute_force_pairs_for_every_k_up_to_8() {
    let fps = planted();
    for k in 0..=8u32 {
        let mut brute = Vec::new();
        for i in 0..fps.len() {
            for j in i + 1..fps.len() {
                if hamming(fps[i], fps[j]) <= k {
                    brute.push((i as u32, j as u32));
                }
            }
        }
        let (pairs, stats) = near_pairs(&fps, k);
        assert!(
            brute.len() > 100,
            "k = {k}: the corpus must plant pairs ({})",
            brute.len()
        );
        assert_eq!(pairs, brute, "k = {k}");
        assert!(
            stats.compared < (fps.len() * fps.len() / 2) as u64 / 4,
            "k = {k}: not all pairs: {stats:?}"
        );
    }
}

#[test]
fn identical_texts_have_distance_zero_and_fingerprints_ignore_thread_count() {
    let corpus = crate::util::small_corpus(300, 4);
    let fp = |t: &str| {
        let mut n = neardup::text::Normalized::default();
        neardup::text::normalize_into(t, &mut n);
        let mut sh = Vec::new();
        neardup::shingle::Shingler::default().shingles(
            &n,
            &neardup::params::ShingleParams::default(),
            &mut sh,
        );
        simhash(&sh)
    };
    for d in &corpus.docs {
        assert_eq!(hamming(fp(&d.text), fp(&d.text.clone())), 0);
    }
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let fps = planted();
    assert_eq!(
        one.install(|| near_pairs(&fps, 3)),
        many.install(|| near_pairs(&fps, 3))
    );
}
