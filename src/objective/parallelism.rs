//! What a caller knows about the threads around one call on a loss ([`Parallelism`]), passed
//! explicitly: to [`Gradient::gradient_with`](super::Gradient::gradient_with) as an argument, and
//! carried by a view of a loss ([`Counted::with_parallelism`](super::Counted::with_parallelism))
//! read through [`Cost::parallelism`](super::Cost::parallelism).

/// How the threads of rayon's pool stand around one call on a loss: a hint for objectives whose
/// evaluation can itself use several threads (e.g. split a large matrix product in two). It
/// never changes a result — an objective must return the same bits whatever the hint — only
/// how fast the call runs. Objectives that cannot use it ignore it.
///
/// Where the hints come from:
/// - a sampler that computes a gradient while another task of the same step runs beside it (the
///   Langevin chain draws its noise beside the gradient, Robbins–Monro the next sample's noise)
///   passes [`Parallelism::IdleThreadBeside`] to
///   [`Gradient::gradient_with`](super::Gradient::gradient_with);
/// - a transport that keeps every thread busy with work of its own (Parle's replicas on
///   [`InProcess`](crate::optim::InProcess)) tells each slice of a replica's work
///   [`Parallelism::AllThreadsBusy`], and Parle hands the replica its loss through a view that
///   carries that hint ([`Counted::with_parallelism`](super::Counted::with_parallelism)); the
///   samplers read it with [`Cost::parallelism`](super::Cost::parallelism), and then neither
///   let the products split nor draw their noise beside the gradient (they draw it inside the
///   pass that uses it);
/// - otherwise [`Parallelism::Unknown`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Parallelism {
    /// Nothing is known about the other threads: the objective decides alone (e.g. it may use
    /// the whole pool when called from outside it, and stay on its thread inside it).
    #[default]
    Unknown,
    /// Another thread of the pool is idle beside this call, or soon will be (it is drawing noise
    /// that takes less time than the call), and may take half of the call's large products.
    IdleThreadBeside,
    /// Every thread of the pool has work of its own: splitting the call's work would only fork,
    /// run the halves one after the other and join, so the call should stay on its thread.
    AllThreadsBusy,
}

impl Parallelism {
    /// `self`, or `other` if `self` is [`Parallelism::Unknown`]: the hint of a caller that knows
    /// more, else the one it was given.
    ///
    /// ```
    /// use wide_valleys::objective::Parallelism;
    /// assert_eq!(Parallelism::Unknown.or(Parallelism::AllThreadsBusy), Parallelism::AllThreadsBusy);
    /// assert_eq!(
    ///     Parallelism::IdleThreadBeside.or(Parallelism::AllThreadsBusy),
    ///     Parallelism::IdleThreadBeside
    /// );
    /// ```
    pub fn or(self, other: Parallelism) -> Parallelism {
        match self {
            Parallelism::Unknown => other,
            known => known,
        }
    }

    /// Whether every thread has work of its own ([`Parallelism::AllThreadsBusy`]).
    pub fn all_threads_busy(self) -> bool {
        self == Parallelism::AllThreadsBusy
    }
}
