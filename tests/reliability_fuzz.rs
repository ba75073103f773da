//! Hostile input (issue 5, item 5), as bounded property tests that run in CI (the unbounded
//! `cargo fuzz` targets live in `fuzz/`; see `docs/reliability.md`):
//! - the IDX reader on random and mutated (bit flips, truncation, gzip'd) files;
//! - the checkpoint loader on mutated bytes, and on *structure-aware* mutations of valid
//!   checkpoints of every scheme and optimizer (vectors shortened or lengthened, numbers replaced
//!   by huge / negative / zero / null, fields dropped), re-framed with a valid header so that
//!   they reach serde — and then one `step` of whatever was loaded.
//!
//! Property everywhere: a typed `Error` or a consistent value, never a panic.
//! `WV_FUZZ_SECONDS=600 cargo test --release --test reliability_fuzz -- --ignored long_fuzz --nocapture`
//! runs a long version.

#[path = "reliability_common.rs"]
mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use std::io::Write;
use wide_valleys::checkpoint::Header;
use wide_valleys::data::idx;

fn idx_seeds() -> Vec<Vec<u8>> {
    let images = idx::encode_images(3, 4, &(0..36u8).collect::<Vec<_>>()).unwrap();
    let labels = idx::encode_labels(&[1, 2, 3, 9, 0]);
    let gz = |b: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    };
    vec![gz(&images), gz(&labels), images, labels]
}

/// One mutation of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len().max(1);
    match m {
        Mutation::Set(i, b) if !bytes.is_empty() => bytes[i % n] = *b,
        Mutation::Flip(i, b) if !bytes.is_empty() => bytes[i % n] ^= 1 << b,
        Mutation::Truncate(i) => bytes.truncate(i % n),
        Mutation::Insert(i, v) => {
            let at = i % (bytes.len() + 1);
            bytes.splice(at..at, v.iter().copied());
        }
        _ => {}
    }
}

fn read_idx(bytes: &[u8], dir: &std::path::Path) {
    let path = dir.join("f.idx");
    std::fs::write(&path, bytes).unwrap();
    if let Ok(im) = idx::read_images(&path) {
        assert_eq!(im.pixels.len(), im.count * im.rows * im.cols);
    }
    let _ = idx::read_labels(&path);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn idx_reader_survives_mutated_files(
        seed in 0usize..4,
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let dir = temp_dir("idx");
        let mut bytes = idx_seeds()[seed].clone();
        for m in &muts {
            apply(&mut bytes, m);
        }
        read_idx(&bytes, &dir);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn idx_reader_survives_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let dir = temp_dir("idxr");
        let mut with_magic = vec![0, 0, 8, 3];
        with_magic.extend_from_slice(&bytes);
        read_idx(&bytes, &dir);
        read_idx(&with_magic, &dir);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn checkpoint_loader_survives_mutated_bytes(
        which in 0usize..14,
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let dir = temp_dir("ck");
        let path = dir.join("c");
        let mut r = all(1).remove(which % all(0).len());
        let loss = Hostile::new(1);
        let mut x = start(1);
        r.step(&mut x, &loss).unwrap();
        r.save(&path, &x).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        for m in &muts {
            apply(&mut bytes, m);
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(mut x) = r.restore(&path) {
            let _ = r.step(&mut x, &loss);
        }
        std::fs::remove_dir_all(dir).ok();
    }
}

/// A structure-aware mutation of a JSON state: pick the `at`-th node (pre-order) and change it.
fn mutate_json(v: &mut Value, at: &mut usize, how: u8) -> bool {
    if *at == 0 {
        *v = match (how % 9, &*v) {
            (0, Value::Array(a)) if !a.is_empty() => {
                let mut a = a.clone();
                a.pop();
                Value::Array(a)
            }
            (1, Value::Array(a)) if !a.is_empty() => {
                let mut a = a.clone();
                a.push(a[0].clone());
                Value::Array(a)
            }
            (2, Value::Object(o)) if !o.is_empty() => {
                let mut o = o.clone();
                let k = o.keys().next().unwrap().clone();
                o.remove(&k);
                Value::Object(o)
            }
            (3, _) => Value::Null,
            (4, _) => serde_json::json!(1e308),
            (5, _) => serde_json::json!(-1.0),
            (6, _) => serde_json::json!(0),
            // Not u64::MAX: a count of 2^64 − 1 (e.g. `langevin_steps`) is valid and makes a
            // step run ~forever — requested work, not a defect (docs/reliability.md, Limits).
            (7, _) => serde_json::json!(1e-300),
            _ => serde_json::json!(3),
        };
        return true;
    }
    *at -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| mutate_json(c, at, how)),
        Value::Object(o) => o.values_mut().any(|c| mutate_json(c, at, how)),
        _ => false,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Re-frames a state line behind the header of `valid` (same kind and versions), with a
/// matching length and checksum: the loader's integrity checks pass and serde sees the state.
fn reframe(valid: &[u8], body: &[u8]) -> Vec<u8> {
    let nl = valid.iter().position(|&b| b == b'\n').unwrap();
    let mut h: Header = serde_json::from_slice(&valid[..nl]).unwrap();
    h.state_len = body.len() as u64;
    h.state_fnv1a = format!("{:016x}", fnv1a(body));
    let mut out = serde_json::to_vec(&h).unwrap();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn structured_case(which: usize, edits: &[(usize, u8)]) {
    let dir = temp_dir("cks");
    let path = dir.join("c");
    let loss = Hostile::new(1);
    let mut r = all(1).remove(which % all(0).len());
    let mut x = start(1);
    for _ in 0..2 {
        r.step(&mut x, &loss).unwrap();
    }
    r.save(&path, &x).unwrap();
    let valid = std::fs::read(&path).unwrap();
    let nl = valid.iter().position(|&b| b == b'\n').unwrap();
    let mut state: Value = serde_json::from_slice(&valid[nl + 1..]).unwrap();
    for &(at, how) in edits {
        let mut at = at % 400;
        mutate_json(&mut state, &mut at, how);
    }
    let body = serde_json::to_vec(&state).unwrap();
    std::fs::write(&path, reframe(&valid, &body)).unwrap();
    let before = r.state();
    match r.restore(&path) {
        Ok(mut x) => {
            for _ in 0..2 {
                let xb = x.clone();
                let sb = r.state();
                if r.step(&mut x, &loss).is_err() {
                    // Even a hostile state is rolled back exactly on error.
                    assert_eq!(bits(&x), bits(&xb));
                    assert_eq!(r.state(), sb);
                }
            }
        }
        Err(e) => {
            assert!(matches!(e, wide_valleys::Error::Checkpoint { .. }), "{e:?}");
            assert_eq!(r.state(), before, "a refused checkpoint changed the runner");
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn loaded_hostile_states_error_instead_of_panicking(
        which in 0usize..14,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        structured_case(which, &edits);
    }
}

/// The long run: batches of 500 structure-aware checkpoint cases and 500 mutated IDX files, with
/// fresh random seeds, until `WV_FUZZ_SECONDS` (default 60) have passed; prints the case count.
#[test]
#[ignore]
fn long_fuzz_of_checkpoints_and_idx() {
    let seconds: u64 = std::env::var("WV_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let t0 = std::time::Instant::now();
    let dir = temp_dir("idxlong");
    let (mut ckpt_cases, mut idx_cases) = (0u64, 0u64);
    while t0.elapsed().as_secs() < seconds {
        let mut runner = TestRunner::new(Config {
            cases: 500,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(
                &(
                    0usize..14,
                    proptest::collection::vec((any::<usize>(), any::<u8>()), 1..5),
                ),
                |(which, edits)| {
                    structured_case(which, &edits);
                    Ok(())
                },
            )
            .unwrap();
        ckpt_cases += 500;
        runner
            .run(
                &(0usize..4, proptest::collection::vec(mutation(), 1..8)),
                |(seed, muts)| {
                    let mut bytes = idx_seeds()[seed].clone();
                    for m in &muts {
                        apply(&mut bytes, m);
                    }
                    read_idx(&bytes, &dir);
                    Ok(())
                },
            )
            .unwrap();
        idx_cases += 500;
    }
    std::fs::remove_dir_all(dir).ok();
    println!(
        "long fuzz: {ckpt_cases} checkpoint cases, {idx_cases} IDX cases, {:.0} s, no failure",
        t0.elapsed().as_secs_f64()
    );
}

/// Paths (pre-order indices) of every serialized `DVector` (`[[data..], nrows, null]`) in `v`.
fn vectors(v: &Value, at: &mut usize, out: &mut Vec<usize>) {
    let here = *at;
    *at += 1;
    if let Value::Array(a) = v {
        if a.len() == 3 && a[0].is_array() && a[1].is_u64() && a[2].is_null() {
            out.push(here);
        }
        a.iter().for_each(|c| vectors(c, at, out));
    } else if let Value::Object(o) = v {
        o.values().for_each(|c| vectors(c, at, out));
    }
}

fn shrink_vector(v: &mut Value, at: &mut usize) -> bool {
    if *at == 0 {
        *v = serde_json::json!([[0.5], 1, null]);
        return true;
    }
    *at -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| shrink_vector(c, at)),
        Value::Object(o) => o.values_mut().any(|c| shrink_vector(c, at)),
        _ => false,
    }
}

/// A loaded state whose vectors (replicas, momenta, Adam moments, Langevin chains, random
/// fields, the saved x) do not have the dimension of the loss: a typed error, never an
/// out-of-bounds panic — one case per vector of every scheme and optimizer.
#[test]
fn loaded_states_with_wrong_dimensions_are_errors() {
    let dir = temp_dir("dims");
    let path = dir.join("c");
    let loss = Hostile::new(1);
    let mut failures = Vec::new();
    let mut cases = 0;
    for which in 0..all(0).len() {
        let mut r = all(1).remove(which);
        let mut x = start(1);
        for _ in 0..2 {
            r.step(&mut x, &loss).unwrap();
        }
        r.save(&path, &x).unwrap();
        let valid = std::fs::read(&path).unwrap();
        let nl = valid.iter().position(|&b| b == b'\n').unwrap();
        let state: Value = serde_json::from_slice(&valid[nl + 1..]).unwrap();
        let mut paths = Vec::new();
        vectors(&state, &mut 0, &mut paths);
        for p in paths {
            cases += 1;
            let mut s = state.clone();
            shrink_vector(&mut s, &mut p.clone());
            let body = serde_json::to_vec(&s).unwrap();
            std::fs::write(&path, reframe(&valid, &body)).unwrap();
            let mut fresh = all(1).remove(which);
            let name = fresh.name().to_string();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if let Ok(mut x) = fresh.restore(&path) {
                    let _ = fresh.step(&mut x, &loss);
                }
            }));
            if outcome.is_err() {
                failures.push(format!("{name}: vector #{p}"));
            }
        }
    }
    std::fs::remove_dir_all(dir).ok();
    assert!(cases > 20, "only {cases} cases");
    assert!(failures.is_empty(), "panics: {failures:#?}");
}

/// Writes seed inputs for the `checkpoint` cargo-fuzz target (selector byte + a valid state line)
/// into `$WV_FUZZ_SEED_DIR`: `WV_FUZZ_SEED_DIR=fuzz/corpus/checkpoint cargo test --release
/// --test reliability_fuzz -- --ignored write_fuzz_seeds`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let Ok(out) = std::env::var("WV_FUZZ_SEED_DIR") else {
        return;
    };
    let selector = |name: &str| match name {
        "GradientDescent" => Some(0u8),
        "EntropySgd" => Some(1),
        "EntropyAdam" => Some(2),
        "Heat" => Some(4),
        "Sam" => Some(5),
        "TrivializedSgd" => Some(6),
        "Parle+Nesterov" => Some(7),
        "LocalEntropy+SGLD" => Some(8),
        "HeatRegularization+RM" => Some(9),
        _ => None,
    };
    let dir = temp_dir("seeds");
    let loss = Hostile::new(1);
    for mut r in all(3) {
        let Some(sel) = selector(r.name()) else {
            continue;
        };
        let mut x = start(1);
        for _ in 0..2 {
            r.step(&mut x, &loss).unwrap();
        }
        let path = dir.join("c");
        r.save(&path, &x).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        let mut seed = vec![sel];
        seed.extend_from_slice(&bytes[nl + 1..]);
        std::fs::write(format!("{out}/seed-{sel}"), seed).unwrap();
    }
    std::fs::remove_dir_all(dir).ok();
}
