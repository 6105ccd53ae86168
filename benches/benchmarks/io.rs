//! Reading saved logits: a 1,000,000 x 10 float32 `.npy`, as `distill-eval score` reads it.

use std::collections::HashMap;

use candle::{Device, Tensor};
use criterion::{criterion_group, Criterion, Throughput};
use distill_eval_runner::input::saved::read_logits;
use distill_eval_runner::output::logits::write_logits;

fn read_npy(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (n, classes) = (1_000_000usize, 10usize);
    let path = dir.path().join("logits.npy");
    let logits = Tensor::randn(0f32, 2.0, (n, classes), &Device::Cpu).unwrap();
    write_logits(&path, &logits, &HashMap::new()).unwrap();
    let spec = path.display().to_string();
    let mut group = c.benchmark_group("io");
    group.sample_size(10);
    group.throughput(Throughput::Elements((n * classes) as u64));
    group.bench_function(format!("read_npy_{n}x{classes}"), |b| {
        b.iter(|| std::hint::black_box(read_logits(&spec, &Device::Cpu).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, read_npy);
