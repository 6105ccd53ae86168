//! The metrics accumulator: `update` over batches plus `finish`, on random logits.

use std::time::{Duration, Instant};

use candle::{DType, Tensor};
use criterion::{criterion_group, Criterion, Throughput};
use distill_eval_metrics::{Accumulator, MetricsConfig};

use super::{device, device_name};

fn accumulate(c: &mut Criterion) {
    let dev = device();
    let mut group = c.benchmark_group(format!("{}_accumulate", device_name(&dev)));
    group.sample_size(10);
    for (n, classes, batch) in [
        (1_000_000usize, 10usize, 262_144usize),
        (100_000, 1_000, 4_096),
    ] {
        let teacher = Tensor::randn(0f32, 2.0, (n, classes), &dev).unwrap();
        let student = (&teacher + Tensor::randn(0f32, 1.0, (n, classes), &dev).unwrap()).unwrap();
        let labels = teacher.argmax(1).unwrap().to_dtype(DType::U32).unwrap();
        group.throughput(Throughput::Elements((n * classes) as u64));
        group.bench_function(format!("{n}x{classes}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let mut acc = Accumulator::new(classes, &MetricsConfig::default()).unwrap();
                    let mut s = 0;
                    while s < n {
                        let len = batch.min(n - s);
                        acc.update(
                            &teacher.narrow(0, s, len).unwrap(),
                            &student.narrow(0, s, len).unwrap(),
                            &labels.narrow(0, s, len).unwrap(),
                        )
                        .unwrap();
                        s += len;
                    }
                    let eval = acc.finish().unwrap();
                    dev.synchronize().unwrap();
                    total += start.elapsed();
                    std::hint::black_box(eval);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, accumulate);
