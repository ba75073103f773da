//! The MLP of 000 §6.1 / 004 §5.2: parameter counts, layout, gradients against finite
//! differences, determinism (workspace reuse, threads), f32/f64 agreement, training, errors.

use nalgebra::DVector;
use rayon::prelude::*;
use std::sync::Arc;
use wide_valleys::data::synthetic::Blobs;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Cost, Error, Gradient};

fn task(features: usize, classes: usize, n: usize, seed: u64) -> (Dataset<f64>, Dataset<f64>) {
    let t = Blobs {
        classes,
        features,
        modes_per_class: 2,
        spread: 1.0,
        noise: 1.0,
        train: n,
        test: n,
    }
    .generate::<f64>(seed)
    .unwrap();
    (t.train, t.test)
}

#[test]
fn parameter_counts_match_the_papers() {
    assert_eq!(Mlp::new(&[784, 200, 10]).unwrap().num_params(), 159_010); // 000 §6.1
    assert_eq!(Mlp::new(&[784, 10]).unwrap().num_params(), 7_850); // 000 §6.1
    assert_eq!(Mlp::new(&[784, 32, 10]).unwrap().num_params(), 25_450);
    // mnistfc: "1.86 million parameters" (003 §5.5.1).
    assert_eq!(
        Mlp::new(&[784, 1024, 1024, 10]).unwrap().num_params(),
        1_863_690
    );
    let m = Mlp::new(&[784, 200, 10]).unwrap();
    assert_eq!(m.weight_offset(0), Ok(0));
    assert_eq!(m.bias_offset(0), Ok(156_800));
    assert_eq!(m.weight_offset(1), Ok(157_000));
    assert_eq!(m.bias_offset(1), Ok(159_000));
    // A layer that is not there is a typed error, not a panic (issue 20, item 6).
    for l in [2, 3, usize::MAX] {
        for r in [m.weight_offset(l), m.bias_offset(l)] {
            assert!(
                matches!(r, Err(Error::InvalidHyperParameter { name: "layer", .. })),
                "{r:?}"
            );
        }
    }
}

/// A network whose parameter count overflows usize is refused, not wrapped (issue 20, item 6:
/// `[usize::MAX, 2]` had 0 parameters, `[2³³, 2³³]` wrapped).
#[test]
fn parameter_counts_that_overflow_are_refused() {
    for sizes in [
        vec![usize::MAX, 2],
        vec![1 << 33, 1 << 33],
        vec![2, usize::MAX],
        vec![1 << 32, 1 << 31, 1 << 32],
    ] {
        let r = Mlp::new(&sizes);
        assert!(
            matches!(r, Err(Error::InvalidHyperParameter { name: "sizes", .. })),
            "{sizes:?}: {r:?}"
        );
    }
    // The largest counts that fit are accepted (no allocation happens here).
    assert_eq!(
        Mlp::new(&[usize::MAX - 1, 1]).unwrap().num_params(),
        usize::MAX
    );
}

/// The documented layout: a hand-written forward pass through `weights()`/`bias()` views gives
/// the objective's loss on a single example.
#[test]
fn layout_matches_a_hand_written_forward_pass() {
    let (train, _) = task(6, 4, 30, 1);
    let mlp = Mlp::new(&[6, 5, 3, 4]).unwrap();
    let f = MlpObjective::new(mlp.clone(), Arc::new(train.clone()), 1).unwrap();
    let x = mlp.init::<f64>(&mut rng::seeded(3));
    for i in [0usize, 7, 29] {
        let mut a: DVector<f64> = train.input(i).into_owned();
        for l in 0..mlp.layers() {
            let z = mlp.weights(&x, l).unwrap() * &a + mlp.bias(&x, l).unwrap();
            a = if l + 1 < mlp.layers() {
                z.map(|v| v.max(0.0))
            } else {
                z
            };
        }
        let lse = a.iter().map(|v| v.exp()).sum::<f64>().ln();
        let want = lse - a[train.label(i) as usize];
        let got = f.cost(&x, &Batch::Indices(vec![i]));
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}

/// Zero parameters: every logit is 0, so the loss is log K and ∂/∂b_last = 1/K − mean one-hot.
#[test]
fn zero_parameters_give_log_k_and_the_softmax_gradient() {
    let (train, _) = task(5, 4, 40, 2);
    let mlp = Mlp::new(&[5, 3, 4]).unwrap();
    let f = MlpObjective::new(mlp.clone(), Arc::new(train.clone()), 10).unwrap();
    let x = DVector::<f64>::zeros(f.dim());
    let idx: Vec<usize> = (0..13).collect();
    let batch = Batch::Indices(idx.clone());
    let mut g = DVector::zeros(f.dim());
    let v = f.cost_and_gradient(&x, &batch, &mut g);
    assert!((v - 4f64.ln()).abs() < 1e-14);
    let off = mlp.bias_offset(1).unwrap();
    for k in 0..4 {
        let frac = idx
            .iter()
            .filter(|&&i| train.label(i) as usize == k)
            .count() as f64
            / 13.0;
        assert!((g[off + k] - (0.25 - frac)).abs() < 1e-14);
    }
}

fn check_gradient(sizes: &[usize], dropout: f64, seed: u64) {
    let (train, _) = task(sizes[0], *sizes.last().unwrap(), 50, seed);
    let mlp = Mlp::new(sizes).unwrap().with_dropout(dropout).unwrap();
    let f = MlpObjective::new(mlp.clone(), Arc::new(train), 10)
        .unwrap()
        .with_dropout_seed(seed);
    let mut r = rng::seeded(seed);
    let mut x = mlp.init::<f64>(&mut r);
    // Non-zero biases so every parameter is exercised.
    for v in x.iter_mut() {
        *v += 0.05 * f64::sin(*v * 1e3);
    }
    let mut batch = Batch::Full;
    f.draw_batch(&mut r, &mut batch);
    let mut g = DVector::zeros(f.dim());
    let v = f.cost_and_gradient(&x, &batch, &mut g);
    assert_eq!(v, f.cost(&x, &batch));
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    let gmax = g.amax();
    let mut xp = x.clone();
    for i in 0..f.dim() {
        xp[i] = x[i] + h;
        let up = f.cost(&xp, &batch);
        xp[i] = x[i] - h;
        let down = f.cost(&xp, &batch);
        xp[i] = x[i];
        worst = worst.max(((up - down) / (2.0 * h) - g[i]).abs());
    }
    assert!(
        worst < 1e-6 * gmax.max(1.0),
        "sizes {sizes:?} dropout {dropout}: max |fd − g| = {worst:e} (|g|∞ = {gmax:e})"
    );
}

#[test]
fn gradient_matches_central_differences_without_dropout() {
    check_gradient(&[5, 3], 0.0, 1);
    check_gradient(&[5, 4, 3], 0.0, 2);
    check_gradient(&[7, 6, 5, 4], 0.0, 3);
}

#[test]
fn gradient_matches_central_differences_with_dropout() {
    check_gradient(&[5, 8, 3], 0.3, 4);
    check_gradient(&[7, 9, 6, 4], 0.5, 5);
}

/// Batch::Full over a chunked index set gives the same mean loss and gradient as one chunk.
#[test]
fn chunking_does_not_change_full_batch_results() {
    let (train, _) = task(6, 3, 101, 6);
    let mlp = Mlp::new(&[6, 5, 3]).unwrap();
    let data = Arc::new(train);
    let one = MlpObjective::new(mlp.clone(), Arc::clone(&data), 5).unwrap();
    let many = MlpObjective::new(mlp.clone(), data, 5)
        .unwrap()
        .with_chunk(7)
        .unwrap();
    let x = mlp.init::<f64>(&mut rng::seeded(1));
    let (mut g1, mut g2) = (DVector::zeros(one.dim()), DVector::zeros(one.dim()));
    let v1 = one.cost_and_gradient(&x, &Batch::Full, &mut g1);
    let v2 = many.cost_and_gradient(&x, &Batch::Full, &mut g2);
    assert!((v1 - v2).abs() < 1e-13);
    assert!((&g1 - &g2).amax() < 1e-13);
    // …and the Full loss is the mean of per-example losses.
    let mean: f64 = (0..101)
        .map(|i| one.cost(&x, &Batch::Indices(vec![i])))
        .sum::<f64>()
        / 101.0;
    assert!((mean - v1).abs() < 1e-12);
}

#[test]
fn loss_decreases_under_plain_gradient_steps() {
    let (train, test) = task(10, 4, 400, 7);
    let mlp = Mlp::new(&[10, 16, 4]).unwrap();
    let f = MlpObjective::new(mlp.clone(), Arc::new(train), 32).unwrap();
    let mut r = rng::seeded(11);
    let mut x = f.init(&mut r);
    let before = f.cost(&x, &Batch::Full);
    let acc0 = f.evaluate(&x, &test, None).unwrap().accuracy;
    let (mut batch, mut g) = (Batch::Full, DVector::zeros(f.dim()));
    for _ in 0..300 {
        f.draw_batch(&mut r, &mut batch);
        f.gradient(&x, &batch, &mut g);
        x.axpy(-0.1, &g, 1.0);
    }
    let after = f.cost(&x, &Batch::Full);
    let acc1 = f.evaluate(&x, &test, None).unwrap().accuracy;
    assert!(after < 0.6 * before, "loss {before} -> {after}");
    assert!(acc1 > acc0 + 0.2 && acc1 > 0.6, "accuracy {acc0} -> {acc1}");
}

#[test]
fn f32_and_f64_agree_to_f32_precision() {
    let (train, _) = task(20, 5, 200, 8);
    let mlp = Mlp::new(&[20, 30, 5]).unwrap().with_dropout(0.2).unwrap();
    let f64obj = MlpObjective::new(mlp.clone(), Arc::new(train.clone()), 50).unwrap();
    let f32obj = MlpObjective::new(mlp.clone(), Arc::new(train.cast::<f32>()), 50).unwrap();
    let x64 = mlp.init::<f64>(&mut rng::seeded(9));
    let x32 = mlp.init::<f32>(&mut rng::seeded(9));
    assert!(x64.iter().zip(x32.iter()).all(|(a, b)| (*a as f32) == *b));
    let mut batch = Batch::Full;
    f64obj.draw_batch(&mut rng::seeded(1), &mut batch);
    let (mut g64, mut g32) = (DVector::zeros(f64obj.dim()), DVector::zeros(f32obj.dim()));
    let v64 = f64obj.cost_and_gradient(&x64, &batch, &mut g64);
    let v32 = f32obj.cost_and_gradient(&x32, &batch, &mut g32);
    assert!(
        ((v32 as f64) - v64).abs() < 1e-5 * v64.abs(),
        "{v32} vs {v64}"
    );
    let scale = g64.amax();
    let diff = g64
        .iter()
        .zip(g32.iter())
        .map(|(a, b)| (a - *b as f64).abs())
        .fold(0.0, f64::max);
    assert!(
        diff < 1e-5 * scale,
        "gradient diff {diff:e}, scale {scale:e}"
    );
}

/// The same call twice, and after the workspace grew for a larger batch, is bit-identical.
#[test]
fn workspace_reuse_does_not_change_results() {
    let (train, _) = task(8, 3, 300, 10);
    let mlp = Mlp::new(&[8, 12, 3]).unwrap().with_dropout(0.25).unwrap();
    let f = MlpObjective::new(mlp, Arc::new(train), 16).unwrap();
    let x = f.init(&mut rng::seeded(2));
    let small = Batch::Indices((0..16).collect());
    let big = Batch::Indices((0..250).collect());
    let mut g1 = DVector::zeros(f.dim());
    let v1 = f.cost_and_gradient(&x, &small, &mut g1);
    let mut g2 = DVector::from_element(f.dim(), 7.0);
    let v2 = f.cost_and_gradient(&x, &small, &mut g2);
    f.cost(&x, &big);
    let mut g3 = DVector::zeros(f.dim());
    let v3 = f.cost_and_gradient(&x, &small, &mut g3);
    assert_eq!(v1, v2);
    assert_eq!(v1, v3);
    assert_eq!(g1, g2);
    assert_eq!(g1, g3);
    let mut g4 = DVector::zeros(f.dim());
    f.gradient(&x, &small, &mut g4);
    assert_eq!(g1, g4);
}

/// Concurrent calls (as estimators make them) equal sequential ones exactly.
#[test]
fn parallel_cost_equals_sequential() {
    let (train, _) = task(12, 4, 500, 11);
    let mlp = Mlp::new(&[12, 20, 4]).unwrap().with_dropout(0.1).unwrap();
    let f = MlpObjective::new(mlp, Arc::new(train), 20).unwrap();
    let x0 = f.init(&mut rng::seeded(4));
    let mut r = rng::seeded(5);
    let jobs: Vec<(DVector<f64>, Batch)> = (0..64)
        .map(|k| {
            let mut b = Batch::Full;
            f.draw_batch(&mut r, &mut b);
            (x0.map(|v| v * (1.0 + 0.01 * k as f64)), b)
        })
        .collect();
    let seq: Vec<(f64, DVector<f64>)> = jobs
        .iter()
        .map(|(x, b)| {
            let mut g = DVector::zeros(f.dim());
            (f.cost_and_gradient(x, b, &mut g), g)
        })
        .collect();
    let par: Vec<(f64, DVector<f64>)> = jobs
        .par_iter()
        .map(|(x, b)| {
            let mut g = DVector::zeros(f.dim());
            (f.cost_and_gradient(x, b, &mut g), g)
        })
        .collect();
    assert_eq!(seq, par);
    let costs: Vec<f64> = jobs.par_iter().map(|(x, b)| f.cost(x, b)).collect();
    assert!(costs.iter().zip(&seq).all(|(c, s)| *c == s.0));
}

#[test]
fn dropout_is_a_fixed_function_of_the_batch_and_off_in_evaluation() {
    let (train, _) = task(8, 3, 200, 12);
    let plain = Mlp::new(&[8, 40, 3]).unwrap();
    let drop = plain.clone().with_dropout(0.5).unwrap();
    let data = Arc::new(train.clone());
    let fp = MlpObjective::new(plain, Arc::clone(&data), 20).unwrap();
    let fd = MlpObjective::new(drop.clone(), Arc::clone(&data), 20).unwrap();
    let fd2 = MlpObjective::new(drop, data, 20)
        .unwrap()
        .with_dropout_seed(99);
    let x = fp.init(&mut rng::seeded(6));
    let b1 = Batch::Indices((0..20).collect());
    let b2 = Batch::Indices((20..40).collect());
    // Same batch → same mask; dropout changes the loss; another seed → another mask.
    assert_eq!(fd.cost(&x, &b1), fd.cost(&x, &b1));
    assert_ne!(fd.cost(&x, &b1), fp.cost(&x, &b1));
    assert_ne!(fd.cost(&x, &b1), fd2.cost(&x, &b1));
    assert_ne!(fd.cost(&x, &b2), fp.cost(&x, &b2));
    // Evaluation never drops units: equals the dropout-free loss.
    let idx: Vec<usize> = (0..20).collect();
    let e = fd.evaluate(&x, &train, Some(&idx)).unwrap();
    assert!((e.loss - fp.cost(&x, &b1)).abs() < 1e-14);
    // Inverted dropout is unbiased for the pre-softmax activations on average: the mean of the
    // dropout losses over many seeds stays near the plain loss (a 40-unit layer, p = 0.5).
    let plain_loss = fp.cost(&x, &b1);
    let n = 200;
    let mean: f64 = (0..n)
        .map(|s| {
            MlpObjective::new(fd.mlp().clone(), Arc::clone(fd.data()), 20)
                .unwrap()
                .with_dropout_seed(s)
                .cost(&x, &b1)
        })
        .sum::<f64>()
        / n as f64;
    // Jensen: the mean loss under dropout is ≥ the loss of the mean network, but close.
    assert!(
        mean > plain_loss && mean < plain_loss + 0.5,
        "{mean} vs {plain_loss}"
    );
}

#[test]
fn draw_batch_is_seeded_distinct_and_within_the_index_set() {
    let (train, _) = task(4, 2, 100, 13);
    let mlp = Mlp::new(&[4, 2]).unwrap();
    let f = MlpObjective::new(mlp, Arc::new(train), 30)
        .unwrap()
        .shard(1, 3, 42)
        .unwrap();
    assert_eq!(f.indices().len(), 33);
    let (mut a, mut b) = (Batch::Full, Batch::Full);
    f.draw_batch(&mut rng::seeded(1), &mut a);
    f.draw_batch(&mut rng::seeded(1), &mut b);
    assert_eq!(a, b);
    let ia = a.indices().unwrap();
    assert_eq!(ia.len(), 30);
    let mut s = ia.to_vec();
    s.sort_unstable();
    s.dedup();
    assert_eq!(s.len(), 30);
    assert!(ia.iter().all(|i| f.indices().contains(i)));
    f.draw_batch(&mut rng::seeded(2), &mut b);
    assert_ne!(a, b);
}

#[test]
fn bad_input_gives_typed_errors_or_nan_never_a_panic() {
    assert!(matches!(
        Mlp::new(&[5]),
        Err(Error::InvalidHyperParameter { .. })
    ));
    assert!(matches!(
        Mlp::new(&[5, 0, 3]),
        Err(Error::InvalidHyperParameter { .. })
    ));
    for p in [1.0, -0.1, f64::NAN] {
        assert!(matches!(
            Mlp::new(&[5, 3]).unwrap().with_dropout(p),
            Err(Error::InvalidHyperParameter { .. })
        ));
    }
    let (train, test) = task(5, 3, 20, 14);
    let data = Arc::new(train);
    let wrong_in = Mlp::new(&[6, 3]).unwrap();
    assert!(matches!(
        MlpObjective::new(wrong_in, Arc::clone(&data), 5),
        Err(Error::DimensionMismatch {
            expected: 6,
            got: 5
        })
    ));
    let wrong_out = Mlp::new(&[5, 4]).unwrap();
    assert!(matches!(
        MlpObjective::new(wrong_out, Arc::clone(&data), 5),
        Err(Error::DimensionMismatch { .. })
    ));
    let mlp = Mlp::new(&[5, 4, 3]).unwrap();
    for b in [0, 21] {
        assert!(matches!(
            MlpObjective::new(mlp.clone(), Arc::clone(&data), b),
            Err(Error::InvalidHyperParameter { .. })
        ));
    }
    let f = MlpObjective::new(mlp.clone(), Arc::clone(&data), 5).unwrap();
    assert!(f.clone().with_indices(vec![0, 20]).is_err());
    assert!(f.clone().with_indices(vec![]).is_err());
    assert!(f.clone().shard(3, 3, 0).is_err());
    assert!(f.clone().with_chunk(0).is_err());
    assert!(f.clone().with_batch_size(0).is_err());
    assert!(f.clone().with_batch_size(21).is_err());
    assert_eq!(f.clone().with_batch_size(20).unwrap().batch_size(), 20);
    let x = f.init(&mut rng::seeded(0));
    // Wrong-length parameters, empty batch, out-of-range index → NaN (algorithms report
    // NonFinite).
    let short = DVector::zeros(f.dim() - 1);
    assert!(f.cost(&short, &Batch::Full).is_nan());
    let mut g = DVector::zeros(f.dim());
    assert!(f.cost_and_gradient(&short, &Batch::Full, &mut g).is_nan());
    assert!(g.iter().all(|v| v.is_nan()));
    assert!(f.cost(&x, &Batch::Indices(vec![])).is_nan());
    assert!(f.cost(&x, &Batch::Indices(vec![3, 20])).is_nan());
    let mut g_short = DVector::zeros(3);
    assert!(f.cost_and_gradient(&x, &Batch::Full, &mut g_short).is_nan());
    // NaN parameters are not hidden by the ReLU.
    let mut xn = x.clone();
    xn[0] = f64::NAN;
    assert!(f.cost(&xn, &Batch::Full).is_nan());
    xn[0] = f64::INFINITY;
    assert!(!f.cost(&xn, &Batch::Full).is_finite());
    // Evaluation checks everything.
    assert!(matches!(
        f.evaluate(&short, &test, None),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        f.evaluate(&x, &test, Some(&[][..])),
        Err(Error::Data { .. })
    ));
    assert!(matches!(
        f.evaluate(&x, &test, Some(&[100])),
        Err(Error::Data { .. })
    ));
    assert!(matches!(
        mlp.weights(&x, 2),
        Err(Error::InvalidHyperParameter { .. })
    ));
    assert!(matches!(
        mlp.bias(&short, 0),
        Err(Error::DimensionMismatch { .. })
    ));
    // Mlp::evaluate (own workspace) agrees with the objective's pooled one.
    let a = mlp.evaluate(&x, &test, None).unwrap();
    let b = f.evaluate(&x, &test, None).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.examples, 20);
}

/// Shapes large enough that the matrix products are split between threads (a call from outside
/// rayon's workers with ≥ 2 threads): the loss and gradient on 120 examples equal the mean of
/// single-example ones, and are bit-identical to the unsplit computation (inside a 1-thread pool).
#[test]
fn large_products_split_between_threads_give_the_same_results() {
    let (train, _) = task(300, 10, 120, 15);
    let mlp = Mlp::new(&[300, 200, 10])
        .unwrap()
        .with_dropout(0.2)
        .unwrap();
    let f = MlpObjective::new(mlp.clone(), Arc::new(train), 120).unwrap();
    let plain = MlpObjective::new(
        Mlp::new(&[300, 200, 10]).unwrap(),
        Arc::clone(f.data()),
        120,
    )
    .unwrap();
    let x = f.init(&mut rng::seeded(8));
    let batch = Batch::Indices((0..120).collect());
    let mut g = DVector::zeros(f.dim());
    let v = plain.cost_and_gradient(&x, &batch, &mut g);
    let (mut mean_v, mut mean_g) = (0.0, DVector::zeros(f.dim()));
    let mut gi = DVector::zeros(f.dim());
    for i in 0..120 {
        mean_v += plain.cost_and_gradient(&x, &Batch::Indices(vec![i]), &mut gi) / 120.0;
        mean_g += &gi / 120.0;
    }
    assert!((v - mean_v).abs() < 1e-12 * v.abs());
    assert!((&g - &mean_g).amax() < 1e-12 * g.amax());
    let call = || {
        let mut g = DVector::zeros(f.dim());
        let v = f.cost_and_gradient(&x, &batch, &mut g);
        (v, g)
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    assert_eq!(one.install(call), call());
}

#[test]
fn evaluate_random_is_seeded_and_agrees_with_explicit_indices() {
    let (train, test) = task(6, 3, 50, 16);
    let mlp = Mlp::new(&[6, 8, 3]).unwrap();
    let f = MlpObjective::new(mlp, Arc::new(train), 5).unwrap();
    let x = f.init(&mut rng::seeded(1));
    let a = f
        .evaluate_random(&x, &test, 20, &mut rng::seeded(3))
        .unwrap();
    let b = f
        .evaluate_random(&x, &test, 20, &mut rng::seeded(3))
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.examples, 20);
    let mut idx = Vec::new();
    let all: Vec<usize> = (0..50).collect();
    wide_valleys::data::sample_without_replacement(&mut rng::seeded(3), &all, 20, &mut idx);
    assert_eq!(a, f.evaluate(&x, &test, Some(&idx)).unwrap());
    // Accuracy is a fraction of correct argmaxes: a multiple of 1/20.
    assert!(((a.accuracy * 20.0) - (a.accuracy * 20.0).round()).abs() < 1e-12);
    let whole = f
        .evaluate_random(&x, &test, 500, &mut rng::seeded(3))
        .unwrap();
    assert_eq!(whole, f.evaluate(&x, &test, None).unwrap());
    assert!(matches!(
        f.evaluate_random(&x, &test, 0, &mut rng::seeded(3)),
        Err(Error::InvalidHyperParameter { .. })
    ));
    let first: Vec<usize> = (0..7).collect();
    assert_eq!(
        f.evaluate_first(&x, &test, 7).unwrap(),
        f.evaluate(&x, &test, Some(&first)).unwrap()
    );
    assert_eq!(
        f.evaluate_first(&x, &test, 999).unwrap(),
        f.evaluate(&x, &test, None).unwrap()
    );
    assert!(f.evaluate_first(&x, &test, 0).is_err());
}

/// The workspaces keep the last minibatch they gathered (importance sampling evaluates all its
/// samples on one): a cost on the same indices of the training set, an evaluation on the same
/// indices of another dataset, and a cost again must each see their own examples.
#[test]
fn a_gathered_minibatch_is_reused_only_for_the_same_data() {
    let (train, test) = task(6, 3, 120, 17);
    let f = MlpObjective::new(Mlp::new(&[6, 5, 3]).unwrap(), Arc::new(train.clone()), 10).unwrap();
    let x = f.init(&mut rng::seeded(1));
    let idx: Vec<usize> = (0..10).collect();
    let batch = Batch::Indices(idx.clone());
    let fresh = |d: &Dataset<f64>| Mlp::new(&[6, 5, 3]).unwrap().evaluate(&x, d, Some(&idx));
    let (want_train, want_test) = (fresh(&train).unwrap().loss, fresh(&test).unwrap().loss);
    assert!(
        (want_train - want_test).abs() > 1e-6,
        "the two datasets differ on these indices"
    );
    for _ in 0..2 {
        assert!((f.cost(&x, &batch) - want_train).abs() < 1e-12);
        assert!((f.cost(&x, &batch) - want_train).abs() < 1e-12);
        let e = f.evaluate(&x, &test, Some(&idx)).unwrap();
        assert!(
            (e.loss - want_test).abs() < 1e-12,
            "{} vs {want_test}",
            e.loss
        );
    }
    // A different minibatch after a cached one.
    let other = Batch::Indices((10..20).collect());
    let want_other = Mlp::new(&[6, 5, 3])
        .unwrap()
        .evaluate(&x, &train, Some(&(10..20).collect::<Vec<_>>()))
        .unwrap()
        .loss;
    assert!((f.cost(&x, &other) - want_other).abs() < 1e-12);
}
