//! Criterion benchmarks: the metrics accumulator, reading saved logits and one model pass
//! (`cargo bench`).

#[cfg(feature = "accelerate")]
extern crate accelerate_src;
#[cfg(feature = "mkl")]
extern crate intel_mkl_src;

mod benchmarks;

criterion::criterion_main!(
    benchmarks::metrics::benches,
    benchmarks::io::benches,
    benchmarks::forward::benches,
    benchmarks::forward::lm_benches
);
