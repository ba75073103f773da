//! Non-finite values mid-run (issue 5, item 4), table-driven over every scheme and optimizer:
//! a loss that starts returning NaN, +∞ or −∞ after k clean steps (from the first call of step
//! k + 1, or half-way through it) makes that step return `Error::NonFinite`; x and the serialized
//! state are exactly those after step k; once the loss is finite again the run continues exactly
//! as the run that never saw the bad values.

#[path = "reliability_common.rs"]
mod common;

use common::*;
use wide_valleys::Error;

const K: usize = 3;

#[test]
fn a_nan_or_infinite_loss_mid_run_is_a_typed_error_with_exact_rollback() {
    let loss = Hostile::new(3);
    let mut checked = 0;
    for poison in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for (i, mut run) in all(11).into_iter().enumerate() {
            let name = run.name().to_string();
            let mut x = start(6);
            loss.heal();
            let mut calls_per_step = 0;
            for _ in 0..K {
                let c0 = loss.calls();
                run.step(&mut x, &loss).unwrap();
                calls_per_step = loss.calls() - c0;
            }
            assert!(calls_per_step > 0, "{name}: never called the loss");
            // The run that never sees a bad value.
            let mut twin = all(11).remove(i);
            let mut x_twin = start(6);
            for _ in 0..K {
                twin.step(&mut x_twin, &loss).unwrap();
            }
            assert_eq!(bits(&x), bits(&x_twin), "{name}: not reproducible");

            let (x_k, state_k) = (x.clone(), run.state());
            // Bad from the first call of step k+1, then bad half-way through it.
            for after in [0, calls_per_step / 2] {
                loss.poison_after(after, poison);
                let r = run.step(&mut x, &loss);
                assert!(
                    matches!(r, Err(Error::NonFinite { .. })),
                    "{name}, poison {poison} after {after} calls: {r:?}"
                );
                assert_eq!(bits(&x), bits(&x_k), "{name}: x changed by a failed step");
                assert_eq!(
                    run.state(),
                    state_k,
                    "{name}: state changed by a failed step"
                );
                checked += 1;
            }
            // The loss is finite again: the run continues as if nothing had happened.
            loss.heal();
            for _ in 0..2 {
                run.step(&mut x, &loss).unwrap();
                twin.step(&mut x_twin, &loss).unwrap();
            }
            assert_eq!(bits(&x), bits(&x_twin), "{name}: did not continue exactly");
            assert_eq!(run.state(), twin.state(), "{name}: state after recovery");
        }
    }
    assert_eq!(checked, 3 * 2 * all(0).len());
}

/// Regression (found by `reliability_hyperparams`): a finite gradient times a huge learning rate
/// overflowed x to ±∞ and the step returned `Ok`. Now a typed error with x and state unchanged,
/// for the single-process optimizers (with momentum state) and for Parle / Elastic-SGD.
#[test]
fn an_update_that_overflows_x_is_a_typed_error_with_exact_rollback() {
    use wide_valleys::optim::{ElasticSgd, GradientDescent, Parle};
    use wide_valleys::update::Momentum;
    let loss = Hostile::new(8);
    let mut runs: Vec<Box<dyn Runner>> = vec![
        Box::new(Opt(
            "GD+momentum",
            GradientDescent::new(1e300).with_rule(Momentum::classical(0.9)),
        )),
        Box::new(Opt("Parle", Parle::new(2, 0.5, 1.0, 3, 1e300))),
        Box::new(Opt("ElasticSgd", ElasticSgd::elastic(3, 1e300, 1e300))),
    ];
    for run in &mut runs {
        let name = run.name().to_string();
        // A point where the gradient is tiny: the first step stays finite.
        let mut x = start(1) * 1e-300;
        let (x0, s0) = (x.clone(), run.state());
        let mut failed = false;
        for _ in 0..3 {
            let (xb, sb) = (x.clone(), run.state());
            match run.step(&mut x, &loss) {
                Ok(()) => assert!(x.iter().all(|v| v.is_finite()), "{name}: Ok with x = {x}"),
                Err(e) => {
                    assert!(matches!(e, Error::NonFinite { .. }), "{name}: {e:?}");
                    assert_eq!(bits(&x), bits(&xb), "{name}: x changed");
                    assert_eq!(run.state(), sb, "{name}: state changed");
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "{name}: never overflowed from {x0} ({s0})");
    }
}
