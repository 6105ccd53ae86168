//! Logits and labels files: reading precomputed `(n, classes)` logits (`.npy`, `.safetensors`,
//! JSON Lines) and gold labels, and writing logits atomically.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::Path;

use candle::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use tracing::instrument;

use crate::data::{json_kind, Position};
use crate::{Error, Result};

mod npy;

/// The tensor name [`write_logits`] uses and [`read_logits`] falls back to.
pub const LOGITS_TENSOR: &str = "logits";

/// The extensions [`read_logits`] accepts, for messages.
const LOGITS_EXTENSIONS: &str = ".npy, .safetensors, .jsonl or .json";

/// The extensions [`write_logits`] accepts, for messages.
const WRITE_EXTENSIONS: &str = ".npy or .safetensors";

/// Logits on the host, in the precision they will have on the device.
enum Floats {
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
    let (path, name) = split_spec(spec);
    let extension = extension(path);
    let (n, c, floats) = match extension.as_str() {
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

/// Writes a file atomically: `write` fills a temporary file in the same directory, which is
/// flushed, synced to disk and renamed over `path`. When `write` (or anything after it) fails,
/// the temporary file is removed and `path` is left as it was.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // NOTE: tempfile creates files readable by the owner only; ask for what `File::create`
    // gives (0o666 less the umask), since reports and logits are meant to be shared.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // tempfile's error names its own temporary path; the user only needs to know why `path`
    // could not be written, so keep the OS error alone where there is one.
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| write_err(without_temp_path(e)))?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out).map_err(write_err)?;
        out.flush().map_err(write_err)?;
    }
    tmp.as_file().sync_all().map_err(write_err)?;
    // On failure the temporary file comes back inside the error and is removed when dropped.
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// tempfile's error without the ` at path "<temporary file>"` it appends to the OS error.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.split_once(" at path \"") {
        Some((reason, _)) => std::io::Error::new(e.kind(), reason.to_owned()),
        None => e,
    }
}

/// Writes an `(n, classes)` tensor as f32, atomically, in the format the extension names:
///
/// - `.npy`: `'<f4'`, C order;
/// - `.safetensors`: one F32 tensor named [`LOGITS_TENSOR`], with `metadata` (e.g. the
///   `id2label` JSON and the model id) in the header.
///
/// `metadata` is ignored for `.npy`.
#[instrument(skip_all, fields(path = %path.display()))]
pub fn write_logits(
    path: &Path,
    logits: &Tensor,
    metadata: &HashMap<String, String>,
) -> Result<()> {
    let extension = extension(path);
    if !matches!(extension.as_str(), "npy" | "safetensors") {
        return Err(Error::UnknownFormat {
            path: path.to_path_buf(),
            extension,
            expected: WRITE_EXTENSIONS,
        });
    }
    let (n, c) = logits.dims2()?;
    // Device => host, once.
    let values = logits
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    if extension == "npy" {
        return write_atomic(path, |out| npy::write_f32(out, n, c, &values));
    }
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let st_err = |source| Error::Safetensors {
        path: path.to_path_buf(),
        source,
    };
    let view =
        safetensors::tensor::TensorView::new(Dtype::F32, vec![n, c], &bytes).map_err(st_err)?;
    let metadata = (!metadata.is_empty()).then(|| metadata.clone());
    let buffer = safetensors::serialize([(LOGITS_TENSOR, view)], metadata).map_err(st_err)?;
    write_atomic(path, |out| out.write_all(&buffer))
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
fn split_spec(spec: &str) -> (&Path, Option<&str>) {
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
fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Checks that a logits shape is `(n, c)` with `n, c > 0`.
fn check_logits_shape(path: &Path, shape: &[usize]) -> Result<(usize, usize)> {
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
    let text = std::fs::read_to_string(path).map_err(Error::read(path))?;
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
    let text = std::fs::read_to_string(path).map_err(Error::read(path))?;
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
    let text = std::fs::read_to_string(path).map_err(Error::read(path))?;
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

    use super::*;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    /// Expands a device-generic test case for the CPU, and for CUDA and Metal when built with
    /// them (candle `test_utils.rs`).
    macro_rules! test_device {
        ($case:ident, $cpu:ident, $cuda:ident, $metal:ident) => {
            #[test]
            fn $cpu() -> TestResult {
                $case(&Device::Cpu)
            }

            #[cfg(feature = "cuda")]
            #[test]
            fn $cuda() -> TestResult {
                $case(&Device::new_cuda(0)?)
            }

            #[cfg(feature = "metal")]
            #[test]
            fn $metal() -> TestResult {
                $case(&Device::new_metal(0)?)
            }
        };
    }

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

    fn roundtrip(dev: &Device) -> TestResult {
        let dir = tempfile::tempdir()?;
        let values = [0.5f32, -1.25, 3.0, 1e-3, -7.5, 2.0];
        let logits = Tensor::from_vec(values.to_vec(), (3, 2), dev)?;
        for name in ["l.npy", "l.safetensors"] {
            let path = dir.path().join(name);
            write_logits(&path, &logits, &HashMap::new())?;
            let back = read_logits(&spec(&path), dev)?;
            assert_eq!(back.dims(), [3, 2]);
            assert_eq!(back.dtype(), DType::F32);
            assert!(back.device().same_device(dev));
            // Exact: the values survive f32 -> bytes -> f32 unchanged.
            assert_eq!(back.flatten_all()?.to_vec1::<f32>()?, values);
        }
        Ok(())
    }
    test_device!(roundtrip, roundtrip_cpu, roundtrip_cuda, roundtrip_metal);

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

    #[test]
    fn write_atomic_replaces_or_leaves_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.json");
        write_atomic(&path, |w| w.write_all(b"first"))?;
        write_atomic(&path, |w| w.write_all(b"second"))?;
        assert_eq!(std::fs::read_to_string(&path)?, "second");

        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("renderer failed"))
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cannot write") && err.contains("out.json"),
            "{err}"
        );
        assert!(err.contains("renderer failed"), "{err}");
        assert_eq!(std::fs::read_to_string(&path)?, "second");
        let names: Vec<_> = std::fs::read_dir(dir.path())?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()?;
        assert_eq!(names, ["out.json"]);

        let fresh = dir.path().join("fresh.json");
        assert!(write_atomic(&fresh, |_| Err(std::io::Error::other("no"))).is_err());
        assert!(!fresh.exists());

        let err = write_atomic(&dir.path().join("no/such/dir/x.json"), |w| {
            w.write_all(b"x")
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no/such/dir/x.json") && err.contains("hint: "),
            "{err}"
        );
        // The message names the user's file, not the temporary one beside it.
        assert!(
            !err.contains(".x.json.") && !err.contains("at path"),
            "{err}"
        );
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_gives_the_permissions_of_file_create() -> TestResult {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let reference = dir.path().join("reference");
        std::fs::File::create(&reference)?;
        let path = dir.path().join("atomic");
        write_atomic(&path, |w| w.write_all(b"x"))?;
        let mode =
            |p: &Path| -> std::io::Result<u32> { Ok(std::fs::metadata(p)?.permissions().mode()) };
        assert_eq!(mode(&path)?, mode(&reference)?);
        Ok(())
    }

    #[test]
    fn write_logits_formats_and_metadata() -> TestResult {
        let dir = tempfile::tempdir()?;
        let logits = Tensor::new(&[[1.0f64, 2.0], [3.0, 4.5]], &Device::Cpu)?;

        let npy_path = dir.path().join("l.npy");
        write_logits(&npy_path, &logits.to_dtype(DType::F16)?, &HashMap::new())?;
        let header = npyz::NpyFile::new(std::fs::File::open(&npy_path)?)?;
        assert_eq!(header.dtype().descr(), "'<f4'");
        assert_eq!(header.shape(), [2, 2]);
        assert_eq!(header.order(), Order::C);
        assert_eq!(header.into_vec::<f32>()?, [1.0, 2.0, 3.0, 4.5]);

        let st_path = dir.path().join("l.safetensors");
        let metadata = HashMap::from([
            ("id2label".to_owned(), r#"{"0":"neg","1":"pos"}"#.to_owned()),
            ("model".to_owned(), "org/student".to_owned()),
        ]);
        write_logits(&st_path, &logits, &metadata)?;
        let bytes = std::fs::read(&st_path)?;
        let (_, header) = SafeTensors::read_metadata(&bytes)?;
        assert_eq!(header.metadata().as_ref(), Some(&metadata));
        let st = SafeTensors::deserialize(&bytes)?;
        assert_eq!(st.names(), [LOGITS_TENSOR]);
        assert_eq!(st.tensor(LOGITS_TENSOR)?.dtype(), Dtype::F32);
        let back = read_logits(&spec(&st_path), &Device::Cpu)?;
        assert_eq!(rows(&back)?, [vec![1.0, 2.0], vec![3.0, 4.5]]);

        let err = write_logits(&dir.path().join("l.csv"), &logits, &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected .npy or .safetensors"), "{err}");
        assert!(!dir.path().join("l.csv").exists());
        Ok(())
    }
}
