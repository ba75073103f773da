//! The packed driver's per-thread buffers: packed B, pre-packed or packed A, and the
//! "panel packed" flags, in one thread-local that grows to the largest product seen and is then
//! reused, so a product allocates nothing once warm.

use gemm_common::gemm::CACHELINE_ALIGN;
use std::cell::RefCell;

/// One cache line of scratch: the unit the scratch grows by, so every region is aligned as
/// `gemm` aligns its own buffers.
#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct Line([u8; CACHELINE_ALIGN]);

/// The per-thread buffers of one product: packed right-hand side, pre-packed or packed
/// left-hand side, and the "panel packed" flags. Grows, never shrinks.
pub(super) struct Scratch {
    lines: Vec<Line>,
    flags: Vec<bool>,
}

thread_local! {
    /// One scratch per thread: rayon's workers each compute their own halves of C.
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { lines: Vec::new(), flags: Vec::new() })
    };
}

/// Lines needed for `len` elements of `T`.
fn lines_for<T>(len: usize) -> usize {
    (len * std::mem::size_of::<T>()).div_ceil(std::mem::size_of::<Line>())
}

impl Scratch {
    /// Room for `rhs_len` then `lhs_len` elements of `T`, each region starting on a cache line,
    /// and `flags` flags (growing the scratch if needed): (packed B, packed A, flags). The
    /// regions' contents are whatever the last product left there.
    pub(super) fn regions<T>(
        &mut self,
        rhs_len: usize,
        lhs_len: usize,
        flags: usize,
    ) -> (*mut T, *mut T, &mut [bool]) {
        let (rhs_lines, lhs_lines) = (lines_for::<T>(rhs_len), lines_for::<T>(lhs_len));
        if self.lines.len() < rhs_lines + lhs_lines {
            self.lines
                .resize(rhs_lines + lhs_lines, Line([0; CACHELINE_ALIGN]));
        }
        if self.flags.len() < flags {
            self.flags.resize(flags, false);
        }
        let base = self.lines.as_mut_ptr();
        // SAFETY: `rhs_lines` ≤ `self.lines.len()`, so the offset stays inside the allocation.
        let lhs = unsafe { base.add(rhs_lines) };
        (base.cast::<T>(), lhs.cast::<T>(), &mut self.flags[..flags])
    }
}

/// Runs `run` on this thread's scratch, or, should that be unavailable (thread teardown, a
/// re-entrant call, neither of which the MLP makes), on a fresh one.
pub(super) fn with_scratch(run: impl Fn(&mut Scratch)) {
    let used = SCRATCH.try_with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            run(&mut s);
            true
        }
        Err(_) => false,
    });
    if used != Ok(true) {
        run(&mut Scratch {
            lines: Vec::new(),
            flags: Vec::new(),
        });
    }
}
