//! Property tests: the MinHash estimate against exact Jaccard, and invariances.

use std::collections::HashSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

use neardup::params::MinHashParams;
use neardup::sketch::{MinHasher, estimate_jaccard};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6e64),
        ..Config::default()
    }
}

/// Two sets with a planted overlap: `shared` common elements, `only_a` and `only_b` private.
fn overlapping_sets() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
    (1usize..2000, 0usize..1500, 0usize..1500, any::<u64>()).prop_map(
        |(shared, only_a, only_b, salt)| {
            let mix = |i: u64| {
                (i ^ salt)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .rotate_left(29)
                    ^ salt
            };
            let common = (0..shared as u64).map(mix);
            let a: Vec<u64> = common
                .clone()
                .chain((0..only_a as u64).map(|i| mix(i + 1_000_000)))
                .collect();
            let b: Vec<u64> = common
                .chain((0..only_b as u64).map(|i| mix(i + 2_000_000)))
                .collect();
            (a, b)
        },
    )
}

fn exact(a: &[u64], b: &[u64]) -> f64 {
    let sa: HashSet<_> = a.iter().collect();
    let sb: HashSet<_> = b.iter().collect();
    let inter = sa.intersection(&sb).count();
    inter as f64 / (sa.len() + sb.len() - inter) as f64
}

proptest! {
    #![proptest_config(config(400))]

    /// |J_est - J| <= 6 sqrt(J(1-J)/K) + 3/K: six standard deviations of a K-sample
    /// estimate plus slack for the densified bins of small sets.
    #[test]
    fn minhash_estimate_is_within_the_statistical_bound((a, b) in overlapping_sets(), seed in any::<u64>()) {
        let params = MinHashParams { num_perm: 128, seed };
        let mut h = MinHasher::new(&params);
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        prop_assert!(h.sketch(&a, &mut sa));
        prop_assert!(h.sketch(&b, &mut sb));
        let j = exact(&a, &b);
        let est = estimate_jaccard(&sa, &sb);
        let k = 128.0;
        let bound = 6.0 * (j * (1.0 - j) / k).sqrt() + 3.0 / k;
        prop_assert!((est - j).abs() <= bound, "J={j} est={est} bound={bound}");
    }

    #[test]
    fn signature_ignores_order_and_repeats(mut a in proptest::collection::vec(any::<u64>(), 1..500)) {
        let params = MinHashParams::default();
        let mut h = MinHasher::new(&params);
        let (mut s1, mut s2) = (Vec::new(), Vec::new());
        h.sketch(&a, &mut s1);
        let copy = a.clone();
        a.extend_from_slice(&copy);
        a.reverse();
        h.sketch(&a, &mut s2);
        prop_assert_eq!(s1, s2);
    }

    #[test]
    fn identical_texts_have_identical_signatures_and_full_similarity(words in proptest::collection::vec("[a-z]{1,8}", 1..80)) {
        let text = words.join(" ");
        let p = neardup::Params::default().validate().unwrap();
        let docs = [("a", text.as_str()), ("b", text.as_str())];
        let r = neardup::dedup_texts(&docs, &p).unwrap();
        let a = r.assignments.to_vec().unwrap();
        prop_assert_eq!(a[0].cluster(), a[1].cluster());
        prop_assert_eq!(a[1].similarity(), Some(1.0));
    }
}

#[test]
fn mean_error_at_fixed_similarities_is_small() {
    // Beyond the worst-case bound: the average absolute error over many pairs at J = 0.5
    // and 0.8 must be near its theoretical value sqrt(J(1-J)/K) * sqrt(2/pi).
    for (shared, private) in [(1000u64, 500u64), (800, 100)] {
        let j = shared as f64 / (shared + 2 * private) as f64;
        let mut total = 0.0;
        let trials = 300;
        for t in 0..trials {
            let params = MinHashParams {
                num_perm: 128,
                seed: t,
            };
            let mut h = MinHasher::new(&params);
            let base = t * 10_000_000;
            let a: Vec<u64> = (base..base + shared + private).collect();
            let b: Vec<u64> = (base..base + shared)
                .chain(base + 5_000_000..base + 5_000_000 + private)
                .collect();
            let (mut sa, mut sb) = (Vec::new(), Vec::new());
            h.sketch(&a, &mut sa);
            h.sketch(&b, &mut sb);
            total += (estimate_jaccard(&sa, &sb) - j).abs();
        }
        let mean = total / trials as f64;
        let expected = (j * (1.0 - j) / 128.0).sqrt() * (2.0 / std::f64::consts::PI).sqrt();
        assert!(
            mean < expected * 1.3,
            "J={j}: mean abs error {mean} vs expected {expected}"
        );
    }
}
