//! Hostile hyper-parameters (issue 5, item 5): arbitrary f32/f64 values — NaN, ±∞, ±0, negative,
//! huge, subnormal — and small counts (0 included) fed to every public constructor and builder.
//! Property: a typed `Error` or a valid object; a valid object then steps to `Ok` with finite x
//! or to a typed `Error` with x unchanged — never a panic.

use nalgebra::{dmatrix, dvector, DMatrix, DVector};
use proptest::prelude::*;
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::kl::RobbinsMonro;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::objectives::{GaussianMixture, Quadratic};
use wide_valleys::optim::*;
use wide_valleys::regularized::MonteCarlo;
use wide_valleys::sampling::{Averaging, NoiseScale};
use wide_valleys::sampling::{ImportanceSampling, Quadrature, Sgld};
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum, WeightDecay};
use wide_valleys::Optimizer;
use wide_valleys::{rng, Gradient, HeatRegularization, LocalEntropy, Real, Result, Schedule};

fn hostile_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(5e-324),
        Just(f64::MIN_POSITIVE / 4.0),
        Just(1e300),
        Just(f64::MAX),
        Just(-1.0),
        Just(1e-30),
        0.01f64..2.0,
        -2.0f64..2.0,
        any::<f64>(),
    ]
}

/// Steps `opt` twice on a 2-D quadratic: each step is Ok with finite x, or an error with x as before.
fn steps<T: Real, O: Optimizer<T, Quadratic<T>>>(opt: Result<O>) {
    let Ok(mut opt) = opt else { return };
    let q = Quadratic::new(
        dmatrix![T::lit(2.0), T::lit(0.0); T::lit(0.0), T::lit(1.0)],
        dvector![T::lit(1.0), T::lit(-1.0)],
    );
    let mut x = dvector![T::lit(0.3), T::lit(-0.2)];
    for _ in 0..2 {
        let before = x.clone();
        match opt.step(&mut x, &q) {
            Ok(_) => assert!(x.iter().all(|v| v.is_finite()), "non-finite x after Ok"),
            Err(_) => assert_eq!(x, before, "x changed by a failed step"),
        }
    }
}

/// Every optimizer constructor and builder with the hostile values `v` and counts `n`.
fn optimizers<T: Real>(v: [f64; 4], n: [usize; 2]) {
    let [a, b, c, d] = v.map(T::lit);
    let [n0, n1] = n;
    steps(GradientDescent::new(a));
    steps(EntropySgd::new(a, n0, b));
    steps(EntropySgd::new(a, n0, b).and_then(|o| o.langevin_step(c)));
    steps(EntropySgd::new(T::one(), 2, T::lit(0.1)).and_then(|o| o.thermal_noise(a)));
    steps(EntropySgd::new(T::one(), 2, T::lit(0.1)).and_then(|o| o.data_weight(a)));
    steps(
        EntropySgd::new(T::one(), 2, T::lit(0.1))
            .and_then(|o| Ok(o.averaging(Averaging::new_sample_weight(a)))),
    );
    steps(
        EntropySgd::new(T::one(), 2, T::lit(0.1))
            .and_then(|o| Ok(o.averaging(Averaging::old_average_weight(a)))),
    );
    steps(
        EntropySgd::new(T::one(), 2, T::lit(0.1)).and_then(|o| Ok(o.with_rule(Adam::new(a, b, c)))),
    );
    steps(
        EntropySgd::new(T::one(), 2, T::lit(0.1))
            .and_then(|o| Ok(o.with_rule(Momentum::new(a, n0 % 2 == 0)))),
    );
    steps(
        GradientDescent::new(T::lit(0.1))
            .and_then(|o| Ok(o.with_rule(WeightDecay::new(Momentum::nesterov(b), a)))),
    );
    steps(
        Schedule::geometric(a, b)
            .and_then(|s| s.clipped(c, d))
            .and_then(|s| EntropySgd::new(s, n0, T::lit(0.1))),
    );
    steps(
        GradientDescent::new(T::lit(0.1))
            .and_then(|o| Ok(o.learning_rate_schedule(Schedule::eq18(a, b).every(n0)))),
    );
    steps(HamiltonJacobi::new(a, n0, b));
    steps(HamiltonJacobi::new(T::one(), 2, T::lit(0.1)).and_then(|o| o.inner_step(a)));
    steps(Heat::new(a, n0, b));
    steps(Sam::new(a, b));
    steps(TrivializedSgd::new(a, n0, n1, b, c));
    steps(Parle::new(n0, a, b, n1, c));
    steps(Parle::new(2, T::one(), T::one(), 2, T::lit(0.1)).and_then(|p| p.langevin_step(a)));
    steps(Parle::new(2, T::one(), T::one(), 2, T::lit(0.1)).and_then(|p| p.thermal_noise(a)));
    steps(Parle::new(2, T::one(), T::one(), 2, T::lit(0.1)).and_then(|p| p.threads(n0)));
    steps(ElasticSgd::elastic(n0, a, b));
    steps(LocalEntropyGradient::new(a, n0).and_then(|g| SmoothedOptimizer::with_oracle(g, b)));
    steps(HeatGradient::new(a, n0).and_then(|g| SmoothedOptimizer::with_oracle(g, b)));
}

/// Every scheme and estimator setting with the hostile values (validated at `step`).
fn schemes<T: Real>(v: [f64; 4], n: [usize; 2]) {
    let [a, b, c, _] = v.map(T::lit);
    let [n0, n1] = n;
    let q = Quadratic::new(
        dmatrix![T::lit(2.0), T::lit(0.0); T::lit(0.0), T::lit(1.0)],
        dvector![T::lit(1.0), T::lit(-1.0)],
    );
    let _ = LocalEntropy::<T>::try_new(a);
    let _ = HeatRegularization::<T>::try_new(a);
    let check = |x: &DVector<T>, before: &DVector<T>, ok: bool| {
        if ok {
            assert!(x.iter().all(|v| v.is_finite()));
        } else {
            assert_eq!(x, before);
        }
    };
    let x0 = dvector![T::lit(0.3), T::lit(-0.2)];
    let mut x = x0.clone();
    let sgld = Sgld::paper()
        .samples(n0)
        .burn_in(n1)
        .temperature(b)
        .harmonic(c);
    let r = LocalEntropy::new(a).estimator(sgld).step(&mut x, &q);
    check(&x, &x0, r.is_ok());
    let mut x = x0.clone();
    let r = LocalEntropy::new(T::one())
        .estimator(Sgld::paper().samples(3).constant_step(a))
        .step(&mut x, &q);
    check(&x, &x0, r.is_ok());
    let mut x = x0.clone();
    let r = LocalEntropy::new(a)
        .estimator(ImportanceSampling::new(n0).chunks(n1))
        .step(&mut x, &q);
    check(&x, &x0, r.is_ok());
    let mut x = x0.clone();
    let r = LocalEntropy::new(a)
        .estimator(Quadrature::new(n0 * 7, v[1]))
        .step(&mut x, &q);
    check(&x, &x0, r.is_ok());
    let mut x = x0.clone();
    let rm = RobbinsMonro::paper()
        .c(b)
        .alpha(c)
        .samples(n0)
        .iterations(n1);
    let r = HeatRegularization::new(a).solver(rm).step(&mut x, &q);
    check(&x, &x0, r.is_ok());
    let mut x = x0.clone();
    let r = HeatRegularization::new(T::one())
        .tau_schedule(Schedule::from_fn(move |k| if k == 0 { a } else { b }))
        .step(&mut x, &q);
    check(&x, &x0, r.is_ok());
    let mut g = rng::seeded(1);
    let _ = MonteCarlo::new(n0).local_entropy(&x0, a, &q, &mut g);
    let _ = MonteCarlo::new(n0).heat(&x0, a, &q, &mut g);
    // A landscape built with hostile numbers: values may be NaN, the schemes must say so.
    let gm = GaussianMixture::new(
        vec![a, T::one()],
        vec![dvector![b], dvector![T::one()]],
        vec![c, T::one()],
    );
    let mut y = dvector![T::lit(0.1)];
    let y0 = y.clone();
    let r = LocalEntropy::new(T::lit(0.5)).step(&mut y, &gm);
    check(&y, &y0, r.is_ok());
}

fn nn(p: f64, n: [usize; 2]) {
    let _ = Mlp::new(&[n[0], n[1]]);
    let _ = Mlp::new(&[]);
    let Ok(mlp) = Mlp::new(&[3, n[0] + 1, 2]).and_then(|m| m.with_dropout(p)) else {
        return;
    };
    let data = Arc::new(
        Dataset::new(
            DMatrix::from_fn(3, 5, |i, j| (i + j) as f32 / 7.0),
            vec![0, 1, 0, 1, 1],
            2,
        )
        .unwrap(),
    );
    if let Ok(f) = MlpObjective::new(mlp, data, n[1]).and_then(|f| f.with_chunk(n[0])) {
        let x = f.init(&mut rng::seeded(0));
        let mut g = DVector::zeros(x.len());
        f.gradient(&x, &wide_valleys::Batch::Full, &mut g);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn f64_hyperparameters_never_panic(
        v in [hostile_f64(), hostile_f64(), hostile_f64(), hostile_f64()],
        n in [0usize..4, 0usize..4],
    ) {
        optimizers::<f64>(v, n);
        schemes::<f64>(v, n);
    }

    #[test]
    fn f32_hyperparameters_never_panic(
        v in [hostile_f64(), hostile_f64(), hostile_f64(), hostile_f64()],
        n in [0usize..4, 0usize..4],
    ) {
        // f64 → f32 turns huge values into ±∞ and tiny ones into subnormals or zero.
        optimizers::<f32>(v, n);
        schemes::<f32>(v, n);
    }

    #[test]
    fn nn_settings_never_panic(p in hostile_f64(), n in [0usize..4, 0usize..4]) {
        nn(p, n);
    }
}
