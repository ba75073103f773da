//! Seeded minibatches (000 §6.2), disjoint shards for Parle (003 §5.5), the synthetic task and
//! the in-memory dataset's validation.

use nalgebra::DMatrix;
use wide_valleys::data::synthetic::Blobs;
use wide_valleys::data::{sample_without_replacement, shards, Dataset};
use wide_valleys::{rng, Error};

#[test]
fn shards_are_disjoint_cover_everything_and_are_balanced() {
    for (n, k) in [(10, 3), (60_000, 6), (7, 7), (5, 1)] {
        let s = shards(n, k, 42).unwrap();
        assert_eq!(s.len(), k);
        let mut all: Vec<usize> = s.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "cover, no repeats");
        let (min, max) = (
            s.iter().map(Vec::len).min().unwrap(),
            s.iter().map(Vec::len).max().unwrap(),
        );
        assert!(max - min <= 1);
        assert_eq!(s, shards(n, k, 42).unwrap(), "seeded");
    }
    assert_ne!(shards(100, 2, 1).unwrap(), shards(100, 2, 2).unwrap());
    // Shuffled, not contiguous ranges.
    assert_ne!(shards(100, 2, 1).unwrap()[0], (0..50).collect::<Vec<_>>());
    assert!(matches!(
        shards(10, 0, 1),
        Err(Error::InvalidHyperParameter { .. })
    ));
    assert!(matches!(
        shards(3, 4, 1),
        Err(Error::InvalidHyperParameter { .. })
    ));
}

#[test]
fn minibatches_are_distinct_seeded_and_uniform() {
    let set: Vec<usize> = (100..110).collect();
    let mut out = Vec::new();
    let mut r = rng::seeded(3);
    let draws = 20_000;
    let mut counts = [0usize; 10];
    let mut pair = 0usize; // how often 100 and 101 are drawn together
    for _ in 0..draws {
        sample_without_replacement(&mut r, &set, 3, &mut out);
        assert_eq!(out.len(), 3);
        assert!(out[0] != out[1] && out[1] != out[2] && out[0] != out[2]);
        for &i in &out {
            counts[i - 100] += 1;
        }
        pair += usize::from(out.contains(&100) && out.contains(&101));
    }
    // Each element has inclusion probability 3/10; each pair 3·2/(10·9) = 1/15. Five sigma.
    let p = 0.3;
    let sd = (draws as f64 * p * (1.0 - p)).sqrt();
    for c in counts {
        assert!((c as f64 - draws as f64 * p).abs() < 5.0 * sd, "{counts:?}");
    }
    let q = 1.0 / 15.0;
    let sdq = (draws as f64 * q * (1.0 - q)).sqrt();
    assert!((pair as f64 - draws as f64 * q).abs() < 5.0 * sdq, "{pair}");
    // Same seed, same batches; whole set when the batch is as large.
    let mut a = Vec::new();
    let mut b = Vec::new();
    sample_without_replacement(&mut rng::seeded(9), &set, 4, &mut a);
    sample_without_replacement(&mut rng::seeded(9), &set, 4, &mut b);
    assert_eq!(a, b);
    sample_without_replacement(&mut rng::seeded(9), &set, 10, &mut a);
    assert_eq!(a, set);
}

#[test]
fn synthetic_blobs_are_deterministic_balanced_and_not_trivial() {
    let spec = Blobs::default();
    let t = spec.generate::<f64>(5).unwrap();
    let t2 = spec.generate::<f64>(5).unwrap();
    let t32 = spec.generate::<f32>(5).unwrap();
    assert_eq!(t.train, t2.train);
    assert_eq!(t.test, t2.test);
    assert_ne!(t.train, spec.generate::<f64>(6).unwrap().train);
    assert!(t
        .train
        .inputs()
        .iter()
        .zip(t32.train.inputs().iter())
        .all(|(a, b)| *a as f32 == *b));
    assert_eq!(
        (t.train.len(), t.test.len(), t.train.features()),
        (4000, 1000, 32)
    );
    assert_eq!(t.train.class_counts(), vec![400; 10]);
    // The nearest-centre rule (≈ Bayes-optimal) is good but far from perfect: overlap.
    let k = spec.classes * spec.modes_per_class;
    let correct = (0..t.test.len())
        .filter(|&i| {
            let x = t.test.input(i);
            let best = (0..k)
                .min_by(|&a, &b| {
                    let da = (t.centres.column(a) - x).norm_squared();
                    let db = (t.centres.column(b) - x).norm_squared();
                    da.partial_cmp(&db).unwrap()
                })
                .unwrap();
            best % spec.classes == t.test.label(i) as usize
        })
        .count();
    let acc = correct as f64 / t.test.len() as f64;
    assert!((0.75..0.97).contains(&acc), "nearest-centre accuracy {acc}");
    // Bad parameters are typed errors.
    assert!(matches!(
        Blobs {
            noise: 0.0,
            ..Blobs::default()
        }
        .generate::<f64>(1),
        Err(Error::InvalidHyperParameter { .. })
    ));
    assert!(matches!(
        Blobs {
            classes: 0,
            ..Blobs::default()
        }
        .generate::<f64>(1),
        Err(Error::InvalidHyperParameter { .. })
    ));
}

#[test]
fn dataset_validates_its_input() {
    let x = DMatrix::<f64>::zeros(3, 4);
    assert!(Dataset::new(x.clone(), vec![0, 1, 2, 1], 3).is_ok());
    assert!(matches!(
        Dataset::new(x.clone(), vec![0, 1, 2], 3),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Dataset::new(x.clone(), vec![0, 1, 3, 1], 3),
        Err(Error::Data { .. })
    ));
    assert!(matches!(
        Dataset::new(x.clone(), vec![0, 0, 0, 0], 0),
        Err(Error::InvalidHyperParameter { .. })
    ));
    let mut y = x.clone();
    y[(1, 2)] = f64::NAN;
    assert!(matches!(
        Dataset::new(y, vec![0, 1, 2, 1], 3),
        Err(Error::Data { .. })
    ));
    let d = Dataset::new(
        DMatrix::from_fn(2, 5, |i, j| (10 * j + i) as f64),
        vec![0, 1, 0, 1, 0],
        2,
    )
    .unwrap();
    let s = d.subset(&[4, 1]).unwrap();
    assert_eq!(s.input(0)[1], 41.0);
    assert_eq!(s.labels(), &[0, 1]);
    assert!(matches!(d.subset(&[5]), Err(Error::Data { .. })));
    let mut buf = vec![0.0; 4];
    assert!(d.gather_into(&[2, 3], &mut buf));
    assert_eq!(buf, vec![20.0, 21.0, 30.0, 31.0]);
    assert!(!d.gather_into(&[2, 7], &mut buf));
    assert!(!d.gather_into(&[1, 2, 3], &mut buf));
}
