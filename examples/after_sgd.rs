//! 000 Figure 5 (§6.3): local entropy and heat regularization after SGD. SGD (learning rate
//! τ = 0.01) trains the 784→200→10 MLP first; from that point SGD continues and, from the same
//! parameters, SGLD (ε_j = 1/(2000 + j)), IS and HR (c = 0.1, α = 0.7, M = J = 30) take over,
//! all with τ = 0.01. The paper has only the figure: IS and SGLD do better than HR, which stays
//! flat after SGD; none improves much on continued SGD.
//!
//! Writes `after_sgd.csv` / `after_sgd.png` (held-out accuracy) and the observers' step log
//! `after_sgd_steps.csv` (one row per update; method `SGD (phase 1)` for the shared first phase).
//!
//! ```text
//! MNIST_DIR=/path/to/mnist cargo run --release --example after_sgd -- --seeds 1 --sgd-updates 300 --updates 50 --samples 100
//! ```

mod mnist000;

use clap::Parser;
use mnist000::common::{progress, ProgressObserver, StepLog};
use mnist000::*;

/// Flags.
#[derive(Parser, Debug)]
#[command(about = "000 Figure 5: SGLD / IS / HR after SGD")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// SGD updates before the switch.
    #[arg(long, default_value_t = 500)]
    sgd_updates: usize,
    /// τ (and SGD's learning rate).
    #[arg(long, default_value_t = 0.01)]
    tau: f32,
    /// Samples per update for SGLD and IS (000: 10³).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// M = J for HR (000: 30).
    #[arg(long, default_value_t = 30)]
    hr_m: usize,
}

fn main() -> wide_valleys::Result<()> {
    let args = Args::parse();
    let c = &args.common;
    let mnist = load_mnist(&c.mnist_dir);
    let obj = objective(&[784, 200, 10], mnist.train, 20)?;
    let methods = [
        ("SGD", Method::Sgd { lr: args.tau }),
        ("SGLD", Method::sgld(args.tau, 2000.0, args.samples)),
        ("IS", Method::is(args.tau, args.samples)),
        ("HR", Method::hr(args.tau, args.hr_m, args.hr_m)),
    ];
    let mut runs: Vec<Runs> = methods
        .iter()
        .map(|(n, _)| Runs {
            name: n.to_string(),
            panel: 0,
            curves: Vec::new(),
        })
        .collect();
    let total = c.seeds * (args.sgd_updates + methods.len() * c.updates) as u64;
    let pb = progress(total, "after SGD");
    let progress = ProgressObserver::new(&pb);
    let log = StepLog::create(&c.out, "after_sgd", &["method", "seed"]);
    for seed in c.first_seed..c.first_seed + c.seeds {
        let mut x = obj.init(&mut wide_valleys::rng::seeded(seed));
        // Phase 1: SGD, shared by all methods of this seed.
        let s = seed.to_string();
        let obs = (progress.clone(), log.run(&["SGD (phase 1)", &s]));
        let mut sgd = Method::Sgd { lr: args.tau }.stepper(1000 + seed, obs)?;
        let eval_seed = 777 + seed;
        let phase1 = train(
            &mut sgd,
            &obj,
            &mut x,
            &mnist.test,
            args.sgd_updates,
            c.eval_every,
            c.eval_images,
            eval_seed,
            0,
            &progress,
        );
        for (i, (name, m)) in methods.iter().enumerate() {
            pb.set_prefix(format!("{name} s{seed}"));
            let mut xi = x.clone();
            // SGD continues with its own generator; the others start fresh at the SGD point.
            let obs = (progress.clone(), log.run(&[name, &s]));
            let mut step = if i == 0 {
                Method::Sgd { lr: args.tau }.stepper(2000 + seed, obs)?
            } else {
                m.clone()
                    .projected(args.common.projected)
                    .stepper(1000 + seed, obs)?
            };
            let mut cur = train(
                &mut step,
                &obj,
                &mut xi,
                &mnist.test,
                c.updates,
                c.eval_every,
                c.eval_images,
                eval_seed,
                args.sgd_updates,
                &progress,
            );
            let mut pts = phase1.points.clone();
            pts.extend(cur.points.drain(1..));
            cur.points = pts;
            if let Some(e) = &cur.error {
                pb.println(format!("{name} seed {seed}: stopped: {e}"));
            }
            cur.seed = seed;
            runs[i].curves.push(cur);
        }
    }
    pb.finish_and_clear();
    println!("wrote {}", log.finish().display());
    // Checkpoints on the evaluation grid: the switch, about halfway, the end.
    let e = c.eval_every.max(1);
    let cps: Vec<usize> = [0, c.updates / 2 / e * e, c.updates]
        .iter()
        .map(|u| args.sgd_updates + u)
        .collect();
    print_table(
        &format!(
            "000 Figure 5: after {} SGD updates (accuracy mean±std over seeds; s/update of the \
             second phase). Paper, qualitatively: SGLD and IS improve a little over the SGD point, \
             HR stays flat; none clearly beats continued SGD",
            args.sgd_updates
        ),
        &runs,
        &cps,
        &[],
    );
    write_outputs(
        &c.out,
        "after_sgd",
        &runs,
        &["000 Fig. 5: training after SGD (tau = 0.01)"],
    );
    Ok(())
}
