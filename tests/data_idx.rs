//! The IDX / MNIST reader on small files written by the tests themselves (raw and gzip): round
//! trips and every corruption case, each an `Error::Data` naming the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use wide_valleys::data::idx::{self, encode_images, encode_labels};
use wide_valleys::data::mnist::{self, Mnist};
use wide_valleys::Error;

/// A fresh, unique temporary directory for one test.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "wide_valleys_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// `n` 28×28 images with a recognisable pattern and labels i mod 10.
fn small_mnist(n: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels = (0..n * 784).map(|k| (k * 31 % 256) as u8).collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    (pixels, labels)
}

/// The error must be `Error::Data` whose path names `file` and whose problem contains `needle`.
fn assert_data_error<T: std::fmt::Debug>(r: wide_valleys::Result<T>, file: &Path, needle: &str) {
    match r {
        Err(Error::Data { path, problem }) => {
            assert!(
                path.contains(file.file_name().unwrap().to_str().unwrap()),
                "path {path:?} does not name {file:?}"
            );
            assert!(
                problem.contains(needle),
                "problem {problem:?} lacks {needle:?}"
            );
        }
        other => panic!("expected Error::Data for {file:?}, got {other:?}"),
    }
}

#[test]
fn images_and_labels_round_trip_raw_and_gzip() {
    let d = temp_dir("roundtrip");
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|k| (k * 7) as u8).collect();
    let labels = vec![3u8, 0, 9];
    for gz in [false, true] {
        let ip = d.join(format!("img{gz}"));
        let lp = d.join(format!("lab{gz}"));
        idx::write_images(&ip, 4, 5, &pixels, gz).unwrap();
        idx::write_labels(&lp, &labels, gz).unwrap();
        let img = idx::read_images(&ip).unwrap();
        assert_eq!((img.count, img.rows, img.cols), (3, 4, 5));
        assert_eq!(img.pixels, pixels);
        assert_eq!(idx::read_labels(&lp).unwrap(), labels);
        let head = std::fs::read(&ip).unwrap();
        assert_eq!(head[..2] == [0x1f, 0x8b], gz, "gzip'd iff asked");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn mnist_loads_a_small_directory_gzip_or_raw_and_scales_pixels() {
    for gz in [true, false] {
        let d = temp_dir("mnistdir");
        let (tp, tl) = small_mnist(12);
        let (sp, sl) = small_mnist(5);
        idx::write_images(d.join(ext(mnist::TRAIN_IMAGES, gz)), 28, 28, &tp, gz).unwrap();
        idx::write_labels(d.join(ext(mnist::TRAIN_LABELS, gz)), &tl, gz).unwrap();
        idx::write_images(d.join(ext(mnist::TEST_IMAGES, gz)), 28, 28, &sp, gz).unwrap();
        idx::write_labels(d.join(ext(mnist::TEST_LABELS, gz)), &sl, gz).unwrap();
        let m = Mnist::<f32>::load(&d).unwrap();
        assert_eq!((m.train.len(), m.test.len()), (12, 5));
        assert_eq!(m.train.features(), 784);
        assert_eq!(m.train.classes(), 10);
        assert_eq!(m.train.labels(), &tl[..]);
        // Example 3, pixel 100 (row-major) is byte 3·784 + 100, scaled by 1/255.
        let k = 3 * 784 + 100;
        assert_eq!(m.train.input(3)[100], tp[k] as f32 / 255.0);
        assert!(m.train.inputs().iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(m.test.class_counts(), vec![1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}

fn ext(name: &str, gz: bool) -> String {
    if gz {
        format!("{name}.gz")
    } else {
        name.to_string()
    }
}

/// Every corruption of an image file, raw and gzip'd.
#[test]
fn corrupt_image_files_give_data_errors_naming_the_file() {
    let d = temp_dir("corrupt_img");
    let good = encode_images(2, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).unwrap();
    let mut bad_magic = good.clone();
    bad_magic[3] = 0x02;
    let mut label_magic = good.clone();
    label_magic[3] = 0x01;
    let truncated_header = good[..10].to_vec();
    let truncated_data = good[..good.len() - 1].to_vec();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut zero_rows = good.clone();
    zero_rows[8..12].copy_from_slice(&0u32.to_be_bytes());
    // A header claiming 4·10⁹ × 65535 × 65535 bytes: must fail without allocating it.
    let mut huge = good.clone();
    huge[4..8].copy_from_slice(&4_000_000_000u32.to_be_bytes());
    huge[8..12].copy_from_slice(&65_535u32.to_be_bytes());
    huge[12..16].copy_from_slice(&65_535u32.to_be_bytes());
    let mut big_count = good.clone();
    big_count[4..8].copy_from_slice(&1_000_000u32.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad_magic", bad_magic, "bad magic"),
        ("label_magic", label_magic, "label file"),
        ("empty", vec![], "truncated header"),
        ("trunc_header", truncated_header, "truncated header"),
        ("trunc_data", truncated_data, "truncated data"),
        ("trailing", trailing, "trailing data"),
        ("zero_rows", zero_rows, "bad dimensions"),
        ("huge", huge, ""),
        ("big_count", big_count, "truncated data"),
    ];
    for (name, bytes, needle) in cases {
        for gz in [false, true] {
            let p = d.join(format!("{name}_{gz}"));
            write(&p, &if gz { gzip(&bytes) } else { bytes.clone() });
            assert_data_error(idx::read_images(&p), &p, needle);
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn corrupt_label_files_give_data_errors_naming_the_file() {
    let d = temp_dir("corrupt_lab");
    let good = encode_labels(&[1, 2, 3]);
    let mut bad_magic = good.clone();
    bad_magic[2] = 0x09;
    let mut image_magic = good.clone();
    image_magic[3] = 0x03;
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[4, 5]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad_magic", bad_magic, "bad magic"),
        ("image_magic", image_magic, "image file"),
        ("trunc_header", good[..6].to_vec(), "truncated header"),
        ("trunc_data", good[..10].to_vec(), "truncated data"),
        ("trailing", trailing, "trailing data"),
    ];
    for (name, bytes, needle) in cases {
        for gz in [false, true] {
            let p = d.join(format!("{name}_{gz}"));
            write(&p, &if gz { gzip(&bytes) } else { bytes.clone() });
            assert_data_error(idx::read_labels(&p), &p, needle);
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn corrupt_or_truncated_gzip_and_missing_files_give_data_errors() {
    let d = temp_dir("gzip");
    let good = gzip(&encode_labels(&[1, 2, 3, 4, 5, 6, 7, 8]));
    // Truncated gzip stream (cut in the middle of the deflate data / before the trailer).
    let p = d.join("trunc.gz");
    write(&p, &good[..good.len() - 6]);
    assert_data_error(idx::read_labels(&p), &p, "gzip");
    // Corrupt deflate data or CRC: flip bytes after the 10-byte gzip header, and in the CRC.
    let mut corrupt = good.clone();
    for b in &mut corrupt[10..good.len() - 8] {
        *b ^= 0xa5;
    }
    let p = d.join("corrupt.gz");
    write(&p, &corrupt);
    assert_data_error(idx::read_labels(&p), &p, "gzip");
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let p = d.join("crc.gz");
    write(&p, &bad_crc);
    assert_data_error(idx::read_labels(&p), &p, "gzip");
    // Only the gzip magic.
    let p = d.join("magic_only.gz");
    write(&p, &[0x1f, 0x8b]);
    assert_data_error(idx::read_labels(&p), &p, "gzip");
    // Bytes after the end of the gzip member are ignored (gzip -d's policy).
    let mut after = good.clone();
    after.extend_from_slice(b"junk");
    let p = d.join("after.gz");
    write(&p, &after);
    assert_eq!(idx::read_labels(&p).unwrap(), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    // Missing file.
    let p = d.join("nope");
    assert_data_error(idx::read_images(&p), &p, "not found");
    std::fs::remove_dir_all(&d).unwrap();
}

/// MNIST-level checks: 28×28, labels < 10, equal counts, missing files with instructions.
#[test]
fn mnist_level_validation_names_the_offending_file() {
    let setup = |d: &Path| {
        let (tp, tl) = small_mnist(4);
        idx::write_images(d.join("train-images-idx3-ubyte.gz"), 28, 28, &tp, true).unwrap();
        idx::write_labels(d.join("train-labels-idx1-ubyte.gz"), &tl, true).unwrap();
        idx::write_images(d.join("t10k-images-idx3-ubyte"), 28, 28, &tp, false).unwrap();
        idx::write_labels(d.join("t10k-labels-idx1-ubyte"), &tl, false).unwrap();
    };
    // Sanity: the setup loads.
    let d = temp_dir("mnist_ok");
    setup(&d);
    assert!(Mnist::<f64>::load(&d).is_ok());

    // Label ≥ 10.
    let p = d.join("train-labels-idx1-ubyte.gz");
    idx::write_labels(&p, &[0, 1, 10, 2], true).unwrap();
    assert_data_error(Mnist::<f64>::load(&d), &p, "label 10");
    setup(&d);

    // Label/image count mismatch.
    let p = d.join("t10k-labels-idx1-ubyte");
    idx::write_labels(&p, &[0, 1, 2], false).unwrap();
    assert_data_error(Mnist::<f64>::load(&d), &p, "3 labels");
    setup(&d);

    // Images that are not 28×28 (dimension mismatch with MNIST).
    let p = d.join("t10k-images-idx3-ubyte");
    idx::write_images(&p, 27, 28, &vec![0u8; 4 * 27 * 28], false).unwrap();
    assert_data_error(Mnist::<f64>::load(&d), &p, "28×28");
    setup(&d);

    // A missing file: names it and says how to get the four files and MNIST_DIR.
    std::fs::remove_file(d.join("train-labels-idx1-ubyte.gz")).unwrap();
    let p = d.join("train-labels-idx1-ubyte.gz");
    match Mnist::<f64>::load(&d) {
        Err(Error::Data { path, problem }) => {
            assert!(path.ends_with("train-labels-idx1-ubyte.gz"), "{path}");
            for needle in [
                "missing",
                "train-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "MNIST_DIR",
            ] {
                assert!(problem.contains(needle), "{problem:?} lacks {needle:?}");
            }
        }
        other => panic!("expected a missing-file error for {p:?}, got {other:?}"),
    }
    // A corrupt file inside the directory is reported with its own path.
    setup(&d);
    let p = d.join("t10k-images-idx3-ubyte");
    write(&p, &[0, 0, 8, 3, 0]);
    assert_data_error(Mnist::<f64>::load(&d), &p, "truncated header");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Multi-member gzip (`cat a.gz b.gz`, bgzip, parallel compressors) is one stream to `gzip -dc`,
/// and so to the reader: the members are read in turn (issue 20, item 4).
#[test]
fn multi_member_gzip_reads_every_member() {
    let d = temp_dir("multimember");
    let (pixels, labels) = small_mnist(7);
    let images = encode_images(28, 28, &pixels).unwrap();
    let labs = encode_labels(&labels);
    // Members split inside the header and inside the body, and an empty member in between.
    for (bytes, cut, name) in [(&images, 10, "img_a"), (&images, 1000, "img_b")] {
        let mut gz = gzip(&bytes[..cut]);
        gz.extend(gzip(&[]));
        gz.extend(gzip(&bytes[cut..]));
        let p = d.join(name);
        write(&p, &gz);
        let read = idx::read_images(&p).unwrap();
        assert_eq!((read.count, read.rows, read.cols), (7, 28, 28), "{name}");
        assert_eq!(read.pixels, pixels, "{name}");
    }
    let mut gz = gzip(&labs[..5]);
    gz.extend(gzip(&labs[5..]));
    let p = d.join("lab");
    write(&p, &gz);
    assert_eq!(idx::read_labels(&p).unwrap(), labels);
    // A truncated second member is still a truncated stream.
    let mut gz = gzip(&images[..10]);
    let second = gzip(&images[10..]);
    gz.extend(&second[..second.len() / 2]);
    let p = d.join("img_truncated");
    write(&p, &gz);
    assert_data_error(idx::read_images(&p), &p, "truncated");
}
