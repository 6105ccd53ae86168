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

/// The causal-LM lockstep: the bundled teacher and one student over the bundled documents
/// (windows, hidden states, chunked LM head, per-token statistics on the device).
fn lm_lockstep(c: &mut Criterion) {
    use distill_eval_runner::family::lm::pass::lockstep;
    use distill_eval_runner::family::lm::windows::Windowing;

    let dev = device();
    let dir = models().join("llm");
    let opts = DataOptions {
        texts_only: true,
        ..Default::default()
    };
    let data = load_file(&dir.join("data/texts.jsonl"), &opts).unwrap();
    let load = |name: &str| {
        let source = ModelSource::Local(dir.join(name));
        distill_eval_model::load(&source, &dev, &LoadOptions::default()).unwrap()
    };
    let (teacher, student) = (load("teacher_llama"), load("llama_small"));
    let texts: Vec<&str> = data.rows.iter().map(|r| r.text.as_str()).collect();
    let docs = teacher.encode_documents(&texts).unwrap();
    let lens: Vec<usize> = docs.iter().map(Vec::len).collect();
    let windows = Windowing::new(None, None, 128).unwrap().plan(&lens);
    let tokens: usize = windows.iter().map(|w| w.scored()).sum();
    let pass = PassOptions::default(); // batches of 64, no bar
    let mut group = c.benchmark_group(format!("{}_lm", device_name(&dev)));
    group.sample_size(10);
    group.throughput(Throughput::Elements(tokens as u64));
    group.bench_function("lockstep_teacher_llama_llama_small", |b| {
        b.iter(|| {
            let out = lockstep(&teacher, &[&student], &docs, &windows, &pass, 1.0, 5).unwrap();
            std::hint::black_box(out)
        })
    });
    group.finish();
}

criterion_group!(lm_benches, lm_lockstep);
