//! Per-call times, min / p10 / median over `REPS` calls (default 1000): HJ as `hj_l5` in
//! `benches/updates.rs` and the MLP cost and cost-and-gradient at minibatch 20 (2 threads) as in
//! `benches/mlp.rs`. On a noisy VM the minimum and p10 of single calls, alternated between two
//! binaries, resolve a few per cent where criterion's means cannot (docs/performance.md).
//!
//! `cargo bench --bench percall [-- hj|mlp]`
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use std::time::Instant;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::optim::SmoothedOptimizer;
use wide_valleys::smoothing::HopfLaxGradient;
use wide_valleys::Optimizer;
use wide_valleys::{rng, Batch, Cost, Gradient, Real};

fn stats(name: &str, mut t: Vec<f64>) {
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| t[((t.len() - 1) as f64 * p) as usize];
    println!(
        "{name:12} min {:8.1} p10 {:8.1} p50 {:8.1} us (n={})",
        t[0] * 1e6,
        q(0.1) * 1e6,
        q(0.5) * 1e6,
        t.len()
    );
}

fn time<R>(n: usize, mut f: impl FnMut() -> R) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let s = Instant::now();
            std::hint::black_box(f());
            s.elapsed().as_secs_f64()
        })
        .collect()
}

fn synthetic(n: usize) -> Arc<Dataset<f32>> {
    let mut r = rng::seeded(1);
    let inputs =
        DMatrix::<f32>::from_fn(784, n, |_, _| f32::standard_normal(&mut r).abs().min(1.0));
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 10).expect("valid synthetic dataset"))
}

fn main() {
    // `cargo bench` passes `--bench`: only bare words select what to time.
    let what: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let has = |s: &str| what.is_empty() || what.iter().any(|w| w == s);
    let mlp = Mlp::new(&[784, 200, 10]).unwrap();
    if has("hj") {
        let data = synthetic(10_000);
        let f20 = MlpObjective::new(mlp.clone(), Arc::clone(&data), 20).unwrap();
        let mut x: DVector<f32> = mlp.init(&mut rng::seeded(2));
        let mut hj =
            SmoothedOptimizer::with_oracle(HopfLaxGradient::new(1.0f32, 5).scaled(true), 1.0f32)
                .seed(1);
        time(100, || hj.step(&mut x, &f20).unwrap());
        stats("hj_l5", time(reps, || hj.step(&mut x, &f20).unwrap()));
    }
    if has("mlp") {
        let n = 2000;
        let mut r = rng::seeded(1);
        let inputs =
            DMatrix::<f32>::from_fn(784, n, |_, _| f32::standard_normal(&mut r).abs().min(1.0));
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        let data = Arc::new(Dataset::new(inputs, labels, 10).unwrap());
        let x: DVector<f32> = mlp.init(&mut rng::seeded(2));
        let b = 20;
        let f = MlpObjective::new(mlp.clone(), Arc::clone(&data), b).unwrap();
        let batch = Batch::Indices((0..b).map(|i| (i * 7) % n).collect());
        let mut g = DVector::<f32>::zeros(mlp.num_params());
        time(500, || f.cost(&x, &batch));
        stats("cost20", time(reps * 5, || f.cost(&x, &batch)));
        time(500, || f.cost_and_gradient(&x, &batch, &mut g));
        stats(
            "fb20",
            time(reps * 5, || f.cost_and_gradient(&x, &batch, &mut g)),
        );
    }
}
