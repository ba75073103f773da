//! Checkpoint and resume of every scheme and optimizer (issue 5: "long runs that can be trusted").
//!
//! The full state of a [`TwoStep`](crate::schemes::TwoStep) scheme, a
//! [`SmoothedOptimizer`](crate::optim::SmoothedOptimizer) or a [`Parle`](crate::optim::Parle)
//! — iterates, momenta, Langevin chains, schedule counters, random-generator state — is
//! `serde`-serializable; [`save`] writes it (usually as a tuple `(x, optimizer)`) and [`load`]
//! reads it back. Resuming gives bit-identical iterates to the run that was never stopped
//! (`tests/reliability_checkpoint.rs`): JSON is written with `float_roundtrip`, and scratch buffers
//! (the only skipped fields) are rebuilt on the next step.
//!
//! ## File format
//! Two lines of UTF-8: a [`Header`] as JSON, then the state as JSON. The header holds a magic
//! string, [`FORMAT_VERSION`], the crate version, the state's Rust type name (the optimizer or
//! scheme kind, with its float type and update rule), and the length and FNV-1a 64 hash of the
//! state line, so that a truncated or corrupted file is detected before it is trusted.
//! A checkpoint from another crate or format version, or of another type, is refused with
//! [`Error::Checkpoint`].
//!
//! ## Atomicity
//! [`save`] serializes in memory first (a state that cannot be serialized, e.g. a
//! [`Schedule::Custom`], fails before any file is touched), writes a
//! temporary file in the destination's directory, `fsync`s it, renames it over the destination and
//! `fsync`s the directory. A crash at any point leaves either the old or the new checkpoint, never
//! a mix; a leftover temporary file is ignored by [`load`] and overwritten by the next [`save`].
//!
//! ```
//! use wide_valleys::{checkpoint, objectives::Quadratic, LocalEntropy};
//! use nalgebra::{dmatrix, dvector};
//! let loss = Quadratic::new(dmatrix![2.0, 0.0; 0.0, 1.0], dvector![1.0, -1.0])?;
//! let (mut x, mut scheme) = (dvector![1.0, 1.0], LocalEntropy::new(0.1).seed(7));
//! scheme.step(&mut x, &loss)?;
//! let path = std::env::temp_dir().join(format!("wv-doc-{}.ckpt", std::process::id()));
//! checkpoint::save(&path, &(&x, &scheme))?;
//! let (x2, scheme2): (nalgebra::DVector<f64>, LocalEntropy) = checkpoint::load(&path)?;
//! assert_eq!(x2, x);
//! assert_eq!(scheme2.k(), 1);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), wide_valleys::Error>(())
//! ```

use crate::{Error, Real, Result, Schedule};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Magic string at the start of every checkpoint header.
pub const MAGIC: &str = "wide-valleys checkpoint";
/// Version of the file layout ([`Header`] + state line). Bumped on any incompatible change.
/// Version 3: every optimizer's State apart (`state`: k, the generator, the rule; Parle's
/// replicas as `state` + oracle), scratch never written; version-1 and -2 files are refused.
pub const FORMAT_VERSION: u32 = 3;
/// The crate version that writes (and alone may read) checkpoints.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// First line of a checkpoint file: what it is and how to verify the state line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`MAGIC`].
    pub magic: String,
    /// [`FORMAT_VERSION`] at writing time.
    pub format_version: u32,
    /// [`CRATE_VERSION`] at writing time.
    pub crate_version: String,
    /// `std::any::type_name` of the saved state: the optimizer or scheme kind with its float type
    /// and rule (stable within one crate version and compiler, which the version check pins).
    pub kind: String,
    /// Length in bytes of the state line.
    pub state_len: u64,
    /// FNV-1a 64-bit hash of the state line, in hex.
    pub state_fnv1a: String,
}

fn ckpt_err(path: &Path, problem: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        problem: problem.into(),
    }
}

/// FNV-1a, 64 bit: a small, dependency-free check against truncation and bit flips (not a
/// cryptographic signature).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The kind recorded in the header for a state of type `S`: its type name with references
/// removed, so that saving `&(&x, &opt)` and loading `(DVector, Opt)` agree.
pub fn kind_of<S: ?Sized>() -> String {
    std::any::type_name::<S>()
        .replace("&mut ", "")
        .replace('&', "")
}

/// Serializes `state` to the checkpoint bytes (header line + state line) without touching disk.
pub fn to_bytes<S: Serialize + ?Sized>(state: &S) -> Result<Vec<u8>> {
    let body = serde_json::to_vec(state).map_err(|e| Error::Checkpoint {
        path: String::from("<memory>"),
        problem: format!("cannot serialize the state: {e}"),
    })?;
    let header = Header {
        magic: MAGIC.to_string(),
        format_version: FORMAT_VERSION,
        crate_version: CRATE_VERSION.to_string(),
        kind: kind_of::<S>(),
        state_len: body.len() as u64,
        state_fnv1a: format!("{:016x}", fnv1a(&body)),
    };
    let mut out = serde_json::to_vec(&header).map_err(|e| Error::Checkpoint {
        path: String::from("<memory>"),
        problem: format!("cannot serialize the header: {e}"),
    })?;
    out.push(b'\n');
    out.extend_from_slice(&body);
    out.push(b'\n');
    Ok(out)
}

/// Parses checkpoint bytes written by [`to_bytes`] for a state of type `S`. `path` is only used
/// in error messages. Never panics, whatever the bytes.
pub fn from_bytes<S: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<S> {
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| ckpt_err(path, "truncated: no header line"))?;
    let header: Header = serde_json::from_slice(&bytes[..nl])
        .map_err(|e| ckpt_err(path, format!("not a wide-valleys checkpoint header: {e}")))?;
    if header.magic != MAGIC {
        return Err(ckpt_err(path, "not a wide-valleys checkpoint (bad magic)"));
    }
    if header.format_version != FORMAT_VERSION {
        return Err(ckpt_err(
            path,
            format!(
                "format version {} cannot be read by this build (format version {FORMAT_VERSION}): \
                 resume it with the wide-valleys build that wrote it, or start the run again",
                header.format_version
            ),
        ));
    }
    if header.crate_version != CRATE_VERSION {
        return Err(ckpt_err(
            path,
            format!(
                "written by wide-valleys {}, this is {CRATE_VERSION}",
                header.crate_version
            ),
        ));
    }
    let want = kind_of::<S>();
    if header.kind != want {
        return Err(ckpt_err(
            path,
            format!("holds a `{}`, not a `{want}`", header.kind),
        ));
    }
    let rest = &bytes[nl + 1..];
    let body = rest.strip_suffix(b"\n").unwrap_or(rest);
    if body.len() as u64 != header.state_len {
        return Err(ckpt_err(
            path,
            format!(
                "truncated or padded: state is {} bytes, header says {}",
                body.len(),
                header.state_len
            ),
        ));
    }
    if format!("{:016x}", fnv1a(body)) != header.state_fnv1a {
        return Err(ckpt_err(path, "corrupt: state checksum mismatch"));
    }
    serde_json::from_slice(body).map_err(|e| ckpt_err(path, format!("corrupt state: {e}")))
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| ckpt_err(path, "not a file path"))?
        .to_string_lossy();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id())))
}

/// Writes `state` atomically to `path` (temporary file in the same directory, fsync, rename,
/// fsync of the directory). On any error the previous file at `path`, if any, is untouched.
pub fn save<S: Serialize + ?Sized>(path: impl AsRef<Path>, state: &S) -> Result<()> {
    let path = path.as_ref();
    // Serialize first: a state that cannot be written fails before any file is touched.
    let bytes = to_bytes(state).map_err(|e| match e {
        Error::Checkpoint { problem, .. } => ckpt_err(path, problem),
        other => other,
    })?;
    write_atomic(path, &bytes)
}

/// The atomic write behind [`save`]: `bytes` replace the content of `path` all at once or not at all.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path)?;
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        fs::remove_file(&tmp).ok();
        return Err(ckpt_err(path, format!("cannot write: {e}")));
    }
    // Make the rename itself durable (directories can be opened and fsync'd on Unix only).
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            d.sync_all()
                .map_err(|e| ckpt_err(path, format!("cannot fsync the directory: {e}")))?;
        }
    }
    Ok(())
}

/// Reads a checkpoint written by [`save`] for a state of type `S`. A missing, truncated or
/// corrupt file, another crate or format version, or another kind of state is
/// [`Error::Checkpoint`].
pub fn load<S: DeserializeOwned>(path: impl AsRef<Path>) -> Result<S> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| ckpt_err(path, format!("cannot read: {e}")))?;
    from_bytes(path, &bytes)
}

/// serde for every [`Schedule`] field of the schemes and optimizers, used with
/// `#[serde(with = "crate::checkpoint::checked_schedule")]`:
/// - the constant +∞ (γ = ρ = ∞, 003 §5.3.1), which JSON cannot hold as a number, is stored as the
///   unit variant `Infinite`;
/// - a geometric schedule read from a file is validated (`every` ≥ 1, `min` ≤ `max`, neither NaN),
///   so that a hostile checkpoint is a typed error at load time and never a division by zero or a
///   panicking clamp inside [`Schedule::at`].
pub(crate) mod checked_schedule {
    use super::*;
    use serde::{de::Error as _, Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(bound = "T: Real")]
    enum Repr<T: Real> {
        Infinite,
        Schedule(Schedule<T>),
    }

    pub fn serialize<T: Real, S: Serializer>(
        s: &Schedule<T>,
        ser: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match s {
            Schedule::Constant(v) if *v == T::lit(f64::INFINITY) => {
                Repr::<T>::Infinite.serialize(ser)
            }
            other => Repr::Schedule(other.clone()).serialize(ser),
        }
    }

    pub fn deserialize<'de, T: Real, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Schedule<T>, D::Error> {
        let s = match Repr::<T>::deserialize(d)? {
            Repr::Infinite => Schedule::Constant(T::lit(f64::INFINITY)),
            Repr::Schedule(s) => s,
        };
        if let Schedule::Geometric {
            every, min, max, ..
        } = &s
        {
            if *every == 0 {
                return Err(D::Error::custom("geometric schedule with every = 0"));
            }
            // `clamp` panics on min > max and on NaN bounds.
            if min.as_f64().is_nan() || max.as_f64().is_nan() || *min > *max {
                return Err(D::Error::custom(
                    "geometric schedule with min > max or a NaN bound",
                ));
            }
        }
        Ok(s)
    }
}
