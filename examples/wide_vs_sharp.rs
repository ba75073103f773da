//! Wide vs sharp: every optimizer of `wide_valleys::optimizers` on a 1-D and a 2-D landscape with
//! a deep sharp minimum and a shallower wide one.
//!
//! Prints where each optimizer ends, writes CSV files and PNG plots (plotters) of the landscape,
//! its smoothed versions — local entropy F_τ (exact for a mixture, 000 eq. 2), heat F^H_τ = f ∗ φ_τ
//! (000 §2.2, quadrature) and Hopf–Lax u(x, τ) = min_y f(y) + |x − y|²/(2τ) (003 eq. 4.16, grid) —
//! and the trajectories — also of the two-step schemes of 000 (local entropy, 000 Alg. 1, by
//! quadrature and by SGLD; heat regularization, 000 Alg. 2, by Robbins–Monro).
//!
//! ```text
//! cargo run --release --example wide_vs_sharp -- --out out
//! ```
//!
//! Outputs: `landscape_1d.csv`, `trajectories_1d.csv` / `trajectories_2d.csv` (x_k of every
//! run, for the plots), `wide_vs_sharp_1d.png`, `wide_vs_sharp_2d.png`, and the step log
//! `wide_vs_sharp_steps.csv` written by the crate's observers (columns `landscape,optimizer`
//! then one row per outer step: f(x_{k+1}) for the optimizers, |Δx|, τ / γ / ρ, evaluations,
//! time), which also drive the progress bar.

#[path = "common/mod.rs"]
mod common;

use common::{ProgressObserver, StepLog};
use nalgebra::{dvector, DVector};
use plotters::prelude::*;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wide_valleys::objective::{Batch, Cost};
use wide_valleys::objectives::GaussianMixture;
use wide_valleys::observe::Observed;
use wide_valleys::optim::*;
use wide_valleys::sampling::Averaging;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::{Quadrature, Sgld};
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum};
use wide_valleys::Optimizer;
use wide_valleys::{HeatRegularization, LocalEntropy, Schedule};

type Landscape = GaussianMixture<f64>;
type Boxed = Box<dyn Optimizer<f64, Landscape>>;
/// A named trajectory: one point per outer step.
type Run = (&'static str, Vec<DVector<f64>>);

/// Watches the runs on one landscape: the shared bar and the landscape's rows of the step log.
struct Watch<'a> {
    progress: &'a ProgressObserver,
    log: &'a StepLog,
    landscape: &'static str,
}

impl Watch<'_> {
    /// The observer of the run `name`.
    fn run(&self, name: &str) -> common::RunObserver {
        (self.progress.clone(), self.log.run(&[self.landscape, name]))
    }
}

/// The scale τ (a variance) of the smoothed curves drawn next to f.
const TAU: f64 = 1.0;

/// Every optimizer, configured for these landscapes (dimension `dim`), with its outer step count.
///
/// The two-step schemes of 000 are optimizers like the others, with the optimizers' scoping
/// τ_k = 2·0.98^k clipped to [0.1, 10] (a variance, as γ) and far fewer outer steps (each moves
/// x to E_q\[Y\] or to the mode-seeking minimizer, a step of size τ_k on F_τ):
/// - "LocalEntropy (quad.)": 000 Alg. 1, x_{k+1} = E_{q_{x_k,τ_k}}\[Y\] (eq. 11) by tensor-grid
///   quadrature (exact up to the grid in d ≤ 2), i.e. gradient descent on F_τ with step τ (eq. 12);
/// - "LocalEntropy (SGLD)": the same with SGLD (000 Alg. 3: J = 10³ warm-started samples, seed 1;
///   constant ε = 0.02 instead of 000's 1/(1000 + j): the paper's steps, tuned for MNIST, are too
///   short for the chain to cross between the valleys here in 10³ iterations);
/// - "HeatReg (RM)": 000 Alg. 2, mode-seeking x_{k+1} = argmin KL(φ_{x,τ} ‖ q_{x_k,τ}) by
///   Robbins–Monro (000 Alg. 5, c = 0.1, α = 0.7, M = J = 30, seed 1).
fn optimizers(dim: usize) -> wide_valleys::Result<Vec<(&'static str, Boxed, usize)>> {
    let scope = || Schedule::geometric(2.0, 0.98).clipped(0.1, 10.0);
    let v: Vec<(&'static str, Boxed, usize)> = vec![
        ("GD", Box::new(GradientDescent::new(0.01).seed(1)), 2000),
        (
            "GD+Nesterov",
            Box::new(
                GradientDescent::new(0.002)
                    .with_rule(Momentum::nesterov(0.9))
                    .seed(1),
            ),
            2000,
        ),
        ("SAM", Box::new(Sam::new(0.05, 0.01).seed(1)), 2000),
        (
            "Trivialized-SGD",
            Box::new(TrivializedSgd::new(0.5, 3, dim, 200.0, 0.01).seed(1)),
            2000,
        ),
        ("HEAT", Box::new(Heat::new(1.0, 20, 0.05).seed(1)), 1000),
        (
            "HJ",
            Box::new(
                HamiltonJacobi::with_oracle(HopfLaxGradient::new(0.5, 5).inner_step(0.2), 0.1)
                    .seed(1),
            ),
            500,
        ),
        (
            "Entropy-SGD",
            Box::new(
                EntropySgd::with_oracle(
                    LocalEntropyGradient::with_estimator(
                        scope(),
                        ExponentialSgld::new(50)
                            .averaging(Averaging::new_sample_weight(0.1))
                            .langevin_step(0.12)
                            .thermal_noise(1.0),
                    )
                    .scaled(true),
                    0.5,
                )
                .seed(1),
            ),
            400,
        ),
        (
            "Entropy-Adam",
            Box::new(
                EntropySgd::with_oracle(
                    LocalEntropyGradient::with_estimator(
                        scope(),
                        ExponentialSgld::new(50)
                            .averaging(Averaging::new_sample_weight(0.1))
                            .langevin_step(0.12)
                            .thermal_noise(1.0),
                    )
                    .scaled(true),
                    0.05,
                )
                .with_rule(Adam::standard())
                .seed(1),
            ),
            400,
        ),
        (
            "Elastic-SGD",
            Box::new(ElasticSgd::elastic(4, 1.0, 0.01).seed(1)),
            2000,
        ),
        (
            "Parle",
            Box::new(
                Parle::with_oracle(
                    4,
                    LocalEntropyGradient::with_estimator(
                        scope(),
                        ExponentialSgld::new(50)
                            .langevin_step(0.12)
                            .thermal_noise(1.0)
                            .averaging(Averaging::new_sample_weight(0.1)),
                    )
                    .scaled(true),
                    Schedule::geometric(1.0, 0.98).clipped(0.5, 10.0),
                    0.5,
                )
                .seed(1),
            ),
            400,
        ),
        (
            "LocalEntropy (quad.)",
            Box::new(
                LocalEntropy::new(2.0)
                    .estimator(Quadrature::default())
                    .tau_schedule(scope()),
            ),
            TWO_STEP_STEPS,
        ),
        (
            "LocalEntropy (SGLD)",
            Box::new(
                LocalEntropy::new(2.0)
                    .estimator(Sgld::paper().constant_step(0.02))
                    .tau_schedule(scope())
                    .seed(1),
            ),
            TWO_STEP_STEPS,
        ),
        (
            "HeatReg (RM)",
            Box::new(HeatRegularization::new(2.0).tau_schedule(scope()).seed(1)),
            TWO_STEP_STEPS,
        ),
    ];
    Ok(v)
}

/// Outer steps of the two-step schemes.
const TWO_STEP_STEPS: usize = 200;

/// Runs every optimizer from `start`, recording the trajectory; each step is reported to
/// `watch` with f(x_{k+1}) (cheap here).
fn trajectories(
    f: &Landscape,
    start: &DVector<f64>,
    watch: &Watch,
) -> wide_valleys::Result<Vec<Run>> {
    let mut out = Vec::new();
    for (name, opt, steps) in optimizers(start.len())? {
        let mut opt = Observed::new(opt, watch.run(name)).loss_every(1);
        let mut x = start.clone();
        let mut path = vec![x.clone()];
        for _ in 0..steps {
            opt.step(&mut x, f)?;
            path.push(x.clone());
        }
        out.push((name, path));
    }
    Ok(out)
}

/// Heat regularization F^H_τ(x) = E f(x + √τ Z) by the trapezoid rule on z ∈ [−6, 6].
fn heat(f: &Landscape, x: f64, tau: f64) -> f64 {
    let n = 240;
    let h = 12.0 / n as f64;
    let mut s = 0.0;
    for i in 0..=n {
        let z = -6.0 + i as f64 * h;
        let w = if i == 0 || i == n { 0.5 } else { 1.0 };
        let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        s += w * phi * f.cost(&dvector![x + tau.sqrt() * z], &Batch::Full);
    }
    s * h
}

/// Hopf–Lax u(x, τ) = min_y f(y) + (x − y)²/(2τ) on a grid (003 eq. 4.16).
fn hopf_lax(fy: &[(f64, f64)], x: f64, tau: f64) -> f64 {
    fy.iter()
        .map(|(y, v)| v + (x - y) * (x - y) / (2.0 * tau))
        .fold(f64::INFINITY, f64::min)
}

fn f1(f: &Landscape, x: f64) -> f64 {
    f.cost(&dvector![x], &Batch::Full)
}

fn colour(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

fn plot_1d(
    path: &Path,
    f: &Landscape,
    curves: &[(f64, f64, f64, f64, f64)],
    runs: &[Run],
) -> Result<(), Box<dyn StdError>> {
    let root = BitMapBackend::new(path, (1200, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(480);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("f and its smoothings (tau = {TAU})"),
            ("sans-serif", 22),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(-4f64..4f64, 0f64..8f64)?;
    chart.configure_mesh().draw()?;
    let names = [
        "f",
        "local entropy F_tau",
        "heat F^H_tau",
        "Hopf-Lax u(., tau)",
    ];
    for (j, name) in names.iter().enumerate() {
        let c = colour(j);
        let pts = curves.iter().map(|r| {
            (
                r.0,
                match j {
                    0 => r.1,
                    1 => r.2,
                    2 => r.3,
                    _ => r.4,
                },
            )
        });
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
    }
    // End points of every optimizer on f.
    for (i, (name, traj)) in runs.iter().enumerate() {
        let x = traj.last().map(|v| v[0]).unwrap_or(0.0).clamp(-4.0, 4.0);
        let c = colour(i + 4);
        chart
            .draw_series(std::iter::once(Circle::new((x, f1(f, x)), 5, c.filled())))?
            .label(format!("{name} (end)"))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    let steps = runs.iter().map(|r| r.1.len()).max().unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(&bottom)
        .caption("trajectories x_k (log step axis)", ("sans-serif", 22))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d((1f64..steps).log_scale(), -4f64..4f64)?;
    chart.configure_mesh().draw()?;
    for (i, (_, traj)) in runs.iter().enumerate() {
        let c = colour(i + 4);
        chart.draw_series(LineSeries::new(
            traj.iter()
                .enumerate()
                .map(|(k, v)| ((k + 1) as f64, v[0].clamp(-4.0, 4.0))),
            c.stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}

fn plot_2d(path: &Path, f: &Landscape, runs: &[Run]) -> Result<(), Box<dyn StdError>> {
    let root = BitMapBackend::new(path, (900, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "2-D landscape f (red = low) and trajectories",
            ("sans-serif", 22),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(-4f64..4f64, -4f64..4f64)?;
    chart.configure_mesh().disable_mesh().draw()?;
    let n = 120;
    let h = 8.0 / n as f64;
    let cells: Vec<(f64, f64, f64)> = (0..n * n)
        .map(|i| {
            let (a, b) = (-4.0 + (i % n) as f64 * h, -4.0 + (i / n) as f64 * h);
            (
                a,
                b,
                f.cost(&dvector![a + h / 2.0, b + h / 2.0], &Batch::Full),
            )
        })
        .collect();
    let (lo, hi) = (1.0, 9.0);
    chart.draw_series(cells.iter().map(|(a, b, v)| {
        let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
        let c = HSLColor(0.66 * t, 0.7, 0.35 + 0.5 * t);
        Rectangle::new([(*a, *b), (a + h, b + h)], c.filled())
    }))?;
    for (i, (name, traj)) in runs.iter().enumerate() {
        let c = colour(i + 4);
        chart
            .draw_series(LineSeries::new(
                traj.iter()
                    .map(|v| (v[0].clamp(-4.0, 4.0), v[1].clamp(-4.0, 4.0))),
                c.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn out_dir() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("out"))
}

fn main() -> Result<(), Box<dyn StdError>> {
    let out = out_dir();
    common::out_dir(&out);
    let per_landscape: usize = optimizers(1)?.iter().map(|o| o.2).sum::<usize>();
    let pb = common::progress(2 * per_landscape as u64, "wide vs sharp");
    let progress = ProgressObserver::new(&pb);
    let log = StepLog::create(&out, "wide_vs_sharp", &["landscape", "optimizer"]);
    let watch = |landscape| Watch {
        progress: &progress,
        log: &log,
        landscape,
    };

    // 1-D: f = −log(0.3 N(x; −2, 0.05) + 0.7 N(x; 1.5, 1)).
    let f = GaussianMixture::<f64>::wide_and_sharp();
    let start = dvector![-1.8];
    let runs = trajectories(&f, &start, &watch("1-D"))?;

    // 2-D: a sharp deep component at (−1.5, −1) and a wide shallow one at (1.5, 1).
    let f2 = GaussianMixture::new(
        vec![0.3, 0.7],
        vec![dvector![-1.5, -1.0], dvector![1.5, 1.0]],
        vec![0.05, 1.0],
    );
    let start2 = dvector![-1.2, -0.6];
    let runs2 = trajectories(&f2, &start2, &watch("2-D"))?;
    pb.finish_and_clear();

    println!(
        "{:<21} {:>12} {:>10}   {:>22} {:>10}",
        "optimizer", "1-D end", "valley", "2-D end", "valley"
    );
    let valley = |x: &DVector<f64>, wide: &DVector<f64>, sharp: &DVector<f64>| {
        if (x - wide).norm() < 0.5 {
            "wide"
        } else if (x - sharp).norm() < 0.3 {
            "sharp"
        } else {
            "elsewhere"
        }
    };
    for ((name, t1), (_, t2)) in runs.iter().zip(runs2.iter()) {
        let (e1, e2) = (t1.last().unwrap(), t2.last().unwrap());
        println!(
            "{:<21} {:>12.4} {:>10}   ({:>9.4}, {:>9.4}) {:>10}",
            name,
            e1[0],
            valley(e1, &dvector![1.5], &dvector![-2.0]),
            e2[0],
            e2[1],
            valley(e2, &dvector![1.5, 1.0], &dvector![-1.5, -1.0])
        );
    }

    // Landscape and smoothings on a grid (CSV + plot).
    let fy: Vec<(f64, f64)> = (0..=3200)
        .map(|i| -8.0 + i as f64 * 0.005)
        .map(|y| (y, f1(&f, y)))
        .collect();
    let curves: Vec<(f64, f64, f64, f64, f64)> = (0..=400)
        .map(|i| -4.0 + i as f64 * 0.02)
        .map(|x| {
            (
                x,
                f1(&f, x),
                f.local_entropy(&dvector![x], TAU),
                heat(&f, x, TAU),
                hopf_lax(&fy, x, TAU),
            )
        })
        .collect();
    let mut csv = String::from("x,f,local_entropy,heat,hopf_lax\n");
    for c in &curves {
        writeln!(csv, "{},{},{},{},{}", c.0, c.1, c.2, c.3, c.4)?;
    }
    std::fs::write(out.join("landscape_1d.csv"), csv)?;
    // The trajectories are positions x_k for the plots (a Report carries no x), so they
    // stay here; the step log of the same runs is the observers' wide_vs_sharp_steps.csv.
    let mut csv = String::from("optimizer,step,x\n");
    for (name, t) in &runs {
        for (k, v) in t.iter().enumerate() {
            writeln!(csv, "{name},{k},{}", v[0])?;
        }
    }
    std::fs::write(out.join("trajectories_1d.csv"), csv)?;
    let mut csv = String::from("optimizer,step,x,y\n");
    for (name, t) in &runs2 {
        for (k, v) in t.iter().enumerate() {
            writeln!(csv, "{name},{k},{},{}", v[0], v[1])?;
        }
    }
    std::fs::write(out.join("trajectories_2d.csv"), csv)?;

    plot_1d(&out.join("wide_vs_sharp_1d.png"), &f, &curves, &runs)?;
    plot_2d(&out.join("wide_vs_sharp_2d.png"), &f2, &runs2)?;
    println!(
        "wrote CSV and PNG files to {} (step log {})",
        out.display(),
        log.finish().display()
    );
    Ok(())
}
