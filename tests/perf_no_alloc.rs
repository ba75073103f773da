//! Issue 6, "no allocation inside any inner loop": after warm-up steps (which size every scratch
//! buffer), further outer steps of each scheme and optimizer make **zero** heap allocations, and in
//! particular the count does not grow with the inner-loop length (10 vs 100 Langevin steps,
//! samples or Robbins–Monro iterations; 10 vs 100 outer steps where there is no inner loop).
//!
//! Cases: SGLD (000 Alg. 3), importance sampling (000 Alg. 4), Robbins–Monro heat regularization
//! (000 Alg. 5), GradientDescent, Entropy-SGD (004 Alg. 1), HEAT (003 eq. 4.43), HJ (003
//! eqs. 4.41–4.42), Parle (003 eq. 5.8) and Elastic-SGD (003 eq. 5.4), each on a small
//! `MlpObjective` (20 → 8 → 3 on synthetic blobs, f32) and on a closed-form objective
//! ([`Quadratic`], f64; importance sampling, which only evaluates f, also on a separable quadratic
//! written as an [`FnLoss`]).
//!
//! The cases are two tables, `CLOSED_FORM_CASES` and `MLP_CASES` (a name, the stepper for inner
//! length `l`, and whether the inner length or the number of outer steps varies), each run by one
//! test (`closed_form_cases_allocate_nothing`, `mlp_cases_allocate_nothing`) that measures every
//! case and fails naming all the cases that allocate, not only the first.
//!
//! How it counts: a global allocator counts allocations **per thread** (a `const` thread-local,
//! which itself never allocates). Each case runs inside its own 1-thread rayon pool
//! (`pool.install`), so every allocation of the step — including work the step hands to rayon
//! (importance-sampling chunks, Parle replicas) — happens on that pool's one worker and is
//! counted exactly, while tests of this file run concurrently on other threads without
//! disturbing each other.
//!
//! Debugging a failure: `PERF_NO_ALLOC_TRACE=3 cargo test --release --test perf_no_alloc -- \
//! --include-ignored --nocapture <test>` prints a backtrace of the first 3 allocations made inside
//! the measured window of each measurement (a case's backtraces come before its line of counts).
//!
//! The MLP cases drive the matrix products through `src/nn/linalg/packed.rs` (the `gemm` crate's
//! packed path with its buffers in a thread-local, reused): `mlp_784_*` check the same at the
//! paper's network size, where every product takes that packed path (packing buffers of hundreds
//! of KiB), on one thread and with the products split over two (also 784 → 64 → 10). Zero on
//! every CPU: on AVX2+FMA CPUs with `gemm`'s AVX2 kernels, on AVX-512 ones with its AVX-512
//! kernels (both through the same allocation-free driver; no exception, no bound).
//!
//! `parallel_cases_allocate_nothing_on_two_threads` checks the parallel cases on 2 workers;
//! `counter_sees_allocations` that the counter, and a table's check, see a step that allocates.

use nalgebra::{DMatrix, DVector};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use wide_valleys::data::synthetic::Blobs;
use wide_valleys::data::Dataset;
use wide_valleys::kl::{GaussianExpectation, RobbinsMonro};
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::{ElasticSgd, EntropySgd, GradientDescent, HamiltonJacobi, Heat, Parle};
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::{ImportanceSampling, Sgld};
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::Optimizer;
use wide_valleys::{rng, Batch, Cost, FnLoss, Gradient, HeatRegularization, LocalEntropy, Real};

// ---------------------------------------------------------------------------------------------
// Per-thread counting allocator.

struct Counting;

thread_local! {
    /// Allocations (alloc, alloc_zeroed, realloc) made by this thread so far.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    /// Backtraces still to print for this thread (0 = off).
    static TRACE: Cell<usize> = const { Cell::new(0) };
    /// Set while a backtrace is captured (capturing allocates: no recursion).
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn record(size: usize) {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = TRACE.try_with(|t| {
        if t.get() > 0 && IN_TRACE.try_with(|b| !b.replace(true)).unwrap_or(false) {
            t.set(t.get() - 1);
            let bt = std::backtrace::Backtrace::force_capture();
            eprintln!("--- allocation of {size} bytes inside the measured window:\n{bt}");
            let _ = IN_TRACE.try_with(|b| b.set(false));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        record(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        record(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(p, l, new_size) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// Measurement.

/// Warm-up outer steps before counting: the first sizes the buffers; the second catches buffers
/// sized lazily on a later path (e.g. a warm-started chain committed after the first step).
const WARMUP: usize = 2;

/// Outer steps counted when the inner-loop length is what varies.
const STEPS: usize = 3;

/// Allocations made by `steps` outer steps (after [`WARMUP`] steps) of the stepper built by
/// `make(inner)`, everything running on the one worker of a fresh 1-thread rayon pool.
fn count<S: FnMut()>(make: &(impl Fn(usize) -> S + Sync), inner: usize, steps: usize) -> usize {
    let trace = std::env::var("PERF_NO_ALLOC_TRACE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("1-thread pool");
    pool.install(|| {
        let mut step = make(inner);
        for _ in 0..WARMUP {
            step();
        }
        let before = ALLOCS.with(Cell::get);
        TRACE.with(|t| t.set(trace));
        for _ in 0..steps {
            step();
        }
        TRACE.with(|t| t.set(0));
        ALLOCS.with(Cell::get) - before
    })
}

/// One case of a table: a stepper and how to measure it.
struct Case {
    /// Names the case in the output and in a failure.
    name: &'static str,
    /// The stepper for inner-loop length `l` (`l` unused where there is no inner loop).
    make: fn(usize) -> Step,
    /// True: vary the inner-loop length (10 vs 100, [`STEPS`] outer steps each); false: vary the
    /// number of outer steps (10 vs 100).
    inner: bool,
}

type Step = Box<dyn FnMut()>;

/// Measures one case: `None` if its steps after warm-up allocate nothing, else what is wrong.
fn failure(c: &Case) -> Option<String> {
    let measured = std::panic::catch_unwind(|| {
        if c.inner {
            (count(&c.make, 10, STEPS), count(&c.make, 100, STEPS))
        } else {
            (count(&c.make, 0, 10), count(&c.make, 0, 100))
        }
    });
    let name = c.name;
    let (short, long) = match measured {
        Ok(counts) => counts,
        Err(e) => {
            let msg = (e.downcast_ref::<&str>().copied())
                .or(e.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            return Some(format!("{name}: panicked: {msg}"));
        }
    };
    if c.inner {
        eprintln!(
            "{name}: {short} allocations in {STEPS} steps with inner length 10, {long} with 100"
        );
        if long > short {
            return Some(format!(
                "{name}: allocations grow with the inner-loop length ({short} at 10, {long} at \
                 100): an inner loop allocates"
            ));
        }
    } else {
        eprintln!("{name}: {short} allocations in 10 steps, {long} in 100");
    }
    (short, long).ne(&(0, 0)).then(|| {
        let (a, b) = if c.inner {
            ("inner length 10", "100")
        } else {
            ("10 steps", "100")
        };
        format!("{name}: steps after warm-up allocate ({short} at {a}, {long} at {b})")
    })
}

/// Runs every case of `cases` (each in its own 1-thread pool, see [`count`]) and fails naming
/// all the cases that allocate, not only the first.
fn assert_cases_allocate_nothing(table: &str, cases: &[Case]) {
    let failures: Vec<String> = cases.iter().filter_map(failure).collect();
    assert!(
        failures.is_empty(),
        "{} of the {} {table} cases fail (rerun with PERF_NO_ALLOC_TRACE=3 --nocapture):\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Objectives.

/// 20 → 8 → 3 MLP on 200 synthetic blob examples (3 classes, 20 features), minibatch 16, f32.
fn mlp() -> MlpObjective<f32> {
    let task = Blobs {
        classes: 3,
        features: 20,
        train: 200,
        test: 3,
        ..Blobs::default()
    }
    .generate::<f32>(1)
    .expect("valid blobs");
    let net = Mlp::new(&[20, 8, 3]).expect("valid sizes");
    MlpObjective::new(net, Arc::new(task.train), 16).expect("valid objective")
}

fn mlp_x0(f: &MlpObjective<f32>) -> DVector<f32> {
    f.init(&mut rng::seeded(7))
}

const D: usize = 8;

/// f(x) = ½xᵀAx + bᵀx, A = 2I + 0.1·(off-diagonal ones), d = 8, f64 (a closed form of the crate).
fn quadratic() -> Quadratic<f64> {
    Quadratic::new(
        DMatrix::from_fn(D, D, |i, j| if i == j { 2.0 } else { 0.1 }),
        DVector::from_element(D, 0.3),
    )
    .unwrap()
}

fn q_x0() -> DVector<f64> {
    DVector::from_element(D, 1.0)
}

/// f(x) = ½ Σ aᵢ xᵢ² with aᵢ = 1 + i/d (closed form; evaluating it allocates nothing).
#[allow(clippy::type_complexity)]
fn separable(
) -> FnLoss<impl Fn(&DVector<f64>) -> f64 + Sync, impl Fn(&DVector<f64>, &mut DVector<f64>) + Sync>
{
    let a = |i: usize| 1.0 + i as f64 / D as f64;
    FnLoss::new(
        D,
        move |x: &DVector<f64>| {
            x.iter()
                .enumerate()
                .map(|(i, v)| 0.5 * a(i) * v * v)
                .sum::<f64>()
        },
        move |x: &DVector<f64>, g: &mut DVector<f64>| {
            for (i, (gi, v)) in g.iter_mut().zip(x.iter()).enumerate() {
                *gi = a(i) * v;
            }
        },
    )
}

/// One optimizer step as a closure (the optimizer, x and the objective are moved in).
fn stepper<O: Cost<T>, T: wide_valleys::Real, Op: Optimizer<T, O>>(
    mut opt: Op,
    mut x: DVector<T>,
    f: O,
) -> impl FnMut() {
    move || {
        opt.step(&mut x, &f).expect("step");
    }
}

/// One optimizer step on a closed-form objective, boxed for a table.
fn boxed<O: Cost<T> + 'static, T: Real, Op: Optimizer<T, O> + 'static>(
    opt: Op,
    x: DVector<T>,
    f: O,
) -> Step {
    Box::new(stepper(opt, x, f))
}

/// Robbins–Monro with M = J = `l` (both inner loops vary).
fn rm(l: usize) -> RobbinsMonro<f64> {
    RobbinsMonro::paper().samples(l).iterations(l)
}

// ---------------------------------------------------------------------------------------------
// The closed-form cases: the two-step schemes of 000, then the optimizers of 003 / 004.

static CLOSED_FORM_CASES: [Case; 10] = [
    Case {
        name: "SGLD / quadratic",
        make: |l| {
            boxed(
                LocalEntropy::<f64>::new(0.1)
                    .estimator(Sgld::paper().samples(l))
                    .seed(1),
                q_x0(),
                quadratic(),
            )
        },
        inner: true,
    },
    Case {
        name: "IS / separable quadratic",
        make: |j| {
            boxed(
                LocalEntropy::<f64>::new(0.1)
                    .estimator(ImportanceSampling::new(j))
                    .seed(1),
                q_x0(),
                separable(),
            )
        },
        inner: true,
    },
    Case {
        name: "IS / quadratic",
        make: |j| {
            boxed(
                LocalEntropy::<f64>::new(0.1)
                    .estimator(ImportanceSampling::new(j))
                    .seed(1),
                q_x0(),
                quadratic(),
            )
        },
        inner: true,
    },
    Case {
        name: "RM heat regularization / quadratic",
        make: |l| {
            boxed(
                HeatRegularization::<f64>::new(0.1).solver(rm(l)).seed(1),
                q_x0(),
                quadratic(),
            )
        },
        inner: true,
    },
    Case {
        name: "GD / quadratic",
        make: |_| boxed(GradientDescent::new(0.1).seed(1), q_x0(), quadratic()),
        inner: false,
    },
    Case {
        name: "Entropy-SGD / quadratic",
        make: |l| {
            let opt = EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    0.5,
                    ExponentialSgld::new(l).thermal_noise(1e-2),
                ),
                0.1,
            )
            .seed(1);
            boxed(opt, q_x0(), quadratic())
        },
        inner: true,
    },
    Case {
        name: "HEAT / quadratic",
        make: |l| boxed(Heat::new(0.1, l, 0.1).seed(1), q_x0(), quadratic()),
        inner: true,
    },
    Case {
        name: "HJ / quadratic",
        make: |l| {
            boxed(
                HamiltonJacobi::new(0.5, l, 0.1).seed(1),
                q_x0(),
                quadratic(),
            )
        },
        inner: true,
    },
    Case {
        name: "Parle n = 3 / quadratic",
        make: |l| boxed(Parle::new(3, 1.0, 1.0, l, 0.1).seed(1), q_x0(), quadratic()),
        inner: true,
    },
    Case {
        name: "Elastic-SGD n = 3 / quadratic",
        make: |_| {
            boxed(
                ElasticSgd::elastic(3, 1.0, 0.1).seed(1),
                q_x0(),
                quadratic(),
            )
        },
        inner: false,
    },
];

/// The issue-6 target on the closed forms: after warm-up, no case allocates at all.
#[test]
fn closed_form_cases_allocate_nothing() {
    assert_cases_allocate_nothing("closed-form", &CLOSED_FORM_CASES);
}

/// The counter itself: a step that allocates is seen (a test that cannot fail is a defect).
#[test]
fn counter_sees_allocations() {
    let make = |l: usize| {
        move || {
            let v: Vec<Vec<u8>> = (0..l).map(|i| vec![0u8; i + 1]).collect();
            std::hint::black_box(v);
        }
    };
    // l inner vectors + the outer one, per step.
    assert_eq!(count(&make, 10, STEPS), 11 * STEPS);
    assert_eq!(count(&make, 100, STEPS), 101 * STEPS);
    // And a table's check reports such a case, by name.
    let allocating = Case {
        name: "allocating per inner step",
        make: |l| {
            Box::new(move || {
                for i in 0..l {
                    drop(std::hint::black_box(vec![i; 1]));
                }
            })
        },
        inner: true,
    };
    let reported = failure(&allocating).expect("an allocating case fails");
    assert!(
        reported.starts_with("allocating per inner step: "),
        "{reported}"
    );
}

// ---------------------------------------------------------------------------------------------
// The same schemes and optimizers on the MLP (20 → 8 → 3, f32).

fn mlp_step<Op: Optimizer<f32, MlpObjective<f32>> + 'static>(opt: Op) -> Step {
    let f = mlp();
    let x = mlp_x0(&f);
    Box::new(stepper(opt, x, f))
}

static MLP_CASES: [Case; 11] = [
    Case {
        name: "SGLD / MLP",
        make: |l| {
            mlp_step(
                LocalEntropy::<f32>::new(0.01)
                    .estimator(Sgld::paper().samples(l))
                    .seed(1),
            )
        },
        inner: true,
    },
    Case {
        name: "IS / MLP",
        make: |j| {
            mlp_step(
                LocalEntropy::<f32>::new(0.01)
                    .estimator(ImportanceSampling::new(j))
                    .seed(1),
            )
        },
        inner: true,
    },
    Case {
        name: "IS, projected first-layer noise / MLP",
        make: |j| {
            mlp_step(
                LocalEntropy::<f32>::new(0.01)
                    .estimator(ImportanceSampling::new(j).projected(true))
                    .seed(1),
            )
        },
        inner: true,
    },
    Case {
        name: "RM heat regularization / MLP",
        make: |l| {
            mlp_step(
                HeatRegularization::<f32>::new(0.01)
                    .solver(RobbinsMonro::paper().samples(l).iterations(l))
                    .seed(1),
            )
        },
        inner: true,
    },
    Case {
        name: "RM heat regularization, projected first-layer noise / MLP",
        make: |l| {
            let rm = RobbinsMonro::paper()
                .samples(l)
                .iterations(l)
                .expectation(GaussianExpectation::ProjectedMonteCarlo);
            mlp_step(HeatRegularization::<f32>::new(0.01).solver(rm).seed(1))
        },
        inner: true,
    },
    Case {
        name: "GD / MLP",
        make: |_| mlp_step(GradientDescent::new(0.05f32).seed(1)),
        inner: false,
    },
    Case {
        name: "Entropy-SGD / MLP",
        make: |l| {
            mlp_step(
                EntropySgd::with_oracle(
                    LocalEntropyGradient::with_estimator(
                        0.5f32,
                        ExponentialSgld::new(l).thermal_noise(1e-3),
                    ),
                    0.1,
                )
                .seed(1),
            )
        },
        inner: true,
    },
    Case {
        name: "HEAT / MLP",
        make: |l| mlp_step(Heat::new(0.01f32, l, 0.1).seed(1)),
        inner: true,
    },
    Case {
        name: "HJ / MLP",
        make: |l| mlp_step(HamiltonJacobi::new(0.5f32, l, 0.1).seed(1)),
        inner: true,
    },
    Case {
        name: "Parle n = 3 / MLP",
        // Default transport: the replicas run on the current pool (the 1-thread pool).
        make: |l| mlp_step(Parle::new(3, 1.0f32, 1.0, l, 0.1).seed(1)),
        inner: true,
    },
    Case {
        name: "Elastic-SGD n = 3 / MLP",
        make: |_| mlp_step(ElasticSgd::elastic(3, 1.0f32, 0.05).seed(1)),
        inner: false,
    },
];

/// The issue-6 target on the MLP: after warm-up, no case allocates at all.
#[test]
fn mlp_cases_allocate_nothing() {
    assert_cases_allocate_nothing("MLP", &MLP_CASES);
}

// ---------------------------------------------------------------------------------------------
// The paper's network, 784 → 200 → 10 (000 §6.1): every product goes through the packed path of
// `src/nn/linalg/packed.rs` with its full-size packing buffers.

/// `MlpObjective` for 784 → `hidden` → 10 on 1000 random MNIST-sized examples, and its x₀.
fn mlp_784<T: Real>(hidden: usize, batch: usize) -> (MlpObjective<T>, DVector<T>) {
    let n = 1000;
    let mut r = rng::seeded(3);
    let inputs = DMatrix::<T>::from_fn(784, n, |_, _| T::standard_normal(&mut r).abs());
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    let data = Arc::new(Dataset::new(inputs, labels, 10).expect("valid data"));
    let mlp = Mlp::new(&[784, hidden, 10]).expect("valid sizes");
    let f = MlpObjective::new(mlp, data, batch).expect("valid objective");
    let x = f.init(&mut rng::seeded(4));
    (f, x)
}

/// One `cost_and_gradient` and one `cost` on a fixed minibatch of `b` examples.
fn mlp_784_pass<T: Real>(b: usize) -> impl FnMut() + Send {
    let (f, x) = mlp_784::<T>(200, b);
    let batch = Batch::Indices((0..b).map(|i| (i * 7) % 1000).collect());
    let mut g = DVector::<T>::zeros(x.len());
    move || {
        let c = f.cost_and_gradient(&x, &batch, &mut g);
        assert!(c.is_finite() && f.cost(&x, &batch) == c);
    }
}

/// One thread (a call from a rayon worker: products unsplit), f32 and f64, minibatch 20 / 128 /
/// 1000: after warm-up, forward and backward passes allocate nothing.
#[test]
fn mlp_784_200_10_passes_allocate_nothing() {
    for b in [20, 128, 1000] {
        let n32 = count(&|_| mlp_784_pass::<f32>(b), 0, STEPS);
        let n64 = count(&|_| mlp_784_pass::<f64>(b), 0, STEPS);
        eprintln!("784-200-10, B = {b}: {n32} allocations (f32), {n64} (f64) in {STEPS} passes");
        assert!(
            n32 == 0 && n64 == 0,
            "B = {b}: the MLP's passes allocate ({n32} f32, {n64} f64)"
        );
    }
}

/// Products split over two threads (a call from outside rayon with ≥ 2 threads in the global
/// pool: halves of C under `rayon::join`): after warm-up, nothing allocates on the calling thread
/// or on either worker. Warm-up: one unsplit pass on each worker (`broadcast`; it sizes each
/// worker's scratch and the objective's workspace pool), then [`WARMUP`] split passes. Also
/// 784 → 64 → 10, whose layer-0 products (halves ≤ 64 wide, k = 784) `gemm` alone would block
/// differently per half and so threaded itself, allocating.
#[test]
fn mlp_784_split_products_allocate_nothing() {
    let workers = || -> usize { rayon::broadcast(|_| ALLOCS.with(Cell::get)).iter().sum() };
    for (hidden, b) in [(200, 128), (200, 1000), (64, 128)] {
        let (f, x) = mlp_784::<f32>(hidden, b);
        let batch = Batch::Indices((0..b).map(|i| (i * 7) % 1000).collect());
        let dim = x.len();
        rayon::broadcast(|_| {
            let mut g = DVector::<f32>::zeros(dim);
            f.cost_and_gradient(&x, &batch, &mut g);
        });
        let mut g = DVector::<f32>::zeros(dim);
        for _ in 0..WARMUP {
            f.cost_and_gradient(&x, &batch, &mut g);
        }
        // Workers first: `broadcast` allocates on the calling thread.
        let there = workers();
        let here = ALLOCS.with(Cell::get);
        for _ in 0..STEPS {
            f.cost_and_gradient(&x, &batch, &mut g);
            f.cost(&x, &batch);
        }
        let here = ALLOCS.with(Cell::get) - here;
        let there = workers() - there;
        eprintln!(
            "784-{hidden}-10 split over {} threads, B = {b}: {here} allocations on the caller, \
             {there} on the workers",
            rayon::current_num_threads()
        );
        assert!(
            here + there == 0,
            "784-{hidden}-10, B = {b}: split products allocate ({here} + {there})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Two threads: the parallel cases (importance-sampling chunks, Parle / Elastic-SGD replicas)
// also allocate nothing when rayon really spreads their work over two workers.

/// As [`count`], on a 2-thread pool: the sum of both workers' counters (read on each worker with
/// `broadcast`) across `steps` steps run by `install`.
fn count_2_threads<S: FnMut() + Send>(
    make: &(impl Fn(usize) -> S + Sync),
    inner: usize,
    steps: usize,
) -> usize {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("2-thread pool");
    let total = || -> usize { pool.broadcast(|_| ALLOCS.with(Cell::get)).iter().sum() };
    let mut step = pool.install(|| make(inner));
    pool.install(|| {
        for _ in 0..WARMUP {
            step();
        }
    });
    let before = total();
    pool.install(|| {
        for _ in 0..steps {
            step();
        }
    });
    total() - before
}

#[test]
fn parallel_cases_allocate_nothing_on_two_threads() {
    fn is(j: usize) -> impl FnMut() + Send {
        stepper(
            LocalEntropy::<f64>::new(0.1)
                .estimator(ImportanceSampling::new(j))
                .seed(1),
            q_x0(),
            separable(),
        )
    }
    let parle = |l: usize| {
        let opt = Parle::new(4, 1.0, 1.0, l, 0.1).seed(1);
        stepper(opt, q_x0(), quadratic())
    };
    let elastic = |_: usize| {
        let opt = ElasticSgd::elastic(4, 1.0, 0.1).seed(1);
        stepper(opt, q_x0(), quadratic())
    };
    let counts = [
        (
            "IS / separable quadratic",
            count_2_threads(&is, 10, STEPS),
            count_2_threads(&is, 1000, STEPS),
        ),
        (
            "Parle n = 4 / quadratic",
            count_2_threads(&parle, 10, STEPS),
            count_2_threads(&parle, 100, STEPS),
        ),
        (
            "Elastic-SGD n = 4 / quadratic",
            count_2_threads(&elastic, 1, 10),
            count_2_threads(&elastic, 1, 100),
        ),
    ];
    eprintln!("2 threads (short, long): {counts:?}");
    // The counter sees both workers: 64 parallel allocations per step are all counted.
    let allocating = |_: usize| {
        || {
            use rayon::prelude::*;
            (0..64u8)
                .into_par_iter()
                .for_each(|i| drop(std::hint::black_box(vec![i; 8])));
        }
    };
    assert_eq!(count_2_threads(&allocating, 0, STEPS), 64 * STEPS);
    for (name, short, long) in counts {
        assert_eq!((short, long), (0, 0), "{name} allocates on 2 threads");
    }
}
