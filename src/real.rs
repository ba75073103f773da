//! The scalar type: every algorithm of the crate is generic over `f32` and `f64`.

use nalgebra::RealField;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt::{Debug, Display};

/// A floating-point scalar (`f32` or `f64`) usable by every scheme and optimizer.
///
/// Built on [`nalgebra::RealField`], so `x.sqrt()`, `x.exp()`, `x.ln()`, `x.is_finite()` are
/// available without extra imports. The two helper methods avoid the ambiguity between
/// `FromPrimitive::from_f64` and `num_traits::Float` method names in generic code.
pub trait Real:
    RealField
    + Copy
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + serde::Serialize
    + serde::de::DeserializeOwned
    + 'static
{
    /// Converts an `f64` constant (a hyper-parameter or a literal) into this scalar type.
    fn lit(v: f64) -> Self;
    /// Converts this scalar into `f64` (for reports, errors and log-space accumulation).
    fn as_f64(self) -> f64;
    /// Draws one standard normal variate N(0, 1) in this precision.
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;
    /// Fills `out` with N(0, 1) variates (see [`crate::rng::fill_standard_normal`]).
    fn fill_standard_normal(rng: &mut crate::rng::Prng, out: &mut [Self]) {
        out.iter_mut().for_each(|v| *v = Self::standard_normal(rng));
    }
}

impl Real for f64 {
    #[inline]
    fn lit(v: f64) -> Self {
        v
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
}

impl Real for f32 {
    #[inline]
    fn lit(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
    #[inline]
    fn fill_standard_normal(rng: &mut crate::rng::Prng, out: &mut [Self]) {
        crate::rng::fill_f32(rng, out)
    }
}
