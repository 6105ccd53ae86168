//! A GGUF writer for tests: a transformers llama or qwen2 checkpoint (config.json, model.safetensors,
//! tokenizer.json) written as llama.cpp's `convert_hf_to_gguf.py` writes it (llama.* keys,
//! `blk.{i}.*` names, q and k rows permuted for interleaved rotation, the byte-level BPE
//! vocabulary as tokenizer.ggml.*), each projection in the requested type, through candle's
//! quantizer and GGUF writer.
use std::collections::HashMap;
use std::path::Path;

use candle::quantized::gguf_file::{self, Value};
use candle::quantized::{GgmlDType, QTensor};
use candle::{Device, Tensor};

/// llama.cpp `LlamaModel.permute`: each head's rows reordered so that pairs (2i, 2i + 1)
/// rotate together.
fn permute(w: &Tensor, heads: usize) -> Tensor {
    let (out, inp) = w.dims2().unwrap();
    w.reshape((heads, 2, out / heads / 2, inp))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((out, inp))
        .unwrap()
}

/// GGUF metadata entries, in writing order.
pub(crate) type Meta = Vec<(String, Value)>;
/// GGUF tensors, in writing order.
pub(crate) type Tensors = Vec<(String, QTensor)>;

/// The metadata and tensors of `dir` (a llama or qwen2 checkpoint), with 2-D weights in `dtype` where
/// their rows are a whole number of blocks (f32 otherwise) and norms in f32.
pub(crate) fn gguf_parts(dir: &Path, dtype: GgmlDType) -> (Meta, Tensors) {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tokenizer.json")).unwrap())
            .unwrap();
    let n = |k: &str| config[k].as_u64().unwrap() as u32;
    let heads = n("num_attention_heads") as usize;
    let kv_heads = n("num_key_value_heads") as usize;
    let layers = n("num_hidden_layers") as usize;
    let arch = config["model_type"].as_str().unwrap().to_owned();
    let head_dim = config["head_dim"]
        .as_u64()
        .map_or(n("hidden_size") / heads as u32, |d| d as u32);
    let theta = config["rope_parameters"]["rope_theta"]
        .as_f64()
        .unwrap_or(10_000.0);

    // Vocabulary in id order, added tokens included; added special tokens are control tokens.
    let mut tokens: Vec<Option<String>> = Vec::new();
    let mut set = |id: usize, t: &str| {
        if tokens.len() <= id {
            tokens.resize(id + 1, None);
        }
        tokens[id] = Some(t.to_owned());
    };
    for (t, id) in tok["model"]["vocab"].as_object().unwrap() {
        set(id.as_u64().unwrap() as usize, t);
    }
    let mut control = Vec::new();
    for a in tok["added_tokens"].as_array().unwrap() {
        let id = a["id"].as_u64().unwrap() as usize;
        set(id, a["content"].as_str().unwrap());
        if a["special"].as_bool().unwrap_or(false) {
            control.push(id);
        }
    }
    let types: Vec<Value> = (0..tokens.len())
        .map(|i| Value::I32(if control.contains(&i) { 3 } else { 1 }))
        .collect();
    let tokens: Vec<Value> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| Value::String(t.unwrap_or_else(|| format!("[PAD{i}]"))))
        .collect();
    let merges: Vec<Value> = tok["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => Value::String(s.clone()),
            pair => Value::String(format!(
                "{} {}",
                pair[0].as_str().unwrap(),
                pair[1].as_str().unwrap()
            )),
        })
        .collect();

    let meta = vec![
        ("general.architecture".into(), Value::String(arch.clone())),
        (
            format!("{arch}.embedding_length"),
            Value::U32(n("hidden_size")),
        ),
        (format!("{arch}.block_count"), Value::U32(layers as u32)),
        (
            format!("{arch}.feed_forward_length"),
            Value::U32(n("intermediate_size")),
        ),
        (
            format!("{arch}.attention.head_count"),
            Value::U32(heads as u32),
        ),
        (
            format!("{arch}.attention.head_count_kv"),
            Value::U32(kv_heads as u32),
        ),
        (format!("{arch}.attention.key_length"), Value::U32(head_dim)),
        (
            format!("{arch}.attention.layer_norm_rms_epsilon"),
            Value::F32(config["rms_norm_eps"].as_f64().unwrap() as f32),
        ),
        (format!("{arch}.rope.freq_base"), Value::F32(theta as f32)),
        (
            format!("{arch}.context_length"),
            Value::U32(n("max_position_embeddings")),
        ),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.merges".into(), Value::Array(merges)),
        (
            "tokenizer.ggml.bos_token_id".into(),
            Value::U32(n("bos_token_id")),
        ),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        (
            "tokenizer.ggml.padding_token_id".into(),
            Value::U32(n("pad_token_id")),
        ),
    ];

    let st: HashMap<String, Tensor> =
        candle::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let q = |w: &Tensor| {
        let fits = w.rank() == 2 && w.dim(1).unwrap() % dtype.block_size() == 0;
        let t = if fits { dtype } else { GgmlDType::F32 };
        QTensor::quantize(&w.force_contiguous().unwrap(), t).unwrap()
    };
    let f32 =
        |w: &Tensor| QTensor::quantize(&w.force_contiguous().unwrap(), GgmlDType::F32).unwrap();
    let mut tensors = vec![
        (
            "token_embd.weight".to_owned(),
            q(&st["model.embed_tokens.weight"]),
        ),
        (
            "output_norm.weight".to_owned(),
            f32(&st["model.norm.weight"]),
        ),
    ];
    if let Some(head) = st.get("lm_head.weight") {
        tensors.push(("output.weight".to_owned(), q(head)));
    }
    // llama.cpp permutes q and k of llama models only (qwen rotates halves).
    let llama = arch == "llama";
    let qk = |w: &Tensor, h: usize| if llama { permute(w, h) } else { w.clone() };
    for i in 0..layers {
        let hf = |name: &str| &st[&format!("model.layers.{i}.{name}.weight")];
        let b = |name: &str| format!("blk.{i}.{name}.weight");
        for (ours, theirs) in [
            ("attn_q", "q_proj"),
            ("attn_k", "k_proj"),
            ("attn_v", "v_proj"),
        ] {
            if let Some(bias) = st.get(&format!("model.layers.{i}.self_attn.{theirs}.bias")) {
                tensors.push((format!("blk.{i}.{ours}.bias"), f32(bias)));
            }
        }
        tensors.extend([
            (b("attn_q"), q(&qk(hf("self_attn.q_proj"), heads))),
            (b("attn_k"), q(&qk(hf("self_attn.k_proj"), kv_heads))),
            (b("attn_v"), q(hf("self_attn.v_proj"))),
            (b("attn_output"), q(hf("self_attn.o_proj"))),
            (b("ffn_gate"), q(hf("mlp.gate_proj"))),
            (b("ffn_up"), q(hf("mlp.up_proj"))),
            (b("ffn_down"), q(hf("mlp.down_proj"))),
            (b("attn_norm"), f32(hf("input_layernorm"))),
            (b("ffn_norm"), f32(hf("post_attention_layernorm"))),
        ]);
    }
    (meta, tensors)
}

/// Writes `meta` and `tensors` as a GGUF file.
pub(crate) fn write(path: &Path, meta: &[(String, Value)], tensors: &[(String, QTensor)]) {
    let meta: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &meta, &tensors).unwrap();
}

/// `dir` (a llama or qwen2 checkpoint) written as `out` with weights in `dtype`.
pub(crate) fn write_llama(dir: &Path, dtype: GgmlDType, out: &Path) {
    let (meta, tensors) = gguf_parts(dir, dtype);
    write(out, &meta, &tensors);
}
