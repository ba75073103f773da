//! 000 Figure 6 (§6.4): IS, SGLD and HR with S = 10, 100, 1000 samples per update on the
//! 784→200→10 MLP, τ = 0.01, SGLD ε_j = 1/(1000 + j), HR with M = J = ⌊√S⌋ (equal gradient work).
//! The paper has only the figure: IS and SGLD improve with S; HR gets worse with longer chains
//! (smaller steps a_j), trading progress for less oscillation.
//!
//! ```text
//! MNIST_DIR=/path/to/mnist cargo run --release --example samples -- --seeds 1 --updates 100 --s 10,100
//! ```
//!
//! Writes `samples.csv` and `samples.png` (held-out accuracy) and the step log `samples_steps.csv`
//! (the crate's observers: one row per update of every method and seed) into `--out`.

mod mnist000;

use clap::Parser;
use mnist000::*;

/// Flags.
#[derive(Parser, Debug)]
#[command(about = "000 Figure 6: samples per update")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Comma-separated sample counts S.
    #[arg(long, default_value = "10,100,1000")]
    s: String,
    /// τ.
    #[arg(long, default_value_t = 0.01)]
    tau: f32,
}

fn main() -> wide_valleys::Result<()> {
    let args = Args::parse();
    let ss: Vec<usize> = args
        .s
        .split(',')
        .map(|v| {
            v.trim().parse().unwrap_or_else(|_| {
                eprintln!("error: --s takes integers separated by commas, not {v:?}");
                std::process::exit(2)
            })
        })
        .collect();
    let mnist = load_mnist(&args.common.mnist_dir);
    let obj = objective(&[784, 200, 10], mnist.train, 20)?;
    let mut methods = Vec::new();
    for &s in &ss {
        let m = (s as f64).sqrt().floor().max(1.0) as usize;
        methods.push((format!("IS S={s}"), 0, Method::is(args.tau, s)));
        methods.push((format!("SGLD S={s}"), 1, Method::sgld(args.tau, 1000.0, s)));
        methods.push((format!("HR S={s} (M=J={m})"), 2, Method::hr(args.tau, m, m)));
    }
    // Panels by algorithm, as in the paper; order series by S within a panel.
    methods.sort_by_key(|m| m.1);
    let runs = run_all(
        "samples",
        &methods,
        &obj,
        &mnist.test,
        &args.common,
        init_for(&obj),
    );
    print_table(
        "000 Figure 6 (accuracy mean±std over seeds). Paper, qualitatively: IS and SGLD improve \
         with S (less noise, faster); HR is worse with longer chains (smaller a_j)",
        &runs,
        &checkpoints(args.common.updates),
        &[],
    );
    write_outputs(
        &args.common.out,
        "samples",
        &runs,
        &[
            "000 Fig. 6: IS",
            "000 Fig. 6: SGLD",
            "000 Fig. 6: HR (M = J = floor(sqrt S))",
        ],
    );
    Ok(())
}
