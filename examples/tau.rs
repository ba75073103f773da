//! 000 Figure 7 (§6.5): τ swept over [0.001, 1] for local entropy by SGLD (ε_j = 1/(1000 + j))
//! and by IS on the small 784→10 network, minibatch 20, 10³ samples. The paper has only the
//! figure: SGLD trains (slowly, almost linearly) for τ ∈ [0.001, 0.01] and saturates as τ grows;
//! IS fails for small τ, is best at intermediate τ, and degrades again as τ → ∞.
//!
//! ```text
//! MNIST_DIR=/path/to/mnist cargo run --release --example tau -- --seeds 1 --updates 100
//! ```
//!
//! Writes `tau.csv` and `tau.png` (held-out accuracy) and the step log `tau_steps.csv`
//! (the crate's observers: one row per update of every method and seed) into `--out`.

mod mnist000;

use clap::Parser;
use mnist000::*;

/// Flags.
#[derive(Parser, Debug)]
#[command(about = "000 Figure 7: choice of tau")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Comma-separated τ values (variances).
    #[arg(long, default_value = "0.001,0.003,0.01,0.03,0.1,0.3,1")]
    taus: String,
    /// Samples per update for SGLD and IS (000: 10³).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
}

fn main() -> wide_valleys::Result<()> {
    let args = Args::parse();
    let taus: Vec<f32> = args
        .taus
        .split(',')
        .map(|v| {
            v.trim().parse().unwrap_or_else(|_| {
                eprintln!("error: --taus takes numbers separated by commas, not {v:?}");
                std::process::exit(2)
            })
        })
        .collect();
    let mnist = load_mnist(&args.common.mnist_dir);
    let obj = objective(&[784, 10], mnist.train, 20)?;
    let mut methods = Vec::new();
    for &t in &taus {
        methods.push((
            format!("SGLD tau={t}"),
            0,
            Method::sgld(t, 1000.0, args.samples),
        ));
    }
    for &t in &taus {
        methods.push((format!("IS tau={t}"), 1, Method::is(t, args.samples)));
    }
    let runs = run_all(
        "tau",
        &methods,
        &obj,
        &mnist.test,
        &args.common,
        init_for(&obj),
    );
    print_table(
        "000 Figure 7, 784→10 (accuracy mean±std over seeds). Paper, qualitatively: SGLD trains \
         slowly for small τ and saturates for large τ; IS fails for small τ, is best at \
         intermediate τ and degrades as τ → ∞",
        &runs,
        &checkpoints(args.common.updates),
        &[],
    );
    write_outputs(
        &args.common.out,
        "tau",
        &runs,
        &["000 Fig. 7: SGLD, 784-10", "000 Fig. 7: IS, 784-10"],
    );
    Ok(())
}
