//! Property tests of the readers: whatever bytes a file holds, reading it returns a value or an
//! error, never a panic. Each format gets arbitrary bytes and damaged copies of a valid file
//! (truncated, bytes overwritten), which reach deeper into the parsers than noise does.

use std::path::{Path, PathBuf};

use candle::{Device, Tensor};
use distill_eval_runner::input::dataset::{load_file, DataOptions};
use distill_eval_runner::input::saved::{read_labels, read_logit_labels, read_logits};
use proptest::prelude::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A valid file of each format, to damage.
fn valid(ext: &str) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let t = Tensor::new(&[[1f32, -2.5, 3.0], [0.0, 4.0, -1.0]], &Device::Cpu).unwrap();
    match ext {
        "npy" => {
            let p = d.path().join("x.npy");
            t.write_npy(&p).unwrap();
            std::fs::read(p).unwrap()
        }
        "safetensors" => {
            let p = d.path().join("x.safetensors");
            t.save_safetensors("logits", &p).unwrap();
            std::fs::read(p).unwrap()
        }
        "jsonl" => b"{\"logits\": [1.0, -2.5, 3.0], \"label\": 2}\n[0.0, 4.0, -1.0]\n".to_vec(),
        "csv" => b"text,label\nhello world,0\n\"quoted, text\",1\n".to_vec(),
        "txt" => b"0 1\n2\n".to_vec(),
        other => panic!("no sample for {other}"),
    }
}

/// Arbitrary bytes, or a valid file truncated and with some bytes overwritten.
fn damaged(ext: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let sample = valid(ext);
    let len = sample.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        (
            0..=len,
            proptest::collection::vec((0..len.max(1), any::<u8>()), 0..6)
        )
            .prop_map(move |(keep, edits)| {
                let mut b = sample.clone();
                for (i, v) in edits {
                    if i < b.len() {
                        b[i] = v;
                    }
                }
                b.truncate(keep);
                b
            }),
    ]
}

/// Every reader that takes a file of this extension, on `bytes`.
fn read_all(ext: &str, bytes: &[u8]) {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), &format!("x.{ext}"), bytes);
    let spec = p.to_str().unwrap();
    let _ = read_logits(spec, &Device::Cpu);
    let _ = read_logits(&format!("{spec}:logits"), &Device::Cpu);
    let _ = read_logit_labels(spec);
    let _ = read_labels(&p);
    let _ = load_file(&p, &DataOptions::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn npy_never_panics(bytes in damaged("npy")) {
        read_all("npy", &bytes);
    }

    #[test]
    fn safetensors_never_panics(bytes in damaged("safetensors")) {
        read_all("safetensors", &bytes);
    }

    #[test]
    fn jsonl_never_panics(bytes in damaged("jsonl")) {
        read_all("jsonl", &bytes);
    }

    #[test]
    fn csv_never_panics(bytes in damaged("csv")) {
        read_all("csv", &bytes);
    }

    #[test]
    fn parquet_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        footer_len in 0u32..600,
    ) {
        // Parquet's frame: magic, body, footer length, magic; noise inside it.
        let mut bytes = b"PAR1".to_vec();
        bytes.extend(&body);
        bytes.extend(footer_len.to_le_bytes());
        bytes.extend(b"PAR1");
        read_all("parquet", &bytes);
        read_all("parquet", &body);
    }

    #[test]
    fn label_text_never_panics(bytes in damaged("txt")) {
        read_all("txt", &bytes);
    }
}

#[test]
fn the_samples_are_valid() {
    // The damaged copies start from files the readers accept, so the properties reach past the
    // first check.
    let d = tempfile::tempdir().unwrap();
    for ext in ["npy", "safetensors", "jsonl"] {
        let p = write(d.path(), &format!("v.{ext}"), &valid(ext));
        let t = read_logits(p.to_str().unwrap(), &Device::Cpu).unwrap();
        assert_eq!(t.dims(), [2, 3], "{ext}");
    }
    let p = write(d.path(), "v.txt", &valid("txt"));
    assert_eq!(read_labels(&p).unwrap(), [0, 1, 2]);
    let p = write(d.path(), "v.csv", &valid("csv"));
    assert_eq!(
        load_file(&p, &DataOptions::default()).unwrap().rows.len(),
        2
    );
}
