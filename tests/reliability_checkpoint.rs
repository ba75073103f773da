//! Checkpoint and resume (issue 5, item 2): for every scheme and optimizer, a run stopped after
//! k steps and resumed from its checkpoint in a fresh object gives bit-identical iterates and state
//! to the run that was never stopped; writing is atomic; a foreign, truncated or corrupt file is
//! a typed `Error::Checkpoint`.

#[path = "reliability_common.rs"]
mod common;

use common::*;
use nalgebra::DVector;
use std::fs;
use wide_valleys::checkpoint::{self, Header};
use wide_valleys::optim::{EntropySgd, GradientDescent};
use wide_valleys::Optimizer;
use wide_valleys::{Error, LocalEntropy, Schedule};

const K: usize = 3;
const M: usize = 4;

#[test]
fn resume_is_bit_identical_for_every_scheme_and_optimizer() {
    let dir = temp_dir("resume");
    let loss = Hostile::new(1);
    for (i, mut uninterrupted) in all(5).into_iter().enumerate() {
        let name = uninterrupted.name().to_string();
        let mut x = start(2);
        for _ in 0..K {
            uninterrupted.step(&mut x, &loss).unwrap();
        }
        let path = dir.join(format!("{i}.ckpt"));
        uninterrupted.save(&path, &x).unwrap();
        for _ in 0..M {
            uninterrupted.step(&mut x, &loss).unwrap();
        }
        // A fresh object built with another seed: everything must come from the file.
        let mut resumed = all(99).remove(i);
        let mut xr = resumed.restore(&path).unwrap();
        for _ in 0..M {
            resumed.step(&mut xr, &loss).unwrap();
        }
        assert_eq!(bits(&x), bits(&xr), "{name}: resumed iterates differ");
        assert_eq!(
            uninterrupted.state(),
            resumed.state(),
            "{name}: resumed state differs"
        );
        assert_ne!(x, start(2), "{name}: did not move");
    }
    fs::remove_dir_all(dir).ok();
}

#[test]
fn another_optimizer_or_float_type_is_refused() {
    let dir = temp_dir("kind");
    let path = dir.join("gd.ckpt");
    let x = DVector::from_element(D, 0.5);
    let gd = GradientDescent::new(0.1);
    checkpoint::save(&path, &(&x, &gd)).unwrap();
    // Same optimizer loads.
    let (_, _): (
        DVector<f64>,
        wide_valleys::optim::SmoothedOptimizer<f64, _, _>,
    ) = checkpoint::load::<(DVector<f64>, GdType)>(&path).unwrap();
    // Another optimizer, or the same one in f32, is refused with a clear message.
    let err = checkpoint::load::<(DVector<f64>, EsType)>(&path).unwrap_err();
    match &err {
        Error::Checkpoint { problem, .. } => {
            assert!(problem.contains("LocalEntropyGradient"), "{problem}")
        }
        e => panic!("wrong error {e:?}"),
    }
    assert!(matches!(
        checkpoint::load::<(DVector<f32>, GdType32)>(&path),
        Err(Error::Checkpoint { .. })
    ));
    // A scheme is not an optimizer.
    assert!(matches!(
        checkpoint::load::<(DVector<f64>, LocalEntropy)>(&path),
        Err(Error::Checkpoint { .. })
    ));
    fs::remove_dir_all(dir).ok();
}

type GdType = wide_valleys::optim::SmoothedOptimizer<
    f64,
    wide_valleys::smoothing::PlainGradient,
    wide_valleys::update::Sgd,
>;
type GdType32 = wide_valleys::optim::SmoothedOptimizer<
    f32,
    wide_valleys::smoothing::PlainGradient,
    wide_valleys::update::Sgd,
>;
type EsType = wide_valleys::optim::SmoothedOptimizer<
    f64,
    wide_valleys::smoothing::LocalEntropyGradient<f64>,
    wide_valleys::update::Sgd,
>;

/// Rewrites the header of a valid checkpoint with `edit`.
fn with_header(bytes: &[u8], edit: impl FnOnce(&mut Header)) -> Vec<u8> {
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let mut h: Header = serde_json::from_slice(&bytes[..nl]).unwrap();
    edit(&mut h);
    let mut out = serde_json::to_vec(&h).unwrap();
    out.extend_from_slice(&bytes[nl..]);
    out
}

#[test]
fn another_version_truncation_and_corruption_are_typed_errors() {
    let dir = temp_dir("corrupt");
    let path = dir.join("es.ckpt");
    let loss = Hostile::new(1);
    let mut es = EntropySgd::new(0.5, 5, 0.1).seed(3);
    let mut x = start(4);
    es.step(&mut x, &loss).unwrap();
    checkpoint::save(&path, &(&x, &es)).unwrap();
    let good = fs::read(&path).unwrap();
    let load = |bytes: &[u8]| {
        fs::write(&path, bytes).unwrap();
        checkpoint::load::<(DVector<f64>, EsType)>(&path)
    };
    assert!(load(&good).is_ok());
    let refused = |bytes: Vec<u8>, what: &str| match load(&bytes) {
        Err(Error::Checkpoint { problem, .. }) => problem,
        other => panic!("{what}: expected Error::Checkpoint, got {other:?}"),
    };
    let p = refused(
        with_header(&good, |h| h.crate_version = "0.0.1".into()),
        "version",
    );
    assert!(p.contains("0.0.1"), "{p}");
    let p = refused(
        with_header(&good, |h| h.format_version += 1),
        "format version",
    );
    assert!(p.contains("format version"), "{p}");
    // Checkpoints of formats 1 (before the composable oracles) and 2 (before the State was
    // apart) are refused with what to do.
    for old in [1, 2] {
        let p = refused(with_header(&good, |h| h.format_version = old), "old format");
        assert!(
            p.contains(&format!("format version {old}")) && p.contains("resume it with"),
            "{p}"
        );
    }
    refused(
        with_header(&good, |h| h.magic = "something".into()),
        "magic",
    );
    // Every truncation is refused (never a panic, never a silently shorter state).
    for cut in (0..good.len() - 1).step_by(7) {
        refused(good[..cut].to_vec(), "truncated");
    }
    // A flipped digit in the state is caught by the checksum.
    let mut flipped = good.clone();
    let nl = good.iter().position(|&b| b == b'\n').unwrap();
    let digit = (nl + 1..good.len())
        .find(|&i| good[i].is_ascii_digit() && good[i] != b'9')
        .unwrap();
    flipped[digit] += 1;
    let p = refused(flipped, "flipped");
    assert!(p.contains("checksum"), "{p}");
    // Empty file and missing file.
    refused(Vec::new(), "empty");
    assert!(matches!(
        checkpoint::load::<(DVector<f64>, EsType)>(dir.join("missing")),
        Err(Error::Checkpoint { .. })
    ));
    fs::remove_dir_all(dir).ok();
}

#[test]
fn a_failed_or_crashed_write_never_destroys_the_previous_checkpoint() {
    let dir = temp_dir("atomic");
    let path = dir.join("run.ckpt");
    let x = DVector::from_element(D, 0.25);
    let gd = GradientDescent::new(0.1).seed(1);
    checkpoint::save(&path, &(&x, &gd)).unwrap();
    let before = fs::read(&path).unwrap();

    // 1. A state that fails to serialize half-way (a closure schedule cannot be written):
    //    error, previous file intact, no temporary file left behind.
    let bad = GradientDescent::new(0.1)
        .learning_rate_schedule(Schedule::from_fn(|k| 0.1 / (1.0 + k as f64)));
    let err = checkpoint::save(&path, &(&x, &bad)).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "temporary file left"
    );

    // 2. A crash in the middle of a write leaves a partial temporary file next to the
    //    checkpoint: the checkpoint still loads, and the next save succeeds and replaces it.
    fs::write(
        dir.join(".run.ckpt.tmp.12345.0"),
        &before[..before.len() / 2],
    )
    .unwrap();
    let (x0, _): (DVector<f64>, GdType) = checkpoint::load(&path).unwrap();
    assert_eq!(x0, x);
    let x2 = DVector::from_element(D, -1.0);
    checkpoint::save(&path, &(&x2, &gd)).unwrap();
    let (x1, _): (DVector<f64>, GdType) = checkpoint::load(&path).unwrap();
    assert_eq!(x1, x2);

    // 3. An unwritable destination (a directory in the way): error, nothing destroyed.
    let blocked = dir.join("blocked");
    fs::create_dir(&blocked).unwrap();
    fs::write(blocked.join("keep"), b"x").unwrap();
    assert!(matches!(
        checkpoint::save(&blocked, &(&x, &gd)),
        Err(Error::Checkpoint { .. })
    ));
    assert_eq!(fs::read(blocked.join("keep")).unwrap(), b"x");
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".blocked"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    fs::remove_dir_all(dir).ok();
}

#[test]
fn checkpoint_of_an_observed_run_resumes_identically() {
    use wide_valleys::observe::{NoObserver, Observed};
    let dir = temp_dir("observed");
    let path = dir.join("o.ckpt");
    let loss = Hostile::new(2);
    let mut a = Observed::new(EntropySgd::new(0.5, 5, 0.1).seed(8), NoObserver);
    let mut x = start(1);
    for _ in 0..2 {
        a.step(&mut x, &loss).unwrap();
    }
    checkpoint::save(&path, &(&x, a.inner())).unwrap();
    a.step(&mut x, &loss).unwrap();
    let (mut xr, inner): (DVector<f64>, EsType) = checkpoint::load(&path).unwrap();
    let mut b = Observed::new(inner, NoObserver);
    b.step(&mut xr, &loss).unwrap();
    assert_eq!(bits(&x), bits(&xr));
    assert_eq!(Optimizer::<f64, Hostile>::steps_taken(&b), 3);
    fs::remove_dir_all(dir).ok();
}

/// Regression (found by `reliability_fuzz`): a geometric schedule read from a hostile checkpoint
/// with `every = 0` divided by zero, and one with min > max or a NaN bound made `clamp` panic, at
/// the first step. Now refused at load time with `Error::Checkpoint`.
#[test]
fn hostile_schedules_in_a_checkpoint_are_refused_at_load() {
    let dir = temp_dir("sched");
    let path = dir.join("s.ckpt");
    let x = DVector::from_element(D, 0.5);
    let gd = GradientDescent::new(0.1)
        .learning_rate_schedule(Schedule::geometric(0.1, 0.5).clipped(0.01, 1.0).every(2));
    checkpoint::save(&path, &(&x, &gd)).unwrap();
    let good = fs::read(&path).unwrap();
    let nl = good.iter().position(|&b| b == b'\n').unwrap();
    let body = std::str::from_utf8(&good[nl + 1..]).unwrap().trim_end();
    assert!(checkpoint::load::<(DVector<f64>, GdType)>(&path).is_ok());
    for (from, to) in [
        ("\"every\":2", "\"every\":0"),
        ("\"min\":0.01", "\"min\":5.0"),
        ("\"max\":1.0", "\"max\":-1.0"),
    ] {
        assert!(body.contains(from), "{body}");
        let hostile = body.replace(from, to);
        let h: Header = serde_json::from_slice(&good[..nl]).unwrap();
        let h = Header {
            state_len: hostile.len() as u64,
            state_fnv1a: format!("{:016x}", fnv1a(hostile.as_bytes())),
            ..h
        };
        let mut bytes = serde_json::to_vec(&h).unwrap();
        bytes.push(b'\n');
        bytes.extend_from_slice(hostile.as_bytes());
        fs::write(&path, &bytes).unwrap();
        match checkpoint::load::<(DVector<f64>, GdType)>(&path) {
            Err(Error::Checkpoint { problem, .. }) => {
                assert!(problem.contains("geometric schedule"), "{problem}")
            }
            other => panic!("{to}: expected Error::Checkpoint, got {other:?}"),
        }
    }
    fs::remove_dir_all(dir).ok();
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
