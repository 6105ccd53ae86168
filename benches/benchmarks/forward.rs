//! One model pass over the bundled test set (tokenization, length-sorted batches, forward).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use distill_eval_model::{LoadOptions, ModelSource};
use distill_eval_runner::engine::pass::{run_model, PassOptions};
use distill_eval_runner::input::dataset::{load_file, DataOptions};

use super::{device, device_name};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn forward(c: &mut Criterion) {
    let dev = device();
    let data = load_file(&models().join("data/test.jsonl"), &DataOptions::default()).unwrap();
    let mut group = c.benchmark_group(format!("{}_pass", device_name(&dev)));
    group.sample_size(10);
    group.throughput(Throughput::Elements(data.rows.len() as u64));
    for name in ["teacher_bert", "distilbert", "roberta", "bert_small"] {
        let source = ModelSource::Local(models().join(name));
        let model = distill_eval_model::load(&source, &dev, &LoadOptions::default()).unwrap();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let out = run_model(&model, &data.rows, name, &PassOptions::default()).unwrap();
                    dev.synchronize().unwrap();
                    total += start.elapsed();
                    std::hint::black_box(out);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, forward);
