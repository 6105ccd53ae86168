//! Device and dtype selection: `DeviceSpec` (`auto|cpu|cuda[:N]|metal[:N]`) and `DTypeSpec`
//! (`auto|f32|f16|bf16`), each parsed once and resolved once by the caller.
use std::fmt;
use std::str::FromStr;

use candle::{DType, Device, DeviceLocation};

use crate::{Error, Result};

/// Which device to run on.
///
/// ```
/// use distill_eval_model::DeviceSpec;
/// let spec: DeviceSpec = "cuda:1".parse().unwrap();
/// assert_eq!(spec, DeviceSpec::Cuda(1));
/// assert_eq!(spec.to_string(), "cuda:1");
/// assert!(DeviceSpec::Cpu.resolve().unwrap().is_cpu());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// CUDA when built with it and a device opens, then Metal likewise, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N (needs the `cuda` feature).
    Cuda(usize),
    /// Metal device N (needs the `metal` feature).
    Metal(usize),
}

impl DeviceSpec {
    /// Opens the device. An explicit GPU request never falls back to the CPU.
    pub fn resolve(&self) -> Result<Device> {
        match *self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(n) => open_cuda(n),
            Self::Metal(n) => open_metal(n),
            Self::Auto => Ok(auto()),
        }
    }
}

// NOTE: `candle::utils::cuda_is_available()` is `cfg!(feature = "cuda")`, not a runtime probe, so
// `auto` actually opens the device (candle-examples `device()` does the same).
fn auto() -> Device {
    let cuda = open_cuda(0);
    if let Ok(device) = cuda {
        return device;
    }
    let metal = open_metal(0);
    if let Ok(device) = metal {
        return device;
    }
    let why = |r: Result<Device>| r.err().map(|e| e.to_string()).unwrap_or_default();
    let (cuda, metal) = (why(cuda), why(metal));
    tracing::info!(
        cuda = cuda.lines().next().unwrap_or_default(),
        metal = metal.lines().next().unwrap_or_default(),
        "no GPU available, running on the CPU"
    );
    Device::Cpu
}

#[cfg(feature = "cuda")]
fn open_cuda(n: usize) -> Result<Device> {
    Device::new_cuda(n).map_err(|source| Error::DeviceUnavailable {
        device: format!("cuda:{n}"),
        feature: "cuda",
        source,
    })
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(n: usize) -> Result<Device> {
    Err(Error::FeatureMissing {
        device: format!("cuda:{n}"),
        feature: "cuda",
    })
}

#[cfg(feature = "metal")]
fn open_metal(n: usize) -> Result<Device> {
    Device::new_metal(n).map_err(|source| Error::DeviceUnavailable {
        device: format!("metal:{n}"),
        feature: "metal",
        source,
    })
}

#[cfg(not(feature = "metal"))]
fn open_metal(n: usize) -> Result<Device> {
    Err(Error::FeatureMissing {
        device: format!("metal:{n}"),
        feature: "metal",
    })
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidDevice { spec: s.to_owned() };
        let lower = s.trim().to_ascii_lowercase();
        let (kind, index) = match lower.split_once(':') {
            Some((kind, index)) => (kind, Some(index.parse::<usize>().map_err(|_| bad())?)),
            None => (lower.as_str(), None),
        };
        match (kind, index) {
            ("auto", None) => Ok(Self::Auto),
            ("cpu", None) => Ok(Self::Cpu),
            ("cuda", n) => Ok(Self::Cuda(n.unwrap_or(0))),
            ("metal", n) => Ok(Self::Metal(n.unwrap_or(0))),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal(n) => write!(f, "metal:{n}"),
        }
    }
}

/// `cpu`, `cuda:N` or `metal:N`: how reports name a resolved device.
pub fn device_label(device: &Device) -> String {
    match device.location() {
        DeviceLocation::Cpu => "cpu".to_owned(),
        DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// Which floating-point type the weights and activations use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DTypeSpec {
    /// F32 on the CPU; on a GPU the first of BF16, F16 that both the device and the
    /// architecture support, else F32.
    #[default]
    Auto,
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// bfloat16.
    Bf16,
}

impl DTypeSpec {
    /// The concrete dtype on this device, for an architecture that runs in `supported`.
    ///
    /// An explicit dtype is returned as asked (the loader refuses it when the architecture
    /// cannot run in it); `Auto` only ever picks one the architecture supports.
    pub fn resolve(&self, device: &Device, supported: &[DType]) -> DType {
        match self {
            // https://github.com/EricLBuehler/mistral.rs (utils/normal.rs): BF16 where supported.
            Self::Auto if device.is_cpu() => DType::F32,
            Self::Auto => {
                let half = [
                    (DType::BF16, device.supports_bf16()),
                    // Every CUDA and Metal device computes in f16.
                    (DType::F16, true),
                ];
                half.into_iter()
                    .find(|&(dtype, ok)| ok && supported.contains(&dtype))
                    .map_or(DType::F32, |(dtype, _)| dtype)
            }
            Self::F32 => DType::F32,
            Self::F16 => DType::F16,
            Self::Bf16 => DType::BF16,
        }
    }
}

impl FromStr for DTypeSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "f32" | "float32" => Ok(Self::F32),
            "f16" | "float16" | "half" => Ok(Self::F16),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            _ => Err(Error::InvalidDType { spec: s.to_owned() }),
        }
    }
}

impl fmt::Display for DTypeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
        })
    }
}

/// `f32`, `f16`, `bf16`, ...: how reports name a dtype.
pub fn dtype_label(dtype: DType) -> String {
    dtype.as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_round_trip() {
        for spec in [
            DeviceSpec::Auto,
            DeviceSpec::Cpu,
            DeviceSpec::Cuda(0),
            DeviceSpec::Cuda(3),
            DeviceSpec::Metal(1),
        ] {
            let parsed: DeviceSpec = spec.to_string().parse().unwrap();
            assert_eq!(parsed, spec);
        }
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!(" CPU ".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("metal".parse::<DeviceSpec>().unwrap(), DeviceSpec::Metal(0));
        for bad in ["", "gpu", "cuda:x", "cpu:1", "cuda:-1", "auto:0"] {
            let err = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(matches!(err, Error::InvalidDevice { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn dtype_specs_round_trip() {
        for spec in [
            DTypeSpec::Auto,
            DTypeSpec::F32,
            DTypeSpec::F16,
            DTypeSpec::Bf16,
        ] {
            let parsed: DTypeSpec = spec.to_string().parse().unwrap();
            assert_eq!(parsed, spec);
        }
        assert_eq!("bfloat16".parse::<DTypeSpec>().unwrap(), DTypeSpec::Bf16);
        assert!(matches!(
            "f64".parse::<DTypeSpec>(),
            Err(Error::InvalidDType { .. })
        ));
    }

    #[test]
    fn auto_dtype_is_f32_on_cpu() {
        let all = [DType::F32, DType::F16, DType::BF16];
        assert_eq!(DTypeSpec::Auto.resolve(&Device::Cpu, &all), DType::F32);
        assert_eq!(DTypeSpec::Bf16.resolve(&Device::Cpu, &all), DType::BF16);
        // An explicit request is passed through for the loader to accept or refuse.
        assert_eq!(
            DTypeSpec::Bf16.resolve(&Device::Cpu, &[DType::F32]),
            DType::BF16
        );
    }

    #[test]
    fn cpu_and_auto_resolve() {
        assert!(DeviceSpec::Cpu.resolve().unwrap().is_cpu());
        // Auto always yields some device and never errors.
        let _ = DeviceSpec::Auto.resolve().unwrap();
        assert_eq!(device_label(&Device::Cpu), "cpu");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_on_a_cpu_build_is_an_error_naming_the_feature() {
        let err = DeviceSpec::Cuda(0).resolve().unwrap_err();
        assert!(matches!(
            err,
            Error::FeatureMissing {
                feature: "cuda",
                ..
            }
        ));
        let msg = err.to_string();
        assert!(msg.contains("--features cuda"), "{msg}");
    }

    #[cfg(not(feature = "metal"))]
    #[test]
    fn metal_on_a_build_without_metal_is_an_error() {
        let err = DeviceSpec::Metal(0).resolve().unwrap_err();
        assert!(matches!(
            err,
            Error::FeatureMissing {
                feature: "metal",
                ..
            }
        ));
    }
}
