//! Fuzz target: the checkpoint loader (`checkpoint::from_bytes`) on arbitrary bytes, and on an
//! arbitrary state line behind a *valid* header (so that the fuzzer reaches serde's
//! deserialization of every optimizer's state, not only the checksum), then one step of the
//! loaded optimizer. Property: a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nalgebra::{DMatrix, DVector};
use serde::de::DeserializeOwned;
use std::path::Path;
use wide_valleys::Optimizer;
use wide_valleys::checkpoint::{self, Header};
use wide_valleys::objectives::Quadratic;
use wide_valleys::optimizers::*;
use wide_valleys::update::{Adam, Momentum, Sgd};
use wide_valleys::{HeatRegularization, LocalEntropy};

/// Wraps `body` in a header that passes every check for state type `S`.
fn framed<S>(body: &[u8]) -> Vec<u8> {
    let h = Header {
        magic: checkpoint::MAGIC.into(),
        format_version: checkpoint::FORMAT_VERSION,
        crate_version: checkpoint::CRATE_VERSION.into(),
        kind: checkpoint::kind_of::<S>(),
        state_len: body.len() as u64,
        state_fnv1a: format!("{:016x}", fnv1a(body)),
    };
    let mut out = serde_json::to_vec(&h).unwrap();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn quadratic(d: usize) -> Quadratic<f64> {
    Quadratic::new(DMatrix::identity(d, d), DVector::from_element(d, 0.5)).unwrap()
}

fn opt<S: DeserializeOwned + Optimizer<f64, Quadratic<f64>>>(raw: &[u8], body: &[u8]) {
    let p = Path::new("fuzz");
    let _ = checkpoint::from_bytes::<(DVector<f64>, S)>(p, raw);
    if let Ok((mut x, mut s)) =
        checkpoint::from_bytes::<(DVector<f64>, S)>(p, &framed::<(DVector<f64>, S)>(body))
    {
        if x.len() <= 64 {
            let q = quadratic(x.len());
            let _ = s.step(&mut x, &q);
            let _ = s.step(&mut x, &q);
        }
    }
}

fn scheme<S: DeserializeOwned>(
    raw: &[u8],
    body: &[u8],
    mut step: impl FnMut(&mut DVector<f64>, &mut S, &Quadratic<f64>),
) {
    let p = Path::new("fuzz");
    let _ = checkpoint::from_bytes::<(DVector<f64>, S)>(p, raw);
    if let Ok((mut x, mut s)) =
        checkpoint::from_bytes::<(DVector<f64>, S)>(p, &framed::<(DVector<f64>, S)>(body))
    {
        if x.len() <= 64 {
            let q = quadratic(x.len());
            step(&mut x, &mut s, &q);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    match sel % 10 {
        0 => opt::<SmoothedOptimizer<f64, PlainGradient, Sgd>>(data, body),
        1 => opt::<SmoothedOptimizer<f64, LocalEntropyGradient<f64>, Sgd>>(data, body),
        2 => opt::<SmoothedOptimizer<f64, LocalEntropyGradient<f64>, Adam<f64>>>(data, body),
        3 => opt::<SmoothedOptimizer<f64, HopfLaxGradient<f64>, Momentum<f64>>>(data, body),
        4 => opt::<SmoothedOptimizer<f64, HeatGradient<f64>, Sgd>>(data, body),
        5 => opt::<SmoothedOptimizer<f64, SamGradient<f64>, Sgd>>(data, body),
        6 => opt::<SmoothedOptimizer<f64, TrivializedGradient<f64>, Sgd>>(data, body),
        7 => opt::<Parle<f64, Momentum<f64>>>(data, body),
        8 => scheme::<LocalEntropy>(data, body, |x, s, q| {
            let _ = s.step(x, q);
        }),
        _ => scheme::<HeatRegularization>(data, body, |x, s, q| {
            let _ = s.step(x, q);
        }),
    }
});
