//! The in-process scheduler of Parle's rounds: McNaughton's wrap-around rule over the replicas'
//! slices, and the gather run by the worker that finishes last (crate-private; `unsafe` is
//! confined here, each block with its invariant).

use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The gather of [`Transport::round`] and the count of tasks still running: the task that
/// brings the count to zero runs it (nothing waits at a barrier: the other threads, back in
/// rayon's loop, steal the gather's parallel blocks).
pub(super) struct Last<G> {
    pub(super) gather: Mutex<Option<G>>,
    pub(super) remaining: AtomicUsize,
}

impl<G> Last<G> {
    /// A task is done with the replicas: the last one to finish runs the gather, unless a task
    /// failed (a failed task never calls this, so the count never reaches zero).
    ///
    /// # Safety
    /// The caller accesses no replica after this call; `shared` points to `n` replicas that
    /// stay alive and otherwise unused until every task has returned.
    pub(super) unsafe fn done<R>(&self, shared: &Replicas<R>, n: usize, failed: &AtomicBool)
    where
        G: FnOnce(&[R]),
    {
        // AcqRel: the last task sees every other task's writes to its replicas.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 && !failed.load(Ordering::Relaxed) {
            let gather = self
                .gather
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(gather) = gather {
                // SAFETY: every task has finished with the replicas (the count is zero).
                gather(unsafe { std::slice::from_raw_parts(shared.0, n) });
            }
        }
    }
}

/// The replicas, shared by the workers of [`wrap_around`], each of which touches only the
/// replicas (and steps) the schedule gives it.
pub(super) struct Replicas<R>(pub(super) *mut R);

// SAFETY: the workers of `wrap_around` access each replica one at a time (see there); R: Send
// lets a replica be used from another thread.
unsafe impl<R: Send> Sync for Replicas<R> {}

/// Hand-over states of a replica split between two workers.
const RUNNING: u8 = 0;
/// The first worker has run its steps; the second may take the replica over.
const HANDED_OVER: u8 = 1;
/// The replica finished (or failed) in the first worker's part: nothing left to run.
const FINISHED: u8 = 2;

/// Runs n replicas' `slices` slices each on `workers` ≥ 2 rayon tasks with McNaughton's
/// wrap-around rule (the optimal schedule of divisible work on identical machines): lay the
/// replicas' slices end to end, replica after replica, and give worker w the w-th of `workers`
/// equal stretches. A replica cut between workers w and w + 1 runs its first steps on w —
/// *first* in w's stretch — and its remaining steps on w + 1 — *last* in w + 1's stretch, by
/// which time w has long handed it over (worker w + 1 waits if not). Each worker switches
/// replicas at most n/workers + 2 times per round, so each replica's vectors stay in cache for
/// long runs of steps (a step-by-step round-robin of the replicas doubled the CPU time of a
/// Parle step on the MLP here: every step reloaded another replica's vectors from memory).
/// A worker that is done leaves and helps inside the others' steps (their parallel blocks).
/// With `last`, the worker that finishes last also runs the gather (see [`Last`]).
pub(super) fn wrap_around<R, F, G>(
    n: usize,
    shared: &Replicas<R>,
    slices: usize,
    slice: &F,
    workers: usize,
    handover: &mut Vec<AtomicU8>,
    finisher: Option<&Last<G>>,
) -> Result<()>
where
    R: Send,
    F: Fn(usize, &mut R) -> Result<bool> + Sync + Send,
    G: FnOnce(&[R]) + Send,
{
    let total = n * slices;
    handover.clear();
    handover.extend((0..workers).map(|_| AtomicU8::new(RUNNING)));
    let handover = &handover[..];
    let failed = AtomicBool::new(false);
    let error = Mutex::new(None);
    let fail = |e: Error| {
        failed.store(true, Ordering::Relaxed);
        error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(e);
    };
    // Runs slices of replica a: `count` of them, or (None) until it is done. Ok(true): done.
    let run = |a: usize, count: Option<usize>| -> Result<bool> {
        // SAFETY: a < n, and the schedule gives replica a to one worker at a time: whole to one
        // worker, or split between w (which hands it over through `handover[w]`, Release) and
        // w + 1 (which takes it after reading HANDED_OVER, Acquire). `replicas` stays mutably
        // borrowed (unused) until every worker has returned.
        let r = unsafe { &mut *shared.0.add(a) };
        let mut i = 0;
        while count.is_none_or(|c| i < c) {
            if failed.load(Ordering::Relaxed) {
                return Ok(true);
            }
            i += 1;
            if slice(a, r)? {
                return Ok(true);
            }
        }
        Ok(false)
    };
    let worker = |w: usize| {
        // A panicking slice must not leave the next worker waiting for a hand-over forever: the
        // guard raises `failed` while unwinding (rayon then re-raises the panic in the caller).
        let _guard = FailOnUnwind(&failed);
        let (start, end) = (w * total / workers, (w + 1) * total / workers);
        let (first, last) = (start / slices, (end - 1) / slices);
        // The head of the replica cut at the end of this stretch, first.
        let cut_out = end % slices != 0;
        if cut_out {
            let head = end - last * slices;
            let state = match run(last, Some(head)) {
                Ok(done) => {
                    if done {
                        FINISHED
                    } else {
                        HANDED_OVER
                    }
                }
                Err(e) => {
                    fail(e);
                    FINISHED
                }
            };
            handover[w].store(state, Ordering::Release);
        }
        // The replicas wholly in this stretch.
        let cut_in = start % slices != 0;
        let whole = (first + usize::from(cut_in))..(last + usize::from(!cut_out));
        for a in whole {
            if let Err(e) = run(a, None) {
                return fail(e);
            }
        }
        // The rest of the replica cut at the start of this stretch, last.
        if cut_in {
            let state = loop {
                let s = handover[w - 1].load(Ordering::Acquire);
                if s != RUNNING || failed.load(Ordering::Relaxed) {
                    break s;
                }
                // Help with any pending work of the pool while waiting.
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::yield_now();
                }
            };
            if state == HANDED_OVER {
                if let Err(e) = run(first, None) {
                    return fail(e);
                }
            }
        }
        if let Some(finisher) = finisher {
            // SAFETY: this worker is done with the replicas.
            unsafe { finisher.done(shared, n, &failed) };
        }
    };
    fan_out(0, workers, &worker);
    match error.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Sets the flag if dropped while the thread unwinds from a panic.
struct FailOnUnwind<'a>(&'a AtomicBool);

impl Drop for FailOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `worker(w)` for w in `from..to` on rayon tasks (nested `join`s: no allocation).
fn fan_out<W: Fn(usize) + Sync>(from: usize, to: usize, worker: &W) {
    if to - from <= 1 {
        worker(from);
    } else {
        let mid = from + (to - from) / 2;
        rayon::join(|| fan_out(from, mid, worker), || fan_out(mid, to, worker));
    }
}
