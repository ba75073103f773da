//! Replica–master communication for Elastic-SGD and Parle (003 §5.3, §5.4.1).
//!
//! One round of Parle is a two-phase protocol over the replicas
//! ([`ParleReplica`](super::ParleReplica)): broadcast the master x and **prepare** (L inner steps
//! and the 5.8c gradient, eqs. 5.8a–c; nothing committed), then **commit** on every replica — or
//! **roll back** on every replica if one failed — and finally **gather** the replicas' parameters
//! into the master (eq. 5.8d, summed in replica order, so results never depend on scheduling).
//! The [`Transport`] runs each phase on every replica; [`InProcess`] does it on threads (rayon).
//! A transport over processes on several machines carries the same phases as messages
//! (prepare(master, k, 1/ρ_k) → ok/error, commit(η_k) or rollback, params → x^a).

use crate::{Error, Result};
use rayon::prelude::*;
use std::fmt;
use std::sync::Arc;

/// Runs one round of local work on every replica.
pub trait Transport: Send + Sync {
    /// Calls `work(a, &mut replicas[a])` once for every replica a (in parallel where the transport
    /// can). Returns an error if any call failed (the replicas' own state is for the caller to
    /// restore). The outcome must not depend on the order or the number of workers.
    fn for_each_replica<R, F>(&self, replicas: &mut [R], work: F) -> Result<()>
    where
        R: Send,
        F: Fn(usize, &mut R) -> Result<()> + Sync + Send;
}

/// Replicas as rayon tasks in this process: on the global pool, or on a pool with a fixed number
/// of threads ([`InProcess::with_threads`]). Each replica draws from its own stream
/// (`rng::stream(seed, a)`), so iterates are bit-identical for any number of threads.
#[derive(Clone, Default)]
pub struct InProcess {
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pool {
            None => write!(f, "InProcess(global pool)"),
            Some(p) => write!(f, "InProcess({} threads)", p.current_num_threads()),
        }
    }
}

impl InProcess {
    /// On rayon's global pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// On a dedicated pool of `threads` ≥ 1 threads.
    pub fn with_threads(threads: usize) -> Result<Self> {
        crate::error::check::count("threads", threads)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        Ok(Self {
            pool: Some(Arc::new(pool)),
        })
    }
}

impl Transport for InProcess {
    fn for_each_replica<R, F>(&self, replicas: &mut [R], work: F) -> Result<()>
    where
        R: Send,
        F: Fn(usize, &mut R) -> Result<()> + Sync + Send,
    {
        fn run<R: Send, F: Fn(usize, &mut R) -> Result<()> + Sync + Send>(
            replicas: &mut [R],
            work: F,
        ) -> Result<()> {
            replicas
                .par_iter_mut()
                .enumerate()
                .try_for_each(|(a, r)| work(a, r))
        }
        match &self.pool {
            None => run(replicas, work),
            Some(p) => p.install(|| run(replicas, work)),
        }
    }
}
