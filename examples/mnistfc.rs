//! mnistfc — 003 Table 3.1 and Table 4.1 (mnistfc rows): Entropy-SGD, HEAT, HJ and SGD on the
//! fully-connected network 784 → 1024 → 1024 → 10 with dropout (003 §3.3.2, §4.6.2; 004 §5.2),
//! validation error against **effective epochs** (an outer step that makes L gradient
//! evaluations counts as L minibatches, 003 §3.3 and Table 4.1).
//!
//! Settings from the thesis text (grep 003 for "4.6.1.1", "4.6.1.2", "4.6.1.3", "mnistfc"):
//! - network: input → fc₁₀₂₄ → drop → fc₁₀₂₄ → drop → fc₁₀ (1.86 M parameters), ReLU, no batch
//!   normalisation (the crate's [`Mlp`] has none); dropout p = 0.2 on the hidden layers (003 §4.6.2;
//!   003 §3.3.2 uses 0.15 for Entropy-SGD: `--dropout`);
//! - minibatch 128; Nesterov momentum 0.9 for every outer loop (003 §3.2.3, §4.6);
//! - Entropy-SGD (003 §4.6.1.1): L = 20, η_y = 0.1, β⁻¹_ex = 10⁻⁸, α₀₀₃ = 0.25, scaled outer step
//!   (003 §3.2.3) with η = 1, scope γ₀ = 10⁴ divided by 1 + 10⁻³ after each parameter update
//!   (003 §3.3.2; γ is a variance here, so the scope shrinks), clipped at 1;
//! - HJ (003 §4.6.1.2): L = 5, no noise, last iterate, same scope and outer step;
//! - HEAT (003 eq. 4.43): L = 20 gradients at x + ε, ε ~ N(0, γI), η = 0.1; the thesis gives no γ
//!   for mnistfc: we use γ = 10⁻⁴ (`--heat-gamma`);
//! - SGD: η = 0.1, Nesterov 0.9;
//! - learning rates divided by 5 every 3 epochs (003 §4.6.1.1), counted in outer-loop epochs.
//!
//! ```text
//! MNIST_DIR=/path/to/mnist cargo run --release --example mnistfc -- --epochs 2 --seeds 1 --out out/mnistfc
//! ```
//!
//! Prints our validation error beside Table 4.1's, writes `mnistfc.csv` (one row per evaluation)
//! and `mnistfc.png` (validation error against effective epochs), and the step log
//! `mnistfc_steps.csv` (columns `algorithm,seed` then the crate's observer columns: one row per
//! outer update with |Δx|, γ, η, gradient norm and evaluations, time). The progress bar and the
//! step log are both observers of the optimizer ([`Observed`]).

#[path = "common/mod.rs"]
mod common;

use clap::Parser;
use nalgebra::DVector;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wide_valleys::data::mnist::Mnist;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::observe::Observed;
use wide_valleys::optim::{EntropySgd, GradientDescent, Heat, SmoothedOptimizer};
use wide_valleys::sampling::Averaging;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::smoothing::HopfLaxGradient;
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::update::Momentum;
use wide_valleys::Optimizer;
use wide_valleys::{rng, Schedule};

/// Command-line flags (short settings for a 2-core machine by default).
#[derive(Parser, Debug)]
#[command(about = "003 Tables 3.1/4.1: Entropy-SGD, HEAT, HJ and SGD on mnistfc (MNIST)")]
struct Args {
    /// Effective epochs per run (the paper trains 120–200).
    #[arg(long, default_value_t = 1.0)]
    epochs: f64,
    /// Optional cap on outer updates per run (for very short runs).
    #[arg(long)]
    max_updates: Option<usize>,
    /// Comma-separated seeds (one run per seed and algorithm).
    #[arg(long, default_value = "1", value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Directory with the four MNIST IDX files (default: the MNIST_DIR environment variable).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Output directory for CSV and PNG.
    #[arg(long, default_value = "out/mnistfc")]
    out: PathBuf,
    /// Comma-separated algorithms among sgd, entropy-sgd, heat, hj.
    #[arg(long, default_value = "entropy-sgd,heat,hj,sgd", value_delimiter = ',')]
    algorithms: Vec<String>,
    /// Hidden width (1024 in mnistfc; smaller for smoke tests).
    #[arg(long, default_value_t = 1024)]
    width: usize,
    /// Dropout probability of the hidden layers.
    #[arg(long, default_value_t = 0.2)]
    dropout: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Validation images (the first N of the 10,000 test images).
    #[arg(long, default_value_t = 10_000)]
    val: usize,
    /// Evaluations per effective epoch.
    #[arg(long, default_value_t = 4.0)]
    evals_per_epoch: f64,
    /// HEAT's perturbation variance γ.
    #[arg(long, default_value_t = 1e-4)]
    heat_gamma: f32,
}

type Obj = MlpObjective<f32>;
type Boxed = Box<dyn Optimizer<f32, Obj>>;

/// 003 Table 4.1, mnistfc row: validation error (%) ± std @ effective epochs.
fn paper_table_4_1(name: &str) -> &'static str {
    match name {
        "Entropy-SGD" => "1.08 ± 0.02 @ 120",
        "HEAT" => "1.13 ± 0.02 @ 200",
        "HJ" => "1.17 ± 0.04 @ 200",
        "SGD" => "1.10 ± 0.01 @ 194",
        _ => "-",
    }
}

/// 003 Table 3.1, mnistfc row (Entropy-SGD vs SGD/Adam).
fn paper_table_3_1(name: &str) -> &'static str {
    match name {
        "Entropy-SGD" => "1.37 ± 0.03 @ 120",
        "SGD" => "1.39 ± 0.03 @ 66 (Adam)",
        _ => "-",
    }
}

/// Learning rate η₀ divided by 5 every 3 epochs of outer steps (003 §4.6.1.1); `per_epoch` is
/// the number of outer steps in one pass of the outer loop over the data.
fn drop_by_5_every_3_epochs(eta0: f32, per_epoch: usize) -> Schedule<f32> {
    Schedule::from_fn(move |k| eta0 / 5f32.powi((k / (3 * per_epoch.max(1))) as i32))
}

/// The optimizer `name` with the settings of the module doc.
fn build(name: &str, per_epoch: usize, args: &Args, seed: u64) -> wide_valleys::Result<Boxed> {
    let nesterov = || Momentum::nesterov(0.9f32);
    // 003 §3.3.2: γ₀ = 10⁴ shrinking by 1 + 10⁻³ per parameter update (variance convention).
    let scope = || Schedule::geometric(1e4f32, 1.0 / 1.001).clipped(1.0, 1e4);
    Ok(match name {
        "sgd" => Box::new(
            GradientDescent::new(0.1f32)
                .with_rule(nesterov())
                .learning_rate_schedule(drop_by_5_every_3_epochs(0.1, per_epoch))
                .seed(seed),
        ),
        "entropy-sgd" => Box::new(
            EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    scope(),
                    ExponentialSgld::new(20)
                        .langevin_step(0.1)
                        .thermal_noise(1e-8)
                        .averaging(Averaging::old_average_weight(0.25)),
                )
                .scaled(true),
                1.0f32,
            )
            .with_rule(nesterov())
            .learning_rate_schedule(drop_by_5_every_3_epochs(1.0, per_epoch))
            .seed(seed),
        ),
        "hj" => Box::new(
            SmoothedOptimizer::with_oracle(
                HopfLaxGradient::new(scope(), 5)
                    .inner_step(0.1)
                    .scaled(true),
                1.0f32,
            )
            .with_rule(nesterov())
            .learning_rate_schedule(drop_by_5_every_3_epochs(1.0, per_epoch))
            .seed(seed),
        ),
        "heat" => Box::new(
            Heat::new(args.heat_gamma, 20, 0.1f32)
                .with_rule(nesterov())
                .learning_rate_schedule(drop_by_5_every_3_epochs(0.1, per_epoch))
                .seed(seed),
        ),
        _ => {
            return Err(wide_valleys::Error::InvalidHyperParameter {
                name: "algorithms",
                value: f64::NAN,
                reason: "unknown algorithm: use sgd, entropy-sgd, heat, hj",
            })
        }
    })
}

fn display(name: &str) -> &'static str {
    match name {
        "sgd" => "SGD",
        "entropy-sgd" => "Entropy-SGD",
        "hj" => "HJ",
        "heat" => "HEAT",
        _ => "?",
    }
}

/// Gradient evaluations per outer step (to size the progress bar and the epoch of the outer loop).
fn evals_per_step(name: &str) -> usize {
    match name {
        "entropy-sgd" | "heat" => 20,
        "hj" => 5,
        _ => 1,
    }
}

/// One curve: (effective epoch, validation error %) and the run's observed step seconds.
struct RunResult {
    curve: Vec<(f64, f64)>,
    seconds: f64,
    updates: usize,
}

fn run(
    name: &str,
    seed: u64,
    args: &Args,
    train: &Arc<Dataset<f32>>,
    test: &Dataset<f32>,
    mlp: &Mlp,
    log: &common::StepLog,
) -> Result<RunResult, Box<dyn std::error::Error>> {
    let n = train.len();
    let f = MlpObjective::new(mlp.clone(), Arc::clone(train), args.batch)?.with_dropout_seed(seed);
    let batches_per_epoch = n / args.batch;
    // Epochs of the outer loop (one outer step per minibatch): 003 trains Entropy-SGD "for 5
    // epochs with L = 20" = 100 effective epochs, so its "every 3 epochs" is 3·B outer steps.
    let per_epoch = batches_per_epoch.max(1);
    let opt = build(name, per_epoch, args, seed)?;
    let mut x: DVector<f32> = f.init(&mut rng::seeded(seed));
    let total_evals = (args.epochs * batches_per_epoch as f64).ceil() as usize;
    let mut steps = total_evals.div_ceil(evals_per_step(name));
    if let Some(m) = args.max_updates {
        steps = steps.min(m);
    }
    let pb = common::progress(steps as u64, display(name));
    let progress = common::ProgressObserver::new(&pb);
    let watch = (
        progress.clone(),
        log.run(&[display(name), &seed.to_string()]),
    );
    let mut opt = Observed::new(opt, watch);
    let eval_every = (batches_per_epoch as f64 / args.evals_per_epoch).max(1.0);
    let mut next_eval = eval_every;
    let mut evals = 0usize;
    let val_err = |x: &DVector<f32>| -> wide_valleys::Result<f64> {
        Ok(100.0 * (1.0 - f.evaluate_first(x, test, args.val)?.accuracy))
    };
    let mut curve = vec![(0.0, val_err(&x)?)];
    let t0 = Instant::now();
    for _ in 0..steps {
        let r = opt.step(&mut x, &f)?;
        evals += r.gradient_evaluations;
        if evals as f64 >= next_eval {
            next_eval += eval_every;
            let e = evals as f64 / batches_per_epoch as f64;
            let v = val_err(&x)?;
            progress.note(format!("epoch {e:.2} err {v:.2}%"));
            curve.push((e, v));
        }
    }
    let e = evals as f64 / batches_per_epoch as f64;
    if curve.last().map(|p| p.0) != Some(e) {
        curve.push((e, val_err(&x)?));
    }
    pb.finish_and_clear();
    // Time of the optimizer's steps alone, as observed (observing and evaluating not counted).
    let train_time = progress.step_seconds();
    eprintln!(
        "{:<12} seed {seed}: {steps} updates, {e:.2} effective epochs, {:.1} s ({:.1} ms/update, {:.1} s total with evaluation)",
        display(name),
        train_time,
        1e3 * train_time / steps.max(1) as f64,
        t0.elapsed().as_secs_f64()
    );
    Ok(RunResult {
        curve,
        seconds: train_time,
        updates: steps,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mnist: Mnist<f32> = match &args.mnist_dir {
        Some(d) => Mnist::load(d)?,
        None => Mnist::from_env()?,
    };
    let out = common::out_dir(&args.out);
    let mlp = Mlp::new(&[784, args.width, args.width, 10])?.with_dropout(args.dropout)?;
    println!(
        "mnistfc: 784→{w}→{w}→10, {} parameters, dropout {}, minibatch {}, {} effective epochs, seeds {:?}",
        mlp.num_params(),
        args.dropout,
        args.batch,
        args.epochs,
        args.seeds,
        w = args.width
    );
    let train = Arc::new(mnist.train);
    let test = mnist.test;
    let mut csv = common::Csv::create(
        &out.join("mnistfc.csv"),
        &[
            "algorithm",
            "seed",
            "effective_epoch",
            "validation_error_percent",
        ],
    );
    // The summary above is a table of evaluations; the per-step log comes from the observers.
    let log = common::StepLog::create(&out, "mnistfc", &["algorithm", "seed"]);
    let mut series = Vec::new();
    let mut rows = Vec::new();
    for name in &args.algorithms {
        let mut finals = Vec::new();
        let mut best = Vec::new();
        let mut secs = Vec::new();
        let mut mean_curve: Vec<(f64, f64)> = Vec::new();
        let mut epochs = 0.0;
        let mut updates = 0;
        for &seed in &args.seeds {
            let r = run(name, seed, &args, &train, &test, &mlp, &log)?;
            for (e, v) in &r.curve {
                csv.row(&[
                    display(name).into(),
                    seed.to_string(),
                    format!("{e:.4}"),
                    format!("{v:.4}"),
                ]);
            }
            let last = *r.curve.last().unwrap();
            finals.push(last.1);
            best.push(r.curve.iter().map(|p| p.1).fold(f64::INFINITY, f64::min));
            secs.push(r.seconds);
            epochs = last.0;
            updates = r.updates;
            if mean_curve.is_empty() {
                mean_curve = r.curve.clone();
            } else {
                for (m, p) in mean_curve.iter_mut().zip(&r.curve) {
                    m.1 += p.1;
                }
            }
        }
        for m in &mut mean_curve {
            m.1 /= args.seeds.len() as f64;
        }
        series.push(common::Series::new(display(name), mean_curve));
        rows.push((name.clone(), finals, best, secs, epochs, updates));
    }
    let csv_path = csv.finish();

    println!();
    println!(
        "{:<12} {:>18} {:>18} {:>8} {:>9} {:>9}   {:>20}   {:>24}",
        "algorithm",
        "val. err. % (end)",
        "best %",
        "epochs",
        "updates",
        "time s",
        "003 Table 4.1",
        "003 Table 3.1"
    );
    for (name, finals, best, secs, epochs, updates) in &rows {
        let (m, s) = common::mean_std(finals);
        let (bm, bs) = common::mean_std(best);
        let (tm, _) = common::mean_std(secs);
        println!(
            "{:<12} {:>10.2} ± {:<5.2} {:>10.2} ± {:<5.2} {:>8.2} {:>9} {:>9.1}   {:>20}   {:>24}",
            display(name),
            m,
            s,
            bm,
            bs,
            epochs,
            updates,
            tm,
            paper_table_4_1(display(name)),
            paper_table_3_1(display(name))
        );
    }
    let png = out.join("mnistfc.png");
    common::line_charts(
        &png,
        &[(
            format!(
                "mnistfc (784-{w}-{w}-10, dropout {}): validation error",
                args.dropout,
                w = args.width
            ),
            "effective epochs",
            "validation error (%)",
            series,
            None,
        )],
    )?;
    println!(
        "\nwrote {}, {} and {}",
        csv_path.display(),
        png.display(),
        log.finish().display()
    );
    Ok(())
}
