//! Greedy decoding with a causal LM: batches of prompts of different lengths, left-padded so
//! that they decode together against the decoder's KV cache ([`crate::arch::KvCache`]), each
//! row stopping at one of the model's end-of-sequence ids or after `max_new_tokens`.
//!
//! What transformers' `generate(do_sample=False)` does, one prompt at a time
//! (`GenerationMixin._sample` with greedy `argmax`): the prompt is tokenized with the
//! tokenizer's template, each step appends the most likely next token (the first of equal
//! maxima, as `torch.argmax`), and a row ends with the first EOS, which its tokens include.
//! The EOS ids come from generation_config.json's `eos_token_id`, else config.json's (an
//! integer or a list), else the tokenizer's `eos_token` (see [`eos_ids`]).
//!
//! [`Decoding::Uncached`] reruns every row's whole sequence through the plain forward pass at
//! each step (right-padded, no cache): the reference the cached mode is tested against.
use std::path::Path;

use candle::{DType, Tensor, D};
use serde_json::Value;

use crate::arch::{CausalLm, KvCache};
use crate::{Error, Model, Result};

/// How each step is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoding {
    /// One new column per row against the KV cache.
    #[default]
    Cached,
    /// Every row's whole sequence again, right-padded, through the uncached forward pass.
    Uncached,
}

/// What [`Model::generate`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Tokens generated at most per prompt (the EOS included).
    pub max_new_tokens: usize,
    /// Prompts decoded together.
    pub batch_size: usize,
    /// Cached (the normal mode) or uncached (the reference).
    pub decoding: Decoding,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_new_tokens: 64,
            batch_size: 16,
            decoding: Decoding::Cached,
        }
    }
}

/// One prompt's continuation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Generated {
    /// The new token ids, the EOS that ended them included.
    pub tokens: Vec<u32>,
    /// Whether an EOS ended them (else `max_new_tokens` did).
    pub stopped_at_eos: bool,
}

impl Model {
    /// The ids that end a generation (empty: none, generation runs to `max_new_tokens`).
    pub fn eos_token_ids(&self) -> &[u32] {
        &self.eos
    }

    /// The text of generated ids as transformers' `decode(ids, skip_special_tokens=True)`
    /// gives it.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.encoder.decode(ids)
    }

    /// Greedy continuations of `prompts` (token ids, e.g. from [`Model::encode_documents`]),
    /// in the order given. Prompts are sorted by length into batches of
    /// `opts.batch_size` (fewer where a batch's attention would exceed
    /// [`crate::MAX_ATTENTION_CELLS`]).
    pub fn generate(&self, prompts: &[&[u32]], opts: &GenerateOptions) -> Result<Vec<Generated>> {
        let lm = self.causal_lm()?;
        if let Some(index) = prompts.iter().position(|p| p.is_empty()) {
            return Err(Error::EmptyPrompt { index });
        }
        let mut order: Vec<usize> = (0..prompts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(prompts[i].len()));
        let mut out = vec![Generated::default(); prompts.len()];
        if opts.max_new_tokens == 0 {
            return Ok(out);
        }
        let mut start = 0;
        while start < order.len() {
            // Longest first: the batch's first prompt is its longest.
            let longest = prompts[order[start]].len() + opts.max_new_tokens;
            let fits = (crate::MAX_ATTENTION_CELLS / (longest * longest).max(1)).max(1);
            let end = (start + opts.batch_size.clamp(1, fits)).min(order.len());
            let rows: Vec<&[u32]> = order[start..end].iter().map(|&i| prompts[i]).collect();
            let done = self.device.with_context(|| match opts.decoding {
                Decoding::Cached => self.cached(lm, &rows, opts.max_new_tokens),
                Decoding::Uncached => self.uncached(lm, &rows, opts.max_new_tokens),
            })?;
            for (&i, g) in order[start..end].iter().zip(done) {
                out[i] = g;
            }
            start = end;
        }
        Ok(out)
    }

    /// The most likely next token of each row of `hidden` (a, hidden): one host copy per step.
    fn greedy(&self, lm: &dyn CausalLm, hidden: &Tensor) -> candle::Result<Vec<u32>> {
        lm.logits(hidden)? // (a, vocab)
            .to_dtype(DType::F32)?
            .argmax(D::Minus1)?
            .to_vec1::<u32>()
    }

    /// Appends each active row's token; returns the positions (in `active`) of the rows that go
    /// on.
    fn record(&self, out: &mut [Generated], active: &[usize], next: &[u32]) -> Vec<usize> {
        let mut keep = Vec::with_capacity(active.len());
        for (k, (&row, &token)) in active.iter().zip(next).enumerate() {
            out[row].tokens.push(token);
            if self.eos.contains(&token) {
                out[row].stopped_at_eos = true;
            } else {
                keep.push(k);
            }
        }
        keep
    }

    fn cached(
        &self,
        lm: &dyn CausalLm,
        prompts: &[&[u32]],
        max_new: usize,
    ) -> candle::Result<Vec<Generated>> {
        let b = prompts.len();
        let width = prompts.iter().map(|p| p.len()).max().unwrap_or(0);
        let pad = self.encoder.pad_id();
        let mut ids = Vec::with_capacity(b * width);
        let mut pads = Vec::with_capacity(b);
        for p in prompts {
            ids.extend(std::iter::repeat_n(pad, width - p.len()));
            ids.extend_from_slice(p);
            pads.push(width - p.len());
        }
        let mut input = Tensor::from_vec(ids, (b, width), &self.device)?; // (b, width)
        let mut cache = KvCache::new(pads);
        let mut out = vec![Generated::default(); b];
        let mut active: Vec<usize> = (0..b).collect();
        for step in 0..max_new {
            let hidden = lm.hidden_cached(&input, &mut cache)?; // (a, t, h)
            let t = hidden.dim(1)?;
            let last = hidden.narrow(1, t - 1, 1)?.squeeze(1)?; // (a, h)
            let next = self.greedy(lm, &last)?;
            let keep = self.record(&mut out, &active, &next);
            if keep.is_empty() || step + 1 == max_new {
                break;
            }
            if keep.len() < active.len() {
                cache.retain(&keep, &self.device)?;
                active = keep.iter().map(|&k| active[k]).collect();
            }
            let last_ids: Vec<u32> = keep.iter().map(|&k| next[k]).collect();
            input = Tensor::from_vec(last_ids, (active.len(), 1), &self.device)?;
            // (a, 1)
        }
        Ok(out)
    }

    fn uncached(
        &self,
        lm: &dyn CausalLm,
        prompts: &[&[u32]],
        max_new: usize,
    ) -> candle::Result<Vec<Generated>> {
        let mut seqs: Vec<Vec<u32>> = prompts.iter().map(|p| p.to_vec()).collect();
        let mut out = vec![Generated::default(); prompts.len()];
        let mut active: Vec<usize> = (0..prompts.len()).collect();
        for _ in 0..max_new {
            let rows: Vec<&[u32]> = active.iter().map(|&r| seqs[r].as_slice()).collect();
            let batch = self
                .encoder
                .batch_ids(&rows, &self.device)
                .map_err(|e| candle::Error::Msg(e.to_string()))?;
            let hidden = lm.hidden(&batch)?; // (a, t, h)
            let last = rows
                .iter()
                .enumerate()
                .map(|(k, r)| hidden.get(k)?.narrow(0, r.len() - 1, 1)) // (1, h)
                .collect::<candle::Result<Vec<_>>>()?;
            let next = self.greedy(lm, &Tensor::cat(&last, 0)?)?; // (a, h) in
            let keep = self.record(&mut out, &active, &next);
            for (&row, &token) in active.iter().zip(&next) {
                seqs[row].push(token);
            }
            active = keep.iter().map(|&k| active[k]).collect();
            if active.is_empty() {
                break;
            }
        }
        Ok(out)
    }
}

/// The end-of-sequence ids of a checkpoint, as transformers resolves them: generation_config.json's
/// `eos_token_id` when it sets one, else config.json's, else the tokenizer's EOS token
/// (`tokenizer_eos`). Each is an integer or a list of integers; `null`, an empty list or a
/// missing key means "not set here". Every id must be below `vocab`.
pub(crate) fn eos_ids(
    generation_config: Option<&Path>,
    config: (&Path, &str),
    tokenizer_eos: Option<u32>,
    vocab: usize,
) -> Result<Vec<u32>> {
    if let Some(path) = generation_config {
        let raw = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let json: Value = serde_json::from_str(&raw).map_err(Error::json(path))?;
        if let Some(ids) = eos_field(path, &json, vocab)? {
            return Ok(ids);
        }
    }
    let json: Value = serde_json::from_str(config.1).map_err(Error::json(config.0))?;
    if let Some(ids) = eos_field(config.0, &json, vocab)? {
        return Ok(ids);
    }
    Ok(tokenizer_eos.into_iter().collect())
}

/// `eos_token_id` of one JSON object: `None` when unset.
fn eos_field(path: &Path, json: &Value, vocab: usize) -> Result<Option<Vec<u32>>> {
    let Some(value) = json.get("eos_token_id") else {
        return Ok(None);
    };
    let bad = || Error::BadEos {
        path: path.to_owned(),
        value: value.to_string(),
    };
    let id = |v: &Value| -> Result<u32> {
        v.as_u64()
            .filter(|&n| (n as usize) < vocab)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad)
    };
    match value {
        Value::Null => Ok(None),
        Value::Array(items) if items.is_empty() => Ok(None),
        Value::Array(items) => items.iter().map(id).collect::<Result<Vec<_>>>().map(Some),
        other => Ok(Some(vec![id(other)?])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::lm_testing::{conformance_dir, fixture_dir, test_device};
    use crate::arch::testing::{load_on, repo_root, Tolerance};
    use crate::DTypeSpec;
    use candle::Device;
    use serde_json::json;

    /// Every per-family fixture: sliding windows (mistral, qwen2, gemma2, gemma3), soft-capping
    /// (gemma2), q/k norms (qwen3, gemma3), llama3 scaling, LongRoPE (phi3).
    const FAMILIES: &[&str] = &[
        "llama",
        "llama3_legacy",
        "mistral",
        "qwen2",
        "qwen3",
        "gemma2",
        "gemma3_text",
        "gemma3_text_legacy",
        "phi3",
    ];

    fn field(v: Value) -> Result<Option<Vec<u32>>> {
        eos_field(Path::new("generation_config.json"), &v, 100)
    }

    fn prompts(model: &Model) -> Vec<Vec<u32>> {
        // 13, 2 and 5 tokens with the template: a batch of them pads, and 13 + 24 crosses
        // Phi-3's LongRoPE switch (16) and every sliding window (8) of the fixtures.
        let texts = ["The movie was great, the plot", "x", "A dull film."];
        model.encode_documents(&texts).unwrap()
    }

    fn run(
        model: &Model,
        prompts: &[Vec<u32>],
        batch: usize,
        decoding: Decoding,
    ) -> Vec<Generated> {
        let rows: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
        let opts = GenerateOptions {
            max_new_tokens: 24,
            batch_size: batch,
            decoding,
        };
        model.generate(&rows, &opts).unwrap()
    }

    /// The cache's hidden states of left-padded rows, run as a prefill then one column at a
    /// time, equal the plain forward pass of each row alone over the tokens it holds at that
    /// step (what decoding reads; with LongRoPE the rotation depends on that length).
    fn cache_matches_forward(dev: &Device) {
        for name in FAMILIES {
            let model = load_on(&fixture_dir(name), DTypeSpec::F32, dev);
            let lm = model.causal_lm().unwrap();
            let docs = model
                .encode_documents(&[
                    "The movie was great, the plot was superb and the cast was fun",
                    "A dull film.",
                ])
                .unwrap();
            let width = docs[0].len().max(docs[1].len());
            let pads: Vec<usize> = docs.iter().map(|d| width - d.len()).collect();
            let mut ids = Vec::new();
            for d in &docs {
                ids.extend(std::iter::repeat_n(0u32, width - d.len()));
                ids.extend_from_slice(d);
            }
            let ids = Tensor::from_vec(ids, (2, width), dev).unwrap();
            let mut cache = KvCache::new(pads.clone());
            // A prefill that holds one real token of the shorter row, then single columns.
            let first = pads.iter().max().unwrap() + 1;
            let mut spans = vec![(0, first)];
            spans.extend((first..width).map(|c| (c, c + 1)));
            for (from, to) in spans {
                let part = lm
                    .hidden_cached(&ids.narrow(1, from, to - from).unwrap(), &mut cache)
                    .unwrap(); // (2, to - from, h)
                for (row, doc) in docs.iter().enumerate() {
                    let (pad, held) = (pads[row], to - pads[row]);
                    let start = from.max(pad);
                    let alone = model.batch_ids(&[&doc[..held]]).unwrap();
                    let want = lm.hidden(&alone).unwrap().get(0).unwrap(); // (held, h)
                    let want = want.narrow(0, start - pad, to - start).unwrap();
                    let got = part
                        .get(row)
                        .unwrap()
                        .narrow(0, start - from, to - start)
                        .unwrap();
                    Tolerance {
                        rel: 1e-4,
                        abs: 1e-4,
                    }
                    .assert_close(
                        &got.to_vec2::<f32>().unwrap(),
                        &want.to_vec2::<f32>().unwrap(),
                        &format!("{name} row {row}, columns {from}..{to}"),
                    );
                }
            }
            assert_eq!(cache.len(), width);
            assert_eq!(cache.lengths(), [docs[0].len(), docs[1].len()]);
        }
    }
    test_device!(
        cache_matches_forward,
        cache_matches_forward_cpu,
        cache_matches_forward_cuda,
        cache_matches_forward_metal
    );

    /// Cached, batched decoding gives exactly the tokens of uncached decoding, prompt by
    /// prompt, in every family; and rows that stop early leave the batch without changing the
    /// others.
    fn cached_equals_uncached(dev: &Device) {
        for name in FAMILIES {
            let mut model = load_on(&fixture_dir(name), DTypeSpec::F32, dev);
            // No EOS: every row runs 24 tokens.
            model.eos.clear();
            let prompts = prompts(&model);
            let reference = run(&model, &prompts, 1, Decoding::Uncached);
            assert!(reference.iter().all(|g| g.tokens.len() == 24), "{name}");
            for batch in [1, 2, 3] {
                assert_eq!(
                    run(&model, &prompts, batch, Decoding::Cached),
                    reference,
                    "{name}: cached, batches of {batch}"
                );
            }
            assert_eq!(
                run(&model, &prompts, 3, Decoding::Uncached),
                reference,
                "{name}: uncached, one batch"
            );
            // An EOS that the first row generates at its 4th step: it stops there (its EOS
            // included), and every other row stops at its own first occurrence, if any.
            let eos = reference[0].tokens[3];
            model.eos = vec![eos];
            let stopped = run(&model, &prompts, 3, Decoding::Cached);
            for (got, full) in stopped.iter().zip(&reference) {
                let want = match full.tokens.iter().position(|&t| t == eos) {
                    Some(i) => Generated {
                        tokens: full.tokens[..=i].to_vec(),
                        stopped_at_eos: true,
                    },
                    None => full.clone(),
                };
                assert_eq!(got, &want, "{name}: eos {eos}");
            }
            assert!(stopped[0].tokens.len() <= 4 && stopped[0].stopped_at_eos);
            assert_eq!(run(&model, &prompts, 3, Decoding::Uncached), stopped);
        }
    }
    test_device!(
        cached_equals_uncached,
        cached_equals_uncached_cpu,
        cached_equals_uncached_cuda,
        cached_equals_uncached_metal
    );

    /// The tokens transformers' greedy `generate` gives (tests/fixtures/generation/expected.json,
    /// made by make_generation_refs.py), every prompt of a model decoded in one left-padded
    /// batch.
    fn matches_transformers(dev: &Device) {
        let path = repo_root().join("tests/fixtures/generation/expected.json");
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = expected["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 13);
        let ids = |v: &Value| -> Vec<u32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        };
        let mut compared = 0;
        let mut stopped = 0;
        for case in cases {
            let mut folder = repo_root().join(case["model"].as_str().unwrap());
            let copy = tempfile::tempdir().unwrap();
            if let Some(config) = case.get("generation_config") {
                // A copy of the model with this generation_config.json.
                for entry in std::fs::read_dir(&folder).unwrap() {
                    let path = entry.unwrap().path();
                    std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
                }
                std::fs::write(
                    copy.path().join("generation_config.json"),
                    config.to_string(),
                )
                .unwrap();
                folder = copy.path().to_owned();
            }
            let model = load_on(&folder, DTypeSpec::F32, dev);
            let what = case["model"].as_str().unwrap();
            assert_eq!(model.eos_token_ids(), ids(&case["eos"]), "{what}");
            let eos = ids(&case["eos"]);
            let rows = case["prompts"].as_array().unwrap();
            let texts: Vec<&str> = rows.iter().map(|r| r["prompt"].as_str().unwrap()).collect();
            let docs = model.encode_documents(&texts).unwrap();
            for (doc, row) in docs.iter().zip(rows) {
                assert_eq!(doc, &ids(&row["prompt_ids"]), "{what}: prompt ids");
            }
            let refs: Vec<&[u32]> = docs.iter().map(Vec::as_slice).collect();
            let opts = GenerateOptions {
                max_new_tokens: case["max_new_tokens"].as_u64().unwrap() as usize,
                batch_size: 8,
                decoding: Decoding::Cached,
            };
            let got = model.generate(&refs, &opts).unwrap();
            for (g, row) in got.iter().zip(rows) {
                let want = ids(&row["new_ids"]);
                let certain = row["certain"].as_u64().unwrap() as usize;
                let prompt = row["prompt"].as_str().unwrap();
                if certain == want.len() {
                    assert_eq!(g.tokens, want, "{what} {prompt:?}");
                    assert_eq!(
                        model.decode(&g.tokens).unwrap(),
                        row["text"].as_str().unwrap()
                    );
                    assert_eq!(
                        g.stopped_at_eos,
                        want.last().is_some_and(|t| eos.contains(t))
                    );
                    stopped += usize::from(g.stopped_at_eos);
                } else {
                    // A near tie from this step on: only the tokens before it are determined.
                    assert_eq!(g.tokens[..certain], want[..certain], "{what} {prompt:?}");
                }
                compared += certain;
            }
        }
        assert!(compared > 500, "{compared} tokens compared");
        assert!(stopped >= 5, "{stopped} generations stopped at EOS");
    }
    test_device!(
        matches_transformers,
        matches_transformers_cpu,
        matches_transformers_cuda,
        matches_transformers_metal
    );

    #[test]
    fn bundled_lms_resolve_their_eos_and_refuse_empty_prompts() {
        let model = load_on(&conformance_dir("qwen2"), DTypeSpec::F32, &Device::Cpu);
        assert_eq!(model.eos_token_ids(), [2]);
        let err = model
            .generate(&[&[1, 5], &[]], &GenerateOptions::default())
            .unwrap_err();
        assert!(matches!(err, Error::EmptyPrompt { index: 1 }), "{err}");
        assert!(err.to_string().contains("prompt 2"), "{err}");
        let none = GenerateOptions {
            max_new_tokens: 0,
            ..GenerateOptions::default()
        };
        assert_eq!(
            model.generate(&[&[1, 5]], &none).unwrap(),
            [Generated::default()]
        );
    }

    #[test]
    fn a_classifier_cannot_generate() {
        let model = load_on(
            &crate::arch::testing::model_dir("bert_small"),
            DTypeSpec::F32,
            &Device::Cpu,
        );
        let err = model
            .generate(&[&[2, 3]], &GenerateOptions::default())
            .unwrap_err();
        assert!(matches!(err, Error::NotCausalLm { .. }), "{err}");
    }

    #[test]
    fn eos_is_an_integer_or_a_list() {
        assert_eq!(field(json!({"eos_token_id": 2})).unwrap(), Some(vec![2]));
        assert_eq!(
            field(json!({"eos_token_id": [2, 7]})).unwrap(),
            Some(vec![2, 7])
        );
        assert_eq!(field(json!({"eos_token_id": null})).unwrap(), None);
        assert_eq!(field(json!({"eos_token_id": []})).unwrap(), None);
        assert_eq!(field(json!({"bos_token_id": 1})).unwrap(), None);
        for bad in [
            json!("2"),
            json!(-1),
            json!(100),
            json!([1, "x"]),
            json!(1.5),
        ] {
            let err = field(json!({ "eos_token_id": bad })).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("generation_config.json"), "{msg}");
            assert!(msg.contains("\nhint: "), "{msg}");
        }
    }

    #[test]
    fn generation_config_wins_then_config_then_tokenizer() {
        let dir = tempfile::tempdir().unwrap();
        let gen = dir.path().join("generation_config.json");
        let cfg = dir.path().join("config.json");
        std::fs::write(&gen, r#"{"eos_token_id": [5, 6]}"#).unwrap();
        let with = r#"{"eos_token_id": 3}"#;
        let without = r#"{"eos_token_id": null}"#;
        assert_eq!(
            eos_ids(Some(&gen), (&cfg, with), Some(9), 100).unwrap(),
            [5, 6]
        );
        assert_eq!(eos_ids(None, (&cfg, with), Some(9), 100).unwrap(), [3]);
        std::fs::write(&gen, r#"{"bos_token_id": 1}"#).unwrap();
        assert_eq!(
            eos_ids(Some(&gen), (&cfg, with), Some(9), 100).unwrap(),
            [3]
        );
        assert_eq!(eos_ids(None, (&cfg, without), Some(9), 100).unwrap(), [9]);
        assert!(eos_ids(None, (&cfg, without), None, 100)
            .unwrap()
            .is_empty());
        std::fs::write(&gen, "{not json").unwrap();
        let err = eos_ids(Some(&gen), (&cfg, with), None, 100).unwrap_err();
        assert!(err.to_string().contains("generation_config.json"), "{err}");
    }
}
