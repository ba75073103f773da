//! Shared code of the seed-000 MNIST examples (`table1`, `after_sgd`, `samples`, `tau`,
//! `scoping`) and of `quickstart`: the methods of 000 §6 as boxed steppers, a training loop that
//! records held-out accuracy, aggregation over seeds, and the table / CSV / PNG output.
//!
//! Every stepper is its scheme or optimizer wrapped in [`Observed`] with a [`RunObserver`]: the
//! progress bar and the step log `<out>/<example>_steps.csv` (columns `method,seed` then
//! [`CSV_HEADER`](wide_valleys::observe::CSV_HEADER), one row per update) are both fed by the
//! crate's observers (issue 5).
//!
//! The loss is [`MlpObjective`]: the minibatch MEAN softmax cross-entropy. The paper's code is
//! TensorFlow and the paper does not say which reduction it used; the TensorFlow MNIST tutorials
//! of the time (and `tf.losses.softmax_cross_entropy`) take the mean, and a mean makes "SGD
//! learning rate 0.01 = τ" (000 §6.2: SGD "with step size equivalent to τ") the same scale,
//! since with exact expectations local entropy is gradient descent on F_τ with step τ (000 eq. 12).
//! Effect on τ: with a SUM over a batch of B = 20, f would be 20× larger, so q_{x,τ} ∝
//! exp(−f − |y − x|²/(2τ)) with the mean loss and τ equals the sum-loss version with τ/20;
//! equivalently our τ = 0.01 is a 20× wider Gaussian relative to the loss than a sum-loss τ = 0.01.
#![allow(dead_code)]

#[path = "../common/mod.rs"]
pub mod common;

use common::{
    line_charts, mean_std, progress, Csv, ProgressObserver, RunObserver, Series, StepLog,
};
use nalgebra::DVector;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wide_valleys::data::mnist::Mnist;
use wide_valleys::data::Dataset;
use wide_valleys::kl::{GaussianExpectation, RobbinsMonro};
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::observe::{Observed, Observer};
use wide_valleys::optim::GradientDescent;
use wide_valleys::sampling::{ImportanceSampling, Sgld};
use wide_valleys::Optimizer;
use wide_valleys::{rng, HeatRegularization, LocalEntropy, Schedule};

/// Parameters are f32: the MLP's matrix products are twice as fast and f32 is what TensorFlow used.
pub type F = f32;
/// The training objective.
pub type Obj = MlpObjective<F>;
/// One outer update of a method, in place, reported to its observer; errors leave x unchanged.
pub type Stepper = Box<dyn FnMut(&mut DVector<F>, &Obj) -> wide_valleys::Result<()>>;

/// The stepper of any optimizer (the two-step schemes of 000 included), each step reported to
/// `observer`.
pub fn observed<S: Optimizer<F, Obj> + 'static>(
    optimizer: S,
    observer: impl Observer + 'static,
) -> Stepper {
    let mut o = Observed::new(optimizer, observer);
    Box::new(move |x, obj| o.step(x, obj).map(|_| ()))
}

/// Flags shared by the seed-000 MNIST examples.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// Number of parameter updates per run.
    #[arg(long, default_value_t = 500)]
    pub updates: usize,
    /// Number of seeds (network initializations and algorithm randomness): 0, 1, …
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// First seed (runs use seeds first_seed .. first_seed + seeds), to add seeds to a run later.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// MNIST directory (the four IDX .gz files); default: the MNIST_DIR environment variable.
    #[arg(long)]
    pub mnist_dir: Option<PathBuf>,
    /// Output directory for CSV and PNG.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Evaluate held-out accuracy every this many updates.
    #[arg(long, default_value_t = 10)]
    pub eval_every: usize,
    /// Number of random held-out test images per evaluation (000 §6.2: 1000).
    #[arg(long, default_value_t = 1000)]
    pub eval_images: usize,
    /// IS and HR draw the MLP's first-layer noise through its product with the minibatch
    /// (`ImportanceSampling::projected`, `GaussianExpectation::ProjectedMonteCarlo`): the same
    /// law as the paper's sampling, other numbers for a seed, much faster updates. Off: the
    /// paper's sampling, as in docs/reproduction.md.
    #[arg(long)]
    pub projected: bool,
}

/// MNIST from `--mnist-dir` or `MNIST_DIR` (never a hard-coded path); exits with the reader's
/// message (which file is missing and how to get it) on failure.
pub fn load_mnist(dir: &Option<PathBuf>) -> Mnist<F> {
    let r = match dir {
        Some(d) => Mnist::load(d),
        None => Mnist::from_env(),
    };
    r.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    })
}

/// The loss of an MLP with `sizes` on `train`, minibatch `batch` (000 §6.2: 20).
pub fn objective(sizes: &[usize], train: Dataset<F>, batch: usize) -> wide_valleys::Result<Obj> {
    MlpObjective::new(Mlp::new(sizes)?, Arc::new(train), batch)
}

/// A method of 000 §6 with its hyper-parameters.
#[derive(Clone, Debug)]
pub enum Method {
    /// SGD with learning rate η.
    Sgd {
        /// Learning rate.
        lr: F,
    },
    /// Local entropy, 000 Alg. 1 with SGLD (Alg. 3): ε_j = 1/(offset + j), J samples.
    Sgld {
        /// τ schedule (000 eq. 18 or constant).
        tau: Schedule<F>,
        /// Offset in ε_j = 1/(offset + j).
        offset: F,
        /// J.
        samples: usize,
    },
    /// Local entropy, 000 Alg. 1 with importance sampling (Alg. 4), J samples.
    Is {
        /// τ schedule.
        tau: Schedule<F>,
        /// J.
        samples: usize,
        /// `ImportanceSampling::projected`.
        projected: bool,
    },
    /// Heat regularization, 000 Alg. 2 with Robbins–Monro (Alg. 5): M samples, J iterations,
    /// a_j = c j^{−α}.
    Hr {
        /// τ schedule.
        tau: Schedule<F>,
        /// M.
        m: usize,
        /// J.
        j: usize,
        /// c.
        c: F,
        /// α.
        alpha: F,
        /// `GaussianExpectation::ProjectedMonteCarlo` instead of `MonteCarlo`.
        projected: bool,
    },
}

impl Method {
    /// 000 Fig. 4's SGLD with constant τ.
    pub fn sgld(tau: F, offset: F, samples: usize) -> Self {
        Method::Sgld {
            tau: Schedule::Constant(tau),
            offset,
            samples,
        }
    }
    /// IS with constant τ.
    pub fn is(tau: F, samples: usize) -> Self {
        Method::Is {
            tau: Schedule::Constant(tau),
            samples,
            projected: false,
        }
    }
    /// HR with constant τ and 000 Fig. 4's c = 0.1, α = 0.7.
    pub fn hr(tau: F, m: usize, j: usize) -> Self {
        Method::Hr {
            tau: Schedule::Constant(tau),
            m,
            j,
            c: 0.1,
            alpha: 0.7,
            projected: false,
        }
    }

    /// IS and HR with (or without) their same-law projected sampling; other methods unchanged.
    pub fn projected(self, on: bool) -> Self {
        match self {
            Method::Is { tau, samples, .. } => Method::Is {
                tau,
                samples,
                projected: on,
            },
            Method::Hr {
                tau,
                m,
                j,
                c,
                alpha,
                ..
            } => Method::Hr {
                tau,
                m,
                j,
                c,
                alpha,
                projected: on,
            },
            other => other,
        }
    }

    /// The stepper, seeded with `seed`, every step reported to `observer`.
    pub fn stepper(
        &self,
        seed: u64,
        observer: impl Observer + 'static,
    ) -> wide_valleys::Result<Stepper> {
        Ok(match self.clone() {
            Method::Sgd { lr } => observed(GradientDescent::new(lr).seed(seed), observer),
            Method::Sgld {
                tau,
                offset,
                samples,
            } => {
                let s = LocalEntropy::<F>::new(1.0)
                    .tau_schedule(tau)
                    .estimator(Sgld::paper().harmonic(offset).samples(samples))
                    .seed(seed);
                observed(s, observer)
            }
            Method::Is {
                tau,
                samples,
                projected,
            } => {
                let s = LocalEntropy::<F>::new(1.0)
                    .tau_schedule(tau)
                    .estimator(ImportanceSampling::new(samples).projected(projected))
                    .seed(seed);
                observed(s, observer)
            }
            Method::Hr {
                tau,
                m,
                j,
                c,
                alpha,
                projected,
            } => {
                let expectation = if projected {
                    GaussianExpectation::ProjectedMonteCarlo
                } else {
                    GaussianExpectation::MonteCarlo
                };
                let rm = RobbinsMonro::paper()
                    .samples(m)
                    .iterations(j)
                    .c(c)
                    .alpha(alpha)
                    .expectation(expectation);
                let s = HeatRegularization::<F>::new(1.0)
                    .tau_schedule(tau)
                    .solver(rm)
                    .seed(seed);
                observed(s, observer)
            }
        })
    }
}

/// Held-out accuracy along one training run.
#[derive(Clone, Debug)]
pub struct Curve {
    /// The seed of the run (initialization and algorithm randomness).
    pub seed: u64,
    /// (updates done, accuracy).
    pub points: Vec<(usize, f64)>,
    /// Mean wall-clock seconds per update: the observed step times (evaluation excluded).
    pub secs_per_update: f64,
    /// Set when the run stopped early on an error (e.g. a non-finite estimate).
    pub error: Option<String>,
}

/// Held-out accuracy on `n` test images drawn at random, the same images for every method at
/// the same evaluation (the draw is seeded by `eval_seed` and the update count).
pub fn accuracy(
    obj: &Obj,
    x: &DVector<F>,
    test: &Dataset<F>,
    n: usize,
    eval_seed: u64,
    at: usize,
) -> f64 {
    let mut r = rng::stream(eval_seed, at as u64);
    obj.evaluate_random(x, test, n, &mut r)
        .map(|e| e.accuracy)
        .unwrap_or(f64::NAN)
}

/// Runs `updates` updates of `step` from `x` (modified in place), evaluating every `every`
/// updates (and at 0). `offset` is added to the update counter in the record (for runs that
/// continue another, 000 Fig. 5). The stepper's observer moves the bar; `progress` (a clone of
/// it) shows the last accuracy and, if the run stops on an error, skips the bar past the rest.
#[allow(clippy::too_many_arguments)]
pub fn train(
    step: &mut Stepper,
    obj: &Obj,
    x: &mut DVector<F>,
    test: &Dataset<F>,
    updates: usize,
    every: usize,
    eval_images: usize,
    eval_seed: u64,
    offset: usize,
    progress: &ProgressObserver,
) -> Curve {
    let every = every.max(1);
    let mut points = vec![(
        offset,
        accuracy(obj, x, test, eval_images, eval_seed, offset),
    )];
    // A fresh note, so that the bar does not show the previous run's accuracy.
    progress.note(format!("acc {:.3}", points[0].1));
    // Time of the steps alone, as observed (the observers' own work is not counted).
    let secs0 = progress.step_seconds();
    let mut done = 0;
    let mut error = None;
    for u in 1..=updates {
        let r = step(x, obj);
        if let Err(e) = r {
            error = Some(e.to_string());
            progress.bar().inc((updates - done) as u64);
            break;
        }
        done = u;
        if u % every == 0 || u == updates {
            let a = accuracy(obj, x, test, eval_images, eval_seed, offset + u);
            points.push((offset + u, a));
            progress.note(format!("acc {a:.3}"));
        }
    }
    let secs = progress.step_seconds() - secs0;
    Curve {
        seed: 0,
        points,
        secs_per_update: if done > 0 {
            secs / done as f64
        } else {
            f64::NAN
        },
        error,
    }
}

/// A named method's curves over seeds.
#[derive(Clone, Debug)]
pub struct Runs {
    /// Label (legend, table row).
    pub name: String,
    /// Panel the series is drawn in (for multi-panel figures).
    pub panel: usize,
    /// One curve per seed.
    pub curves: Vec<Curve>,
}

impl Runs {
    /// Mean and standard deviation over seeds of the accuracy after `u` updates (NaN if absent).
    pub fn at(&self, u: usize) -> (f64, f64) {
        let v: Vec<f64> = self
            .curves
            .iter()
            .filter_map(|c| c.points.iter().find(|p| p.0 == u).map(|p| p.1))
            .collect();
        mean_std(&v)
    }

    /// Mean and standard deviation over seeds of the time per update.
    pub fn time(&self) -> (f64, f64) {
        let v: Vec<f64> = self.curves.iter().map(|c| c.secs_per_update).collect();
        mean_std(&v)
    }

    /// The mean curve with a ±1 std band.
    pub fn series(&self) -> Series {
        let us: Vec<usize> = self.curves[0].points.iter().map(|p| p.0).collect();
        let mut s = Series::new(self.name.clone(), Vec::new());
        for u in us {
            let (m, sd) = self.at(u);
            s.points.push((u as f64, m));
            if self.curves.len() > 1 {
                s.band.push((u as f64, m - sd, m + sd));
            }
        }
        s
    }
}

/// Runs every method for every seed from the same initialization per seed (000 §6.2: "identical
/// instantiations"), with one progress bar and one step log `<out>/<name>_steps.csv`.
/// `init(seed)` gives x₀.
pub fn run_all(
    name: &str,
    methods: &[(String, usize, Method)],
    obj: &Obj,
    test: &Dataset<F>,
    args: &CommonArgs,
    init: impl Fn(u64) -> DVector<F>,
) -> Vec<Runs> {
    let names: Vec<(String, usize)> = methods.iter().map(|(n, p, _)| (n.clone(), *p)).collect();
    run_steppers(
        name,
        &names,
        |i, seed, obs| {
            methods[i]
                .2
                .clone()
                .projected(args.projected)
                .stepper(seed, obs)
                .expect("valid hyper-parameters")
        },
        obj,
        test,
        args,
        init,
    )
}

/// As [`run_all`] for any steppers: `make(i, seed, observer)` builds method i's stepper,
/// reporting to `observer`.
pub fn run_steppers(
    name: &str,
    names: &[(String, usize)],
    make: impl Fn(usize, u64, RunObserver) -> Stepper,
    obj: &Obj,
    test: &Dataset<F>,
    args: &CommonArgs,
    init: impl Fn(u64) -> DVector<F>,
) -> Vec<Runs> {
    let total = names.len() as u64 * args.seeds * args.updates as u64;
    let pb = progress(total, "training");
    let progress = ProgressObserver::new(&pb);
    let log = StepLog::create(&args.out, name, &["method", "seed"]);
    let mut out: Vec<Runs> = names
        .iter()
        .map(|(n, p)| Runs {
            name: n.clone(),
            panel: *p,
            curves: Vec::new(),
        })
        .collect();
    for seed in args.first_seed..args.first_seed + args.seeds {
        for (i, (name, _)) in names.iter().enumerate() {
            pb.set_prefix(format!("{name} s{seed}"));
            let mut x = init(seed);
            // Algorithm randomness is seeded apart from the initialization.
            let obs = (progress.clone(), log.run(&[name, &seed.to_string()]));
            let mut step = make(i, 1000 + seed, obs);
            let c = train(
                &mut step,
                obj,
                &mut x,
                test,
                args.updates,
                args.eval_every,
                args.eval_images,
                777 + seed,
                0,
                &progress,
            );
            if let Some(e) = &c.error {
                pb.println(format!("{name} seed {seed}: stopped: {e}"));
            }
            out[i].curves.push(Curve { seed, ..c });
        }
    }
    pb.finish_and_clear();
    println!("wrote {}", log.finish().display());
    out
}

/// Seeded initial parameters of `obj` for `seed`.
pub fn init_for(obj: &Obj) -> impl Fn(u64) -> DVector<F> + '_ {
    move |seed| obj.init(&mut rng::seeded(seed))
}

/// Evaluation points printed in tables: 100, 200, … up to `updates` (or `updates` itself).
pub fn checkpoints(updates: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (1..=5).map(|i| i * 100).filter(|&u| u <= updates).collect();
    if v.is_empty() {
        v.push(updates);
    }
    v
}

/// Prints mean ± std accuracy of every method at `checkpoints`, with the paper's row (if given)
/// beside it, and the mean time per update (with the paper's, if given).
pub fn print_table(
    title: &str,
    runs: &[Runs],
    checkpoints: &[usize],
    paper: &[(&str, [f64; 5], Option<f64>)],
) {
    println!("\n{title}");
    let mut head = format!("{:<22}", "method");
    for u in checkpoints {
        head += &format!(" {:>13}", format!("@{u}"));
    }
    head += &format!(" {:>16}", "s/update");
    println!("{head}");
    for r in runs {
        let mut line = format!("{:<22}", r.name);
        for &u in checkpoints {
            let (m, s) = r.at(u);
            line += &format!(" {:>13}", format!("{m:.3}±{s:.3}"));
        }
        let (t, ts) = r.time();
        line += &format!(" {:>16}", format!("{t:.2e}±{ts:.0e}"));
        println!("{line}");
        let key = r.name.split_whitespace().next().unwrap_or("");
        if let Some((_, row, time)) = paper.iter().find(|(n, _, _)| *n == key) {
            let mut p = format!("{:<22}", format!("  paper {key}"));
            for &u in checkpoints {
                let cell = if u % 100 == 0 && (1..=5).contains(&(u / 100)) {
                    format!("{:.2}", row[u / 100 - 1])
                } else {
                    "-".into()
                };
                p += &format!(" {cell:>13}");
            }
            if let Some(t) = time {
                p += &format!(" {:>16}", format!("{t:.4}"));
            }
            println!("{p}");
        }
    }
}

/// Writes `name.csv` (method, panel, seed, update, accuracy, s/update) and `name.png` (one panel
/// per entry of `panels`, mean curve with ±1 std band over seeds) into `out`. `name.csv` is a
/// table of held-out evaluations, not a step log, so it is written here, not by an observer.
pub fn write_outputs(out: &Path, name: &str, runs: &[Runs], panels: &[&str]) {
    let dir = common::out_dir(out);
    let mut csv = Csv::create(
        &dir.join(format!("{name}.csv")),
        &[
            "method",
            "panel",
            "seed",
            "update",
            "accuracy",
            "secs_per_update",
        ],
    );
    for r in runs {
        for c in &r.curves {
            let seed = c.seed;
            for (u, a) in &c.points {
                csv.row(&[
                    r.name.clone(),
                    r.panel.to_string(),
                    seed.to_string(),
                    u.to_string(),
                    format!("{a:.4}"),
                    format!("{:.6}", c.secs_per_update),
                ]);
            }
        }
    }
    let csv_path = csv.finish();
    let figs: Vec<_> = panels
        .iter()
        .enumerate()
        .map(|(p, title)| {
            let series: Vec<Series> = runs
                .iter()
                .filter(|r| r.panel == p)
                .map(Runs::series)
                .collect();
            (
                title.to_string(),
                "weight updates",
                "held-out accuracy",
                series,
                Some((0.0, 1.0)),
            )
        })
        .collect();
    let png = dir.join(format!("{name}.png"));
    if let Err(e) = line_charts(&png, &figs) {
        eprintln!("warning: could not draw {}: {e}", png.display());
    }
    println!("wrote {} and {}", csv_path.display(), png.display());
}
