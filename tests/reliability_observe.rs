//! Observers (issue 5, item 1): watching a scheme or an optimizer changes nothing in the run,
//! and every observation carries the step's true values.

#[path = "reliability_common.rs"]
mod common;

use common::*;
use nalgebra::DVector;
use std::cell::RefCell;
use wide_valleys::observe::{CsvObserver, FnObserver, Observed, Observer, CSV_HEADER};
use wide_valleys::optim::{EntropySgd, Parle};
use wide_valleys::sampling::ImportanceSampling;
use wide_valleys::Optimizer;
use wide_valleys::Report;
use wide_valleys::{Error, LocalEntropy};

/// Records observations and errors.
#[derive(Default)]
struct Log {
    seen: Vec<Report>,
    errors: Vec<usize>,
}
impl Observer for Log {
    fn observe(&mut self, o: &Report) {
        self.seen.push(o.clone());
    }
    fn error(&mut self, step: usize, _: &Error) {
        self.errors.push(step);
    }
}

/// The report without its wall time (which differs between two runs).
fn untimed(r: &Report) -> Report {
    Report {
        step_time: Default::default(),
        ..r.clone()
    }
}

#[test]
fn observing_a_scheme_changes_nothing_and_reports_its_values() {
    let loss = Hostile::new(2);
    let make = || {
        LocalEntropy::new(0.5)
            .estimator(ImportanceSampling::new(50))
            .seed(4)
    };
    let mut plain = make();
    let mut watched = Observed::new(make(), Log::default());
    let (mut x, mut y) = (start(3), start(3));
    for k in 0..4 {
        let before = y.clone();
        let r1 = plain.step(&mut x, &loss).unwrap();
        let r2 = watched.step(&mut y, &loss).unwrap();
        assert_eq!(untimed(&r1), untimed(&r2));
        let o = watched.observer().seen.last().unwrap().clone();
        assert_eq!(o.step, k);
        assert_eq!(o.scope, Some(0.5));
        assert_eq!(o, r2, "the observer sees the step's report");
        assert!(o.ess.unwrap() > 1.0 && o.ess.unwrap() <= 50.0);
        // The loss estimate is −log mean weight: F̂_τ(x_k) of 000 eq. 2.
        assert!(o.loss.unwrap().is_finite());
        let norm = o.step_norm.unwrap();
        assert!((norm - (&y - &before).norm()).abs() <= 1e-12 * (1.0 + norm));
        assert_eq!(o.cost_evaluations, 50, "counted: one loss value per sample");
    }
    assert_eq!(bits(&x), bits(&y));
    assert_eq!(watched.observer().seen.len(), 4);
}

#[test]
fn observing_an_optimizer_changes_nothing_and_reports_its_values() {
    let loss = Hostile::new(2);
    let make = || Parle::new(3, 0.5, 2.0, 4, 0.2).seed(5);
    let mut plain = make();
    let log = RefCell::new(Vec::new());
    let mut watched = Observed::new(
        make(),
        FnObserver::new(|o: &Report| log.borrow_mut().push(o.clone())),
    )
    .loss_every(2);
    let (mut x, mut y) = (start(3), start(3));
    for k in 0..4 {
        let before = y.clone();
        let r1 = plain.step(&mut x, &loss).unwrap();
        let r2 = watched.step(&mut y, &loss).unwrap();
        // The wrapper adds |x_{k+1} − x_k| and the loss; everything else is the step's own.
        let bare = Report {
            step_norm: None,
            loss: None,
            ..untimed(&r2)
        };
        assert_eq!(untimed(&r1), bare);
        let o = log.borrow().last().unwrap().clone();
        assert_eq!(o, r2, "the observer sees the step's report");
        assert_eq!(o.step, k);
        assert_eq!(o.scope, Some(0.5));
        assert_eq!(o.coupling, Some(2.0));
        assert_eq!(o.learning_rate, Some(0.2));
        assert_eq!(
            o.gradient_evaluations,
            3 * 4,
            "counted: n = 3 replicas × L = 4"
        );
        let norm = o.step_norm.unwrap();
        assert!((norm - (&y - &before).norm()).abs() <= 1e-12 * (1.0 + norm));
        // f(x_{k+1}) on the full batch every second step.
        match k % 2 {
            1 => {
                let f = wide_valleys::Cost::cost(&loss, &y, &wide_valleys::Batch::Full);
                assert_eq!(o.loss, Some(f));
            }
            _ => assert_eq!(o.loss, None),
        }
    }
    assert_eq!(bits(&x), bits(&y));
}

#[test]
fn a_failed_step_is_reported_as_an_error_not_as_an_observation() {
    let loss = Hostile::new(2);
    let mut watched = Observed::new(EntropySgd::new(0.5, 5, 0.1).seed(1), Log::default());
    let mut x = start(1);
    watched.step(&mut x, &loss).unwrap();
    loss.poison_after(3, f64::NAN);
    assert!(watched.step(&mut x, &loss).is_err());
    loss.heal();
    watched.step(&mut x, &loss).unwrap();
    let log = watched.observer();
    assert_eq!(log.errors, vec![1]);
    assert_eq!(
        log.seen.iter().map(|o| o.step).collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[test]
fn csv_observer_writes_one_parsable_row_per_step() {
    let loss = Hostile::new(2);
    let mut watched = Observed::new(
        EntropySgd::new(0.5, 5, 0.1).seed(1),
        CsvObserver::new(Vec::new()),
    );
    let mut x: DVector<f64> = start(1);
    for _ in 0..3 {
        watched.step(&mut x, &loss).unwrap();
    }
    let (_, csv) = watched.into_parts();
    let text = String::from_utf8(csv.finish().unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(lines.len(), 4);
    let cols = CSV_HEADER.split(',').count();
    for (k, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), cols, "{line}");
        assert_eq!(cells[0].parse::<usize>().unwrap(), k);
        assert_eq!(cells[1], ""); // no loss requested
        assert!(cells[2].parse::<f64>().unwrap() > 0.0); // step norm
        assert_eq!(cells[3].parse::<f64>().unwrap(), 0.5); // scope γ
        assert_eq!(cells[9].parse::<usize>().unwrap(), 5); // L gradient evaluations, counted
    }
}

#[test]
fn csv_observer_keeps_a_write_error_instead_of_failing_the_step() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let loss = Hostile::new(2);
    let mut watched = Observed::new(EntropySgd::new(0.5, 5, 0.1), CsvObserver::new(Broken));
    let mut x = start(1);
    watched.step(&mut x, &loss).unwrap();
    assert!(watched.observer().io_error().is_some());
    let (_, csv) = watched.into_parts();
    match csv.finish() {
        Err(e @ Error::Io { .. }) => {
            assert_eq!(
                e,
                Error::Io {
                    kind: std::io::ErrorKind::Other,
                    message: "disk full".into()
                }
            );
            assert!(e.to_string().contains("disk full"), "{e}");
        }
        other => panic!("expected an I/O error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn csv_observer_label_columns_let_one_log_hold_several_runs() {
    let loss = Hostile::new(2);
    let mut csv = CsvObserver::new(Vec::new()).with_label_columns(&["method", "seed"]);
    for (run, (name, steps)) in [("Entropy-SGD, L=5", 2), ("say \"hi\"", 1), ("short", 1)]
        .into_iter()
        .enumerate()
    {
        match run {
            // A missing value leaves its cell empty; extra values are ignored.
            2 => csv.set_labels([name]),
            _ => csv.set_labels([name.to_string(), run.to_string(), "extra".into()]),
        }
        let mut watched = Observed::new(EntropySgd::new(0.5, 5, 0.1).seed(run as u64), &mut csv);
        let mut x: DVector<f64> = start(1);
        for _ in 0..steps {
            watched.step(&mut x, &loss).unwrap();
        }
    }
    let text = String::from_utf8(csv.finish().unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("method,seed,{CSV_HEADER}"));
    assert_eq!(lines.len(), 1 + 4, "{text}");
    // RFC 4180 quoting of a comma and of quotes; the step counter restarts with each run.
    assert!(
        lines[1].starts_with("\"Entropy-SGD, L=5\",0,0,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("\"Entropy-SGD, L=5\",0,1,"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("\"say \"\"hi\"\"\",1,0,"),
        "{}",
        lines[3]
    );
    assert!(lines[4].starts_with("short,,0,"), "{}", lines[4]);
    // Every row has the label cells plus the standard ones (the quoted comma is one cell).
    let cols = CSV_HEADER.split(',').count();
    for (i, line) in lines[1..].iter().enumerate() {
        let quoted_commas = usize::from(i < 2);
        assert_eq!(line.split(',').count(), 2 + cols + quoted_commas, "{line}");
    }
}
