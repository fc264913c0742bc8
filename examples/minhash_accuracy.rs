//! Accuracy of neardup's MinHash (one-permutation hashing with optimal densification)
//! beside classic MinHash with `num_perm` independent hash functions, on sets with a
//! planted Jaccard similarity. Prints a markdown table (recorded in benches/README.md):
//!
//!     cargo run --release --example minhash_accuracy

use neardup::params::MinHashParams;
use neardup::sketch::{MinHasher, estimate_jaccard};

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Classic MinHash: hash function i is `mix(x ^ seed_i)`, the minimum of each kept.
fn classic(set: &[u64], k: usize, seed: u64) -> Vec<u64> {
    (0..k as u64)
        .map(|i| {
            let s = mix(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            set.iter().map(|&x| mix(x ^ s)).min().expect("non-empty")
        })
        .collect()
}

fn main() {
    let k = 128;
    let trials = 400u64;
    println!(
        "| set size | J | OPH mean abs err | classic mean abs err | OPH RMSE | classic RMSE | theory sqrt(J(1-J)/K) |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|");
    for &size in &[10usize, 50, 200, 1000, 5000] {
        for &j in &[0.5f64, 0.8, 0.9] {
            // |A| = |B| = size, |A n B| = shared, J = shared / (2 size - shared)
            let shared = ((2.0 * j * size as f64) / (1.0 + j)).round() as u64;
            let exact = shared as f64 / (2 * size as u64 - shared) as f64;
            let (mut e_oph, mut e_cl, mut s_oph, mut s_cl) = (0.0, 0.0, 0.0, 0.0);
            for t in 0..trials {
                let base = t << 40;
                let a: Vec<u64> = (0..size as u64).map(|x| mix(base + x)).collect();
                let b: Vec<u64> = (0..shared)
                    .chain(size as u64..2 * size as u64 - shared)
                    .map(|x| mix(base + x))
                    .collect();
                let mut h = MinHasher::new(&MinHashParams {
                    num_perm: k,
                    seed: t,
                });
                let (mut sa, mut sb) = (Vec::new(), Vec::new());
                h.sketch(&a, &mut sa);
                h.sketch(&b, &mut sb);
                let d = estimate_jaccard(&sa, &sb) - exact;
                e_oph += d.abs();
                s_oph += d * d;
                let (ca, cb) = (classic(&a, k, t), classic(&b, k, t));
                let eq = ca.iter().zip(&cb).filter(|(x, y)| x == y).count() as f64 / k as f64;
                let d = eq - exact;
                e_cl += d.abs();
                s_cl += d * d;
            }
            let n = trials as f64;
            println!(
                "| {size} | {exact:.3} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |",
                e_oph / n,
                e_cl / n,
                (s_oph / n).sqrt(),
                (s_cl / n).sqrt(),
                (exact * (1.0 - exact) / k as f64).sqrt()
            );
        }
    }
}
