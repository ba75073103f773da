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
//!    and n = 4 replicas, L = 25; at minibatch 20 and at 003 §5.4's minibatch 128) and SGLD
//!    (000 Alg. 3, 10³ Langevin steps).
//!    Two notes the table cannot show:
//!    - Parle's replicas do not run one per task: `InProcess` splits all n·L Langevin steps
//!      evenly between the threads (McNaughton's wrap-around rule, `src/optimizers/transport.rs`),
//!      so n = 3 replicas on 2 threads can reach 2× too (one replica starts on one thread and
//!      finishes on the other), not only n = 4. An outer step is one parallel region: each
//!      replica commits 5.8c in its last slice and the worker that finishes last computes the
//!      master's mean (5.8d) with the other thread stealing its blocks (`Transport::round`).
//!    - SGLD is a chain: its only parallelism is inside each gradient's matrix products, which
//!      `src/nn/linalg/` splits only when called from *outside* rayon's workers. Inside
//!      `pool.install` the caller is a worker, so the row "SGLD (caller thread)" also times it
//!      from the main thread with a 2-thread global pool, which is how a user calls it.
//! 2. **Memory** ("importance sampling with J = 10⁴ samples peaks at no more than 2× the memory
//!    of J = 10"): a counting global allocator tracks live and peak heap bytes; for J = 10, 10²,
//!    10³, 10⁴ it reports the peak heap growth during one importance-sampling update (a fresh
//!    objective, estimator and x allocated *before* the peak is reset, so the estimator's scratch,
//!    the MLP's workspaces and rayon's jobs are what is counted), on 1 and on 2 threads, and the
//!    ratio J = 10⁴ / J = 10.
//!
//! Each scaling row also times the machine's own ceiling, interleaved with the other calls: two
//! independent copies of the update, each in its own 1-thread pool, started together. On this
//! project's 2-vCPU VM the second vCPU is sometimes worth much less than a core (other guests,
//! shared physical cores): 2 × (1-thread time) / (pair time) says what perfectly parallel work
//! could gain at that moment, and "speedup / ceiling" how much of it the update gets.
//!
//! Timings depend on the load: the load average is printed; run on a quiet machine. The CPU-time
//! columns (all threads of the process) tell whether the 2-thread run did the same work as the
//! 1-thread run (equal CPU time: no parallel overhead) even when the wall times are disturbed.

use clap::Parser;
use nalgebra::{DMatrix, DVector};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::optim::Parle;
use wide_valleys::sampling::ImportanceSampling;
use wide_valleys::Optimizer;
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
    /// Time only the updates whose name contains this text (e.g. "Parle").
    #[arg(long)]
    only: Option<String>,
    /// Print each thread's CPU time (pool workers, then the calling thread).
    #[arg(long)]
    verbose: bool,
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
        self.objective_with_batch(20)
    }

    /// A fresh objective with minibatch `batch`.
    fn objective_with_batch(&self, batch: usize) -> MlpObjective<f32> {
        MlpObjective::new(self.mlp.clone(), Arc::clone(&self.data), batch).expect("objective")
    }
}

/// One update, with everything it needs moved in (so it can run inside any pool).
type Step = Box<dyn FnMut() + Send>;

fn is_step(s: &Setup, samples: usize, projected: bool) -> Step {
    let f = s.objective();
    let mut x = s.x0.clone();
    let mut is = LocalEntropy::<f32>::new(TAU)
        .estimator(ImportanceSampling::new(samples).projected(projected))
        .seed(1);
    Box::new(move || {
        is.step(&mut x, &f).expect("importance-sampling step");
    })
}

fn parle_step(s: &Setup, replicas: usize, batch: usize) -> Step {
    let f = s.objective_with_batch(batch);
    let mut x = s.x0.clone();
    // Default transport: the replicas run on the pool the step is called from.
    let mut parle = Parle::new(replicas, SCOPE, 1.0f32, 25, 0.1f32).seed(1);
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

/// CPU-time clocks of POSIX `clock_gettime` (Linux, 64-bit: `time_t` and `long` are `c_long`),
/// declared here rather than pulling in the `libc` crate; None on other targets.
mod cpu_clock {
    use std::time::Duration;

    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    fn read(clock: std::os::raw::c_int) -> Option<Duration> {
        use std::os::raw::{c_int, c_long};
        #[repr(C)]
        struct Timespec {
            tv_sec: c_long,
            tv_nsec: c_long,
        }
        extern "C" {
            fn clock_gettime(clock: c_int, tp: *mut Timespec) -> c_int;
        }
        let mut t = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec; the call writes only into it.
        let rc = unsafe { clock_gettime(clock, &mut t) };
        (rc == 0).then(|| Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
    }

    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    fn read(_clock: std::os::raw::c_int) -> Option<Duration> {
        None
    }

    /// CPU time of the whole process (all threads).
    pub fn process() -> Option<Duration> {
        read(2) // CLOCK_PROCESS_CPUTIME_ID
    }

    /// CPU time of the calling thread.
    pub fn thread() -> Option<Duration> {
        read(3) // CLOCK_THREAD_CPUTIME_ID
    }
}

/// Time the calling thread has spent runnable but waiting for a CPU (Linux schedstat
/// `run_delay`; None where unavailable): other processes' interference.
fn run_delay() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = s.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

/// [`run_delay`] of every worker of `pool` (None: the global pool) and of the calling thread,
/// summed.
fn threads_delay(pool: Option<&rayon::ThreadPool>) -> Option<Duration> {
    let v = match pool {
        Some(p) => p.broadcast(|_| run_delay()),
        None => rayon::broadcast(|_| run_delay()),
    };
    v.into_iter().chain([run_delay()]).sum()
}

/// CPU time of every worker of `pool` (None: the global pool), then of the calling thread.
fn threads_cpu(pool: Option<&rayon::ThreadPool>) -> Vec<Option<Duration>> {
    let mut v = match pool {
        Some(p) => p.broadcast(|_| cpu_clock::thread()),
        None => rayon::broadcast(|_| cpu_clock::thread()),
    };
    v.push(cpu_clock::thread());
    v
}

/// CPU time used by each thread between two [`threads_cpu`] readings.
fn used(before: &[Option<Duration>], after: &[Option<Duration>]) -> Option<Vec<Duration>> {
    before
        .iter()
        .zip(after)
        .map(|(a, b)| Some((*b)?.saturating_sub((*a)?)))
        .collect()
}

/// Set by `--verbose`: print each step's per-thread CPU times.
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What [`measure`] found.
struct Timing {
    /// Median wall time.
    wall: Duration,
    /// Shortest wall time (the least disturbed by other processes on a shared machine).
    best: Duration,
    /// Median wall time of the undisturbed calls — those during which the threads waited for a
    /// CPU (schedstat run delay) less than 2% of the wall time — and how many there were.
    undisturbed: Option<(Duration, usize)>,
    /// Median CPU time of the process (all threads): equal for 1 and 2 threads = no parallel
    /// overhead, whatever the load.
    cpu: Option<Duration>,
    /// Σ_steps Σ_threads CPU / Σ_steps max_thread CPU, over the threads that can run the update
    /// (pool workers and the caller): the speedup the split of the work allows if each thread
    /// had a core to itself — an estimate that does not depend on the machine's load (it ignores
    /// memory-bandwidth contention and wake-up latency, and counts rayon's spin-waiting between
    /// jobs as work, so it is an upper bound when the parallel tasks are fine-grained).
    balance: Option<f64>,
}

/// Repeated timings of one update in one pool (see [`measure`]).
struct Sampler<'a> {
    step: &'a mut Step,
    pool: Option<&'a rayon::ThreadPool>,
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    undisturbed: Vec<Duration>,
    total: Option<f64>,
    critical: Option<f64>,
}

impl<'a> Sampler<'a> {
    fn new(step: &'a mut Step, pool: Option<&'a rayon::ThreadPool>) -> Self {
        Self {
            step,
            pool,
            wall: Vec::new(),
            cpu: Vec::new(),
            undisturbed: Vec::new(),
            total: Some(0.0),
            critical: Some(0.0),
        }
    }

    fn once(&mut self) {
        match self.pool {
            Some(p) => p.install(&mut *self.step),
            None => (self.step)(),
        }
    }

    /// One timed call.
    fn sample(&mut self) {
        let before = threads_cpu(self.pool);
        let delay0 = threads_delay(self.pool);
        let (c0, start) = (cpu_clock::process(), Instant::now());
        self.once();
        let wall = start.elapsed();
        self.wall.push(wall);
        if let (Some(a), Some(b)) = (delay0, threads_delay(self.pool)) {
            if b.saturating_sub(a) < wall / 50 {
                self.undisturbed.push(wall);
            }
        }
        if let (Some(a), Some(b)) = (c0, cpu_clock::process()) {
            self.cpu.push(b.saturating_sub(a));
        }
        let u = used(&before, &threads_cpu(self.pool));
        if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("  per-thread CPU: {u:?}");
        }
        match u {
            Some(u) => {
                let secs = u.iter().map(Duration::as_secs_f64);
                self.total = self.total.map(|t| t + secs.clone().sum::<f64>());
                self.critical = self.critical.map(|c| c + secs.fold(0.0, f64::max));
            }
            None => (self.total, self.critical) = (None, None),
        }
    }

    fn finish(mut self) -> Timing {
        self.wall.sort();
        self.cpu.sort();
        self.undisturbed.sort();
        let u = &self.undisturbed;
        Timing {
            wall: self.wall[self.wall.len() / 2],
            best: self.wall[0],
            undisturbed: (!u.is_empty()).then(|| (u[u.len() / 2], u.len())),
            cpu: self.cpu.get(self.cpu.len() / 2).copied(),
            balance: self
                .total
                .zip(self.critical)
                .and_then(|(t, c)| (c > 0.0).then_some(t / c)),
        }
    }
}

/// Times `reps` calls of `a` in `pool_a` and of `b` in `pool_b` (None: on the calling thread
/// with the global pool), after one warm-up call each, alternating a and b call by call so that
/// a change of the machine's load hits both alike.
fn measure(
    (a, pool_a): (&mut Step, Option<&rayon::ThreadPool>),
    (b, pool_b): (&mut Step, Option<&rayon::ThreadPool>),
    reps: usize,
) -> (Timing, Timing) {
    let (t1, t2, _) = measure_with_pair((a, pool_a), (b, pool_b), None, reps);
    (t1, t2)
}

/// [`measure`], and with `pair` also the machine's own ceiling, interleaved call by call with
/// the other two: the median wall time of two independent copies of the update run at the same
/// time, each in its own 1-thread pool (see [`Pair`]).
fn measure_with_pair(
    (a, pool_a): (&mut Step, Option<&rayon::ThreadPool>),
    (b, pool_b): (&mut Step, Option<&rayon::ThreadPool>),
    mut pair: Option<Pair>,
    reps: usize,
) -> (Timing, Timing, Option<Duration>) {
    let (mut sa, mut sb) = (Sampler::new(a, pool_a), Sampler::new(b, pool_b));
    sa.once();
    sb.once();
    if let Some(p) = &mut pair {
        p.sample();
        p.wall.clear();
    }
    for _ in 0..reps.max(1) {
        sa.sample();
        sb.sample();
        if let Some(p) = &mut pair {
            p.sample();
        }
    }
    let pair = pair.map(|mut p| {
        p.wall.sort();
        p.wall[p.wall.len() / 2]
    });
    (sa.finish(), sb.finish(), pair)
}

/// Two independent copies of one update (own state, own objective), each in its own 1-thread
/// pool, called at the same time: if the machine's two cores were two independent cores, the
/// pair would take as long as one copy alone. 2 × (1-thread time) / (pair time) is the speedup
/// perfectly parallel work gets from the second core at that moment — the ceiling for the
/// 2-thread run (on a VM whose two vCPUs share a physical core, or contend with other guests,
/// it is well below 2).
struct Pair {
    steps: [Step; 2],
    pools: [rayon::ThreadPool; 2],
    wall: Vec<Duration>,
}

impl Pair {
    fn new(make: &dyn Fn() -> Step) -> Self {
        Self {
            steps: [make(), make()],
            pools: [pool(1), pool(1)],
            wall: Vec::new(),
        }
    }

    fn sample(&mut self) {
        let [a, b] = &mut self.steps;
        let [pa, pb] = &self.pools;
        let start = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| pa.install(&mut *a));
            pb.install(&mut *b);
        });
        self.wall.push(start.elapsed());
    }
}

/// One row of the scaling table.
fn row(name: &str, t1: &Timing, t2: &Timing, pair: Option<Duration>) {
    let cpu = |c: Option<Duration>| c.map_or("?".into(), |c| format!("{:.0}", ms(c)));
    let bal = |b: Option<f64>| b.map_or("?".into(), |b| format!("{b:.2}"));
    let cores = t2.cpu.map_or("?".into(), |c| {
        format!("{:.2}", c.as_secs_f64() / t2.wall.as_secs_f64())
    });
    let undisturbed = match (t1.undisturbed, t2.undisturbed) {
        (Some((w1, n1)), Some((w2, n2))) => format!(
            "{:.1} / {:.1} ms: {:.2}× ({n1}, {n2} calls)",
            ms(w1),
            ms(w2),
            w1.as_secs_f64() / w2.as_secs_f64()
        ),
        _ => "–".into(),
    };
    let speedup = t1.wall.as_secs_f64() / t2.wall.as_secs_f64();
    let (ceiling, of_ceiling) = match pair {
        Some(p) => {
            let c = 2.0 * t1.wall.as_secs_f64() / p.as_secs_f64();
            (
                format!("{:.1} ms: {c:.2}×", ms(p)),
                format!("{:.0} %", 100.0 * speedup / c),
            )
        }
        None => ("–".into(), "–".into()),
    };
    println!(
        "| {name} | {:.1} | {:.1} | {speedup:.2}× | {:.2}× | {undisturbed} | {} | {} | {cores} | {} \
         | {ceiling} | {of_ceiling} |",
        ms(t1.wall),
        ms(t2.wall),
        t1.best.as_secs_f64() / t2.best.as_secs_f64(),
        cpu(t1.cpu),
        cpu(t2.cpu),
        bal(t2.balance),
    );
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

fn scaling(s: &Setup, reps: usize, only: Option<&str>) {
    println!("## Thread scaling: one update, 784 → 200 → 10 f32, minibatch 20, τ = 0.01");
    println!(
        "median (and best) of {reps} after 1 warm-up, 1 and 2 threads alternating; \
         load average before: {}",
        load_average()
    );
    println!();
    println!(
        "| update | 1 thread (ms) | 2 threads (ms) | speedup | speedup of the best times \
         | undisturbed calls: 1 / 2 threads, speedup | CPU, 1 thread (ms) | CPU, 2 threads (ms) \
         | cores used, 2 threads | work balance, 2 threads \
         | two independent 1-thread copies at once: time, machine ceiling | speedup / ceiling |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (p1, p2) = (pool(1), pool(2));
    type Make<'a> = Box<dyn Fn() -> Step + 'a>;
    let rows: Vec<(&str, Make)> = vec![
        (
            "importance sampling, J = 10³",
            Box::new(|| is_step(s, 1000, false)),
        ),
        (
            "importance sampling, J = 10³, projected first-layer noise",
            Box::new(|| is_step(s, 1000, true)),
        ),
        ("Parle, n = 3, L = 25", Box::new(|| parle_step(s, 3, 20))),
        ("Parle, n = 4, L = 25", Box::new(|| parle_step(s, 4, 20))),
        // 003 §5.4's minibatch (and examples/parle.rs's default).
        (
            "Parle, n = 3, L = 25, minibatch 128",
            Box::new(|| parle_step(s, 3, 128)),
        ),
        (
            "Parle, n = 4, L = 25, minibatch 128",
            Box::new(|| parle_step(s, 4, 128)),
        ),
        ("SGLD, 10³ Langevin steps", Box::new(|| sgld_step(s))),
    ];
    let selected = |name: &str| only.is_none_or(|o| name.contains(o));
    for (name, make) in rows.iter().filter(|(name, _)| selected(name)) {
        // Each pool gets a fresh state from the same start: the same work is timed.
        let (t1, t2, pair) = measure_with_pair(
            (&mut make(), Some(&p1)),
            (&mut make(), Some(&p2)),
            Some(Pair::new(make)),
            reps,
        );
        row(name, &t1, &t2, pair);
    }
    // SGLD from the main thread: 2 = the global pool (built with 2 threads in main), where
    // src/nn/linalg/ may split large products.
    let name = "SGLD, 10³ Langevin steps (caller thread, global pool of 2)";
    if !selected(name) {
        return;
    }
    let (t1, t2) = measure(
        (&mut sgld_step(s), Some(&p1)),
        (&mut sgld_step(s), None),
        reps,
    );
    row(name, &t1, &t2, None);
    println!();
    println!("load average after: {}", load_average());
    println!(
        "Cores used: CPU / wall of the 2-thread run. Near 1 means the process got one core only: \
         with the kernel's autogroup scheduling (Linux, on by default) a single busy process of \
         another session takes a whole core's share, whatever the thread counts — the wall \
         speedup needs an otherwise idle machine."
    );
    println!(
        "CPU: median per update, all threads. Work balance: Σ CPU / Σ max-thread CPU per update, \
         over the threads that ran it (2 = evenly split: about the speedup a quiet machine \
         would show; it does not depend on the load). It counts rayon's spin-waiting as work: \
         sound for coarse tasks (IS chunks, replicas), an upper bound for fine-grained ones \
         (SGLD from the caller thread, whose extra CPU time shows the overhead)."
    );
    println!(
        "Machine ceiling: two independent copies of the update, each in its own 1-thread pool, \
         started together (interleaved with the other calls); 2 × (1-thread time) / (their \
         time) is what perfectly parallel work gains from the second core at that moment. Below \
         2 when the cores are not independent (shared physical core, memory bandwidth, other \
         guests of a VM). Speedup / ceiling: how much of that the 2-thread update gets."
    );
    println!(
        "Undisturbed calls: those during which the update's threads together waited for a CPU \
         (Linux schedstat run delay) less than 2% of the call's wall time, i.e. other processes \
         did not take their cores; the median of those, and how many of the calls they were. \
         On a shared machine this is the speedup to read."
    );
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
            let mut step = is_step(s, j, false);
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
        VERBOSE.store(args.verbose, std::sync::atomic::Ordering::Relaxed);
        scaling(&setup, args.reps, args.only.as_deref());
    }
    if !args.no_memory {
        memory(&setup, args.max_samples);
    }
}
