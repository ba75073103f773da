//! Fuzz target: the IDX reader (`data::idx::read_images` / `read_labels`, raw and gzip'd) on
//! arbitrary bytes. Property: a typed `Error::Data` or a value whose size matches its header,
//! never a panic, never an allocation beyond what the input holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use wide_valleys::data::idx;

fuzz_target!(|data: &[u8]| {
    // One file per process: the reader takes a path (the production API).
    let path = std::env::temp_dir().join(format!("wv-fuzz-idx-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(data).unwrap();
    drop(f);
    if let Ok(im) = idx::read_images(&path) {
        assert_eq!(im.pixels.len(), im.count * im.rows * im.cols);
        assert!(im.pixels.len() <= data.len().saturating_mul(1100).max(64));
    }
    if let Ok(labels) = idx::read_labels(&path) {
        assert!(labels.len() <= data.len().saturating_mul(1100).max(64));
    }
});
