//! Quickstart, no download: trains a 32→64→10 MLP on the built-in Gaussian-blob task
//! (`data::synthetic::Blobs`) with every family of the crate — SGD, local entropy by SGLD and by
//! importance sampling (000 Alg. 1 with Alg. 3 / Alg. 4), heat regularization by Robbins–Monro
//! (000 Alg. 2 + Alg. 5), Entropy-SGD (004 Alg. 1) and Parle (003 eq. 5.8) — and prints held-out
//! accuracy and time per update; writes `out/quickstart.csv` and `out/quickstart.png` (held-out
//! accuracy every 10 updates) and `out/quickstart_steps.csv`, the step log of the crate's
//! observers (one row per update of every method: loss estimate, |Δx|, τ / γ / ρ, ESS, gradient
//! evaluations, time), which also drive the progress bar.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

mod mnist000;

use clap::Parser;
use mnist000::*;
use wide_valleys::data::synthetic::Blobs;
use wide_valleys::optim::{EntropySgd, Parle};
use wide_valleys::Schedule;
use wide_valleys::{ExponentialSgld, LocalEntropyGradient};

/// Flags.
#[derive(Parser, Debug)]
#[command(about = "every method of wide-valleys on a synthetic task, in about a minute")]
struct Args {
    /// Parameter updates per method.
    #[arg(long, default_value_t = 300)]
    updates: usize,
    /// Seeds.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Output directory.
    #[arg(long, default_value = "out")]
    out: std::path::PathBuf,
}

// Hyper-parameters, chosen so that every method learns within 300 updates (checked: all end
// far above the 10% chance level; see docs/reproduction.md). The loss is the minibatch MEAN
// cross-entropy, so with exact expectations a local-entropy step is a gradient step of size τ
// on F_τ (000 eq. 12): τ plays the role of a learning rate and is set like SGD's (0.2–0.5).
// - SGLD: a cold chain (temperature 0.01): the chain's Gaussian width √τ per weight would
//   otherwise swamp the drift τ∇f in the 40-sample mean (noise ~ √(τ/J) per weight, 2.8k
//   weights); the mean of the cold q is the same to first order, x − τ∇F. ε_j = 1/(10 + j) so the
//   chain relaxes (rate ε/(2τ) per step) within the 40 steps.
// - IS: gradient-free; noise ~ √(τ/J) per weight against a drift τ∇f, so it needs many samples
//   (1000); it still learns slowest, as in 000 Table 1.
// - HR: Robbins–Monro with M = J = 5 and c = 1 (a_j = j^{-0.7}): the step x − x_k + τE∇f needs
//   a_j of order 1 to move a proximal step in 5 iterations.
// - Entropy-SGD / Parle: scaled form (x ← x + η μ, 003 §3.2.3), γ = 1, L = 5 Langevin steps
//   of 0.1, like SGD with step ≈ Lη'/2.
const SGD_LR: f32 = 0.3;
const TAU: f32 = 0.3;

fn main() -> wide_valleys::Result<()> {
    let args = Args::parse();
    let t0 = std::time::Instant::now();
    let task = Blobs::default().generate::<F>(0)?;
    let obj = objective(&[32, 64, 10], task.train, 32)?;
    let common = CommonArgs {
        updates: args.updates,
        seeds: args.seeds,
        first_seed: 0,
        mnist_dir: None,
        out: args.out.clone(),
        eval_every: 10,
        eval_images: task.test.len(),
        projected: false,
    };
    let methods = [
        ("SGD", Method::Sgd { lr: SGD_LR }),
        (
            "LE-SGLD",
            Method::Sgld {
                tau: Schedule::Constant(TAU),
                offset: 10.0,
                samples: 40,
            },
        ),
        ("LE-IS", Method::is(TAU, 1000)),
        (
            "HR-RM",
            Method::Hr {
                tau: Schedule::Constant(TAU),
                m: 5,
                j: 5,
                c: 1.0,
                alpha: 0.7,
                projected: false,
            },
        ),
    ];
    let mut names: Vec<(String, usize)> = methods.iter().map(|(n, _)| (n.to_string(), 0)).collect();
    names.push(("Entropy-SGD".into(), 0));
    names.push(("Parle n=3".into(), 0));
    let make = |i: usize, seed: u64, obs: common::RunObserver| -> Stepper {
        match i {
            4 => observed(
                EntropySgd::with_oracle(
                    LocalEntropyGradient::with_estimator(
                        1.0f32,
                        ExponentialSgld::new(5).langevin_step(0.1),
                    )
                    .scaled(true),
                    1.0,
                )
                .seed(seed),
                obs,
            ),
            5 => observed(Parle::new(3, 1.0f32, 1.0, 5, 0.1).seed(seed), obs),
            _ => methods[i].1.stepper(seed, obs).expect("valid"),
        }
    };
    let runs = run_steppers(
        "quickstart",
        &names,
        make,
        &obj,
        &task.test,
        &common,
        init_for(&obj),
    );
    print_table(
        &format!(
            "held-out accuracy on the blob task ({} test examples; chance 0.10)",
            common.eval_images
        ),
        &runs,
        &[args.updates / 3, 2 * args.updates / 3, args.updates],
        &[],
    );
    write_outputs(
        &args.out,
        "quickstart",
        &runs,
        &["quickstart: Gaussian blobs, 32→64→10"],
    );
    println!("total time {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
