//! Update rules against their closed forms (SGD, classical and Nesterov momentum, Adam, weight
//! decay), state copy/reset, and Entropy-Adam as composition (003 §3.3.5).

use nalgebra::{dvector, DVector};
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::*;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum, Sgd, UpdateRule, WeightDecay};
use wide_valleys::Optimizer;

#[test]
fn sgd_is_x_minus_eta_g() {
    let mut x = dvector![1.0, -2.0];
    Sgd.apply(&mut x, &dvector![0.5, 1.0], 0.1);
    assert_eq!(x, dvector![0.95, -2.1]);
}

/// `apply_keeping`, the optimizers' update with roll-back state: for SGD one parallel pass over
/// fixed blocks. On a vector of several blocks it keeps x's old values, gives the bits of
/// `apply`, and reports an overflow in any block; a step whose update overflows leaves x as it
/// was, to the bit.
#[test]
fn sgd_apply_keeping_is_apply_with_a_backup_and_rolls_back_exactly() {
    use wide_valleys::{Error, FnLoss};
    let d = 40_000;
    let x0 = DVector::from_fn(d, |i, _| ((i * 37 % 101) as f64 - 50.0) * 0.013);
    let g = DVector::from_fn(d, |i, _| ((i * 11 % 23) as f64 - 11.0) * 0.7);
    let (mut x, mut backup, mut y) = (x0.clone(), DVector::zeros(d), x0.clone());
    assert!(Sgd.apply_keeping(&mut x, &g, 0.3, &mut backup));
    Sgd.apply(&mut y, &g, 0.3);
    assert_eq!(backup, x0);
    assert!(x
        .iter()
        .zip(y.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    let mut big = g.clone();
    big[d - 2] = 1e300;
    assert!(!Sgd.apply_keeping(&mut x, &big, 1e10, &mut backup));

    // ∇f = x; the last entries are 1e150, so η = 1e160 overflows only them (in the last block)
    // while the gradient and its norm stay finite.
    // No annotations on the closures: FnLoss::new pins their signatures (T = f64 from x).
    let loss = FnLoss::new(d, |x| 0.5 * x.norm_squared(), |x, g| g.copy_from(x));
    let mut x: DVector<f64> = DVector::from_fn(d, |i, _| if i + 3 >= d { 1e150 } else { 1.0 });
    let before = x.clone();
    let mut gd = GradientDescent::new(1e160).seed(1);
    let e = gd.step(&mut x, &loss);
    assert!(matches!(e, Err(Error::NonFinite { .. })), "{e:?}");
    assert!(x
        .iter()
        .zip(before.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn momentum_closed_forms() {
    // Constant gradient g: classical velocity after t steps is g(1 − μᵗ)/(1 − μ);
    // x_t = x_0 − η Σ_{s=1..t} v_s. Nesterov uses g + μv_t instead of v_t.
    let (mu, eta, g): (f64, f64, _) = (0.5, 0.1, dvector![2.0f64]);
    let mut c = Momentum::classical(mu);
    let mut n = Momentum::nesterov(mu);
    let (mut xc, mut xn) = (dvector![0.0], dvector![0.0]);
    let (mut ec, mut en) = (0.0f64, 0.0f64);
    for t in 1..=5 {
        c.apply(&mut xc, &g, eta);
        n.apply(&mut xn, &g, eta);
        let v = 2.0 * (1.0 - mu.powi(t)) / (1.0 - mu);
        ec -= eta * v;
        en -= eta * (2.0 + mu * v);
        assert!((xc[0] - ec).abs() < 1e-14, "classical step {t}");
        assert!((xn[0] - en).abs() < 1e-14, "nesterov step {t}");
    }
    assert!((c.velocity()[0] - 2.0 * (1.0 - mu.powi(5)) / (1.0 - mu)).abs() < 1e-14);
    c.reset();
    assert_eq!(c.velocity()[0], 0.0);
}

#[test]
fn adam_first_step_is_sign_and_state_copies() {
    // Bias correction makes the first step η·g/(|g| + ε) ≈ η·sign(g).
    let mut a = Adam::<f64>::standard();
    let mut x = dvector![0.0, 0.0, 0.0];
    a.apply(&mut x, &dvector![3.0, -1e-3, 0.0], 0.01);
    assert!((x[0] + 0.01).abs() < 1e-9 && (x[1] - 0.01).abs() < 1e-7 && x[2] == 0.0);
    assert_eq!(a.steps(), 1);
    // copy_state reproduces the future exactly (how a failed step keeps the old State).
    let mut b = Adam::<f64>::standard();
    b.copy_state(&a);
    let (mut xa, mut xb) = (x.clone(), x.clone());
    for _ in 0..5 {
        a.apply(&mut xa, &dvector![1.0, 2.0, -3.0], 0.01);
        b.apply(&mut xb, &dvector![1.0, 2.0, -3.0], 0.01);
    }
    assert_eq!(xa, xb);
    a.reset();
    assert_eq!(a.steps(), 0);
}

#[test]
fn weight_decay_adds_lambda_x() {
    let mut w = WeightDecay::new(Sgd, 0.1);
    let mut x = dvector![2.0f64];
    w.apply(&mut x, &dvector![1.0], 0.5);
    // x − η(g + λx) = 2 − 0.5(1 + 0.2) = 1.4
    assert!((x[0] - 1.4).abs() < 1e-15);
}

#[test]
fn entropy_adam_is_adam_on_the_local_entropy_gradient() {
    // 003 §3.3.5: Entropy-Adam = Adam fed with the local-entropy gradient. Compare the composed
    // optimizer with Adam applied by hand to an identical oracle driven by the same stream.
    let q = Quadratic::new(
        nalgebra::DMatrix::from_diagonal(&dvector![1.0, 3.0]),
        dvector![0.5, -1.0],
    )
    .unwrap();
    let mut ea = EntropySgd::with_oracle(
        LocalEntropyGradient::with_estimator(
            0.5,
            ExponentialSgld::new(5)
                .langevin_step(0.05)
                .thermal_noise(1e-2),
        ),
        0.01,
    )
    .with_rule(Adam::standard())
    .seed(4);
    let mut oracle = LocalEntropyGradient::with_estimator(
        0.5,
        ExponentialSgld::new(5)
            .langevin_step(0.05)
            .thermal_noise(1e-2),
    );
    let mut r = wide_valleys::rng::stream(4, 0);
    let mut adam = Adam::standard();
    let mut x = dvector![1.0, 1.0];
    let mut xr = x.clone();
    let mut g = DVector::zeros(2);
    for k in 0..20 {
        ea.step(&mut x, &q).unwrap();
        oracle.estimate(&xr, &q, k, &mut r, &mut g).unwrap();
        adam.apply(&mut xr, &g, 0.01);
        assert_eq!(x, xr, "step {k}");
    }
    assert_eq!(ea.rule().steps(), 20);
}
