//! The MLP's Gaussian mean gradient with the first layer's noise drawn through its product with
//! the minibatch ([`MeanGradient::gaussian_mean_gradient`], Robbins–Monro's
//! `GaussianExpectation::ProjectedMonteCarlo`, 000 Alg. 5, eq. 17): the same law as gradients at
//! whole Gaussian points (means, variances and covariances of every coordinate, with repeated
//! and blank inputs in the minibatch), the plain mean gradient in the limit s → 0, thread
//! independence, the fallback where it does not apply, and bad input.

use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::kl::{GaussianExpectation, ModeSeekingSolver, RobbinsMonro};
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::objective::NoiseStream;
use wide_valleys::objectives::Quadratic;
use wide_valleys::sampling::{ImportanceSampling, MeanEstimator};
use wide_valleys::{rng, Batch, Cost, Error, Gradient, LocalEntropy, Real};

/// 12 examples of 6 features; example 11 is blank (all zeros).
fn data<T: Real>() -> Arc<Dataset<T>> {
    let mut r = rng::seeded(5);
    let inputs = DMatrix::<T>::from_fn(6, 12, |_, j| {
        let v = f64::standard_normal(&mut r);
        T::lit(if j == 11 { 0.0 } else { v })
    });
    let labels = (0..12).map(|i| (i * 5 % 3) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 3).unwrap())
}

fn objective<T: Real>(dropout: f64, batch: usize) -> MlpObjective<T> {
    let mlp = Mlp::new(&[6, 5, 3]).unwrap().with_dropout(dropout).unwrap();
    MlpObjective::new(mlp, data(), batch).unwrap()
}

fn params<T: Real>(f: &MlpObjective<T>) -> DVector<T> {
    f.mlp().init(&mut rng::seeded(8))
}

/// |mean(a) − mean(b)| within 5 standard errors of the difference of two independent means.
fn same_mean(a: &[f64], b: &[f64], what: &str) {
    let stats = |v: &[f64]| {
        let k = v.len() as f64;
        let m = v.iter().sum::<f64>() / k;
        (
            m,
            v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (k - 1.0) / k,
        )
    };
    let ((ma, va), (mb, vb)) = (stats(a), stats(b));
    let se = (va + vb).sqrt();
    assert!(
        (ma - mb).abs() <= 5.0 * se + 1e-14,
        "{what}: {ma:e} vs {mb:e} (standard error of the difference {se:e})"
    );
}

/// Two samples of random vectors with the same law: for every coordinate the mean, the variance
/// and the covariance with coordinate 0 agree ([`same_mean`] of the centred powers; centred on the
/// pooled means, whose error is O(1/K), far below the tolerance).
fn same_law(a: &[DVector<f64>], b: &[DVector<f64>], what: &str) {
    let column = |gs: &[DVector<f64>], c: usize| gs.iter().map(|g| g[c]).collect::<Vec<_>>();
    let pooled = |u: &[f64], v: &[f64]| {
        (u.iter().sum::<f64>() + v.iter().sum::<f64>()) / (u.len() + v.len()) as f64
    };
    let (a0, b0) = (column(a, 0), column(b, 0));
    let mu0 = pooled(&a0, &b0);
    for c in 0..a[0].len() {
        let (ac, bc) = (column(a, c), column(b, c));
        same_mean(&ac, &bc, &format!("{what}: mean of coordinate {c}"));
        let mu = pooled(&ac, &bc);
        let sq = |v: &[f64]| v.iter().map(|x| (x - mu) * (x - mu)).collect::<Vec<_>>();
        same_mean(
            &sq(&ac),
            &sq(&bc),
            &format!("{what}: variance of coordinate {c}"),
        );
        let cross = |v: &[f64], w: &[f64]| {
            v.iter()
                .zip(w)
                .map(|(p, q)| (p - mu) * (q - mu0))
                .collect::<Vec<_>>()
        };
        let (ca, cb) = (cross(&ac, &a0), cross(&bc, &b0));
        same_mean(&ca, &cb, &format!("{what}: covariance 0, {c}"));
    }
}

/// Means, variances and covariances (with coordinate 0) of every coordinate of K gradients
/// drawn at whole Gaussian points and K drawn by the projected path, all on one minibatch with a
/// repeated and a blank input (a singular Gram matrix XᵀX).
fn law_agrees(dropout: f64) {
    const K: usize = 20_000;
    let f = objective::<f64>(dropout, 5);
    let x = params(&f);
    let d = x.len();
    let s = 0.6; // of the order of the weights, so the network is far from linear in ξ
    let batch = Batch::Indices(vec![0, 3, 3, 7, 11]);
    let mg = f.as_mean_gradient().expect("the MLP has a batched path");
    let (mut whole, mut projected) = (Vec::with_capacity(K), Vec::with_capacity(K));
    let mut r = rng::seeded(99);
    let (mut xi, mut z, mut g) = (DVector::zeros(d), DVector::zeros(d), DVector::zeros(d));
    for k in 0..K {
        rng::fill_standard_normal(&mut r, xi.as_mut_slice());
        z.copy_from(&x);
        z.axpy(s, &xi, 1.0);
        f.gradient(&z, &batch, &mut g);
        whole.push(g.clone());
        let b = std::slice::from_ref(&batch);
        let loss =
            mg.gaussian_mean_gradient(&x, s, b, NoiseStream::new(1000 + k as u64, 3), &mut g);
        assert!(loss.is_some_and(f64::is_finite));
        projected.push(g.clone());
    }
    same_law(&whole, &projected, "gradient");
}

#[test]
fn projected_gradients_have_the_law_of_gradients_at_whole_gaussian_points() {
    law_agrees(0.0);
}

#[test]
fn projected_gradients_have_the_law_of_gradients_at_whole_gaussian_points_with_dropout() {
    law_agrees(0.3);
}

/// As s → 0 both paths become the plain mean of the M minibatches' gradients at x.
fn tends_to_the_mean_gradient<T: Real>(tol: f64) {
    let f = objective::<T>(0.2, 4);
    let x = params(&f);
    // Not the blank example 11: with zero biases its units sit exactly at ReLU's kink, where an
    // arbitrarily small perturbation decides the derivative.
    let batches: Vec<Batch> = [vec![1, 2, 3, 4, 5], vec![9], vec![3, 3, 10], vec![0, 6, 8]]
        .into_iter()
        .map(Batch::Indices)
        .collect();
    let mut g = DVector::zeros(x.len());
    let mg = f.as_mean_gradient().unwrap();
    let loss = mg
        .gaussian_mean_gradient(&x, T::lit(1e-30), &batches, NoiseStream::new(4, 0), &mut g)
        .unwrap();
    let (mut want, mut gi, mut want_loss) = (DVector::zeros(x.len()), DVector::zeros(x.len()), 0.0);
    for b in &batches {
        want_loss += f.cost_and_gradient(&x, b, &mut gi).as_f64() / batches.len() as f64;
        want.axpy(T::lit(0.25), &gi, T::one());
    }
    for (c, (&a, &w)) in g.iter().zip(want.iter()).enumerate() {
        let (a, w) = (a.as_f64(), w.as_f64());
        assert!(
            (a - w).abs() <= tol * (1.0 + w.abs()),
            "coordinate {c}: {a} vs {w}"
        );
    }
    assert!((loss.as_f64() - want_loss).abs() <= tol * (1.0 + want_loss));
}

#[test]
fn with_vanishing_noise_it_is_the_mean_of_the_minibatch_gradients_f64() {
    tends_to_the_mean_gradient::<f64>(1e-13);
}

#[test]
fn with_vanishing_noise_it_is_the_mean_of_the_minibatch_gradients_f32() {
    tends_to_the_mean_gradient::<f32>(1e-5);
}

/// Without a hidden layer (softmax regression, 6 → 3) W₀·X is the logits' product itself.
#[test]
fn without_a_hidden_layer_it_is_still_the_mean_gradient_in_the_limit() {
    let f = MlpObjective::new(Mlp::new(&[6, 3]).unwrap(), data::<f64>(), 4).unwrap();
    let x = params(&f);
    let batches: Vec<Batch> = [vec![1, 2, 3], vec![9, 0]]
        .into_iter()
        .map(Batch::Indices)
        .collect();
    let mut g = DVector::zeros(x.len());
    let mg = f.as_mean_gradient().unwrap();
    mg.gaussian_mean_gradient(&x, 1e-30, &batches, NoiseStream::new(4, 0), &mut g)
        .unwrap();
    let (mut want, mut gi) = (DVector::zeros(x.len()), DVector::zeros(x.len()));
    for b in &batches {
        f.gradient(&x, b, &mut gi);
        want.axpy(0.5, &gi, 1.0);
    }
    assert!((&g - &want).amax() < 1e-13, "{g} {want}");
}

#[test]
fn projected_gradients_are_bit_identical_on_one_and_two_threads() {
    let f = objective::<f32>(0.1, 4);
    let x = params(&f);
    let batches: Vec<Batch> = (0..9)
        .map(|m| Batch::Indices(vec![m, (m + 4) % 12, (m * 5) % 12]))
        .collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut g = DVector::zeros(x.len());
            let loss = f
                .as_mean_gradient()
                .unwrap()
                .gaussian_mean_gradient(&x, 0.1, &batches, NoiseStream::new(7, 30), &mut g)
                .unwrap();
            (
                loss.to_bits(),
                g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            )
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn minibatches_as_large_as_the_input_are_not_projected() {
    let f = objective::<f64>(0.0, 6);
    let x = params(&f);
    let mut g = DVector::zeros(x.len());
    let mg = f.as_mean_gradient().unwrap();
    let six = [Batch::Indices((0..6).collect())];
    assert!(mg
        .gaussian_mean_gradient(&x, 0.1, &six, NoiseStream::new(1, 0), &mut g)
        .is_none());
    assert!(mg
        .gaussian_mean_gradient(&x, 0.1, &[Batch::Full], NoiseStream::new(1, 0), &mut g)
        .is_none());
    // ... and Robbins–Monro then draws whole points: the same bits as MonteCarlo.
    let step = |e: GaussianExpectation| {
        let mut rm = RobbinsMonro::paper()
            .iterations(3)
            .samples(4)
            .expectation(e);
        let mut out = DVector::zeros(x.len());
        rm.minimize(&x, 0.01, &f, &mut rng::seeded(3), &mut out)
            .unwrap();
        out
    };
    assert_eq!(
        step(GaussianExpectation::MonteCarlo),
        step(GaussianExpectation::ProjectedMonteCarlo)
    );
}

#[test]
fn objectives_without_the_path_fall_back_to_whole_points() {
    let q = Quadratic::new(
        DMatrix::from_diagonal_element(3, 3, 2.0f64),
        DVector::zeros(3),
    )
    .unwrap();
    let x = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let step = |e: GaussianExpectation| {
        let mut rm = RobbinsMonro::paper().expectation(e);
        let mut out = DVector::zeros(3);
        rm.minimize(&x, 0.1, &q, &mut rng::seeded(3), &mut out)
            .unwrap();
        out
    };
    assert_eq!(
        step(GaussianExpectation::MonteCarlo),
        step(GaussianExpectation::ProjectedMonteCarlo)
    );
}

#[test]
fn robbins_monro_projected_moves_like_monte_carlo_and_reports_non_finite_parameters() {
    let f = objective::<f64>(0.0, 4);
    let x = params(&f);
    // Averaged over seeds, one heat-regularization step lands in the same place either way.
    let mean_step = |e: GaussianExpectation| {
        let mut acc = DVector::zeros(x.len());
        for seed in 0..40 {
            let mut rm = RobbinsMonro::paper().expectation(e);
            let mut out = DVector::zeros(x.len());
            rm.minimize(&x, 0.05, &f, &mut rng::seeded(seed), &mut out)
                .unwrap();
            acc += (out - &x) / 40.0;
        }
        acc
    };
    let (mc, pr) = (
        mean_step(GaussianExpectation::MonteCarlo),
        mean_step(GaussianExpectation::ProjectedMonteCarlo),
    );
    assert!(mc.norm() > 1e-3);
    assert!(
        (&mc - &pr).norm() < 0.1 * mc.norm(),
        "{} vs {}",
        mc.norm(),
        pr.norm()
    );

    let mut bad = x.clone();
    bad[2] = f64::NAN;
    let mut rm = RobbinsMonro::paper().expectation(GaussianExpectation::ProjectedMonteCarlo);
    let mut out = DVector::from_element(x.len(), 7.0);
    let e = rm.minimize(&bad, 0.05, &f, &mut rng::seeded(1), &mut out);
    assert!(matches!(e, Err(Error::NonFinite { .. })), "{e:?}");
    assert!(out.iter().all(|&v| v == 7.0));
}

// ---------------------------------------------------------------------------------------------
// Importance sampling (000 Alg. 4) with `ImportanceSampling::projected`.

/// 12 examples of 6 features in general position (every minibatch of 4 has an invertible XᵀX).
fn data_general<T: Real>() -> Arc<Dataset<T>> {
    let mut r = rng::seeded(6);
    let inputs = DMatrix::<T>::from_fn(6, 12, |_, _| T::lit(f64::standard_normal(&mut r)));
    let labels = (0..12).map(|i| (i * 5 % 3) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 3).unwrap())
}

fn is_objective(dropout: f64) -> MlpObjective<f64> {
    let mlp = Mlp::new(&[6, 5, 3]).unwrap().with_dropout(dropout).unwrap();
    MlpObjective::new(mlp, data_general(), 4).unwrap()
}

/// K estimates of E_q[Y] (J = 3 samples in 2 chunks, a fresh minibatch each) with whole samples
/// and K with the projected path: the same law for every coordinate (mean, variance, covariance
/// with coordinate 0) and for the effective sample size.
fn is_law_agrees(dropout: f64) {
    const K: usize = 20_000;
    let f = is_objective(dropout);
    let x = params(&f);
    let d = x.len();
    let tau = 0.36; // s = 0.6, as in the gradient test: far from linear
                    // The projected path does apply to these minibatches (no fallback to whole samples).
    let mut mu = DVector::zeros(d);
    let path = f.as_gaussian_weighted_mean().unwrap();
    let batch = Batch::Indices(vec![0, 4, 7, 9]);
    assert!(path
        .gaussian_weighted_mean(&x, 0.6, &batch, 3, 2, NoiseStream::new(1, 0), &mut mu)
        .is_some_and(|r| r.is_ok()));
    let run = |projected: bool, seed: u64| {
        let mut is = ImportanceSampling::new(3).chunks(2).projected(projected);
        let mut r = rng::seeded(seed);
        let (mut mus, mut ess) = (Vec::with_capacity(K), Vec::with_capacity(K));
        let mut mu = DVector::zeros(d);
        for _ in 0..K {
            let diag = is.estimate(&x, tau, &f, &mut r, &mut mu).unwrap();
            mus.push(&mu - &x);
            ess.push(diag.ess.unwrap());
        }
        (mus, ess)
    };
    let ((whole, ess_w), (projected, ess_p)) = (run(false, 1), run(true, 2));
    same_mean(&ess_w, &ess_p, "effective sample size");
    same_law(&whole, &projected, "IS estimate");
}

#[test]
fn projected_importance_sampling_has_the_law_of_whole_samples() {
    is_law_agrees(0.0);
}

#[test]
fn projected_importance_sampling_has_the_law_of_whole_samples_with_dropout() {
    is_law_agrees(0.3);
}

#[test]
fn projected_importance_sampling_is_bit_identical_on_one_and_two_threads() {
    let f = is_objective(0.1);
    let x = params(&f);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut is = ImportanceSampling::new(50).chunks(7).projected(true);
            let mut mu = DVector::zeros(x.len());
            let diag = is
                .estimate(&x, 0.01, &f, &mut rng::seeded(4), &mut mu)
                .unwrap();
            let bits: Vec<u64> = mu.iter().map(|v| v.to_bits()).collect();
            (bits, diag.ess.unwrap().to_bits())
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn importance_sampling_falls_back_to_whole_samples_where_it_cannot_project() {
    let estimate = |f: &MlpObjective<f64>, x: &DVector<f64>, projected: bool| {
        let mut is = ImportanceSampling::new(20).projected(projected);
        let mut mu = DVector::zeros(x.len());
        is.estimate(x, 0.01, f, &mut rng::seeded(9), &mut mu)
            .unwrap();
        mu
    };
    // Every minibatch repeats one image (XᵀX singular), or is as large as the input.
    let same = Arc::new(Dataset::new(DMatrix::from_element(6, 12, 0.5), vec![0; 12], 3).unwrap());
    let singular = MlpObjective::new(Mlp::new(&[6, 5, 3]).unwrap(), same, 4).unwrap();
    let wide = MlpObjective::new(Mlp::new(&[6, 5, 3]).unwrap(), data_general(), 6).unwrap();
    for f in [&singular, &wide] {
        let x = params(f);
        assert_eq!(estimate(f, &x, false), estimate(f, &x, true));
    }
    // An objective without the path.
    let q = Quadratic::new(
        DMatrix::from_diagonal_element(3, 3, 2.0f64),
        DVector::zeros(3),
    )
    .unwrap();
    let x = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let est = |projected: bool| {
        let mut is = ImportanceSampling::new(20).projected(projected);
        let mut mu = DVector::zeros(3);
        is.estimate(&x, 0.1, &q, &mut rng::seeded(9), &mut mu)
            .unwrap();
        mu
    };
    assert_eq!(est(false), est(true));
}

#[test]
fn projected_importance_sampling_reports_non_finite_losses_and_leaves_x() {
    let f = is_objective(0.0);
    let mut x = params(&f);
    x[40] = f64::INFINITY; // a weight of the second layer
    let before = x.clone();
    let mut scheme = LocalEntropy::new(0.01)
        .estimator(ImportanceSampling::new(10).projected(true))
        .seed(1);
    let e = scheme.step(&mut x, &f);
    assert!(matches!(e, Err(Error::NonFinite { .. })), "{e:?}");
    assert_eq!(x, before);
}
