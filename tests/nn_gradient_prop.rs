//! Property: for random architectures (1–3 layers, widths 1–9, including width-1 layers),
//! random dropout and random minibatches, the backpropagated gradient of the MLP's loss
//! matches central finite differences in f64 (000 §6.1's networks are the large case of this).

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Cost, Gradient};

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn gradient_matches_finite_differences(
        hidden in proptest::collection::vec(1usize..10, 0..3),
        inputs in 1usize..8,
        classes in 2usize..6,
        dropout in prop_oneof![Just(0.0), 0.05f64..0.6],
        batch in 1usize..25,
        seed in 0u64..1000,
    ) {
        let n = 40;
        let mut r = rng::seeded(seed);
        let x_data = DMatrix::from_fn(inputs, n, |_, _| f64::sin(seed as f64 + rand::Rng::random::<f64>(&mut r) * 7.0));
        let labels = (0..n).map(|i| ((i * 7 + seed as usize) % classes) as u8).collect();
        let data = Arc::new(Dataset::new(x_data, labels, classes).unwrap());
        let mut sizes = vec![inputs];
        sizes.extend(&hidden);
        sizes.push(classes);
        let mlp = Mlp::new(&sizes).unwrap().with_dropout(dropout).unwrap();
        let f = MlpObjective::new(mlp.clone(), data, batch).unwrap().with_dropout_seed(seed);
        let mut x = mlp.init::<f64>(&mut r);
        for (i, v) in x.iter_mut().enumerate() {
            *v += 0.1 * f64::cos(i as f64 + seed as f64);
        }
        let mut b = Batch::Full;
        f.draw_batch(&mut r, &mut b);
        let mut g = DVector::zeros(f.dim());
        f.gradient(&x, &b, &mut g);
        let h = 1e-6;
        let mut xp = x.clone();
        let mut worst: f64 = 0.0;
        for i in 0..f.dim() {
            xp[i] = x[i] + h;
            let up = f.cost(&xp, &b);
            xp[i] = x[i] - h;
            let down = f.cost(&xp, &b);
            xp[i] = x[i];
            worst = worst.max(((up - down) / (2.0 * h) - g[i]).abs());
        }
        // A ReLU kink within h of a pre-activation would break the difference quotient; with
        // continuous random data that has probability ~1e-6 per unit, so the tolerance is tight.
        prop_assert!(worst < 1e-6 * g.amax().max(1.0), "sizes {:?}: {:e}", sizes, worst);
    }
}
