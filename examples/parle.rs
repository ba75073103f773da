//! parle — 003 Table 5.1 and Table 5.2 on MNIST with the crate's MLP: Parle (n = 3 and n = 6),
//! Elastic-SGD, Entropy-SGD and SGD, with the full data for every replica (Table 5.1) and with
//! the data split between the replicas (003 §5.5, Table 5.2, via [`MlpObjective::shard`]);
//! validation error against **wall-clock time** (003 Remark 5.4).
//!
//! Settings (003 §5.3.2, Remark 5.3, §5.4.2): L = 25, α₀₀₃ = 0.25, inner step η⁽⁰⁾ = η₀,
//! no injected noise; γ_k = γ₀(1 − 1/(2B))^k clipped at 1 with γ₀ = 100 and ρ_k = ρ₀(1 − 1/(2B))^k
//! clipped at 0.1 with ρ₀ = 1 (eq. 5.10; k counts outer steps, B = minibatches in the global
//! dataset); Nesterov 0.9 on eq. 5.8c (and for the SGD baseline); η₀ = 0.1, divided by 10 after the
//! second epoch for Parle and Entropy-SGD (`--lr`) (§5.4.2: "only once, after the second epoch"); minibatch
//! 128; dropout 0.25 (§5.4.2's lenet value). Elastic-SGD uses the same ρ scoping (003 §5.4.3 says
//! scoping on ρ "improves the performance of Elastic-SGD significantly"). Entropy-SGD is Parle's
//! inner loop alone (n = 1, ρ = ∞, 003 §5.3.1 (iii)).
//!
//! Differences from the thesis, by necessity: the MLP (default 784 → 200 → 10, `--hidden`)
//! stands in for lenet / allcnn (no convolutions in the crate); replicas share 2 CPU cores rather
//! than one GPU each, so Parle's wall-clock advantage cannot appear (it needs one device per
//! replica); the split is into n disjoint shards (1/n of the data each) where 003 §5.5 gives each
//! of n = 3 replicas 50 %; "SGD*" trains on one random shard of the same size, as in Table 5.2.
//!
//! ```text
//! MNIST_DIR=/path/to/mnist cargo run --release --example parle -- --seconds 30 --out out/parle
//! ```
//!
//! Prints our table beside Tables 5.1/5.2, writes `parle.csv` and `parle.png` (two panels: full
//! data, split data), and the step log `parle_steps.csv` (columns `table,algorithm,seed` then the
//! crate's observer columns: one row per outer update with |Δx|, γ, ρ, η, gradient evaluations,
//! time). The progress bar (training seconds) and the step log are observers ([`Observed`]).

#[path = "common/mod.rs"]
mod common;

use clap::Parser;
use nalgebra::DVector;
use std::path::PathBuf;
use std::sync::Arc;
use wide_valleys::data::mnist::Mnist;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::observe::Observed;
use wide_valleys::optim::{ElasticSgd, EntropySgd, GradientDescent, Parle};
use wide_valleys::sampling::Averaging;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::update::Momentum;
use wide_valleys::Optimizer;
use wide_valleys::{rng, Schedule};

/// Command-line flags (short settings for a 2-core machine by default).
#[derive(Parser, Debug)]
#[command(about = "003 Tables 5.1/5.2: Parle, Elastic-SGD, Entropy-SGD and SGD on MNIST")]
struct Args {
    /// Wall-clock training budget per run, in seconds (evaluation excluded).
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Optional cap on outer updates per run.
    #[arg(long)]
    max_updates: Option<usize>,
    /// Comma-separated seeds (one run per seed and configuration).
    #[arg(long, default_value = "1", value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Directory with the four MNIST IDX files (default: the MNIST_DIR environment variable).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Output directory for CSV and PNG.
    #[arg(long, default_value = "out/parle")]
    out: PathBuf,
    /// Hidden layer widths, comma-separated (e.g. 1024,1024 for mnistfc).
    #[arg(long, default_value = "200", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Dropout probability of the hidden layers.
    #[arg(long, default_value_t = 0.25)]
    dropout: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Initial learning rate η₀ of every algorithm (also Parle's and Entropy-SGD's inner step
    /// η⁽⁰⁾, 003 §5.3.2).
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
    /// Inner steps L of Parle and Entropy-SGD.
    #[arg(long, default_value_t = 25)]
    langevin_steps: usize,
    /// Validation images (the first N of the 10,000 test images).
    #[arg(long, default_value_t = 10_000)]
    val: usize,
    /// Evaluations per run (evenly spaced in training time).
    #[arg(long, default_value_t = 10)]
    evals: usize,
    /// Which tables: full (Table 5.1), split (Table 5.2), or both.
    #[arg(long, default_value = "full,split", value_delimiter = ',')]
    tables: Vec<String>,
}

type Obj = MlpObjective<f32>;
type ParleN = Parle<f32, Momentum<f32>>;
type ElasticN = ElasticSgd<f32, Momentum<f32>>;

/// Who watches a run: its progress bar and its rows of the step log.
type Watch = common::RunObserver;

/// What is being trained, each step reported to its observer: a single-process optimizer on one
/// objective, or Parle / Elastic-SGD with one objective per replica (or one shared).
enum Runner {
    Single(Box<Observed<Box<dyn Optimizer<f32, Obj>>, Watch>>, Obj),
    Replicas(Box<Observed<ParleN, Watch>>, Vec<Obj>),
    Elastic(Box<Observed<ElasticN, Watch>>, Vec<Obj>),
}

impl Runner {
    fn step(&mut self, x: &mut DVector<f32>) -> wide_valleys::Result<usize> {
        Ok(match self {
            Runner::Single(o, f) => o.step(x, f)?.gradient_evaluations,
            Runner::Replicas(p, fs) => p.step_replicas(x, fs)?.gradient_evaluations,
            Runner::Elastic(p, fs) => p.step_replicas(x, fs)?.gradient_evaluations,
        })
    }
}

/// One configuration of Table 5.1 or 5.2.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Algo {
    Parle(usize),
    Elastic(usize),
    EntropySgd,
    Sgd,
}

impl Algo {
    fn label(self, split: bool) -> String {
        match (self, split) {
            (Algo::Parle(n), _) => format!("Parle (n = {n})"),
            (Algo::Elastic(n), _) => format!("Elastic-SGD (n = {n})"),
            (Algo::EntropySgd, _) => "Entropy-SGD".into(),
            (Algo::Sgd, false) => "SGD".into(),
            (Algo::Sgd, true) => "SGD* (1 shard)".into(),
        }
    }
}

/// 003 Table 5.1 (lenet on MNIST, n = 6): error % @ minutes.
fn paper_5_1(a: Algo) -> &'static str {
    match a {
        Algo::Parle(_) => "0.44 ± 0.01 @ 4.24",
        Algo::Elastic(_) => "0.48 ± 0.01 @ 5",
        Algo::EntropySgd => "0.49 ± 0.01 @ 6.5",
        Algo::Sgd => "0.5 ± 0.01 @ 5.6",
    }
}

/// 003 Table 5.2 (allcnn on CIFAR-10, split data): error % @ minutes, for `n` replicas.
fn paper_5_2(a: Algo, n: usize) -> &'static str {
    match (a, n) {
        (Algo::Parle(_), 3) => "5.89 ± 0.01 @ 34",
        (Algo::Parle(_), _) => "6.08 ± 0.05 @ 19",
        (Algo::Elastic(_), 3) => "6.51 ± 0.09 @ 36",
        (Algo::Elastic(_), _) => "6.8 ± 0.05 @ 20",
        (Algo::Sgd, 3) => "7.86 ± 0.12 @ 20 (50 %)",
        (Algo::Sgd, _) => "10.96 ± 0.17 @ 10 (25 %)",
        _ => "-",
    }
}

/// η₀ divided by 10 once, after `after` outer steps (003 §5.4.2).
fn drop_once(eta0: f32, after: usize) -> Schedule<f32> {
    Schedule::from_fn(move |k| if k < after { eta0 } else { 0.1 * eta0 })
}

/// The runner for `algo`, reporting to `watch`; `split`: replicas get disjoint shards (003 §5.5);
/// `split_n`: the number of shards of the split table (SGD* trains on one of them).
fn build(
    algo: Algo,
    split: bool,
    split_n: usize,
    args: &Args,
    seed: u64,
    base: &Obj,
    watch: Watch,
) -> wide_valleys::Result<Runner> {
    let single = |o: Box<dyn Optimizer<f32, Obj>>, f: Obj, watch: Watch| {
        Runner::Single(Box::new(Observed::new(o, watch)), f)
    };
    let n_data = base.indices().len();
    let b = (n_data / args.batch).max(1); // B: minibatches in the global dataset (eq. 5.10)
    let factor = 1.0 - 1.0 / (2.0 * b as f32);
    let gamma = || Schedule::geometric(100f32, factor).clipped(1.0, 100.0);
    let rho = || Schedule::geometric(1f32, factor).clipped(0.1, 1.0);
    let nesterov = || Momentum::nesterov(0.9f32);
    let l = args.langevin_steps;
    // "After the second epoch" counts epochs of the outer loop (one outer step per minibatch of
    // the replica's data), as 003 §5.4.3's [2, 4, 6] for Parle vs [60, 120, 180] for SGD shows.
    let shards = |n: usize| -> wide_valleys::Result<Vec<Obj>> {
        (0..n)
            .map(|a| {
                Ok(base
                    .clone()
                    .shard(a, n, seed)?
                    .with_dropout_seed(seed.wrapping_mul(1000) + a as u64))
            })
            .collect()
    };
    Ok(match algo {
        Algo::Parle(n) | Algo::Elastic(n) => {
            let objs = if split {
                shards(n)?
            } else {
                vec![base.clone()]
            };
            let per_replica = objs[0].indices().len() / args.batch;
            if let Algo::Parle(_) = algo {
                let p: ParleN = Parle::with_oracle(
                    n,
                    LocalEntropyGradient::with_estimator(
                        gamma(),
                        ExponentialSgld::new(l)
                            .langevin_step(args.lr)
                            .thermal_noise(0.0)
                            .averaging(Averaging::old_average_weight(0.25)),
                    )
                    .scaled(true),
                    rho(),
                    args.lr,
                )
                .with_rule(nesterov())
                .learning_rate_schedule(drop_once(args.lr, 2 * per_replica))
                .seed(seed);
                Runner::Replicas(Box::new(Observed::new(p, watch)), objs)
            } else {
                let p: ElasticN = ElasticSgd::elastic(n, rho(), args.lr)
                    .with_rule(nesterov())
                    .seed(seed);
                Runner::Elastic(Box::new(Observed::new(p, watch)), objs)
            }
        }
        Algo::EntropySgd => single(
            Box::new(
                EntropySgd::with_oracle(
                    LocalEntropyGradient::with_estimator(
                        gamma(),
                        ExponentialSgld::new(l)
                            .langevin_step(args.lr)
                            .thermal_noise(0.0)
                            .averaging(Averaging::old_average_weight(0.25)),
                    )
                    .scaled(true),
                    args.lr,
                )
                .with_rule(nesterov())
                .learning_rate_schedule(drop_once(args.lr, 2 * b))
                .seed(seed),
            ),
            base.clone(),
            watch,
        ),
        Algo::Sgd => {
            // SGD* of Table 5.2: one random shard of the size a replica sees.
            let f = if split {
                shards(split_n)?.swap_remove(0)
            } else {
                base.clone()
            };
            single(
                Box::new(
                    GradientDescent::new(args.lr)
                        .with_rule(nesterov())
                        .seed(seed),
                ),
                f,
                watch,
            )
        }
    })
}

/// A run's curve (training seconds, validation error %), its updates and gradient evaluations.
struct RunResult {
    curve: Vec<(f64, f64)>,
    updates: usize,
    evaluations: usize,
}

#[allow(clippy::too_many_arguments)]
fn run(
    algo: Algo,
    split: bool,
    split_n: usize,
    seed: u64,
    args: &Args,
    base: &Obj,
    test: &Dataset<f32>,
    log: &common::StepLog,
) -> Result<RunResult, Box<dyn std::error::Error>> {
    let pb = common::progress((args.seconds.ceil()) as u64, &algo.label(split));
    // The bar counts seconds of step time, as the budget does (evaluation excluded).
    let progress = common::ProgressObserver::by_time(&pb);
    let table = if split {
        format!("5.2 split {split_n}")
    } else {
        "5.1 full".into()
    };
    let labels = [table.as_str(), &algo.label(split), &seed.to_string()];
    let watch = (progress.clone(), log.run(&labels));
    let mut runner = build(algo, split, split_n, args, seed, base, watch)?;
    let mut x: DVector<f32> = base.init(&mut rng::seeded(seed));
    let val_err = |x: &DVector<f32>| -> wide_valleys::Result<f64> {
        Ok(100.0 * (1.0 - base.evaluate_first(x, test, args.val)?.accuracy))
    };
    let mut curve = vec![(0.0, val_err(&x)?)];
    let eval_every = args.seconds / args.evals.max(1) as f64;
    let mut next_eval = eval_every;
    let (mut elapsed, mut updates, mut evaluations) = (0.0f64, 0usize, 0usize);
    while elapsed < args.seconds && !matches!(args.max_updates, Some(m) if updates >= m) {
        evaluations += runner.step(&mut x)?;
        // The budget counts the steps' own time, as observed (evaluation and observing excluded).
        elapsed = progress.step_seconds();
        updates += 1;
        if elapsed >= next_eval {
            next_eval += eval_every;
            let v = val_err(&x)?;
            progress.note(format!("err {v:.2}%"));
            curve.push((elapsed, v));
        }
    }
    if curve.last().map(|p| p.0) != Some(elapsed) {
        curve.push((elapsed, val_err(&x)?));
    }
    pb.finish_and_clear();
    eprintln!(
        "{:<22} {} seed {seed}: {updates} updates, {evaluations} gradient evaluations, {elapsed:.1} s",
        algo.label(split),
        if split { "split" } else { "full " },
    );
    Ok(RunResult {
        curve,
        updates,
        evaluations,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mnist: Mnist<f32> = match &args.mnist_dir {
        Some(d) => Mnist::load(d)?,
        None => Mnist::from_env()?,
    };
    let out = common::out_dir(&args.out);
    let mut sizes = vec![784];
    sizes.extend(&args.hidden);
    sizes.push(10);
    let mlp = Mlp::new(&sizes)?.with_dropout(args.dropout)?;
    println!(
        "parle: MLP {:?}, {} parameters, dropout {}, minibatch {}, L = {}, {} s per run, seeds {:?}, {} rayon threads",
        sizes,
        mlp.num_params(),
        args.dropout,
        args.batch,
        args.langevin_steps,
        args.seconds,
        args.seeds,
        rayon::current_num_threads()
    );
    let train = Arc::new(mnist.train);
    let test = mnist.test;
    let base = MlpObjective::new(mlp, Arc::clone(&train), args.batch)?;

    // (table, n for split, algorithm)
    let mut configs: Vec<(bool, usize, Algo)> = Vec::new();
    if args.tables.iter().any(|t| t == "full") {
        for a in [
            Algo::Parle(3),
            Algo::Parle(6),
            Algo::Elastic(3),
            Algo::EntropySgd,
            Algo::Sgd,
        ] {
            configs.push((false, 0, a));
        }
    }
    if args.tables.iter().any(|t| t == "split") {
        for n in [3, 6] {
            for a in [Algo::Parle(n), Algo::Elastic(n), Algo::Sgd] {
                configs.push((true, n, a));
            }
        }
    }

    // parle.csv is the table of evaluations (error against time); the step log is the observers'.
    let log = common::StepLog::create(&out, "parle", &["table", "algorithm", "seed"]);
    let mut csv = common::Csv::create(
        &out.join("parle.csv"),
        &[
            "table",
            "algorithm",
            "seed",
            "seconds",
            "validation_error_percent",
        ],
    );
    let (mut full_series, mut split_series) = (Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for &(split, n, algo) in &configs {
        let label = if split {
            format!("{} [split {n}]", algo.label(true))
        } else {
            algo.label(false)
        };
        let (mut finals, mut times, mut ups, mut evs) = (vec![], vec![], 0, 0);
        let mut first_curve = None;
        for &seed in &args.seeds {
            let r = run(algo, split, n, seed, &args, &base, &test, &log)?;
            for (t, v) in &r.curve {
                csv.row(&[
                    if split {
                        format!("5.2 split {n}")
                    } else {
                        "5.1 full".into()
                    },
                    label.clone(),
                    seed.to_string(),
                    format!("{t:.3}"),
                    format!("{v:.4}"),
                ]);
            }
            let last = *r.curve.last().unwrap();
            finals.push(last.1);
            times.push(last.0);
            ups = r.updates;
            evs = r.evaluations;
            first_curve.get_or_insert(r.curve);
        }
        let s = common::Series::new(label.clone(), first_curve.unwrap_or_default());
        if split {
            split_series.push(s);
        } else {
            full_series.push(s);
        }
        let paper = if split {
            paper_5_2(algo, n)
        } else {
            paper_5_1(algo)
        };
        rows.push((label, finals, times, ups, evs, paper));
    }
    let csv_path = csv.finish();

    println!();
    println!(
        "{:<30} {:>16} {:>9} {:>8} {:>10}   {:<28}",
        "configuration", "val. err. %", "time s", "updates", "grad evals", "003 (error % @ min)"
    );
    for (label, finals, times, ups, evs, paper) in &rows {
        let (m, s) = common::mean_std(finals);
        let (t, _) = common::mean_std(times);
        println!("{label:<30} {m:>9.2} ± {s:<4.2} {t:>9.1} {ups:>8} {evs:>10}   {paper:<28}");
    }
    println!("(003 Table 5.1: lenet on MNIST, n = 6; Table 5.2: allcnn on CIFAR-10 — other networks, GPUs)");
    let png = out.join("parle.png");
    let mut panels = Vec::new();
    if !full_series.is_empty() {
        panels.push((
            "full data (003 Table 5.1)".to_string(),
            "wall-clock training time (s)",
            "validation error (%)",
            full_series,
            None,
        ));
    }
    if !split_series.is_empty() {
        panels.push((
            "data split between replicas (003 Table 5.2)".to_string(),
            "wall-clock training time (s)",
            "validation error (%)",
            split_series,
            None,
        ));
    }
    common::line_charts(&png, &panels)?;
    println!(
        "\nwrote {}, {} and {}",
        csv_path.display(),
        png.display(),
        log.finish().display()
    );
    Ok(())
}
