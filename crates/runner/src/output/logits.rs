//! Writing one model's logits (`distill-eval logits`): `.npy` or `.safetensors`, float32,
//! atomically.

use std::collections::HashMap;
use std::path::Path;

use candle::{DType, Tensor};
use safetensors::Dtype;
use tracing::instrument;

use super::files::write_atomic;
use crate::error::{Error, Result};
use crate::input::npy;
use crate::input::saved::{extension, LOGITS_TENSOR};

/// The extensions [`write_logits`] accepts, for messages.
const WRITE_EXTENSIONS: &str = ".npy or .safetensors";

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

#[cfg(test)]
mod tests {
    use npyz::Order;
    use safetensors::SafeTensors;

    use super::*;
    use crate::input::saved::read_logits;
    use candle::Device;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

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
        let back = read_logits(&st_path.display().to_string(), &Device::Cpu)?;
        assert_eq!(
            back.to_dtype(DType::F32)?.to_vec2::<f32>()?,
            [vec![1.0, 2.0], vec![3.0, 4.5]]
        );

        let err = write_logits(&dir.path().join("l.csv"), &logits, &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected .npy or .safetensors"), "{err}");
        assert!(!dir.path().join("l.csv").exists());
        Ok(())
    }

    #[test]
    fn roundtrip_cpu() -> TestResult {
        roundtrip(&Device::Cpu)
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn roundtrip_cuda() -> TestResult {
        roundtrip(&Device::new_cuda(0)?)
    }

    #[cfg(feature = "metal")]
    #[test]
    fn roundtrip_metal() -> TestResult {
        roundtrip(&Device::new_metal(0)?)
    }

    fn roundtrip(dev: &Device) -> TestResult {
        let dir = tempfile::tempdir()?;
        let values = [0.5f32, -1.25, 3.0, 1e-3, -7.5, 2.0];
        let logits = Tensor::from_vec(values.to_vec(), (3, 2), dev)?;
        for name in ["l.npy", "l.safetensors"] {
            let path = dir.path().join(name);
            write_logits(&path, &logits, &HashMap::new())?;
            let back = read_logits(&path.display().to_string(), dev)?;
            assert_eq!(back.dims(), [3, 2]);
            assert_eq!(back.dtype(), DType::F32);
            assert!(back.device().same_device(dev));
            // Exact: the values survive f32 -> bytes -> f32 unchanged.
            assert_eq!(back.flatten_all()?.to_vec1::<f32>()?, values);
        }
        Ok(())
    }
}
