//! Parle (003 eq. 5.8) on an MLP large enough for every parallel path of its inner loop: the
//! Langevin pass runs over several parameter blocks in parallel, and the replicas' Langevin steps
//! are split evenly between the threads (`InProcess`'s wrap-around schedule: with 3 replicas on 2
//! threads, replica 1 starts on one thread and finishes on the other). Iterates and replicas must
//! be bit-identical on 1, 2 and 3 threads and with a transport that runs replicas whole, with and
//! without injected noise, and a NaN mid-step — also in a replica that changes threads — must
//! leave the master and every replica as they were.

use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::{InProcess, Parle, Transport};
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::Optimizer;
use wide_valleys::{rng, Batch, Cost, Error, Gradient, Real, Result};

/// 784 → 100 → 10 (d = 79,510: five parameter blocks; the layer-0 products at minibatch 20 are
/// 3.1 MFLOP, above the splitting threshold).
fn objective() -> MlpObjective<f32> {
    let n = 400;
    let mut r = rng::seeded(5);
    let inputs =
        DMatrix::<f32>::from_fn(784, n, |_, _| f32::standard_normal(&mut r).abs().min(1.0));
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    let data = Arc::new(Dataset::new(inputs, labels, 10).unwrap());
    MlpObjective::new(Mlp::new(&[784, 100, 10]).unwrap(), data, 20).unwrap()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn bits(v: &DVector<f32>) -> Vec<u32> {
    v.iter().map(|e| e.to_bits()).collect()
}

/// A transport that keeps the trait's default `for_each_replica_sliced` (each replica's slices
/// back to back, replicas in parallel), over `InProcess`.
struct Whole(InProcess);

impl Transport for Whole {
    fn for_each_replica<R, F>(&self, replicas: &mut [R], work: F) -> Result<()>
    where
        R: Send,
        F: Fn(usize, &mut R) -> Result<()> + Sync + Send,
    {
        self.0.for_each_replica(replicas, work)
    }
}

/// Master and replicas after 3 outer steps of Parle (n replicas, L = 4), run inside a pool of
/// `threads` threads (the default transport runs on the caller's pool), or with [`Whole`].
fn run(
    f: &MlpObjective<f32>,
    n: usize,
    threads: usize,
    whole: bool,
    thermal_noise: f32,
) -> Vec<Vec<u32>> {
    let mut x = f.init(&mut rng::seeded(2));
    let p = Parle::with_oracle(
        n,
        LocalEntropyGradient::with_estimator(
            1.0f32,
            ExponentialSgld::new(4)
                .langevin_step(0.1f32)
                .thermal_noise(thermal_noise),
        )
        .scaled(true),
        1.0f32,
        0.1f32,
    )
    .seed(4);
    let replicas = |p: &dyn Fn(usize) -> Vec<u32>| (0..n).map(p).collect::<Vec<_>>();
    let mut out = if whole {
        let mut p = p.transport(Whole(InProcess::with_threads(threads).unwrap()));
        for _ in 0..3 {
            p.step(&mut x, f).unwrap();
        }
        replicas(&|a| bits(p.replica(a).unwrap()))
    } else {
        let mut p = p;
        pool(threads).install(|| {
            for _ in 0..3 {
                p.step(&mut x, f).unwrap();
            }
        });
        replicas(&|a| bits(p.replica(a).unwrap()))
    };
    out.insert(0, bits(&x));
    out
}

#[test]
fn parle_on_an_mlp_is_bit_identical_on_1_2_and_3_threads() {
    let f = objective();
    assert!(f.dim() > 4 * 16_384);
    let x0 = f.init(&mut rng::seeded(2));
    for noise in [0.0, 1e-4] {
        let one = run(&f, 3, 1, false, noise);
        // The step moved the master, and the replicas differ (own streams of minibatches).
        assert_ne!(one[0], bits(&x0), "noise {noise}");
        assert_ne!(one[1], one[2], "noise {noise}");
        assert_eq!(
            run(&f, 3, 2, false, noise),
            one,
            "noise {noise}: 2 threads differ"
        );
        assert_eq!(
            run(&f, 3, 3, false, noise),
            one,
            "noise {noise}: 3 threads differ"
        );
        assert_eq!(
            run(&f, 3, 2, true, noise),
            one,
            "noise {noise}: whole replicas differ"
        );
    }
}

#[test]
fn five_replicas_cut_between_two_and_three_threads_agree() {
    // 5 × 4 steps on 2 threads: replica 2 is cut after 2 steps; on 3 threads replicas 1 and 3 are
    // cut (after 2 and 1 steps).
    let f = objective();
    let whole = run(&f, 5, 1, true, 0.0);
    for threads in [1, 2, 3] {
        assert_eq!(run(&f, 5, threads, false, 0.0), whole, "{threads} threads");
    }
}

/// The MLP objective, except that its gradient turns NaN from the `after`-th call on.
struct NanAfter {
    inner: MlpObjective<f32>,
    calls: std::sync::atomic::AtomicUsize,
    after: usize,
}

impl Cost<f32> for NanAfter {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn cost(&self, x: &DVector<f32>, batch: &Batch) -> f32 {
        self.inner.cost(x, batch)
    }
    fn draw_batch(&self, r: &mut wide_valleys::Prng, batch: &mut Batch) {
        self.inner.draw_batch(r, batch)
    }
}

impl Gradient<f32> for NanAfter {
    fn gradient(&self, x: &DVector<f32>, batch: &Batch, grad: &mut DVector<f32>) {
        self.inner.gradient(x, batch, grad);
        let c = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if c >= self.after {
            // One entry in the last parameter block: every other block's update still runs.
            let last = grad.len() - 1;
            grad[last] = f32::NAN;
        }
    }
}

#[test]
fn a_nan_gradient_mid_step_leaves_master_and_replicas_unchanged() {
    // The first outer step (3 × 4 gradients) succeeds, the second fails mid-way: early (before
    // replica 1 changes threads) or late (after).
    for after in [3 * 4 + 1, 3 * 4 + 6, 3 * 4 + 11] {
        nan_mid_step(after);
    }
}

fn nan_mid_step(after: usize) {
    let f = NanAfter {
        inner: objective(),
        calls: 0.into(),
        after,
    };
    let mut x = f.inner.init(&mut rng::seeded(2));
    let mut p = Parle::new(3, 1.0f32, 1.0f32, 4, 0.1f32).seed(4);
    pool(2).install(|| {
        p.step(&mut x, &f).unwrap();
        let before = (x.clone(), p.clone());
        let err = p.step(&mut x, &f).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFinite {
                    what: "gradient",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(bits(&x), bits(&before.0));
        let taken = |p: &Parle<f32>| Optimizer::<f32, NanAfter>::steps_taken(p);
        assert_eq!(taken(&p), taken(&before.1));
        for a in 0..3 {
            let (now, then) = (
                p.replica_state(a).unwrap(),
                before.1.replica_state(a).unwrap(),
            );
            assert_eq!(bits(now.params()), bits(then.params()), "replica {a}");
            assert_eq!(now.rng(), then.rng(), "replica {a}'s generator");
        }
        // And the state steps on exactly as if the failed call had not happened.
        let mut clean = before.1;
        let mut x_clean = before.0;
        let ok = objective();
        clean.step(&mut x_clean, &ok).unwrap();
        p.step(&mut x, &ok).unwrap();
        assert_eq!(bits(&x), bits(&x_clean));
    });
}

/// A quadratic shard whose gradient panics (a bug in the user's objective) if `panics`.
struct MaybePanics {
    q: Quadratic<f64>,
    panics: bool,
}

impl Cost<f64> for MaybePanics {
    fn dim(&self) -> usize {
        self.q.dim()
    }
    fn cost(&self, x: &DVector<f64>, batch: &Batch) -> f64 {
        self.q.cost(x, batch)
    }
}

impl Gradient<f64> for MaybePanics {
    fn gradient(&self, x: &DVector<f64>, batch: &Batch, grad: &mut DVector<f64>) {
        assert!(!self.panics, "the objective's own bug");
        self.q.gradient(x, batch, grad)
    }
}

#[test]
fn a_panicking_objective_panics_the_step_and_does_not_hang() {
    // 3 replicas on 2 threads: replica 1 is the one split between the threads; its first part
    // panics, so the other thread must not wait for it to be handed over.
    for bad in 0..3 {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let shards: Vec<MaybePanics> = (0..3)
                .map(|a| MaybePanics {
                    q: Quadratic::new(DMatrix::identity(4, 4), DVector::from_element(4, 1.0))
                        .unwrap(),
                    panics: a == bad,
                })
                .collect();
            let mut p = Parle::new(3, 1.0, 1.0, 6, 0.1).seed(1).threads(2).unwrap();
            let mut x = DVector::from_element(4, 0.5);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                p.step_replicas(&mut x, &shards)
            }));
            tx.send(r.is_err()).unwrap();
        });
        let panicked = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the step hung after a replica panicked");
        assert!(panicked, "replica {bad}: the panic was swallowed");
    }
}

/// Parle (003 eq. 5.8) written out as the equations read, one replica after the other on the
/// calling thread, with the crate's conventions: replica a draws from `rng::stream(seed, a)` (a
/// noise key per outer step first if β⁻¹ > 0, then one minibatch per Langevin step), the noise of
/// step l is drawn in blocks of `POINT_BLOCK` from `rng::stream(key, l·2²⁴ + block)`, the inner
/// loop tracks d = y − x^a, 003's α = 0.25 (new-sample weight 0.75), the scaled gradient x^a − z^a
/// (003 §3.2.3), SGD for 5.8c and the master as the mean summed in replica order (5.8d).
/// Returns the master's and the replicas' bits after `steps` outer steps, and the last step's
/// mean |prepared gradient|.
fn reference(
    f: &MlpObjective<f32>,
    n: usize,
    langevin_steps: usize,
    coupling: f32,
    thermal_noise: f32,
    steps: usize,
) -> (Vec<Vec<u32>>, f32) {
    use wide_valleys::objective::POINT_BLOCK;
    let (gamma, eta, lr, seed) = (1.0f32, 0.1f32, 0.1f32, 4);
    let (a_new, a_old) = (1.0f32 - 0.25, 0.25f32);
    let (inv_gamma, inv_rho) = (1.0 / gamma, 1.0 / coupling);
    let sigma = (2.0f32 * eta * thermal_noise).sqrt();
    let mut master = f.init(&mut rng::seeded(2));
    let dim = master.len();
    let mut xs = vec![master.clone(); n];
    let mut rngs: Vec<_> = (0..n).map(|a| rng::stream(seed, a as u64)).collect();
    let (mut d, mut mu, mut y, mut g, mut xi) = (
        vec![0f32; dim],
        vec![0f32; dim],
        DVector::<f32>::zeros(dim),
        DVector::<f32>::zeros(dim),
        vec![0f32; dim],
    );
    let mut batch = Batch::Full;
    let mut norm = 0.0;
    for _ in 0..steps {
        norm = 0.0;
        for a in 0..n {
            let (x, r) = (&mut xs[a], &mut rngs[a]);
            let key = if sigma > 0.0 { rng::fork_key(r) } else { 0 };
            d.fill(0.0);
            mu.fill(0.0);
            for i in 0..dim {
                y[i] = x[i] + d[i];
            }
            for l in 0..langevin_steps {
                f.draw_batch(r, &mut batch);
                f.gradient(&y, &batch, &mut g);
                if sigma > 0.0 {
                    for (b, block) in xi.chunks_mut(POINT_BLOCK).enumerate() {
                        let mut s = rng::stream(key, ((l as u64) << 24) | b as u64);
                        rng::fill_standard_normal(&mut s, block);
                    }
                }
                for i in 0..dim {
                    // 5.8a: y ← y − η⁽⁰⁾(∇f(y) + (y − x^a)/γ) + σξ, in d = y − x^a.
                    let mut v = d[i] - eta * (g[i] + d[i] * inv_gamma);
                    if sigma > 0.0 {
                        v += sigma * xi[i];
                    }
                    d[i] = v;
                    // 5.8b: z ← αz + (1 − α)y, in μ = z − x^a.
                    mu[i] = a_old * mu[i] + a_new * v;
                    y[i] = x[i] + v;
                }
            }
            // 5.8c: x^a ← x^a − η((x^a − z^a) + (x^a − x)/ρ).
            let grad = DVector::from_fn(dim, |i, _| -mu[i] + (x[i] - master[i]) * inv_rho);
            norm += grad.norm();
            x.axpy(-lr, &grad, 1.0);
        }
        // 5.8d: x ← (1/n) Σ_a x^a, in replica order.
        master = DVector::from_fn(dim, |i, _| {
            let mut s = 0.0f32;
            for x in &xs {
                s += x[i];
            }
            s / n as f32
        });
        norm /= n as f32;
    }
    let mut out = vec![bits(&master)];
    out.extend(xs.iter().map(bits));
    (out, norm)
}

#[test]
fn parle_is_bit_identical_to_the_equations_written_out() {
    let f = objective();
    let (steps, l) = (3, 4);
    // n = 4: two whole replicas per thread on 2 threads; n = 3: replica 1 changes threads;
    // ρ = 0.5 couples the replicas to the master; β⁻¹ = 10⁻⁴ adds noise.
    for (n, coupling, noise) in [(4, 0.5f32, 0.0f32), (3, 1.0, 1e-4), (4, 2.0, 1e-4)] {
        let (expected, norm) = reference(&f, n, l, coupling, noise, steps);
        for threads in [1, 2] {
            let mut x = f.init(&mut rng::seeded(2));
            let mut p = Parle::with_oracle(
                n,
                LocalEntropyGradient::with_estimator(
                    1.0f32,
                    ExponentialSgld::new(l)
                        .langevin_step(0.1f32)
                        .thermal_noise(noise),
                )
                .scaled(true),
                coupling,
                0.1f32,
            )
            .seed(4);
            let report = pool(threads).install(|| {
                let mut last = None;
                for _ in 0..steps {
                    last = Some(p.step(&mut x, &f).unwrap());
                }
                last.unwrap()
            });
            let mut got = vec![bits(&x)];
            got.extend((0..n).map(|a| bits(p.replica(a).unwrap())));
            assert!(
                got == expected,
                "n = {n}, ρ = {coupling}, β⁻¹ = {noise}, {threads} threads: not the equations' bits"
            );
            assert_eq!(report.gradient_evaluations, n * l);
            assert!(
                (report.gradient_norm.unwrap() - norm as f64).abs() <= 1e-5 * norm as f64,
                "mean |gradient| {:?} vs {norm}",
                report.gradient_norm
            );
        }
    }
}
