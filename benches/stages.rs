//! Per-stage throughput on a seeded synthetic corpus (`neardup::generate`), in bytes of
//! document text per second. Run: `cargo bench --bench stages`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use neardup::Params;
use neardup::generate::{GenParams, generate};
use neardup::lsh::band_keys;
use neardup::shingle::Shingler;
use neardup::sketch::MinHasher;
use neardup::text::{Normalized, normalize_into};

fn corpus() -> Vec<String> {
    generate(&GenParams {
        docs: 2000,
        seed: 3,
        ..GenParams::default()
    })
    .docs
    .into_iter()
    .map(|d| d.text)
    .collect()
}

fn stages(c: &mut Criterion) {
    let texts = corpus();
    let bytes: u64 = texts.iter().map(|t| t.len() as u64).sum();
    let params = Params::default().validate().expect("defaults are valid");
    let normalized: Vec<Normalized> = texts
        .iter()
        .map(|t| {
            let mut n = Normalized::default();
            normalize_into(t, &mut n);
            n
        })
        .collect();
    let mut shingler = Shingler::default();
    let shingles: Vec<Vec<u64>> = normalized
        .iter()
        .map(|n| {
            let mut out = Vec::new();
            shingler.shingles(n, &params.shingle, &mut out);
            out
        })
        .collect();

    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(20);
    g.bench_function("normalize", |b| {
        let mut out = Normalized::default();
        b.iter(|| {
            for t in &texts {
                normalize_into(t, &mut out);
            }
        });
    });
    g.bench_function("shingle word:5", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for n in &normalized {
                shingler.shingles(n, &params.shingle, &mut out);
            }
        });
    });
    g.bench_function("minhash oph 128", |b| {
        let mut h = MinHasher::new(&params.minhash);
        let mut sig = Vec::new();
        b.iter(|| {
            for s in &shingles {
                h.sketch(s, &mut sig);
            }
        });
    });
    g.bench_function("band keys", |b| {
        let mut h = MinHasher::new(&params.minhash);
        let sigs: Vec<Vec<u32>> = shingles
            .iter()
            .map(|s| {
                let mut sig = Vec::new();
                h.sketch(s, &mut sig);
                sig
            })
            .collect();
        let mut keys = Vec::new();
        b.iter(|| {
            for s in &sigs {
                band_keys(s, params.bands(), params.rows(), &mut keys);
            }
        });
    });
    g.finish();

    let mut g = c.benchmark_group("end_to_end");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    let docs: Vec<(String, String)> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| (i.to_string(), t.clone()))
        .collect();
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        g.bench_with_input(
            BenchmarkId::new("dedup_texts", threads),
            &threads,
            |b, _| {
                b.iter(|| pool.install(|| neardup::dedup_texts(&docs, &params).expect("runs")));
            },
        );
    }
    // what containment (64 x 2 bands, more candidates, star placement, provenance) costs
    // against Jaccard alone (17 x 7 bands) on the same documents
    let mut jaccard_only = Params::default();
    jaccard_only.containment.enabled = false;
    let jaccard_only = jaccard_only.validate().expect("valid");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    g.bench_function(BenchmarkId::new("dedup_texts containment off", 2), |b| {
        b.iter(|| pool.install(|| neardup::dedup_texts(&docs, &jaccard_only).expect("runs")));
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
