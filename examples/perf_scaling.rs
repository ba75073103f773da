//! Issue 6's thread-scaling and memory targets, measured with one command:
//!
//! ```text
//! cargo run --release --example perf_scaling            # both sections
//! cargo run --release --example perf_scaling -- --reps 3 --max-samples 1000   # quicker
//! ```
//!
//! 1. **Thread scaling** ("importance sampling and Parle replicas: ≥ 1.8× faster on 2 threads than
//!    on 1"): the median time of one update of the MLP 784 → 200 → 10 (000 §6.1, f32, minibatch
//!    20, τ = 0.01 as in `benches/updates.rs`) inside a 1-thread and a 2-thread rayon pool
//!    (`pool.install`), for importance sampling (000 Alg. 4, J = 10³), Parle (003 eq. 5.8, n = 3
//!    and n = 4 replicas, L = 25) and SGLD (000 Alg. 3, 10³ Langevin steps).
//!    Two notes the table cannot show:
//!    - n = 3 replicas on 2 threads can at best be 1.5× faster (two rounds instead of three): the
//!      n = 4 row is the one that can reach 2×.
//!    - SGLD is a chain: its only parallelism is inside each gradient's matrix products, which
//!      `src/nn/gemm.rs` splits only when called from *outside* rayon's workers. Inside
//!      `pool.install` the caller is a worker, so the row "SGLD (caller thread)" also times it
//!      from the main thread with a 2-thread global pool, which is how a user calls it.
//! 2. **Memory** ("importance sampling with J = 10⁴ samples peaks at no more than 2× the memory
//!    of J = 10"): a counting global allocator tracks live and peak heap bytes; for J = 10, 10²,
//!    10³, 10⁴ it reports the peak heap growth during one importance-sampling update (a fresh
//!    objective, estimator and x allocated *before* the peak is reset, so the estimator's scratch,
//!    the MLP's workspaces and rayon's jobs are what is counted), on 1 and on 2 threads, and the
//!    ratio J = 10⁴ / J = 10.
//!
//! Timings depend on the load: the load average is printed; run on a quiet machine.

use clap::Parser;
use nalgebra::{DMatrix, DVector};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wide_valleys::data::Dataset;
use wide_valleys::estimators::ImportanceSampling;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::optimizers::{Optimizer, Parle};
use wide_valleys::{rng, LocalEntropy, Real};

// ---------------------------------------------------------------------------------------------
// Heap accounting: live bytes and their peak (all threads).

struct Tracking;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrink(bytes: usize) {
    CURRENT.fetch_sub(bytes, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new_size) };
        if !q.is_null() {
            if new_size >= l.size() {
                grow(new_size - l.size());
            } else {
                shrink(l.size() - new_size);
            }
        }
        q
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        shrink(l.size());
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Peak heap growth (bytes above the live heap at the start) while `f` runs.
fn peak_growth<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (PEAK.load(Ordering::SeqCst).saturating_sub(base), r)
}

// ---------------------------------------------------------------------------------------------
// Setup (as benches/updates.rs).

/// Flags.
#[derive(Parser, Debug)]
#[command(about = "Issue 6: 1- vs 2-thread speedup and importance-sampling memory")]
struct Args {
    /// Timed repetitions per update and thread count (the median is reported; 1 warm-up first).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Largest J of the memory section (10, 100, … up to this).
    #[arg(long, default_value_t = 10_000)]
    max_samples: usize,
    /// Skip the thread-scaling section.
    #[arg(long)]
    no_scaling: bool,
    /// Skip the memory section.
    #[arg(long)]
    no_memory: bool,
}

/// τ of 000 §6.2 (a variance).
const TAU: f32 = 0.01;
/// Parle's scope γ (a variance; as benches/updates.rs: stable inner steps η′ = 0.1).
const SCOPE: f32 = 1.0;

/// A dataset of MNIST's shape: `n` examples, 784 features in [0, 1], 10 balanced classes.
fn synthetic(n: usize) -> Arc<Dataset<f32>> {
    let mut r = rng::seeded(1);
    let inputs =
        DMatrix::<f32>::from_fn(784, n, |_, _| f32::standard_normal(&mut r).abs().min(1.0));
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 10).expect("valid synthetic dataset"))
}

struct Setup {
    data: Arc<Dataset<f32>>,
    mlp: Mlp,
    x0: DVector<f32>,
}

impl Setup {
    fn new() -> Self {
        let mlp = Mlp::new(&[784, 200, 10]).expect("valid sizes");
        let x0 = mlp.init(&mut rng::seeded(2));
        Self {
            data: synthetic(10_000),
            mlp,
            x0,
        }
    }

    /// A fresh objective with minibatch 20 (its workspaces are allocated on first use).
    fn objective(&self) -> MlpObjective<f32> {
        MlpObjective::new(self.mlp.clone(), Arc::clone(&self.data), 20).expect("objective")
    }
}

/// One update, with everything it needs moved in (so it can run inside any pool).
type Step = Box<dyn FnMut() + Send>;

fn is_step(s: &Setup, samples: usize) -> Step {
    let f = s.objective();
    let mut x = s.x0.clone();
    let mut is = LocalEntropy::<f32>::new(TAU)
        .estimator(ImportanceSampling::new(samples))
        .seed(1);
    Box::new(move || {
        is.step(&mut x, &f).expect("importance-sampling step");
    })
}

fn parle_step(s: &Setup, replicas: usize) -> Step {
    let f = s.objective();
    let mut x = s.x0.clone();
    // Default transport: the replicas run on the pool the step is called from.
    let mut parle = Parle::new(replicas, SCOPE, 1.0f32, 25, 0.1f32)
        .expect("valid")
        .seed(1);
    Box::new(move || {
        parle.step(&mut x, &f).expect("parle step");
    })
}

fn sgld_step(s: &Setup) -> Step {
    let f = s.objective();
    let mut x = s.x0.clone();
    let mut sgld = LocalEntropy::<f32>::new(TAU).seed(1);
    Box::new(move || {
        sgld.step(&mut x, &f).expect("sgld step");
    })
}

/// Median wall time of `reps` calls after one warm-up call.
fn median_time(step: &mut Step, reps: usize) -> Duration {
    step();
    let mut t: Vec<Duration> = (0..reps.max(1))
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed()
        })
        .collect();
    t.sort();
    t[t.len() / 2]
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn scaling(s: &Setup, reps: usize) {
    println!("## Thread scaling: one update, 784 → 200 → 10 f32, minibatch 20, τ = 0.01");
    println!(
        "median of {reps} after 1 warm-up; load average before: {}",
        load_average()
    );
    println!();
    println!("| update | 1 thread (ms) | 2 threads (ms) | speedup |");
    println!("|---|---:|---:|---:|");
    let (p1, p2) = (pool(1), pool(2));
    type Make<'a> = Box<dyn Fn() -> Step + 'a>;
    let rows: Vec<(&str, Make)> = vec![
        (
            "importance sampling, J = 10³",
            Box::new(|| is_step(s, 1000)),
        ),
        ("Parle, n = 3, L = 25", Box::new(|| parle_step(s, 3))),
        ("Parle, n = 4, L = 25", Box::new(|| parle_step(s, 4))),
        ("SGLD, 10³ Langevin steps", Box::new(|| sgld_step(s))),
    ];
    for (name, make) in &rows {
        // Each pool gets a fresh state from the same start: the same work is timed.
        let mut a = make();
        let t1 = p1.install(|| median_time(&mut a, reps));
        let mut b = make();
        let t2 = p2.install(|| median_time(&mut b, reps));
        println!(
            "| {name} | {:.1} | {:.1} | {:.2}× |",
            ms(t1),
            ms(t2),
            t1.as_secs_f64() / t2.as_secs_f64()
        );
    }
    // SGLD from the main thread: 2 = the global pool (built with 2 threads in main), where
    // src/nn/gemm.rs may split large products.
    let mut a = sgld_step(s);
    let t1 = p1.install(|| median_time(&mut a, reps));
    let mut b = sgld_step(s);
    let t2 = median_time(&mut b, reps);
    println!(
        "| SGLD, 10³ Langevin steps (caller thread, global pool of 2) | {:.1} | {:.1} | {:.2}× |",
        ms(t1),
        ms(t2),
        t1.as_secs_f64() / t2.as_secs_f64()
    );
    println!();
    println!("load average after: {}", load_average());
    println!();
}

fn memory(s: &Setup, max_samples: usize) {
    println!("## Memory: peak heap growth during one importance-sampling update");
    println!(
        "784 → 200 → 10 f32 (d = {}), minibatch 20, τ = 0.01; objective, estimator and x \
         allocated before the peak is reset",
        s.mlp.num_params()
    );
    println!();
    println!(
        "| J | threads | peak growth (MiB) | time (ms) | storing the J samples would take (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let d = s.mlp.num_params();
    for threads in [1, 2] {
        let p = pool(threads);
        let mut peaks = Vec::new();
        let mut j = 10;
        while j <= max_samples {
            let mut step = is_step(s, j);
            let (peak, time) = p.install(|| {
                peak_growth(|| {
                    let start = Instant::now();
                    step();
                    start.elapsed()
                })
            });
            drop(step);
            println!(
                "| {j} | {threads} | {:.1} | {:.0} | {:.0} |",
                mib(peak),
                ms(time),
                mib(j * d * std::mem::size_of::<f32>())
            );
            peaks.push((j, peak));
            j *= 10;
        }
        if let (Some(&(j0, first)), Some(&(j1, last))) = (peaks.first(), peaks.last()) {
            println!(
                "| ratio J = {j1} / J = {j0} | {threads} | {:.2}× | | |",
                last as f64 / first as f64
            );
        }
    }
    println!();
}

fn main() {
    let args = Args::parse();
    // The global pool (used from the main thread) has 2 threads, as the machine of issue 6.
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .expect("global pool");
    let setup = Setup::new();
    if !args.no_scaling {
        scaling(&setup, args.reps);
    }
    if !args.no_memory {
        memory(&setup, args.max_samples);
    }
}
