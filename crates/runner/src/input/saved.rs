//! Saved logits and labels files: reading precomputed `(n, classes)` logits (`.npy`,
//! `.safetensors`, JSON Lines) and gold labels.

use std::path::Path;

use candle::{Device, Tensor};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use tracing::instrument;

use super::dataset::json_kind;
use super::npy;
use crate::location::Position;
use crate::{Error, Result};

/// The tensor name `distill-eval logits` writes and [`read_logits`] falls back to.
pub const LOGITS_TENSOR: &str = "logits";

/// The extensions [`read_logits`] accepts, for messages.
const LOGITS_EXTENSIONS: &str = ".npy, .safetensors, .jsonl or .json";

/// Logits on the host, in the precision they will have on the device.
pub(crate) enum Floats {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Reads an `(n, classes)` float matrix into a tensor on `device`.
///
/// The tensor is F64 when the file holds f64 values and F32 otherwise (f16 and bf16 are
/// widened to F32; JSON numbers are read as F32).
///
/// - `.npy`: f16, f32 or f64 in either byte order, C or fortran order, exactly 2-D.
/// - `.safetensors`: `FILE:NAME` reads the tensor `NAME`; plain `FILE` reads the file's only
///   tensor, else the one named `logits`, else fails listing the names (safetensors keeps no
///   meaningful order, so there is no "first" tensor). Dtypes F16, BF16, F32 and F64.
/// - `.jsonl`/`.json`: one JSON array of numbers per non-blank line, all of the same length.
///
/// Values are not checked for NaN or infinities here: the metrics report the offending row.
#[instrument(skip_all, fields(spec = spec))]
pub fn read_logits(spec: &str, device: &Device) -> Result<Tensor> {
    read_floats(spec, device, false)
}

/// Reads one number per example (regression predictions and targets): as [`read_logits`], and
/// a 1-D `.npy` is read as `(n, 1)`.
pub fn read_column(spec: &str, device: &Device) -> Result<Tensor> {
    read_floats(spec, device, true)
}

fn read_floats(spec: &str, device: &Device, column: bool) -> Result<Tensor> {
    let (path, name) = split_spec(spec);
    let extension = extension(path);
    let (n, c, floats) = match extension.as_str() {
        "npy" if column => npy::Npy::open(path)?.read_column()?,
        "npy" => npy::Npy::open(path)?.read_logits()?,
        "safetensors" => read_safetensors(path, name)?,
        "jsonl" | "json" | "ndjson" => read_jsonl_logits(path)?,
        _ => {
            return Err(Error::UnknownFormat {
                path: path.to_path_buf(),
                extension,
                expected: LOGITS_EXTENSIONS,
            })
        }
    };
    tracing::debug!(rows = n, classes = c, "logits loaded");
    let tensor = match floats {
        Floats::F32(values) => Tensor::from_vec(values, (n, c), device)?,
        Floats::F64(values) => Tensor::from_vec(values, (n, c), device)?,
    };
    Ok(tensor)
}

/// Reads gold labels, one per example, as class ids.
///
/// - `.npy`: any integer dtype (int8 to int64, uint8 to uint64), shape `(n)` or `(n, 1)`;
///   bool and float arrays are refused.
/// - `.jsonl`/`.json`: one integer per line, or one JSON array of integers.
/// - anything else (`.txt`, ...): integers separated by whitespace.
///
/// Every returned value lies in `0..=u32::MAX`; a negative, fractional, non-numeric or larger
/// value is an error naming the 0-based example index (and the 1-based line in text files).
#[instrument(skip_all, fields(path = %path.display()))]
pub fn read_labels(path: &Path) -> Result<Vec<i64>> {
    let labels = match extension(path).as_str() {
        "npy" => {
            let values = npy::Npy::open(path)?.read_labels()?;
            values
                .into_iter()
                .enumerate()
                .map(|(index, value)| class_id(path, index, None, i64::try_from(value).ok(), value))
                .collect::<Result<Vec<_>>>()?
        }
        "jsonl" | "json" | "ndjson" => read_json_labels(path)?,
        _ => read_text_labels(path)?,
    };
    if labels.is_empty() {
        return Err(Error::EmptyData {
            path: path.to_path_buf(),
        });
    }
    Ok(labels)
}

/// The class names a logits file carries, if any: the `labels` metadata entry (a JSON array of
/// strings) that `distill-eval logits` writes into safetensors files. Other formats carry none.
pub fn read_logit_labels(spec: &str) -> Result<Option<Vec<String>>> {
    let (path, _) = split_spec(spec);
    if extension(path) != "safetensors" {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(Error::read(path))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|source| Error::Safetensors {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("labels"))
        .and_then(|labels| serde_json::from_str::<Vec<String>>(labels).ok()))
}

/// Splits `FILE:NAME` for safetensors files; an existing file wins over the split, so paths
/// that contain `:` still work.
pub(crate) fn split_spec(spec: &str) -> (&Path, Option<&str>) {
    if !Path::new(spec).exists() {
        if let Some((file, name)) = spec.rsplit_once(':') {
            if !name.is_empty() && extension(Path::new(file)) == "safetensors" {
                return (Path::new(file), Some(name));
            }
        }
    }
    (Path::new(spec), None)
}

/// The lowercased extension, or an empty string.
pub(crate) fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Checks that a logits shape is `(n, c)` with `n, c > 0`.
pub(crate) fn check_logits_shape(path: &Path, shape: &[usize]) -> Result<(usize, usize)> {
    match *shape {
        [0, _] => Err(Error::EmptyData {
            path: path.to_path_buf(),
        }),
        [n, c] if c > 0 => Ok((n, c)),
        _ => Err(Error::Shape {
            path: path.to_path_buf(),
            what: "logits",
            expected: "(examples, classes) with at least one class",
            shape: shape.to_vec(),
        }),
    }
}

fn read_safetensors(path: &Path, name: Option<&str>) -> Result<(usize, usize, Floats)> {
    let bytes = std::fs::read(path).map_err(Error::read(path))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|source| Error::Safetensors {
        path: path.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
    names.sort();
    let name = match name {
        Some(name) => name,
        None if names.len() == 1 => names[0].as_str(),
        None if names.iter().any(|n| n == LOGITS_TENSOR) => LOGITS_TENSOR,
        None if names.is_empty() => LOGITS_TENSOR,
        None => {
            return Err(Error::AmbiguousTensor {
                path: path.to_path_buf(),
                available: names,
            })
        }
    };
    let view = st.tensor(name).map_err(|_| Error::TensorNotFound {
        path: path.to_path_buf(),
        name: name.to_owned(),
        available: names.clone(),
    })?;
    let (n, c) = check_logits_shape(path, view.shape())?;
    let data = view.data();
    let floats = match view.dtype() {
        Dtype::F16 => Floats::F32(convert(data, |b| half::f16::from_le_bytes(b).to_f32())),
        Dtype::BF16 => Floats::F32(convert(data, |b| half::bf16::from_le_bytes(b).to_f32())),
        Dtype::F32 => Floats::F32(convert(data, f32::from_le_bytes)),
        Dtype::F64 => Floats::F64(convert(data, f64::from_le_bytes)),
        other => {
            return Err(Error::Dtype {
                path: path.to_path_buf(),
                what: "logits",
                dtype: format!("{other:?}"),
                expected: "F16, BF16, F32 or F64",
            })
        }
    };
    Ok((n, c, floats))
}

/// Converts little-endian bytes to values.
fn convert<const N: usize, T>(bytes: &[u8], from_le: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|b| {
            let mut array = [0u8; N];
            array.copy_from_slice(b);
            from_le(array)
        })
        .collect()
}

fn read_jsonl_logits(path: &Path) -> Result<(usize, usize, Floats)> {
    let text = super::read_text(path)?;
    let mut values = Vec::new();
    let mut first: Option<(Position, usize)> = None;
    let mut n = 0;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let position = Position::Line(index as u64 + 1);
        let row: Value = serde_json::from_str(line).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            position,
            source,
        })?;
        // A row is an array, or a record whose `logits` field is one.
        let not_array = |found| Error::NotAnArray {
            path: path.to_path_buf(),
            position,
            found,
        };
        let row = match row {
            Value::Array(row) => row,
            Value::Object(mut record) => match record.remove("logits") {
                Some(Value::Array(row)) => row,
                Some(other) => return Err(not_array(json_kind(&other))),
                None => return Err(not_array("an object without a \"logits\" field")),
            },
            other => return Err(not_array(json_kind(&other))),
        };
        match first {
            None => first = Some((position, row.len())),
            Some((first, expected)) if expected != row.len() => {
                return Err(Error::Ragged {
                    path: path.to_path_buf(),
                    position,
                    found: row.len(),
                    first,
                    expected,
                })
            }
            Some(_) => {}
        }
        for (index, value) in row.iter().enumerate() {
            let number = value.as_f64().ok_or_else(|| Error::NotANumber {
                path: path.to_path_buf(),
                position,
                index,
                found: json_kind(value).to_owned(),
            })?;
            values.push(number as f32);
        }
        n += 1;
    }
    let c = first.map_or(0, |(_, c)| c);
    let (n, c) = check_logits_shape(path, &[n, c])?;
    Ok((n, c, Floats::F32(values)))
}

/// Checks that a label is a class id, i.e. in `0..=u32::MAX`.
fn class_id(
    path: &Path,
    index: usize,
    position: Option<Position>,
    value: Option<i64>,
    shown: impl std::fmt::Display,
) -> Result<i64> {
    match value {
        Some(id) if (0..=i64::from(u32::MAX)).contains(&id) => Ok(id),
        _ => Err(Error::BadLabel {
            path: path.to_path_buf(),
            index,
            position,
            value: shown.to_string(),
        }),
    }
}

fn read_json_labels(path: &Path) -> Result<Vec<i64>> {
    let text = super::read_text(path)?;
    // A label is an integer, or a record whose `label` field is one.
    let id = |index, position, value: &Value| {
        let value = match value {
            Value::Object(record) => record.get("label").unwrap_or(value),
            _ => value,
        };
        class_id(path, index, position, value.as_i64(), value)
    };
    if text.trim_start().starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            position: Position::Line(source.line() as u64),
            source,
        })?;
        return values
            .iter()
            .enumerate()
            .map(|(index, value)| id(index, None, value))
            .collect();
    }
    let mut labels = Vec::new();
    for (line, content) in text.lines().enumerate() {
        if content.trim().is_empty() {
            continue;
        }
        let position = Position::Line(line as u64 + 1);
        let value: Value = serde_json::from_str(content).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            position,
            source,
        })?;
        labels.push(id(labels.len(), Some(position), &value)?);
    }
    Ok(labels)
}

fn read_text_labels(path: &Path) -> Result<Vec<i64>> {
    let text = super::read_text(path)?;
    let mut labels = Vec::new();
    for (line, content) in text.lines().enumerate() {
        let position = Position::Line(line as u64 + 1);
        for token in content.split_whitespace() {
            labels.push(class_id(
                path,
                labels.len(),
                Some(position),
                token.parse().ok(),
                token,
            )?);
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use npyz::{Order, WriterBuilder};

    use std::io::Write;

    use candle::DType;

    use super::*;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    /// Writes a `.npy` file with the given header and raw data bytes.
    fn npy_file(
        dir: &Path,
        name: &str,
        descr: &str,
        shape: &[u64],
        order: Order,
        data: &[u8],
    ) -> TestResult<PathBuf> {
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path)?;
        npyz::WriteOptions::<f32>::new()
            .dtype(npyz::DType::Plain(descr.parse()?))
            .shape(shape)
            .order(order)
            .writer(&mut file)
            .write_header_only()?;
        file.write_all(data)?;
        Ok(path)
    }

    fn le_f32(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn spec(path: &Path) -> String {
        path.display().to_string()
    }

    fn logits_err(spec: &str) -> String {
        match read_logits(spec, &Device::Cpu) {
            Ok(t) => panic!("expected an error, read {:?}", t.shape()),
            Err(err) => err.to_string(),
        }
    }

    fn labels_err(path: &Path) -> String {
        match read_labels(path) {
            Ok(labels) => panic!("expected an error, read {labels:?}"),
            Err(err) => err.to_string(),
        }
    }

    fn rows(t: &Tensor) -> TestResult<Vec<Vec<f32>>> {
        Ok(t.to_dtype(DType::F32)?.to_vec2::<f32>()?)
    }

    #[test]
    fn npy_float_dtypes_orders_and_byte_orders() -> TestResult {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let c = Order::C;
        // (2, 3) = [[1, 2, 3], [4, 5, 6]] in every encoding.
        let expected = vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
        let f16: Vec<u8> = (1..=6)
            .flat_map(|v| half::f16::from_f32(v as f32).to_le_bytes())
            .collect();
        let f64: Vec<u8> = (1..=6).flat_map(|v| f64::from(v).to_le_bytes()).collect();
        let be: Vec<u8> = (1..=6).flat_map(|v| (v as f32).to_be_bytes()).collect();
        // Fortran order stores columns: 1, 4, 2, 5, 3, 6.
        let fortran = le_f32(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);

        let t = read_logits(
            &spec(&npy_file(d, "h.npy", "<f2", &[2, 3], c, &f16)?),
            &Device::Cpu,
        )?;
        assert_eq!((t.dtype(), rows(&t)?), (DType::F32, expected.clone()));
        let t = read_logits(
            &spec(&npy_file(d, "d.npy", "<f8", &[2, 3], c, &f64)?),
            &Device::Cpu,
        )?;
        assert_eq!((t.dtype(), rows(&t)?), (DType::F64, expected.clone()));
        let t = read_logits(
            &spec(&npy_file(d, "b.npy", ">f4", &[2, 3], c, &be)?),
            &Device::Cpu,
        )?;
        assert_eq!(rows(&t)?, expected);
        let path = npy_file(d, "f.npy", "<f4", &[2, 3], Order::Fortran, &fortran)?;
        assert_eq!(rows(&read_logits(&spec(&path), &Device::Cpu)?)?, expected);
        Ok(())
    }

    #[test]
    fn npy_errors_name_the_file_and_problem() -> TestResult {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let c = Order::C;

        let err = logits_err(&spec(&d.join("missing.npy")));
        assert!(err.contains("missing.npy does not exist\nhint: "), "{err}");

        std::fs::write(d.join("text.npy"), "hello, this is not numpy")?;
        let err = logits_err(&spec(&d.join("text.npy")));
        assert!(err.contains("text.npy is not a valid npy file"), "{err}");
        assert!(
            err.contains("hint: write the array with numpy.save"),
            "{err}"
        );

        let path = npy_file(d, "cut.npy", "<f4", &[4, 3], c, &le_f32(&[0.5; 12]))?;
        let bytes = std::fs::read(&path)?;
        std::fs::write(&path, &bytes[..bytes.len() - 5])?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains(
                "cut.npy is truncated: the header needs 48 data bytes but the file has 43"
            ),
            "{err}"
        );

        let path = npy_file(d, "one.npy", "<f4", &[3], c, &le_f32(&[0.5; 3]))?;
        let err = logits_err(&spec(&path));
        assert!(err.contains("one.npy: logits must have shape (examples, classes) with at least one class but the array has shape [3]"), "{err}");
        let path = npy_file(d, "three.npy", "<f4", &[2, 2, 2], c, &le_f32(&[0.5; 8]))?;
        assert!(logits_err(&spec(&path)).contains("has shape [2, 2, 2]"));
        let path = npy_file(d, "noclass.npy", "<f4", &[3, 0], c, &[])?;
        assert!(logits_err(&spec(&path)).contains("has shape [3, 0]"));

        let path = npy_file(d, "int.npy", "<i8", &[1, 2], c, &[0; 16])?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains(
                "int.npy: logits have dtype int64 ('<i8') but must be float16, float32 or float64"
            ),
            "{err}"
        );
        assert!(err.contains("\nhint: "), "{err}");

        // A header promising more elements than memory can hold is caught before allocating.
        let path = npy_file(d, "huge.npy", "<f4", &[1 << 30, 1 << 30], c, &[0; 64])?;
        let err = logits_err(&spec(&path));
        assert!(err.contains("huge.npy is truncated"), "{err}");
        // npyz cannot write this header (it multiplies the shape out), so write it by hand.
        let dict =
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }";
        let mut header = dict.to_owned();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&u16::try_from(header.len())?.to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 64]);
        let path = d.join("overflow.npy");
        std::fs::write(&path, bytes)?;
        let err = logits_err(&spec(&path));
        assert!(err.contains("overflow.npy"), "{err}");

        let path = npy_file(d, "empty.npy", "<f4", &[0, 3], c, &[])?;
        let err = logits_err(&spec(&path));
        assert!(err.contains("empty.npy holds no rows"), "{err}");
        Ok(())
    }

    #[test]
    fn jsonl_logits() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("l.jsonl");
        std::fs::write(&path, "[1, -2.5]\n\n[0.25, 4e2]\n")?;
        let t = read_logits(&spec(&path), &Device::Cpu)?;
        assert_eq!(rows(&t)?, [vec![1.0, -2.5], vec![0.25, 400.0]]);

        std::fs::write(&path, "[1, 2]\n[3]\n")?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains("l.jsonl: line 2 has 1 values but line 1 has 2"),
            "{err}"
        );
        assert!(
            err.contains("hint: every row must hold one logit per class"),
            "{err}"
        );

        std::fs::write(&path, "[1, 2]\n[3, \"x\"]\n")?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains("l.jsonl: line 2: value 1 is a string, not a number"),
            "{err}"
        );

        std::fs::write(&path, "[1, 2]\n[3, null]\n")?;
        assert!(logits_err(&spec(&path)).contains("value 1 is null"));

        // Records with a `logits` field (other fields ignored) read as their arrays.
        std::fs::write(
            &path,
            "{\"logits\": [1, 2], \"label\": 1}\n{\"id\": \"b\", \"logits\": [3, 4.5]}\n",
        )?;
        let t = read_logits(&spec(&path), &Device::Cpu)?;
        assert_eq!(rows(&t)?, [vec![1.0, 2.0], vec![3.0, 4.5]]);
        std::fs::write(&path, "{\"scores\": [1, 2]}\n")?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains("line 1: expected a JSON array of numbers but found an object without a \"logits\" field"),
            "{err}"
        );
        assert!(err.contains("{\"logits\": [0.1, -2.3]}"), "{err}");
        std::fs::write(&path, "{\"logits\": 3}\n")?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains("line 1: expected a JSON array of numbers but found"),
            "{err}"
        );
        std::fs::write(&path, "\"text\"\n")?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains("line 1: expected a JSON array of numbers but found a string"),
            "{err}"
        );

        std::fs::write(&path, "[1, 2]\n[1, NaN]\n")?;
        assert!(logits_err(&spec(&path)).contains("l.jsonl: line 2: invalid JSON"));

        std::fs::write(&path, "\n")?;
        assert!(logits_err(&spec(&path)).contains("l.jsonl holds no rows"));
        std::fs::write(&path, "[]\n[]\n")?;
        assert!(logits_err(&spec(&path)).contains("has shape [2, 0]"));
        Ok(())
    }

    /// Writes a safetensors file with (name, dtype, shape, little-endian bytes) tensors.
    fn safetensors_file(
        dir: &Path,
        name: &str,
        tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    ) -> TestResult<PathBuf> {
        let views = tensors
            .iter()
            .map(|(name, dtype, shape, data)| {
                Ok((
                    *name,
                    safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)?,
                ))
            })
            .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()?;
        let path = dir.join(name);
        std::fs::write(&path, safetensors::serialize(views, None)?)?;
        Ok(path)
    }

    #[test]
    fn safetensors_picks_a_tensor() -> TestResult {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let bf16: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect();
        let f64: Vec<u8> = [0.5f64, 1.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = safetensors_file(
            d,
            "m.safetensors",
            &[
                ("hidden", Dtype::F32, vec![1, 3], le_f32(&[9.0, 8.0, 7.0])),
                ("logits", Dtype::BF16, vec![2, 2], bf16),
                ("wide", Dtype::F64, vec![1, 2], f64),
                ("ids", Dtype::I64, vec![1, 1], vec![0; 8]),
            ],
        )?;
        let t = read_logits(&spec(&path), &Device::Cpu)?;
        assert_eq!(
            (t.dtype(), rows(&t)?),
            (DType::F32, vec![vec![1.0, 2.0], vec![3.0, 4.0]])
        );
        let t = read_logits(&format!("{}:hidden", spec(&path)), &Device::Cpu)?;
        assert_eq!(rows(&t)?, [vec![9.0, 8.0, 7.0]]);
        let t = read_logits(&format!("{}:wide", spec(&path)), &Device::Cpu)?;
        assert_eq!(t.dtype(), DType::F64);

        let err = logits_err(&format!("{}:nope", spec(&path)));
        assert!(err.contains("m.safetensors: no tensor named \"nope\"; the file holds: hidden, ids, logits, wide"), "{err}");
        assert!(err.contains("hint: pick a tensor with FILE:NAME"), "{err}");
        let err = logits_err(&format!("{}:ids", spec(&path)));
        assert!(
            err.contains("logits have dtype I64 but must be F16, BF16, F32 or F64"),
            "{err}"
        );

        let path = safetensors_file(
            d,
            "two.safetensors",
            &[
                ("a", Dtype::F32, vec![1, 1], le_f32(&[1.0])),
                ("b", Dtype::F32, vec![1, 1], le_f32(&[2.0])),
            ],
        )?;
        let err = logits_err(&spec(&path));
        assert!(
            err.contains("two.safetensors: holds 2 tensors (a, b) and none is named \"logits\""),
            "{err}"
        );

        let only = safetensors_file(
            d,
            "only.safetensors",
            &[("out", Dtype::F16, vec![1, 2], vec![0; 4])],
        )?;
        assert_eq!(read_logits(&spec(&only), &Device::Cpu)?.dims(), [1, 2]);
        let flat = safetensors_file(
            d,
            "flat.safetensors",
            &[("logits", Dtype::F32, vec![2], le_f32(&[1.0, 2.0]))],
        )?;
        assert!(logits_err(&spec(&flat)).contains("has shape [2]"));
        Ok(())
    }

    #[test]
    fn corrupt_safetensors_is_named() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("bad.safetensors");
        let header = b"{\"logits\": {\"dtype\": \"F32\", \"shape\": [1, 1]";
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        std::fs::write(&path, &bytes)?;
        let err = logits_err(&spec(&path));
        assert!(err.starts_with("cannot read safetensors file "), "{err}");
        assert!(err.contains("bad.safetensors"), "{err}");
        assert!(err.contains("\nhint: "), "{err}");

        std::fs::write(&path, u64::MAX.to_le_bytes())?;
        assert!(logits_err(&spec(&path)).contains("bad.safetensors"));
        std::fs::write(&path, b"abc")?;
        assert!(logits_err(&spec(&path)).contains("bad.safetensors"));
        Ok(())
    }

    #[test]
    fn unknown_logits_extension() {
        let err = logits_err("/tmp/logits.csv");
        assert!(
            err.contains("\"csv\"") && err.contains(".npy, .safetensors"),
            "{err}"
        );
    }

    #[test]
    fn npy_labels_of_every_integer_width() -> TestResult {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let c = Order::C;
        let path = npy_file(d, "i8.npy", "|i1", &[3], c, &[2, 0, 1])?;
        assert_eq!(read_labels(&path)?, [2, 0, 1]);
        let data: Vec<u8> = [5u64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = npy_file(d, "u64.npy", "<u8", &[2], c, &data)?;
        assert_eq!(read_labels(&path)?, [5, 7]);
        let data: Vec<u8> = [3i16, 4].iter().flat_map(|v| v.to_be_bytes()).collect();
        let path = npy_file(d, "be.npy", ">i2", &[2, 1], c, &data)?;
        assert_eq!(read_labels(&path)?, [3, 4]);
        let data: Vec<u8> = [1i32, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = npy_file(d, "col.npy", "<i4", &[2, 1], c, &data)?;
        assert_eq!(read_labels(&path)?, [1, 0]);
        Ok(())
    }

    #[test]
    fn npy_label_errors() -> TestResult {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let c = Order::C;
        let data: Vec<u8> = [1i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = npy_file(d, "neg.npy", "<i8", &[2], c, &data)?;
        let err = labels_err(&path);
        assert!(
            err.contains("neg.npy: example 1: label -1 is not a class id"),
            "{err}"
        );
        assert!(
            err.contains("hint: labels must be integers from 0"),
            "{err}"
        );
        let path = npy_file(d, "huge.npy", "<u8", &[1], c, &u64::MAX.to_le_bytes())?;
        assert!(labels_err(&path).contains("example 0: label 18446744073709551615 is not"));

        let path = npy_file(d, "bool.npy", "|b1", &[2], c, &[0, 1])?;
        let err = labels_err(&path);
        assert!(
            err.contains("bool.npy: labels have dtype bool ('|b1') but must be an integer dtype"),
            "{err}"
        );
        let path = npy_file(d, "float.npy", "<f4", &[2], c, &le_f32(&[0.0, 1.0]))?;
        assert!(labels_err(&path).contains("dtype float32 ('<f4')"));
        let path = npy_file(d, "wide.npy", "|u1", &[2, 2], c, &[0; 4])?;
        let err = labels_err(&path);
        assert!(
            err.contains(
                "labels must have shape (examples) or (examples, 1) but the array has shape [2, 2]"
            ),
            "{err}"
        );
        let path = npy_file(d, "empty.npy", "|u1", &[0], c, &[])?;
        assert!(labels_err(&path).contains("empty.npy holds no rows"));
        let path = npy_file(d, "cut.npy", "<i4", &[3], c, &[0; 8])?;
        assert!(labels_err(&path).contains("cut.npy is truncated"));
        Ok(())
    }

    #[test]
    fn text_and_json_labels() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("labels.txt");
        std::fs::write(&path, "0 1\n\n2\t3\n")?;
        assert_eq!(read_labels(&path)?, [0, 1, 2, 3]);
        for (content, expected) in [
            (
                "0 1\n\n2 x\n",
                "example 3 (line 3): label x is not a class id",
            ),
            ("0 1.5\n", "example 1 (line 1): label 1.5 is not"),
            ("-1\n", "example 0 (line 1): label -1 is not"),
            ("4294967296\n", "label 4294967296 is not"),
        ] {
            std::fs::write(&path, content)?;
            let err = labels_err(&path);
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("labels.txt"), "{err}");
        }
        std::fs::write(&path, " \n")?;
        assert!(labels_err(&path).contains("labels.txt holds no rows"));

        let path = dir.path().join("labels.jsonl");
        std::fs::write(&path, "1\n0\n\n2\n")?;
        assert_eq!(read_labels(&path)?, [1, 0, 2]);
        std::fs::write(&path, "[1, 0,\n 2]")?;
        assert_eq!(read_labels(&path)?, [1, 0, 2]);
        std::fs::write(&path, "1\n0\n\"x\"\n")?;
        let err = labels_err(&path);
        assert!(
            err.contains("labels.jsonl: example 2 (line 3): label \"x\" is not a class id"),
            "{err}"
        );
        std::fs::write(&path, "1\n1.5\n")?;
        assert!(labels_err(&path).contains("example 1 (line 2): label 1.5"));
        std::fs::write(&path, "[0, -2]")?;
        assert!(labels_err(&path).contains("labels.jsonl: example 1: label -2"));
        std::fs::write(&path, "1\n{\n")?;
        assert!(labels_err(&path).contains("labels.jsonl: line 2: invalid JSON"));
        // Records with a `label` field, as in a JSONL file that also holds the logits.
        std::fs::write(
            &path,
            "{\"logits\": [1, 2], \"label\": 1}\n{\"label\": 0, \"logits\": [0, 0]}\n",
        )?;
        assert_eq!(read_labels(&path)?, [1, 0]);
        std::fs::write(&path, "{\"label\": 1}\n{\"target\": 0}\n")?;
        let err = labels_err(&path);
        assert!(
            err.contains("example 1 (line 2)") && err.contains("target"),
            "{err}"
        );
        Ok(())
    }
}
