//! Test helpers of the causal-LM families: the fixture folders (`tests/fixtures/llm/<name>`,
//! made by `make_llm_fixtures.py`), the conformance checkpoints (`models/llm/`), every
//! position's logits of a set of documents in batches of any composition, and the checks each
//! family file runs: f32 against transformers (one document per row and in right-padded batches
//! of unequal lengths), f16 and bf16 against the same f32 references.
pub(crate) use super::testing::test_device;

use std::path::PathBuf;

use candle::{DType, Device, Tensor};

use super::testing::{load_on, read_npy, repo_root, Tolerance};
use crate::{DTypeSpec, Model};

/// float32 logits against transformers' float32 logits.
pub(crate) const F32: Tolerance = Tolerance {
    rel: 1e-4,
    abs: 1e-4,
};
/// float16 logits against transformers' float32 logits: every matmul and residual rounds to 11
/// bits, over 2-4 layers. Largest difference seen: 1.2e-2 (the 4-layer conformance teacher),
/// 4e-3 to 9e-3 on the 2-layer fixtures, logits of order 3.
pub(crate) const F16: Tolerance = Tolerance {
    rel: 1e-2,
    abs: 2e-2,
};
/// bfloat16 logits against transformers' float32 logits: 8 bits of mantissa per rounding.
/// Largest difference seen: 9.7e-2 (the conformance teacher), 4e-2 to 8e-2 on the fixtures.
pub(crate) const BF16: Tolerance = Tolerance {
    rel: 5e-2,
    abs: 1.5e-1,
};

/// `tests/fixtures/llm/<name>`.
pub(crate) fn fixture_dir(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/llm").join(name)
}

/// `models/llm/<name>`.
pub(crate) fn conformance_dir(name: &str) -> PathBuf {
    repo_root().join("models/llm").join(name)
}

/// Every position's logits of `docs`, run `batch_size` documents at a time in the order given
/// by `order` (right-padded to the longest of each batch); returned in document order,
/// concatenated over positions: (Σ len, vocab) rows, copied to the host once.
pub(crate) fn doc_logits(
    model: &Model,
    docs: &[Vec<u32>],
    order: &[usize],
    batch_size: usize,
) -> Vec<Vec<f32>> {
    let mut per_doc: Vec<Option<Tensor>> = vec![None; docs.len()];
    for chunk in order.chunks(batch_size) {
        let rows: Vec<&[u32]> = chunk.iter().map(|&i| docs[i].as_slice()).collect();
        let batch = model.batch_ids(&rows).unwrap();
        let hidden = model.lm_hidden(&batch).unwrap(); // (b, t, h)
        let logits = model.lm_logits(&hidden).unwrap(); // (b, t, v)
        let (b, _t, v) = logits.dims3().unwrap();
        assert_eq!(b, chunk.len());
        assert_eq!(v, model.lm_vocab_size().unwrap());
        for (row, &i) in chunk.iter().enumerate() {
            let real = logits
                .get(row)
                .unwrap()
                .narrow(0, 0, docs[i].len())
                .unwrap(); // (len, v)
            per_doc[i] = Some(real);
        }
    }
    let parts: Vec<Tensor> = per_doc.into_iter().map(Option::unwrap).collect();
    Tensor::cat(&parts, 0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
}

/// Longest first, so every batch but a full one pads.
fn longest_first(docs: &[Vec<u32>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(docs[i].len()));
    order
}

/// The ids of `texts` from our tokenizer must be transformers' (`ids`), and the logits of every
/// position equal `expected`: one document per row, all in one right-padded batch, and in
/// padded batches of 2 in another order; then in f16 and bf16 within their tolerances.
pub(crate) fn check_logits(
    dir: &std::path::Path,
    texts: &[String],
    ids: Option<&[Vec<u32>]>,
    expected: &[Vec<f32>],
    device: &Device,
) {
    let what = dir.display().to_string();
    let model = load_on(dir, DTypeSpec::F32, device);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let docs = model.encode_documents(&refs).unwrap();
    if let Some(ids) = ids {
        assert_eq!(docs, ids, "{what}: token ids differ from transformers'");
    }
    let n: usize = docs.iter().map(Vec::len).sum();
    assert_eq!(n, expected.len(), "{what}: token count");
    let natural: Vec<usize> = (0..docs.len()).collect();
    let alone = doc_logits(&model, &docs, &natural, 1);
    F32.assert_close(
        &alone,
        expected,
        &format!("{what} f32, one document per row"),
    );
    let padded = doc_logits(&model, &docs, &natural, docs.len());
    F32.assert_close(&padded, expected, &format!("{what} f32, one padded batch"));
    let mixed = doc_logits(&model, &docs, &longest_first(&docs), 2);
    F32.assert_close(
        &mixed,
        expected,
        &format!("{what} f32, padded batches of 2"),
    );
    for (dtype, tol) in [(DTypeSpec::F16, F16), (DTypeSpec::Bf16, BF16)] {
        let model = load_on(dir, dtype, device);
        let got = doc_logits(&model, &docs, &longest_first(&docs), docs.len());
        tol.assert_close(&got, expected, &format!("{what} {dtype}, one padded batch"));
    }
}

/// `texts` and `ids` of a fixture's inputs.json.
pub(crate) fn fixture_inputs(name: &str) -> (Vec<String>, Vec<Vec<u32>>) {
    let raw = std::fs::read_to_string(fixture_dir(name).join("inputs.json")).unwrap();
    let inputs: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let texts = inputs["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let ids = inputs["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as u32)
                .collect()
        })
        .collect();
    (texts, ids)
}

/// The check of one tests/fixtures/llm checkpoint.
pub(crate) fn check_fixture(name: &str, device: &Device) {
    let dir = fixture_dir(name);
    let (texts, ids) = fixture_inputs(name);
    let expected = read_npy(&dir.join("expected.logits.npy"));
    check_logits(&dir, &texts, Some(&ids), &expected, device);
}

/// The first `n` `text` fields of models/llm/data/texts.jsonl.
pub(crate) fn conformance_texts(n: usize) -> Vec<String> {
    let raw = std::fs::read_to_string(repo_root().join("models/llm/data/texts.jsonl")).unwrap();
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).unwrap();
            row["text"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The conformance check of one models/llm checkpoint: the first 3 documents of
/// data/texts.jsonl against `tests/fixtures/llm/conformance/<name>.first3.npy`.
pub(crate) fn check_conformance(name: &str, device: &Device) {
    let expected =
        read_npy(&repo_root().join(format!("tests/fixtures/llm/conformance/{name}.first3.npy")));
    check_logits(
        &conformance_dir(name),
        &conformance_texts(3),
        None,
        &expected,
        device,
    );
}
