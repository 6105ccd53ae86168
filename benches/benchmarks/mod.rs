//! Benchmark groups, one file per subject.

pub(crate) mod forward;
pub(crate) mod io;
pub(crate) mod metrics;

use candle::Device;

/// The device benchmarks run on: the first CUDA or Metal device when built with that feature.
pub(crate) fn device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::new_cuda(0) {
        return d;
    }
    #[cfg(feature = "metal")]
    if let Ok(d) = Device::new_metal(0) {
        return d;
    }
    Device::Cpu
}

/// Short device name for group names.
pub(crate) fn device_name(d: &Device) -> &'static str {
    if d.is_cuda() {
        "cuda"
    } else if d.is_metal() {
        "metal"
    } else {
        "cpu"
    }
}
