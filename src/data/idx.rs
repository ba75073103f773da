//! The IDX file format of MNIST (LeCun et al.), gzip'd or raw, read with every field validated.
//!
//! Layout (big-endian): a 4-byte magic `0x0000_08dd` (`08` = unsigned bytes, `dd` = number of
//! dimensions), then `dd` 32-bit sizes, then the bytes. Images are `0x00000803` (count, rows, cols);
//! labels are `0x00000801` (count).
//!
//! Policy, so that a corrupt file is reported and never trusted:
//! - gzip is detected from the content (bytes `1f 8b`), not the file name;
//! - the declared sizes are multiplied with overflow checks and never used to allocate more than the
//!   data actually present (the buffer grows as bytes arrive, capped at the declared size);
//! - fewer data bytes than declared is "truncated data"; *more* is rejected too ("trailing data"),
//!   since a valid IDX file ends exactly after its data;
//! - gzip's CRC is checked (the stream is read to its end); a file of several gzip members
//!   (`cat a.gz b.gz`, bgzip, pigz) is read member after member, as `gzip -dc` reads it, and
//!   bytes after the last member that do not start another one are ignored, as `gzip -d` does
//!   with a warning;
//! - every failure is [`Error::Data`] with the file's path and the problem.

use crate::{Error, Result};
use flate2::bufread::GzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::Path;

/// Magic number of an IDX file of unsigned-byte images (3 dimensions: count, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (1 dimension: count).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Images read from an IDX3 file: `count` images of `rows × cols` bytes, row-major, one after
/// the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image (28 for MNIST).
    pub rows: usize,
    /// Columns per image (28 for MNIST).
    pub cols: usize,
    /// `count · rows · cols` pixel bytes (0 = background, 255 = ink).
    pub pixels: Vec<u8>,
}

fn data_err(path: &Path, problem: impl Into<String>) -> Error {
    Error::Data {
        path: path.display().to_string(),
        problem: problem.into(),
    }
}

/// A reader over the decompressed content, remembering whether it is gzip'd (for messages).
struct Source {
    reader: Box<dyn Read>,
    gzip: bool,
}

fn open(path: &Path) -> Result<Source> {
    let file = File::open(path).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            data_err(path, "file not found")
        } else {
            data_err(path, format!("cannot open: {e}"))
        }
    })?;
    let mut buf = BufReader::new(file);
    let mut head = [0u8; 2];
    let mut got = 0;
    // Peek at the first two bytes by reading them, then chain them back in front.
    while got < 2 {
        match buf.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(data_err(path, format!("read error: {e}"))),
        }
    }
    let prefix = std::io::Cursor::new(head[..got].to_vec());
    let chained = prefix.chain(buf);
    if got == 2 && head == [0x1f, 0x8b] {
        Ok(Source {
            reader: Box::new(Members::new(chained)),
            gzip: true,
        })
    } else {
        Ok(Source {
            reader: Box::new(chained),
            gzip: false,
        })
    }
}

/// The members of a gzip file in turn, as `gzip -dc` reads them (`cat a.gz b.gz`, bgzip, pigz):
/// after a member ends, another begins only where the gzip magic follows; anything else after
/// the last member is ignored, as by `gzip -d` ("trailing garbage ignored").
struct Members<B: BufRead> {
    member: Option<GzDecoder<B>>,
}

impl<B: BufRead> Members<B> {
    fn new(inner: B) -> Self {
        Self {
            member: Some(GzDecoder::new(inner)),
        }
    }
}

impl<B: BufRead> Read for Members<B> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(member) = &mut self.member {
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member is complete (its CRC and length checked): is another one next?
            let mut inner = self.member.take().expect("a member is open").into_inner();
            if inner.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
                self.member = Some(GzDecoder::new(inner));
            }
        }
        Ok(0)
    }
}

fn io_problem(e: &std::io::Error, gzip: bool, what: &str) -> String {
    if gzip && e.kind() != ErrorKind::UnexpectedEof {
        format!("corrupt gzip stream while reading the {what}: {e}")
    } else if gzip {
        format!("truncated gzip stream while reading the {what}")
    } else {
        format!("read error in the {what}: {e}")
    }
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` if the content ended first.
fn read_full(src: &mut Source, buf: &mut [u8], path: &Path, what: &str) -> Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match src.reader.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(k) => got += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(data_err(path, io_problem(&e, src.gzip, what))),
        }
    }
    Ok(true)
}

/// Reads the magic and the dimension sizes; checks the magic against `expected`.
fn header(src: &mut Source, path: &Path, expected: u32, dims: usize) -> Result<Vec<u64>> {
    let mut magic = [0u8; 4];
    if !read_full(src, &mut magic, path, "header")? {
        return Err(data_err(
            path,
            format!(
                "truncated header: fewer than the {} header bytes",
                4 + 4 * dims
            ),
        ));
    }
    let magic = u32::from_be_bytes(magic);
    if magic != expected {
        let hint = match magic {
            IMAGES_MAGIC => " (this is an IDX image file)",
            LABELS_MAGIC => " (this is an IDX label file)",
            _ => "",
        };
        return Err(data_err(
            path,
            format!("bad magic number 0x{magic:08x}, expected 0x{expected:08x}{hint}"),
        ));
    }
    let mut sizes = Vec::with_capacity(dims);
    for _ in 0..dims {
        let mut b = [0u8; 4];
        if !read_full(src, &mut b, path, "header")? {
            return Err(data_err(
                path,
                format!(
                    "truncated header: fewer than the {} header bytes",
                    4 + 4 * dims
                ),
            ));
        }
        sizes.push(u32::from_be_bytes(b) as u64);
    }
    Ok(sizes)
}

/// Reads the `declared` data bytes and checks that nothing follows them.
fn body(src: &mut Source, path: &Path, declared: u64, describe: &str) -> Result<Vec<u8>> {
    // Never allocate from the header alone: reserve at most 64 MiB up front and let the buffer
    // grow with the bytes actually present, so a header claiming 4 GB costs nothing.
    let mut data = Vec::with_capacity(declared.min(1 << 26) as usize);
    let res = (&mut src.reader).take(declared).read_to_end(&mut data);
    if let Err(e) = res {
        return Err(data_err(path, io_problem(&e, src.gzip, "data")));
    }
    if (data.len() as u64) < declared {
        return Err(data_err(
            path,
            format!(
                "truncated data: the header declares {describe} = {declared} bytes, only {} present",
                data.len()
            ),
        ));
    }
    // One more read: must be end of content. For gzip this also verifies the CRC and length.
    let mut extra = [0u8; 1];
    match src.reader.read(&mut extra) {
        Ok(0) => Ok(data),
        Ok(_) => Err(data_err(
            path,
            format!("trailing data after the {declared} bytes declared by the header ({describe})"),
        )),
        Err(e) => Err(data_err(path, io_problem(&e, src.gzip, "end of the file"))),
    }
}

/// Reads an IDX3 image file (gzip'd or raw) at `path`.
///
/// Errors ([`Error::Data`] naming `path`): missing file, bad magic, truncated header, a zero or
/// overflowing dimension, truncated data, trailing data, corrupt or truncated gzip stream.
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let mut src = open(path)?;
    let s = header(&mut src, path, IMAGES_MAGIC, 3)?;
    let (count, rows, cols) = (s[0], s[1], s[2]);
    if rows == 0 || cols == 0 {
        return Err(data_err(
            path,
            format!("bad dimensions: images of {rows}×{cols} pixels"),
        ));
    }
    let declared = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .filter(|&v| usize::try_from(v).is_ok())
        .ok_or_else(|| data_err(path, "bad dimensions: the declared size overflows"))?;
    let pixels = body(
        &mut src,
        path,
        declared,
        &format!("{count} images of {rows}×{cols}"),
    )?;
    Ok(IdxImages {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels,
    })
}

/// Reads an IDX1 label file (gzip'd or raw) at `path`. Values are not range-checked here
/// ([`Mnist`](super::Mnist) checks labels < 10).
///
/// Errors ([`Error::Data`] naming `path`): missing file, bad magic, truncated header, truncated
/// data, trailing data, corrupt or truncated gzip stream.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let mut src = open(path)?;
    let s = header(&mut src, path, LABELS_MAGIC, 1)?;
    body(&mut src, path, s[0], &format!("{} labels", s[0]))
}

fn write_bytes(path: &Path, bytes: &[u8], gzip: bool) -> Result<()> {
    let file = File::create(path)?;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        enc.write_all(bytes)?;
        enc.finish()?;
    } else {
        let mut file = file;
        file.write_all(bytes)?;
    }
    Ok(())
}

/// Encodes images as IDX3 bytes (magic, count, rows, cols, pixels).
///
/// Errors: [`Error::DimensionMismatch`] if `pixels.len()` is not a multiple of `rows · cols`.
pub fn encode_images(rows: usize, cols: usize, pixels: &[u8]) -> Result<Vec<u8>> {
    let per = rows * cols;
    if per == 0 || !pixels.len().is_multiple_of(per) {
        return Err(Error::DimensionMismatch {
            expected: per,
            got: pixels.len(),
        });
    }
    let mut out = Vec::with_capacity(16 + pixels.len());
    for v in [
        IMAGES_MAGIC,
        (pixels.len() / per) as u32,
        rows as u32,
        cols as u32,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    Ok(out)
}

/// Encodes labels as IDX1 bytes (magic, count, labels).
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// Writes an IDX3 image file (gzip'd if `gzip`), the inverse of [`read_images`].
pub fn write_images(
    path: impl AsRef<Path>,
    rows: usize,
    cols: usize,
    pixels: &[u8],
    gzip: bool,
) -> Result<()> {
    write_bytes(path.as_ref(), &encode_images(rows, cols, pixels)?, gzip)
}

/// Writes an IDX1 label file (gzip'd if `gzip`), the inverse of [`read_labels`].
pub fn write_labels(path: impl AsRef<Path>, labels: &[u8], gzip: bool) -> Result<()> {
    write_bytes(path.as_ref(), &encode_labels(labels), gzip)
}
