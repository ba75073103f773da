//! Parle and Elastic-SGD (003 §5.2–§5.5): the special cases of §5.3.1 as equivalences, bit-identical
//! results for 1 and 2 threads, disjoint shards per replica, and the scoping schedules of eq. 5.10.

#[path = "optimizers_common.rs"]
mod common;

use common::{quadratic, start, Flaky, LeastSquares};
use nalgebra::{DMatrix, DVector};
use wide_valleys::objective::{Batch, Cost, Gradient};
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::*;
use wide_valleys::sampling::Averaging;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::smoothing::*;
use wide_valleys::update::Momentum;
use wide_valleys::Optimizer;
use wide_valleys::{rng, Schedule};

const INF: f64 = f64::INFINITY;
const D: usize = 6;

fn shards() -> Vec<LeastSquares> {
    (0..3)
        .map(|a| LeastSquares::new(40, D, 5, 100 + a))
        .collect()
}

#[test]
fn parle_one_replica_infinite_coupling_is_entropy_sgd() {
    // 003 §5.3.1 (iii): n = 1, ρ = ∞ is Entropy-SGD (in the scaled form of 003 §3.2.3, which is
    // what Parle's normalisation η⁽¹⁾ = ηγ_k gives), with noise, scoping and Nesterov.
    let loss = LeastSquares::new(50, D, 8, 7);
    let scope = Schedule::geometric(0.8, 0.97).clipped(0.1, 1.0);
    let mut parle = Parle::with_oracle(
        1,
        LocalEntropyGradient::with_estimator(
            scope.clone(),
            ExponentialSgld::new(7)
                .langevin_step(0.05)
                .thermal_noise(1e-3)
                .averaging(Averaging::old_average_weight(0.25)),
        )
        .scaled(true),
        INF,
        0.3,
    )
    .with_rule(Momentum::nesterov(0.9))
    .seed(42);
    let mut esgd = EntropySgd::with_oracle(
        LocalEntropyGradient::with_estimator(
            scope,
            ExponentialSgld::new(7)
                .langevin_step(0.05)
                .thermal_noise(1e-3)
                .averaging(Averaging::old_average_weight(0.25)),
        )
        .scaled(true),
        0.3,
    )
    .with_rule(Momentum::nesterov(0.9))
    .seed(42);
    let mut xp = start(D, 1);
    let mut xe = xp.clone();
    for k in 0..40 {
        let rp = parle.step(&mut xp, &loss).unwrap();
        let re = esgd.step(&mut xe, &loss).unwrap();
        assert_eq!(xp, xe, "iterates differ at step {k}");
        assert_eq!(rp.scope, re.scope);
    }
    assert!(
        (&xp - start(D, 1)).norm() > 0.1,
        "the optimizers did not move"
    );
}

/// Elastic-SGD written out from 003 eq. 5.4 with η′ = ρ/n (master ← mean of the replicas), each
/// replica drawing its minibatches from stream a of the seed.
fn elastic_reference(
    losses: &[LeastSquares],
    rho: f64,
    lr: f64,
    seed: u64,
    x0: &DVector<f64>,
    steps: usize,
) -> DVector<f64> {
    let n = losses.len();
    let mut rngs: Vec<_> = (0..n).map(|a| rng::stream(seed, a as u64)).collect();
    let mut xs = vec![x0.clone(); n];
    let mut x = x0.clone();
    let mut batch = Batch::Full;
    let mut g = DVector::zeros(x0.len());
    for _ in 0..steps {
        for a in 0..n {
            losses[a].draw_batch(&mut rngs[a], &mut batch);
            losses[a].gradient(&xs[a], &batch, &mut g);
            let step = &g + (&xs[a] - &x) / rho;
            xs[a] -= step * lr;
        }
        x = xs.iter().fold(DVector::zeros(x0.len()), |s, v| s + v) / n as f64;
    }
    x
}

#[test]
fn parle_single_inner_step_infinite_scope_is_elastic_sgd() {
    // 003 §5.3.1 (ii): L = 1, γ = ∞ is Elastic-SGD (inner step η⁽⁰⁾ = 1, last iterate, no noise).
    let losses = shards();
    let x0 = start(D, 2);
    let reference = elastic_reference(&losses, 0.7, 0.2, 9, &x0, 30);
    let mut parle = Parle::with_oracle(
        3,
        LocalEntropyGradient::with_estimator(
            INF,
            ExponentialSgld::new(1)
                .langevin_step(1.0)
                .thermal_noise(0.0)
                .averaging(Averaging::last_iterate()),
        )
        .scaled(true),
        0.7,
        0.2,
    )
    .seed(9);
    let mut elastic = ElasticSgd::elastic(3, 0.7, 0.2).seed(9);
    let (mut xp, mut xe) = (x0.clone(), x0.clone());
    for _ in 0..30 {
        parle.step_replicas(&mut xp, &losses).unwrap();
        elastic.step_replicas(&mut xe, &losses).unwrap();
    }
    assert_eq!(xp, xe);
    let rel = (&xp - &reference).norm() / reference.norm();
    assert!(
        rel < 1e-13,
        "Parle vs eq. 5.4 written out: relative difference {rel:e}"
    );
    assert!((&xp - &x0).norm() > 0.1);
}

#[test]
fn parle_degenerates_to_sgd() {
    // 003 §5.3.1 (i): L = 1, n = 1, γ = ρ = ∞ is SGD: bit for bit the crate's SGD with the same
    // seed, and SGD written out.
    let loss = LeastSquares::new(50, D, 4, 3);
    let x0 = start(D, 3);
    let mut parle = Parle::with_oracle(
        1,
        LocalEntropyGradient::with_estimator(
            INF,
            ExponentialSgld::new(1)
                .langevin_step(1.0)
                .thermal_noise(0.0)
                .averaging(Averaging::last_iterate()),
        )
        .scaled(true),
        INF,
        0.1,
    )
    .seed(5);
    let mut sgd = GradientDescent::new(0.1).seed(5);
    let (mut xp, mut xs) = (x0.clone(), x0.clone());
    let mut r = rng::stream(5, 0);
    let mut xr = x0.clone();
    let (mut batch, mut g) = (Batch::Full, DVector::zeros(D));
    for _ in 0..50 {
        parle.step(&mut xp, &loss).unwrap();
        sgd.step(&mut xs, &loss).unwrap();
        loss.draw_batch(&mut r, &mut batch);
        loss.gradient(&xr, &batch, &mut g);
        xr -= &g * 0.1;
    }
    assert_eq!(xp, xs);
    assert!((&xp - &xr).norm() < 1e-13 * xr.norm());
}

#[test]
fn one_and_two_threads_give_identical_iterates() {
    let losses = shards();
    let x0 = start(D, 4);
    let run = |threads: usize| {
        let mut p = Parle::with_oracle(
            3,
            LocalEntropyGradient::with_estimator(
                0.5,
                ExponentialSgld::new(5)
                    .langevin_step(0.05)
                    .thermal_noise(1e-2),
            )
            .scaled(true),
            1.0,
            0.2,
        )
        .with_rule(Momentum::nesterov(0.9))
        .seed(77)
        .threads(threads)
        .unwrap();
        let mut e = ElasticSgd::elastic(3, 1.0, 0.1)
            .seed(77)
            .threads(threads)
            .unwrap();
        let (mut xp, mut xe) = (x0.clone(), x0.clone());
        for _ in 0..25 {
            p.step_replicas(&mut xp, &losses).unwrap();
            e.step_replicas(&mut xe, &losses).unwrap();
        }
        let reps: Vec<DVector<f64>> = (0..3).map(|a| p.replica(a).unwrap().clone()).collect();
        (xp, xe, reps)
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one, two);
    // The replicas really are different (each has its own stream and shard).
    assert_ne!(one.2[0], one.2[1]);
}

#[test]
fn disjoint_shards_master_finds_minimizer_of_the_average() {
    // Shards f_a(x) = ½xᵀAx + b_aᵀx with a common A: at a fixed point of eq. 5.4,
    // ∇f_a(x^a) + (x^a − x)/ρ = 0 and x = mean x^a, so Σ_a ∇f_a(x^a) = 0, i.e. A·x + mean b_a = 0:
    // the master is the minimizer of the average loss, for any ρ, although no replica sees all data
    // (003 §5.5).
    let base = quadratic(D, 8);
    let a_mat: DMatrix<f64> = base.hessian().clone();
    let shards: Vec<Quadratic<f64>> = (0..4)
        .map(|s| Quadratic::new(a_mat.clone(), start(D, 50 + s)).unwrap())
        .collect();
    let mean_b = (0..4)
        .map(|s| start(D, 50 + s))
        .fold(DVector::zeros(D), |acc, b| acc + b)
        / 4.0;
    let target = Quadratic::new(a_mat, mean_b).unwrap().minimizer();
    let mut e = ElasticSgd::elastic(4, 0.5, 0.1).seed(1);
    let mut x = start(D, 0);
    for _ in 0..800 {
        e.step_replicas(&mut x, &shards).unwrap();
    }
    assert!(
        (&x - &target).norm() < 1e-8,
        "master off by {}",
        (&x - &target).norm()
    );
    for a in 0..4 {
        let da = (e.replica(a).unwrap() - &x).norm();
        assert!(
            da > 1e-2,
            "replica {a} collapsed onto the master although its shard differs"
        );
    }
    // Wrong number of objectives is a typed error.
    assert!(e.step_replicas(&mut x, &shards[..2]).is_err());
}

#[test]
fn scoping_follows_eq_5_10_once_per_outer_step() {
    // γ_k = γ₀(1 − 1/(2B))^k clipped at 1, ρ_k = ρ₀(1 − 1/(2B))^k clipped at 0.1 (003 eq. 5.10,
    // k counting outer steps), with L = 4 inner steps per outer step: the counter must advance
    // once per outer step (not per inner step, not never, not per tensor).
    let b = 5.0;
    let f = 1.0 - 1.0 / (2.0 * b);
    let gamma = Schedule::geometric(100.0, f).clipped(1.0, INF);
    let rho = Schedule::geometric(1.0, f).clipped(0.1, INF);
    let q = quadratic(3, 2);
    let mut p = Parle::with_oracle(
        2,
        LocalEntropyGradient::with_estimator(
            gamma,
            ExponentialSgld::new(4)
                .langevin_step(0.01)
                .thermal_noise(0.0),
        )
        .scaled(true),
        rho,
        0.1,
    )
    .seed(3);
    let mut x = DVector::from_element(3, 0.3);
    for k in 0..60 {
        let r = p.step(&mut x, &q).unwrap();
        assert_eq!(r.step, k);
        let g = (100.0 * f.powi(k as i32)).max(1.0);
        let c = (1.0 * f.powi(k as i32)).max(0.1);
        assert!((r.scope.unwrap() - g).abs() <= 1e-12 * g, "gamma at {k}");
        assert!((r.coupling.unwrap() - c).abs() <= 1e-12 * c, "rho at {k}");
        assert_eq!(r.gradient_evaluations, 2 * 4);
    }
    assert_eq!(p.scope_at(60), 1.0);
    assert_eq!(p.coupling_at(60), 0.1);
    // A failed step does not advance the counter.
    let flaky = Flaky::new(q.clone(), 0, 1);
    assert!(p.step(&mut x, &flaky).is_err());
    assert_eq!(p.step(&mut x, &q).unwrap().step, 60);
}

#[test]
fn entropy_sgd_scoping_counter() {
    // 003 §3.2.3 with γ a variance: γ_k = γ₀/(1 + γ₁)^k (Schedule::eq18), read once per outer step
    // although every outer step runs L = 6 inner steps.
    let q = quadratic(3, 2);
    let mut es = EntropySgd::new(Schedule::eq18(2.0, 0.05), 6, 0.1).seed(1);
    let mut x = DVector::from_element(3, 0.3);
    for k in 0..50 {
        let r = es.step(&mut x, &q).unwrap();
        let g = 2.0 / 1.05f64.powi(k);
        assert!((r.scope.unwrap() - g).abs() <= 1e-12 * g);
        assert_eq!(r.gradient_evaluations, 6);
    }
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::steps_taken(&es), 50);
}

#[test]
fn overflow_in_the_inner_average_or_the_coupling_names_its_stage_and_changes_nothing() {
    // (a) L = 1 step of size η′ = 10²⁰⁰ from x = 10²⁰⁰·1: ∇f = x − 1 is finite, but the average
    // μ = −η′∇f overflows, so (x − μ) is not finite: "local-entropy gradient".
    // (b) ρ₀ = 1, then ρ₁ = 10⁻³¹⁰ (positive, but 1/ρ₁ = ∞): after one good step the replicas
    // differ from the master, so (x^a − x)/ρ₁ is not finite: "replica gradient".
    let q = Quadratic::new(
        DMatrix::<f64>::identity(3, 3),
        DVector::from_element(3, 1.0),
    )
    .unwrap();
    let huge = Parle::with_oracle(
        2,
        LocalEntropyGradient::with_estimator(
            1.0,
            ExponentialSgld::new(1)
                .langevin_step(1e200)
                .thermal_noise(0.0),
        )
        .scaled(true),
        1.0,
        0.1,
    );
    let rho = Schedule::from_fn(|k| if k == 0 { 1.0 } else { 1e-310 });
    let tiny = Parle::new(2, 1.0, rho, 3, 0.1);
    for (p, x0, what) in [
        (huge, 1e200, "local-entropy gradient"),
        (tiny, 0.3, "replica gradient"),
    ] {
        for threads in [1, 2] {
            let mut p = p.clone().seed(5).threads(threads).unwrap();
            let mut x = DVector::from_element(3, x0);
            let fresh = p.step(&mut x, &q);
            if what == "replica gradient" {
                fresh.unwrap();
            } else {
                // The first step fails too and leaves no replicas behind.
                assert!(
                    matches!(fresh, Err(wide_valleys::Error::NonFinite { what: w, .. }) if w == what)
                );
                assert!(p.replica(0).is_none());
                assert_eq!(x, DVector::from_element(3, x0));
                continue;
            }
            let before = (x.clone(), p.clone());
            let err = p.step(&mut x, &q).unwrap_err();
            assert!(
                matches!(err, wide_valleys::Error::NonFinite { what: w, .. } if w == what),
                "{threads} threads: {err:?}"
            );
            assert_eq!(x, before.0);
            assert_eq!(Optimizer::<f64, Quadratic<f64>>::steps_taken(&p), 1);
            for a in 0..2 {
                let (now, then) = (
                    p.replica_state(a).unwrap(),
                    before.1.replica_state(a).unwrap(),
                );
                assert_eq!(now.params(), then.params(), "replica {a}");
                assert_eq!(now.rng(), then.rng(), "replica {a}'s generator");
            }
        }
    }
}

#[test]
fn a_replica_failing_after_others_committed_rolls_back_their_momentum_too() {
    // Each replica commits 5.8c as soon as its own inner loop is done; when a later replica
    // fails, the committed ones must be undone: x^a, Nesterov's velocity and the generator.
    let l = 6;
    for threads in [1, 2] {
        // Replica 2's objective turns NaN in the middle of its second inner loop.
        let shards: Vec<_> = (0..3)
            .map(|a| {
                let (from, until) = if a == 2 {
                    (l + 2, l + 3)
                } else {
                    (usize::MAX, 0)
                };
                Flaky::new(quadratic(D, 11), from, until)
            })
            .collect();
        let mut p = Parle::new(3, 1.0, 0.5, l, 0.1)
            .with_rule(Momentum::nesterov(0.9))
            .seed(2)
            .threads(threads)
            .unwrap();
        let mut x = start(D, 3);
        p.step_replicas(&mut x, &shards).unwrap();
        let before = (x.clone(), p.clone());
        assert!(p.step_replicas(&mut x, &shards).is_err());
        assert_eq!(x, before.0);
        for a in 0..3 {
            let (now, then) = (
                p.replica_state(a).unwrap(),
                before.1.replica_state(a).unwrap(),
            );
            assert_eq!(
                now.params(),
                then.params(),
                "{threads} threads, replica {a}"
            );
            assert_eq!(
                now.rule(),
                then.rule(),
                "{threads} threads, replica {a}'s velocity"
            );
            assert_eq!(
                now.rng(),
                then.rng(),
                "{threads} threads, replica {a}'s generator"
            );
        }
        // The next good step is the one the state would have taken without the failure.
        let good: Vec<_> = (0..3)
            .map(|_| Flaky::new(quadratic(D, 11), usize::MAX, 0))
            .collect();
        let (x_failed, (mut x_clean, mut clean)) = (x.clone(), before);
        clean.step_replicas(&mut x_clean, &good).unwrap();
        p.step_replicas(&mut x, &good).unwrap();
        assert_eq!(x, x_clean, "{threads} threads");
        assert_ne!(x, x_failed, "the step moved the master");
    }
}
