//! Replica–master communication for Elastic-SGD and Parle (003 §5.3, §5.4.1).
//!
//! One round of Parle is a two-phase protocol over the replicas
//! ([`ParleReplica`](super::ParleReplica)): broadcast the master x and **prepare** (L inner steps
//! and the 5.8c gradient, eqs. 5.8a–c; nothing committed), then **commit** on every replica — or
//! **roll back** on every replica if one failed — and finally **gather** the replicas' parameters
//! into the master (eq. 5.8d, summed in replica order, so results never depend on scheduling).
//! The [`Transport`] runs each phase on every replica; [`InProcess`] does it on threads (rayon).
//! Phase 1 may be run in slices (one Langevin step each, [`Transport::for_each_replica_sliced`]):
//! [`InProcess`] then splits the replicas' steps evenly between its threads, so that n replicas
//! keep t threads busy even when t does not divide n (3 replicas on 2 threads: ≈ 2× instead of
//! 1.5×).
//! Parle runs a whole round through [`Transport::round`]: every replica commits as soon as its
//! own preparation is done (a commit keeps what [`ParleReplica::rollback`](super::ParleReplica)
//! needs to undo it if another replica fails), and the gather runs once all are done.
//! [`InProcess`] does all of it in one parallel region per outer step — the gather in the worker
//! that finishes last, its blocks stolen by the others — instead of one fork/join per phase
//! (each costs a wake-up of the other threads on a 2-core machine).
//! A transport over processes on several machines carries the same phases as messages
//! (prepare(master, k, 1/ρ_k) → ok/error, commit(η_k) or rollback, params → x^a).

use super::schedule::{wrap_around, Last, Replicas};
use crate::objective::Parallelism;
use crate::{Error, Result};
use rayon::prelude::*;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};

/// Runs one round of local work on every replica.
pub trait Transport: Send + Sync {
    /// Calls `work(a, &mut replicas[a])` once for every replica a (in parallel where the transport
    /// can). Returns an error if any call failed (the replicas' own state is for the caller to
    /// restore). The outcome must not depend on the order or the number of workers.
    fn for_each_replica<R, F>(&self, replicas: &mut [R], work: F) -> Result<()>
    where
        R: Send,
        F: Fn(usize, &mut R) -> Result<()> + Sync + Send;

    /// Runs the master's own data-parallel work (the mean of 5.8d) on the transport's threads
    /// where it has them ([`InProcess`]: in its pool). The default runs it on the caller.
    fn install<F: FnOnce() + Send>(&self, f: F) {
        f()
    }

    /// Like [`Transport::for_each_replica`] for work that comes in slices: calls
    /// `slice(a, &mut replicas[a], par)` until it returns `Ok(true)` (replica a's work is done),
    /// for every replica; `slices` is how many calls that takes (a hint for scheduling: the
    /// `Ok(true)` decides). `par` tells the slice how the transport's threads stand while it runs
    /// ([`Parallelism`]): [`Parallelism::AllThreadsBusy`] when every thread has replicas of its
    /// own (then a slice's work should not fork), else [`Parallelism::Unknown`]; Parle hands it
    /// to the replica's loss ([`Counted::with_parallelism`](crate::objective::Counted::with_parallelism)). Slices of one replica run one after the other; a transport may move a
    /// replica between workers between two slices (each replica's result depends only on its own
    /// slices). The default runs each replica's slices back to back in one
    /// [`Transport::for_each_replica`], with [`Parallelism::Unknown`].
    fn for_each_replica_sliced<R, F>(
        &self,
        replicas: &mut [R],
        slices: usize,
        slice: F,
    ) -> Result<()>
    where
        R: Send,
        F: Fn(usize, &mut R, Parallelism) -> Result<bool> + Sync + Send,
    {
        let _ = slices;
        self.for_each_replica(replicas, |a, r| {
            while !slice(a, r, Parallelism::Unknown)? {}
            Ok(())
        })
    }

    /// One whole round: [`Transport::for_each_replica_sliced`], then — only if every replica
    /// succeeded — `gather(replicas)` once, the master's own work on the replicas' results (the
    /// mean of 5.8d). The default runs the two one after the other (`gather` through
    /// [`Transport::install`]); [`InProcess`] runs `gather` in the worker that finishes last,
    /// inside the same parallel region, so that a round costs one fork/join, not two.
    fn round<R, F, G>(&self, replicas: &mut [R], slices: usize, slice: F, gather: G) -> Result<()>
    where
        R: Send + Sync,
        F: Fn(usize, &mut R, Parallelism) -> Result<bool> + Sync + Send,
        G: FnOnce(&[R]) + Send,
    {
        self.for_each_replica_sliced(replicas, slices, slice)?;
        let replicas = &*replicas;
        self.install(move || gather(replicas));
        Ok(())
    }
}

/// Replicas as rayon tasks in this process: on the global pool, or on a pool with a fixed number
/// of threads ([`InProcess::with_threads`]). Each replica draws from its own stream
/// (`rng::stream(seed, a)`), so iterates are bit-identical for any number of threads.
///
/// Sliced work ([`Transport::for_each_replica_sliced`]) is split evenly between min(n, threads)
/// workers by McNaughton's wrap-around rule (see `wrap_around`): with 3 replicas of L steps on 2
/// threads, one runs replica 0 and the first L/2 steps of replica 1, the other the rest of
/// replica 1 and replica 2.
#[derive(Clone, Default)]
pub struct InProcess {
    pool: Option<Arc<rayon::ThreadPool>>,
    // Hand-over flags of the replicas split between workers (reused: a step allocates nothing).
    handover: Arc<Mutex<Vec<AtomicU8>>>,
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
            .map_err(|e| Error::Io {
                kind: std::io::ErrorKind::Other,
                message: format!("could not start a pool of {threads} threads: {e}"),
            })?;
        Ok(Self {
            pool: Some(Arc::new(pool)),
            handover: Arc::default(),
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

    fn install<F: FnOnce() + Send>(&self, f: F) {
        match &self.pool {
            None => f(),
            Some(p) => p.install(f),
        }
    }

    fn for_each_replica_sliced<R, F>(
        &self,
        replicas: &mut [R],
        slices: usize,
        slice: F,
    ) -> Result<()>
    where
        R: Send,
        F: Fn(usize, &mut R, Parallelism) -> Result<bool> + Sync + Send,
    {
        self.sliced(replicas, slices, &slice, None::<&Last<fn(&[R])>>)
    }

    fn round<R, F, G>(&self, replicas: &mut [R], slices: usize, slice: F, gather: G) -> Result<()>
    where
        R: Send + Sync,
        F: Fn(usize, &mut R, Parallelism) -> Result<bool> + Sync + Send,
        G: FnOnce(&[R]) + Send,
    {
        let last = Last {
            gather: Mutex::new(Some(gather)),
            remaining: AtomicUsize::new(0),
        };
        self.sliced(replicas, slices, &slice, Some(&last))
    }
}

impl InProcess {
    /// [`Transport::for_each_replica_sliced`], and with `last` also [`Transport::round`]'s gather,
    /// run by whichever task finishes last (see [`Last`]).
    fn sliced<R, F, G>(
        &self,
        replicas: &mut [R],
        slices: usize,
        slice: &F,
        last: Option<&Last<G>>,
    ) -> Result<()>
    where
        R: Send,
        F: Fn(usize, &mut R, Parallelism) -> Result<bool> + Sync + Send,
        G: FnOnce(&[R]) + Send,
    {
        let mut run = move || {
            let n = replicas.len();
            let workers = rayon::current_num_threads().min(n);
            // Every thread has replicas of its own: the work inside a replica's slices must not
            // fork (products not split, noise not drawn beside the gradient).
            let busy = n >= rayon::current_num_threads() && workers > 1;
            let par = if busy {
                Parallelism::AllThreadsBusy
            } else {
                Parallelism::Unknown
            };
            let slice = &|a: usize, r: &mut R| slice(a, r, par);
            let shared = Replicas(replicas.as_mut_ptr());
            if workers <= 1 || slices <= 1 {
                // Nothing to interleave: every replica's slices back to back, in parallel.
                if let Some(last) = last {
                    last.remaining.store(n, Ordering::Relaxed);
                }
                let shared = &shared;
                return (0..n).into_par_iter().try_for_each(|a| {
                    // SAFETY: each index a < n is visited by one task; `replicas` stays mutably
                    // borrowed (unused) until every task has returned.
                    let r = unsafe { &mut *shared.0.add(a) };
                    while !slice(a, r)? {}
                    if let Some(last) = last {
                        // SAFETY: `done` is this task's last access to the replicas.
                        unsafe { last.done(shared, n, &AtomicBool::new(false)) };
                    }
                    Ok(())
                });
            }
            // Another step may be using this transport (a clone shares the flags): then flags
            // of its own (allocated, as they must be).
            let mut own = Vec::new();
            let mut flags = match self.handover.try_lock() {
                Ok(h) => Some(h),
                // A panic in an earlier step left only the flags' state behind: reset below.
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            let handover = match flags.as_deref_mut() {
                Some(h) => h,
                None => &mut own,
            };
            if let Some(last) = last {
                last.remaining.store(workers, Ordering::Relaxed);
            }
            wrap_around(n, &shared, slices, slice, workers, handover, last)
        };
        match &self.pool {
            None => run(),
            Some(p) => p.install(run),
        }
    }
}
