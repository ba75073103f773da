//! Hostile hyper-parameters (issue 5, item 5): arbitrary f32/f64 values — NaN, ±∞, ±0, negative,
//! huge, subnormal — and small counts (0 included) fed to every public constructor and setter.
//!
//! Under the one validation policy (issue 14) constructors and setters take values as given and
//! cannot fail. Property: for every optimizer and scheme so built, `validate()` and `step`
//! agree — if `validate()` is Err, the step returns the identical typed error with x unchanged
//! bit for bit and the counter unchanged; if it is Ok, the step is Ok with a finite x or a typed
//! error (a non-finite value met on the way, or a check that needs x) with x unchanged — never a
//! panic.

use nalgebra::{dmatrix, dvector, DMatrix, DVector};
use proptest::prelude::*;
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::kl::RobbinsMonro;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::objectives::{GaussianMixture, Quadratic};
use wide_valleys::optim::*;
use wide_valleys::regularized::MonteCarlo;
use wide_valleys::sampling::{Averaging, ExponentialSgld, NoiseScale};
use wide_valleys::sampling::{ImportanceSampling, Quadrature, Sgld};
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum, UpdateRule, WeightDecay};
use wide_valleys::Optimizer;
use wide_valleys::{
    rng, Error, Gradient, HeatRegularization, LocalEntropy, Real, Result, Schedule,
};

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

/// The same error, field for field; a NaN value equals a NaN (`Error`'s `PartialEq`).
fn identical(a: &Error, b: &Error) -> bool {
    a == b
}

fn bits<T: Real>(x: &DVector<T>) -> Vec<u64> {
    x.iter().map(|v| v.as_f64().to_bits()).collect()
}

/// What a step may report although `validate()` passed.
#[derive(Clone, Copy)]
struct Late {
    /// Names `validate()` cannot check, each documented where it is used: a check that needs x
    /// (its length), or a known src gap.
    unchecked: &'static [&'static str],
}

const NONE: Late = Late { unchecked: &[] };

/// Checks `validate()` against two steps of `opt` on a 2-D quadratic (module doc).
#[track_caller]
fn steps<T: Real, O: Optimizer<T, Quadratic<T>>>(mut opt: O, late: Late) {
    let q = Quadratic::new(
        dmatrix![T::lit(2.0), T::lit(0.0); T::lit(0.0), T::lit(1.0)],
        dvector![T::lit(1.0), T::lit(-1.0)],
    )
    .unwrap();
    let mut x = dvector![T::lit(0.3), T::lit(-0.2)];
    for _ in 0..2 {
        let (before, k) = (bits(&x), opt.steps_taken());
        let validated = opt.validate();
        let stepped = opt.step(&mut x, &q);
        match (validated, stepped) {
            (Err(e), Err(s)) => {
                assert!(
                    matches!(e, Error::InvalidHyperParameter { .. }),
                    "validate() returned {e:?}"
                );
                assert!(
                    identical(&e, &s),
                    "validate() said {e:?} but the step said {s:?}"
                );
            }
            (Err(e), Ok(_)) => panic!("validate() said {e:?} but the step succeeded"),
            (Ok(()), Ok(_)) => {
                assert!(x.iter().all(|v| v.is_finite()), "non-finite x after Ok");
                assert_eq!(opt.steps_taken(), k + 1, "Ok without advancing k");
                continue;
            }
            (Ok(()), Err(s)) => match s {
                Error::NonFinite { .. } => {}
                Error::InvalidHyperParameter { name, .. } if late.unchecked.contains(&name) => {}
                s => panic!("validate() passed but the step said {s:?}"),
            },
        }
        assert_eq!(bits(&x), before, "x changed by a failed step");
        assert_eq!(opt.steps_taken(), k, "k changed by a failed step");
    }
}

/// If a component's own `validate()` (`part`) fails, the optimizer holding it (all else valid)
/// reports the identical error from its `validate()`.
#[track_caller]
fn same_as_part<T: Real, O: Optimizer<T, Quadratic<T>>>(part: Result<()>, opt: &O) {
    if let Err(e) = part {
        match opt.validate() {
            Err(o) if identical(&e, &o) => {}
            other => panic!("the component said {e:?}, the optimizer {other:?}"),
        }
    }
}

/// Every optimizer, built directly from the hostile values `v` and counts `n`.
fn optimizers<T: Real>(v: [f64; 4], n: [usize; 2]) {
    let [a, b, c, d] = v.map(T::lit);
    let [n0, n1] = n;
    let (one, small) = (T::one(), T::lit(0.1));
    let chain = || ExponentialSgld::<T>::new(2);
    let entropy = |chain: ExponentialSgld<T>| {
        EntropySgd::with_oracle(LocalEntropyGradient::with_estimator(one, chain), small)
    };
    steps(GradientDescent::new(a), NONE);
    steps(EntropySgd::new(a, n0, b), NONE);
    steps(
        EntropySgd::with_oracle(
            LocalEntropyGradient::with_estimator(a, ExponentialSgld::new(n0).langevin_step(c)),
            b,
        ),
        NONE,
    );
    let scale = [
        NoiseScale::TwoStepTemperature,
        NoiseScale::StepTemperature,
        NoiseScale::SqrtStepTimesAmplitude,
    ][n1 % 3];
    steps(entropy(chain().thermal_noise(a).noise_scale(scale)), NONE);
    steps(
        entropy(chain().langevin_step(b).thermal_noise(a).noise_scale(scale)),
        NONE,
    );
    // A component's own validate() and that of the optimizer holding it (everything else
    // valid) report the same error.
    for averaging in [
        Averaging::new_sample_weight(a),
        Averaging::old_average_weight(a),
    ] {
        let opt = entropy(chain().averaging(averaging));
        same_as_part(averaging.validate(), &opt);
        steps(opt, NONE);
    }
    let g = LocalEntropyGradient::new(one, 2).scaled(n0 % 2 == 0);
    steps(
        SmoothedOptimizer::with_oracle(DataTerm::new(g, a), small),
        NONE,
    );
    let adam = Adam::new(a, b, c);
    let opt = EntropySgd::new(one, 2, small).with_rule(adam.clone());
    same_as_part(adam.validate(), &opt);
    steps(opt, NONE);
    let momentum = Momentum::new(a, n0 % 2 == 0);
    let opt = EntropySgd::new(one, 2, small).with_rule(momentum.clone());
    same_as_part(momentum.validate(), &opt);
    steps(opt, NONE);
    let decay = WeightDecay::new(Momentum::nesterov(b), a);
    let opt = GradientDescent::new(small).with_rule(decay.clone());
    same_as_part(decay.validate(), &opt);
    steps(opt, NONE);
    let scope = Schedule::geometric(a, b).clipped(c, d);
    let opt = EntropySgd::new(scope.clone(), 2, small);
    same_as_part(scope.validate(), &opt);
    steps(opt, NONE);
    steps(EntropySgd::new(scope, n0, small), NONE);
    let lr = Schedule::eq18(a, b).every(n0);
    let opt = GradientDescent::new(small).learning_rate_schedule(lr.clone());
    same_as_part(lr.validate(), &opt);
    steps(opt, NONE);
    steps(HamiltonJacobi::new(a, n0, b), NONE);
    steps(
        HamiltonJacobi::with_oracle(HopfLaxGradient::new(one, 2).inner_step(a), small),
        NONE,
    );
    steps(Heat::new(a, n0, b), NONE);
    steps(Sam::new(a, b), NONE);
    steps(
        SmoothedOptimizer::with_oracle(SamGradient::around(HeatGradient::new(a, n0), b), c),
        NONE,
    );
    // N = x.len() = 2: more neurons than parameters is only visible to the step.
    steps(
        TrivializedSgd::new(a, n0, n1, b, c),
        Late {
            unchecked: &["neurons"],
        },
    );
    steps(Parle::new(n0, a, b, n1, c), NONE);
    steps(
        Parle::with_oracle(
            2,
            LocalEntropyGradient::with_estimator(
                one,
                chain().langevin_step(a).thermal_noise(b).noise_scale(scale),
            )
            .scaled(true),
            one,
            small,
        ),
        NONE,
    );
    steps(Parle::with_oracle(n0, HeatGradient::new(a, n1), b, c), NONE);
    match Parle::new(2, one, one, 2, small).threads(n0) {
        Ok(p) => steps(p, NONE),
        Err(e) => assert!(
            n0 == 0
                && matches!(
                    e,
                    Error::InvalidHyperParameter {
                        name: "threads",
                        ..
                    }
                ),
            "threads({n0}): {e:?}"
        ),
    }
    steps(ElasticSgd::elastic(n0, a, b), NONE);
    steps(
        ElasticSgd::elastic(2, one, small).with_rule(Adam::new(a, b, c)),
        NONE,
    );
    steps(
        SmoothedOptimizer::with_oracle(LocalEntropyGradient::new(a, n0), b),
        NONE,
    );
    steps(
        SmoothedOptimizer::with_oracle(HeatGradient::new(a, n0), b),
        NONE,
    );
    // The local-entropy gradient over the other estimators of E_q.
    steps(
        SmoothedOptimizer::with_oracle(
            LocalEntropyGradient::with_estimator(a, ImportanceSampling::new(n0).chunks(n1)),
            b,
        ),
        NONE,
    );
    steps(
        SmoothedOptimizer::with_oracle(
            LocalEntropyGradient::with_estimator(
                a,
                Sgld::paper().samples(n0).temperature(b).harmonic(c),
            ),
            small,
        ),
        NONE,
    );
    steps(
        SmoothedOptimizer::with_oracle(
            LocalEntropyGradient::with_estimator(a, Quadrature::new(n0 * 7, v[1])),
            small,
        ),
        NONE,
    );
}

/// Every scheme and estimator setting with the hostile values.
fn schemes<T: Real>(v: [f64; 4], n: [usize; 2]) {
    let [a, b, c, _] = v.map(T::lit);
    let [n0, n1] = n;
    let q = Quadratic::new(
        dmatrix![T::lit(2.0), T::lit(0.0); T::lit(0.0), T::lit(1.0)],
        dvector![T::lit(1.0), T::lit(-1.0)],
    )
    .unwrap();
    steps(LocalEntropy::<T>::new(a), NONE);
    steps(HeatRegularization::<T>::new(a), NONE);
    let sgld = Sgld::paper()
        .samples(n0)
        .burn_in(n1)
        .temperature(b)
        .harmonic(c);
    steps(LocalEntropy::new(a).estimator(sgld), NONE);
    steps(
        LocalEntropy::new(T::one()).estimator(Sgld::paper().samples(3).constant_step(a)),
        NONE,
    );
    steps(
        LocalEntropy::new(a).estimator(ImportanceSampling::new(n0).chunks(n1)),
        NONE,
    );
    steps(
        LocalEntropy::new(a).estimator(Quadrature::new(n0 * 7, v[1])),
        NONE,
    );
    let rm = RobbinsMonro::paper()
        .c(b)
        .alpha(c)
        .samples(n0)
        .iterations(n1);
    steps(HeatRegularization::new(a).solver(rm), NONE);
    steps(
        HeatRegularization::new(T::one()).tau_schedule(Schedule::from_fn(move |k| {
            if k == 0 {
                a
            } else {
                b
            }
        })),
        NONE,
    );
    steps(
        LocalEntropy::new(T::one())
            .estimator(ImportanceSampling::new(20))
            .tau_schedule(Schedule::eq18(a, b)),
        NONE,
    );
    let x0 = dvector![T::lit(0.3), T::lit(-0.2)];
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
    let y0 = bits(&y);
    match LocalEntropy::new(T::lit(0.5)).step(&mut y, &gm) {
        Ok(_) => assert!(y.iter().all(|v| v.is_finite())),
        Err(e) => {
            assert!(matches!(e, Error::NonFinite { .. }), "{e:?}");
            assert_eq!(bits(&y), y0);
        }
    }
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
    #![proptest_config(ProptestConfig::with_cases(128))]

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
