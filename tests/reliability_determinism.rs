//! Determinism matrix (issue 5, item 3): every scheme, optimizer and estimator run on a rayon
//! pool of 1 and of 2 threads (`ThreadPoolBuilder::install`) gives bit-identical iterates and
//! state for the same seed — randomness comes from per-sample / per-replica streams and every
//! reduction runs in a fixed order.

#[path = "reliability_common.rs"]
mod common;

use common::*;
use nalgebra::{dvector, DVector};
use std::sync::Arc;
use wide_valleys::data::synthetic::Blobs;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::objectives::GaussianMixture;
use wide_valleys::optim::{EntropySgd, Parle};
use wide_valleys::regularized::MonteCarlo;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::{ImportanceSampling, Quadrature};
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::Optimizer;
use wide_valleys::{rng, LocalEntropy};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn every_scheme_and_optimizer_is_bit_identical_on_1_and_2_threads() {
    let loss = Hostile::new(4);
    let run = |i: usize| {
        let mut r = all(21).remove(i);
        let mut x = start(9);
        for _ in 0..5 {
            r.step(&mut x, &loss).unwrap();
        }
        (bits(&x), r.state())
    };
    for i in 0..all(0).len() {
        let name = all(0)[i].name().to_string();
        let one = pool(1).install(|| run(i));
        let two = pool(2).install(|| run(i));
        assert_eq!(one.0, two.0, "{name}: iterates depend on the thread count");
        assert_eq!(one.1, two.1, "{name}: state depends on the thread count");
    }
}

#[test]
fn parle_dedicated_pools_agree_with_the_global_pool() {
    let loss = Hostile::new(4);
    let go = |threads: Option<usize>| {
        let p = Parle::new(4, 0.5, 1.0, 5, 0.2).seed(3);
        let mut x = start(1);
        match threads {
            Some(t) => {
                let mut p = p.threads(t).unwrap();
                for _ in 0..4 {
                    p.step(&mut x, &loss).unwrap();
                }
            }
            None => {
                let mut p = p;
                for _ in 0..4 {
                    p.step(&mut x, &loss).unwrap();
                }
            }
        }
        bits(&x)
    };
    let global = go(None);
    assert_eq!(go(Some(1)), global);
    assert_eq!(go(Some(2)), global);
    assert_eq!(go(Some(3)), global);
}

#[test]
fn every_estimator_is_bit_identical_on_1_and_2_threads() {
    let loss = Hostile::new(5);
    let f1 = GaussianMixture::<f64>::wide_and_sharp();
    let estimates = || {
        let mut out = Vec::new();
        // Importance sampling with several chunks (the parallel estimator of 000 Alg. 4).
        let mut is = LocalEntropy::new(0.5)
            .estimator(ImportanceSampling::new(200).chunks(7))
            .seed(2);
        let mut x = start(3);
        let r = is.step(&mut x, &loss).unwrap();
        out.extend(bits(&x));
        out.push(r.ess.unwrap().to_bits());
        // Quadrature (deterministic, 1-D).
        let mut q = LocalEntropy::new(0.5).estimator(Quadrature::default());
        let mut y = dvector![-1.0];
        q.step(&mut y, &f1).unwrap();
        out.extend(bits(&y));
        // Monte Carlo estimates of F_τ and F^H_τ (000 eq. 2, §4).
        let mut mc = MonteCarlo::new(300);
        let mut g = rng::seeded(4);
        let e1 = mc.local_entropy(&start(3), 0.5, &loss, &mut g).unwrap();
        let e2 = mc.heat(&start(3), 0.5, &loss, &mut g).unwrap();
        out.extend([e1.value, e1.standard_error, e2.value, e2.standard_error].map(f64::to_bits));
        out
    };
    assert_eq!(pool(1).install(estimates), pool(2).install(estimates));
}

#[test]
fn entropy_sgd_on_an_mlp_is_bit_identical_on_1_and_2_threads() {
    // The MLP splits its products over rayon (nn::gemm): the sums must not depend on it.
    let task = Blobs {
        train: 300,
        test: 10,
        ..Blobs::default()
    }
    .generate::<f32>(1)
    .unwrap();
    let data = Arc::new(task.train);
    // d = 1 042, and d = 25 810 > one noise block: there a 2-thread pool draws the Langevin noise
    // beside the gradient into a buffer, a 1-thread pool inside the pass, chunk by chunk.
    for sizes in [&[32, 24, 10][..], &[32, 600, 10]] {
        let mlp = Mlp::new(sizes).unwrap();
        let f = MlpObjective::new(mlp, Arc::clone(&data), 64).unwrap();
        let run = || {
            let mut x: DVector<f32> = f.init(&mut rng::seeded(2));
            let mut es = EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    0.5f32,
                    ExponentialSgld::new(3).thermal_noise(1e-4),
                ),
                0.1,
            )
            .seed(6);
            for _ in 0..3 {
                es.step(&mut x, &f).unwrap();
            }
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        // Called from the test thread the products may be split (global pool of ≥ 2 threads);
        // inside a pool's worker they are not: the runs must agree bit for bit.
        let outside = run();
        assert_eq!(pool(1).install(run), outside, "{sizes:?}");
        assert_eq!(pool(2).install(run), outside, "{sizes:?}");
    }
}
