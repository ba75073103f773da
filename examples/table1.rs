//! 000 Table 1 and Table 2 (and Figure 4): held-out accuracy after 100–500 updates and time per
//! update of SGD, local entropy by importance sampling (IS, 000 Alg. 4) and by SGLD (Alg. 3), and
//! heat regularization by Robbins–Monro (HR, Alg. 5) on the 784→200→10 MLP, minibatch 20,
//! τ = 0.01, SGD learning rate 0.01, SGLD ε_j = 1/(1000 + j) with 10³ samples, IS with 10³
//! samples, HR with M = J = 30, c = 0.1, α = 0.7 (000 §6.2).
//!
//! ```text
//! MNIST_DIR=/path/to/mnist cargo run --release --example table1 -- --seeds 2 --updates 500
//! ```
//!
//! Writes `table1.csv` and `table1.png` (held-out accuracy) and the step log `table1_steps.csv`
//! (the crate's observers: one row per update of every method and seed) into `--out`.

mod mnist000;

use clap::Parser;
use mnist000::*;

/// 000 Table 1: accuracy on 1000 random held-out images after 100..500 updates.
const PAPER_T1: [(&str, [f64; 5], Option<f64>); 4] = [
    ("SGD", [0.75, 0.80, 0.85, 0.87, 0.87], Some(0.0032)),
    ("IS", [0.27, 0.45, 0.54, 0.57, 0.65], Some(6.2504)),
    ("SGLD", [0.72, 0.81, 0.84, 0.86, 0.88], Some(7.0599)),
    ("HR", [0.52, 0.64, 0.70, 0.73, 0.76], Some(3.3053)),
];

/// Flags (defaults: the paper's setting).
#[derive(Parser, Debug)]
#[command(about = "000 Table 1 / Table 2 / Figure 4 on real MNIST")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// τ (a variance) for SGLD, IS and HR; also SGD's learning rate.
    #[arg(long, default_value_t = 0.01)]
    tau: f32,
    /// Samples per update for SGLD and IS (000: 10³).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// M = J for HR's Robbins–Monro (000: 30).
    #[arg(long, default_value_t = 30)]
    hr_m: usize,
    /// Comma-separated subset of SGD,IS,SGLD,HR to run.
    #[arg(long, default_value = "SGD,IS,SGLD,HR")]
    methods: String,
}

fn main() -> wide_valleys::Result<()> {
    let args = Args::parse();
    let mnist = load_mnist(&args.common.mnist_dir);
    let obj = objective(&[784, 200, 10], mnist.train, 20)?;
    let all = [
        ("SGD", Method::Sgd { lr: args.tau }),
        ("IS", Method::is(args.tau, args.samples)),
        ("SGLD", Method::sgld(args.tau, 1000.0, args.samples)),
        ("HR", Method::hr(args.tau, args.hr_m, args.hr_m)),
    ];
    let want: Vec<&str> = args.methods.split(',').map(str::trim).collect();
    let methods: Vec<(String, usize, Method)> = all
        .iter()
        .filter(|(n, _)| want.contains(n))
        .map(|(n, m)| (n.to_string(), 0, m.clone()))
        .collect();
    let runs = run_all(
        "table1",
        &methods,
        &obj,
        &mnist.test,
        &args.common,
        init_for(&obj),
    );
    print_table(
        &format!(
            "000 Table 1 (accuracy, mean±std over {} seeds) and Table 2 (s/update); \
             samples {}, HR M=J={}",
            args.common.seeds, args.samples, args.hr_m
        ),
        &runs,
        &checkpoints(args.common.updates),
        &PAPER_T1,
    );
    write_outputs(
        &args.common.out,
        "table1",
        &runs,
        &["000 Fig. 4: SGD, IS, SGLD, HR (tau = 0.01)"],
    );
    Ok(())
}
