//! (placeholder: being written)

/// Placeholder.
pub struct LocalEntropy;
/// Placeholder.
pub struct HeatRegularization;
