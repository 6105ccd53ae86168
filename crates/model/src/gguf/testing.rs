//! A GGUF writer for tests: a transformers llama, qwen2, qwen3, gemma2, gemma3_text or phi3
//! checkpoint (config.json, model.safetensors, tokenizer.json) written as llama.cpp's
//! `convert_hf_to_gguf.py` writes it (`{arch}.*` keys, `blk.{i}.*` names, q and k rows permuted
//! for llama's interleaved rotation, Gemma's norms stored as `1 + w` and its head tied, Phi-3's
//! fused `attn_qkv` / `ffn_up` and LongRoPE factor tensors, the byte-level BPE vocabulary as
//! tokenizer.ggml.*), each projection in the requested type, through candle's quantizer and
//! GGUF writer.
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

/// llama.cpp's `general.architecture` for a transformers `model_type`.
fn gguf_arch(model_type: &str) -> &str {
    match model_type {
        "gemma3_text" => "gemma3",
        other => other,
    }
}

/// The global RoPE object of a config in either transformers style: `rope_parameters` (or its
/// `full_attention` entry), else the older `rope_scaling` with a top-level `rope_theta`.
fn rope_object(config: &serde_json::Value) -> serde_json::Value {
    let params = &config["rope_parameters"];
    let params = if params["full_attention"].is_object() {
        &params["full_attention"]
    } else {
        params
    };
    let mut object = params.as_object().cloned().unwrap_or_default();
    if let Some(scaling) = config["rope_scaling"].as_object() {
        object.extend(scaling.clone());
    }
    if let Some(theta) = config["rope_theta"].as_f64() {
        object.entry("rope_theta").or_insert(theta.into());
    }
    serde_json::Value::Object(object)
}

/// The metadata and tensors of `dir`, with 2-D weights in `dtype` where their rows are a whole
/// number of blocks (f32 otherwise) and norms in f32.
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
    let hidden = n("hidden_size");
    let model_type = config["model_type"].as_str().unwrap().to_owned();
    let arch = gguf_arch(&model_type).to_owned();
    let gemma = arch.starts_with("gemma");
    let head_dim = config["head_dim"]
        .as_u64()
        .map_or(hidden / heads as u32, |d| d as u32);
    let rope = rope_object(&config);
    let theta = rope["rope_theta"].as_f64().unwrap_or(10_000.0);

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

    let key = |k: &str| format!("{arch}.{k}");
    let mut meta = vec![
        ("general.architecture".into(), Value::String(arch.clone())),
        (key("embedding_length"), Value::U32(hidden)),
        (key("block_count"), Value::U32(layers as u32)),
        (
            key("feed_forward_length"),
            Value::U32(n("intermediate_size")),
        ),
        (key("attention.head_count"), Value::U32(heads as u32)),
        (key("attention.head_count_kv"), Value::U32(kv_heads as u32)),
        (key("attention.key_length"), Value::U32(head_dim)),
        (
            key("attention.layer_norm_rms_epsilon"),
            Value::F32(config["rms_norm_eps"].as_f64().unwrap() as f32),
        ),
        (key("rope.freq_base"), Value::F32(theta as f32)),
        (
            key("context_length"),
            Value::U32(n("max_position_embeddings")),
        ),
    ];
    let rope_type = rope["rope_type"].as_str().or(rope["type"].as_str());
    if rope_type == Some("linear") {
        meta.push((key("rope.scaling.type"), Value::String("linear".into())));
        meta.push((
            key("rope.scaling.factor"),
            Value::F32(rope["factor"].as_f64().unwrap() as f32),
        ));
    }
    let float = |k: &str| config[k].as_f64().map(|x| Value::F32(x as f32));
    let mut rope_factors = None;
    match arch.as_str() {
        "gemma2" => {
            meta.extend(
                float("attn_logit_softcapping").map(|v| (key("attn_logit_softcapping"), v)),
            );
            meta.extend(
                float("final_logit_softcapping").map(|v| (key("final_logit_softcapping"), v)),
            );
            meta.push((
                key("attention.sliding_window"),
                Value::U32(n("sliding_window")),
            ));
        }
        "gemma3" => {
            meta.extend(
                float("final_logit_softcapping").map(|v| (key("final_logit_softcapping"), v)),
            );
            meta.push((
                key("attention.sliding_window"),
                Value::U32(n("sliding_window")),
            ));
        }
        "phi3" => {
            let rot = config["partial_rotary_factor"].as_f64().unwrap_or(1.0);
            let rope_dims = (rot * hidden as f64) as u32 / heads as u32;
            let original = n("original_max_position_embeddings");
            meta.push((key("rope.dimension_count"), Value::U32(rope_dims)));
            meta.push((
                key("rope.scaling.original_context_length"),
                Value::U32(original),
            ));
            meta.push((
                key("attention.sliding_window"),
                Value::U32(config["sliding_window"].as_u64().unwrap_or(0) as u32),
            ));
            if let Some(long) = rope["long_factor"].as_array() {
                let scale = n("max_position_embeddings") as f64 / original as f64;
                let attn_factor = if scale > 1.0 {
                    (1.0 + scale.ln() / (original as f64).ln()).sqrt()
                } else {
                    1.0
                };
                meta.push((
                    key("rope.scaling.attn_factor"),
                    Value::F32(attn_factor as f32),
                ));
                let f = |a: &serde_json::Value| -> Vec<f32> {
                    a.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap() as f32)
                        .collect()
                };
                rope_factors = Some((
                    f(&serde_json::Value::Array(long.clone())),
                    f(&rope["short_factor"]),
                ));
            }
        }
        _ => {}
    }
    meta.extend([
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
    ]);

    let st = load_safetensors(dir);
    let q = |w: &Tensor| {
        let fits = w.rank() == 2 && w.dim(1).unwrap() % dtype.block_size() == 0;
        let t = if fits { dtype } else { GgmlDType::F32 };
        QTensor::quantize(&w.force_contiguous().unwrap(), t).unwrap()
    };
    let f32 =
        |w: &Tensor| QTensor::quantize(&w.force_contiguous().unwrap(), GgmlDType::F32).unwrap();
    // Gemma's converter adds 1 to every tensor whose name ends in `norm.weight`.
    // NOTE: it adds in the checkpoint's dtype (rounding 1 + w to bf16 or f16 before storing it
    // as f32); here the sum is taken in f32, so the file holds the checkpoint's exact norms.
    let norm = |w: &Tensor| {
        if gemma {
            f32(&(w.to_dtype(candle::DType::F32).unwrap() + 1.0).unwrap())
        } else {
            f32(w)
        }
    };
    let mut tensors = vec![
        (
            "token_embd.weight".to_owned(),
            q(&st["model.embed_tokens.weight"]),
        ),
        (
            "output_norm.weight".to_owned(),
            norm(&st["model.norm.weight"]),
        ),
    ];
    // Gemma's converter skips lm_head.weight: the embedding is the head.
    if let Some(head) = st.get("lm_head.weight").filter(|_| !gemma) {
        tensors.push(("output.weight".to_owned(), q(head)));
    }
    if let Some((long, short)) = rope_factors {
        let v = |x: Vec<f32>| {
            let len = x.len();
            f32(&Tensor::from_vec(x, len, &Device::Cpu).unwrap())
        };
        tensors.push(("rope_factors_long.weight".to_owned(), v(long)));
        tensors.push(("rope_factors_short.weight".to_owned(), v(short)));
    }
    // llama.cpp permutes q and k of llama models only (the others rotate halves).
    let llama = arch == "llama";
    let qk = |w: &Tensor, h: usize| if llama { permute(w, h) } else { w.clone() };
    for i in 0..layers {
        let hf = |name: &str| &st[&format!("model.layers.{i}.{name}.weight")];
        let b = |name: &str| format!("blk.{i}.{name}.weight");
        // The order of the original writer, which the committed fixtures keep.
        if arch == "phi3" {
            tensors.extend([
                (b("attn_qkv"), q(hf("self_attn.qkv_proj"))),
                (b("attn_output"), q(hf("self_attn.o_proj"))),
                (b("ffn_up"), q(hf("mlp.gate_up_proj"))),
            ]);
        } else {
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
            ]);
        }
        tensors.extend([
            (b("ffn_down"), q(hf("mlp.down_proj"))),
            (b("attn_norm"), norm(hf("input_layernorm"))),
        ]);
        if gemma {
            tensors.extend([
                (b("attn_post_norm"), norm(hf("post_attention_layernorm"))),
                (b("ffn_norm"), norm(hf("pre_feedforward_layernorm"))),
                (b("post_ffw_norm"), norm(hf("post_feedforward_layernorm"))),
            ]);
        } else {
            tensors.push((b("ffn_norm"), norm(hf("post_attention_layernorm"))));
        }
        if st.contains_key(&format!("model.layers.{i}.self_attn.q_norm.weight")) {
            tensors.extend([
                (b("attn_q_norm"), norm(hf("self_attn.q_norm"))),
                (b("attn_k_norm"), norm(hf("self_attn.k_norm"))),
            ]);
        }
    }
    (meta, tensors)
}

/// Every tensor of `dir`'s `model.safetensors` (or of the shards its index names).
fn load_safetensors(dir: &Path) -> HashMap<String, Tensor> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return candle::safetensors::load(single, &Device::Cpu).unwrap();
    }
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("model.safetensors.index.json")).unwrap(),
    )
    .unwrap();
    let mut files: Vec<&str> = index["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    files.sort();
    files.dedup();
    files
        .into_iter()
        .flat_map(|f| candle::safetensors::load(dir.join(f), &Device::Cpu).unwrap())
        .collect()
}

/// Writes `meta` and `tensors` as a GGUF file.
pub(crate) fn write(path: &Path, meta: &[(String, Value)], tensors: &[(String, QTensor)]) {
    let meta: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &meta, &tensors).unwrap();
}

/// `dir` (a checkpoint of any family above) written as `out` with weights in `dtype`.
pub(crate) fn write_llama(dir: &Path, dtype: GgmlDType, out: &Path) {
    let (meta, tensors) = gguf_parts(dir, dtype);
    write(out, &meta, &tensors);
}
