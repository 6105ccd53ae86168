//! `.npy` arrays (read here; `output::logits` writes them with [`write_f32`]): npyz parses the header and names the dtype; the data section is then read in
//! large chunks and converted with `from_le_bytes`/`from_be_bytes`, which is much faster than
//! decoding element by element.

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use npyz::{Endianness, NpyHeader, Order, TypeChar, TypeStr, WriterBuilder};

use super::saved::{check_logits_shape, Floats};
use crate::{Error, Result};

/// Bytes converted per read of the data section.
const CHUNK_BYTES: usize = 1 << 20;

/// An opened `.npy` file whose header has been read.
pub(super) struct Npy {
    path: PathBuf,
    reader: BufReader<File>,
    shape: Vec<usize>,
    order: Order,
    type_str: TypeStr,
    /// Bytes after the header.
    data_len: u64,
}

impl Npy {
    /// Opens `path` and parses its header.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(Error::read(path))?;
        let file_len = file.metadata().map_err(Error::read(path))?.len();
        let mut reader = BufReader::with_capacity(CHUNK_BYTES, file);
        // NOTE: npyz multiplies the shape out unchecked, which panics on absurd shapes in
        // builds with overflow checks; that is a bad header like any other.
        let parsed =
            std::panic::catch_unwind(AssertUnwindSafe(|| NpyHeader::from_reader(&mut reader)));
        let header = parsed
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the header's shape is too large",
                ))
            })
            .map_err(|source| Error::Npy {
                path: path.to_path_buf(),
                source,
            })?;
        let data_start = reader.stream_position().map_err(Error::read(path))?;
        let npyz::DType::Plain(type_str) = header.dtype() else {
            return Err(Error::Dtype {
                path: path.to_path_buf(),
                what: "arrays",
                dtype: header.dtype().descr(),
                expected: "a plain numeric dtype, not a structured one",
            });
        };
        let shape = header
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            shape,
            order: header.order(),
            type_str,
            data_len: file_len.saturating_sub(data_start),
        })
    }

    /// The dtype as numpy names it, with the file's type string: `float32 ('<f4')`.
    fn dtype_name(&self) -> String {
        let ts = &self.type_str;
        let bits = ts.size_field() * 8;
        let name = match ts.type_char() {
            TypeChar::Float => format!("float{bits}"),
            TypeChar::Int => format!("int{bits}"),
            TypeChar::Uint => format!("uint{bits}"),
            TypeChar::Bool => "bool".to_owned(),
            TypeChar::Complex => format!("complex{bits}"),
            _ => return format!("'{ts}'"),
        };
        format!("{name} ('{ts}')")
    }

    fn dtype_error(&self, what: &'static str, expected: &'static str) -> Error {
        Error::Dtype {
            path: self.path.clone(),
            what,
            dtype: self.dtype_name(),
            expected,
        }
    }

    /// Reads a 2-D float array as (rows, cols, values in C order).
    /// Reads a float column: shape `(n)` is read as `(n, 1)`, anything else as logits.
    pub(super) fn read_column(mut self) -> Result<(usize, usize, Floats)> {
        if let [n] = *self.shape {
            self.shape = vec![n, 1];
        }
        self.read_logits()
    }

    pub(super) fn read_logits(mut self) -> Result<(usize, usize, Floats)> {
        const EXPECTED: &str = "float16, float32 or float64";
        let ts = self.type_str.clone();
        if ts.type_char() != TypeChar::Float {
            return Err(self.dtype_error("logits", EXPECTED));
        }
        let (n, c) = check_logits_shape(&self.path, &self.shape)?;
        let big = ts.endianness() == Endianness::Big;
        // An absurd header overflows here and is then reported as truncated.
        let count = n.saturating_mul(c);
        let floats = match ts.size_field() {
            2 => Floats::F32(self.read_values(count, |b: [u8; 2]| {
                let bits = if big {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                };
                half::f16::from_bits(bits).to_f32()
            })?),
            4 => Floats::F32(self.read_values(count, |b: [u8; 4]| {
                if big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                }
            })?),
            8 => Floats::F64(self.read_values(count, |b: [u8; 8]| {
                if big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                }
            })?),
            _ => return Err(self.dtype_error("logits", EXPECTED)),
        };
        let floats = match (self.order, floats) {
            (Order::C, floats) => floats,
            (Order::Fortran, Floats::F32(v)) => Floats::F32(transpose(&v, n, c)),
            (Order::Fortran, Floats::F64(v)) => Floats::F64(transpose(&v, n, c)),
        };
        Ok((n, c, floats))
    }

    /// Reads a 1-D (or `(n, 1)`) integer array of any width and signedness, widened to `i128`
    /// so that every value, even a huge `u64`, reaches the range check intact.
    pub(super) fn read_labels(mut self) -> Result<Vec<i128>> {
        const EXPECTED: &str = "an integer dtype (int8 to int64 or uint8 to uint64)";
        let ts = self.type_str.clone();
        let signed = match ts.type_char() {
            TypeChar::Int => true,
            TypeChar::Uint => false,
            _ => return Err(self.dtype_error("labels", EXPECTED)),
        };
        let count = match self.shape.as_slice() {
            [n] | [n, 1] => *n,
            _ => {
                return Err(Error::Shape {
                    path: self.path.clone(),
                    what: "labels",
                    expected: "(examples) or (examples, 1)",
                    shape: self.shape.clone(),
                })
            }
        };
        let big = ts.endianness() == Endianness::Big;
        let values = match (signed, ts.size_field()) {
            (true, 1) => self.read_ints(count, big, i8::from_le_bytes, i8::from_be_bytes)?,
            (true, 2) => self.read_ints(count, big, i16::from_le_bytes, i16::from_be_bytes)?,
            (true, 4) => self.read_ints(count, big, i32::from_le_bytes, i32::from_be_bytes)?,
            (true, 8) => self.read_ints(count, big, i64::from_le_bytes, i64::from_be_bytes)?,
            (false, 1) => self.read_ints(count, big, u8::from_le_bytes, u8::from_be_bytes)?,
            (false, 2) => self.read_ints(count, big, u16::from_le_bytes, u16::from_be_bytes)?,
            (false, 4) => self.read_ints(count, big, u32::from_le_bytes, u32::from_be_bytes)?,
            (false, 8) => self.read_ints(count, big, u64::from_le_bytes, u64::from_be_bytes)?,
            _ => return Err(self.dtype_error("labels", EXPECTED)),
        };
        Ok(values)
    }

    /// Reads `count` integers of `N` bytes in the file's byte order.
    fn read_ints<const N: usize, T: Into<i128>>(
        &mut self,
        count: usize,
        big: bool,
        from_le: fn([u8; N]) -> T,
        from_be: fn([u8; N]) -> T,
    ) -> Result<Vec<i128>> {
        let from_bytes = if big { from_be } else { from_le };
        self.read_values(count, |b| from_bytes(b).into())
    }

    /// Reads `count` values of `N` bytes each, converting them in large chunks.
    fn read_values<const N: usize, T>(
        &mut self,
        count: usize,
        convert: impl Fn([u8; N]) -> T,
    ) -> Result<Vec<T>> {
        let expected = (count as u64).saturating_mul(N as u64);
        if self.data_len < expected {
            return Err(Error::Truncated {
                path: self.path.clone(),
                expected,
                found: self.data_len,
            });
        }
        let mut values = Vec::with_capacity(count);
        let mut chunk = vec![0u8; (CHUNK_BYTES / N).max(1) * N];
        let mut left = count;
        while left > 0 {
            let take = left.min(chunk.len() / N);
            let bytes = &mut chunk[..take * N];
            self.reader
                .read_exact(bytes)
                .map_err(Error::read(&self.path))?;
            values.extend(bytes.chunks_exact(N).map(|b| {
                let mut array = [0u8; N];
                array.copy_from_slice(b);
                convert(array)
            }));
            left -= take;
        }
        Ok(values)
    }
}

/// Column-major (fortran order) `(n, c)` values to row-major.
fn transpose<T: Copy>(values: &[T], n: usize, c: usize) -> Vec<T> {
    // values[j * n + i] holds element (i, j).
    (0..n)
        .flat_map(|i| (0..c).map(move |j| values[j * n + i]))
        .collect()
}

/// Writes an `(n, c)` f32 matrix as a C-order `'<f4'` `.npy`.
pub(crate) fn write_f32(
    out: &mut dyn Write,
    n: usize,
    c: usize,
    values: &[f32],
) -> std::io::Result<()> {
    let type_str: TypeStr = "<f4".parse().map_err(std::io::Error::other)?;
    npyz::WriteOptions::<f32>::new()
        .dtype(npyz::DType::Plain(type_str))
        .shape(&[n as u64, c as u64])
        .writer(&mut *out)
        .write_header_only()?;
    let mut chunk = Vec::with_capacity(CHUNK_BYTES);
    for block in values.chunks(CHUNK_BYTES / 4) {
        chunk.clear();
        chunk.extend(block.iter().flat_map(|v| v.to_le_bytes()));
        out.write_all(&chunk)?;
    }
    Ok(())
}
