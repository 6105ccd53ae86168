//! The tokenizer a GGUF file carries in its `tokenizer.ggml.*` metadata, rebuilt as a
//! `tokenizers` tokenizer: GPT-2-style byte-level BPE (`tokenizer.ggml.model = gpt2`) from the
//! token list and the merges, with the pre-tokenizer that `tokenizer.ggml.pre` names, a BOS
//! when `tokenizer.ggml.add_bos_token` asks for one, and the control tokens as special tokens.
//!
//! Upstream: llama.cpp `src/llama-vocab.cpp` (`llama_vocab::impl::load`: the pre-tokenizer
//! names and their split regexes; `add_bos` defaults to true only for SentencePiece
//! vocabularies) and the HF tokenizer.json files of the same models (which split the same way).
use std::collections::BTreeMap;

use candle::quantized::gguf_file::Value;
use serde_json::json;
use tokenizers::Tokenizer;

/// `tokenizer.ggml.token_type` of a control token (llama.cpp `LLAMA_TOKEN_TYPE_CONTROL`).
const CONTROL: i64 = 3;

/// What the metadata holds that a tokenizer is built from.
pub(crate) struct GgufVocab<'a> {
    pub(crate) model: &'a str,
    pub(crate) pre: Option<&'a str>,
    pub(crate) tokens: &'a [Value],
    pub(crate) merges: Option<&'a [Value]>,
    pub(crate) token_types: Option<&'a [Value]>,
    pub(crate) bos: Option<u32>,
    pub(crate) add_bos: Option<bool>,
}

/// Why a vocabulary could not be rebuilt: the reason, and the hint.
pub(crate) type Refusal = (String, &'static str);

fn string(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    Some(match v {
        Value::I8(x) => *x as i64,
        Value::U8(x) => *x as i64,
        Value::I16(x) => *x as i64,
        Value::U16(x) => *x as i64,
        Value::I32(x) => *x as i64,
        Value::U32(x) => *x as i64,
        Value::I64(x) => *x,
        Value::U64(x) => i64::try_from(*x).ok()?,
        _ => return None,
    })
}

/// The split of `tokenizer.ggml.pre`, as the HF tokenizer.json of the same family writes it.
fn pre_tokenizer(pre: &str) -> Option<serde_json::Value> {
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let split = |regex: &str| {
        json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
            byte_level(false),
        ]})
    };
    Some(match pre {
        // llama.cpp LLAMA_VOCAB_PRE_TYPE_GPT2: the GPT-2 regex, which ByteLevel applies itself.
        "default" | "gpt2" | "gpt-2" => byte_level(true),
        // STARCODER, REFACT, SMOLLM, CODESHELL: `\p{N}` (each digit alone), then the GPT-2 regex.
        "smollm" | "starcoder" | "refact" | "codeshell" => {
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true},
                byte_level(true),
            ]})
        }
        // LLAMA3: numbers in runs of up to three digits.
        "llama-bpe" | "llama3" => split(
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ),
        // QWEN2: each digit alone.
        "qwen2" => split(
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ),
        _ => return None,
    })
}

/// Builds the tokenizer, or says why it cannot.
pub(crate) fn build(v: &GgufVocab<'_>) -> Result<Tokenizer, Refusal> {
    if v.model != "gpt2" {
        return Err((
            format!("tokenizer.ggml.model is {}, not a GPT-2-style BPE vocabulary", v.model),
            "distill-eval rebuilds byte-level BPE (gpt2) vocabularies from GGUF metadata; SentencePiece (llama) ones are not read yet",
        ));
    }
    let pre_name = v.pre.unwrap_or("default");
    let Some(pre) = pre_tokenizer(pre_name) else {
        return Err((
            format!("tokenizer.ggml.pre is {pre_name}, a pre-tokenizer distill-eval does not know"),
            "known pre-tokenizers: default, gpt2, smollm, starcoder, refact, codeshell, llama-bpe, llama3, qwen2",
        ));
    };
    let mut vocab = serde_json::Map::with_capacity(v.tokens.len());
    let mut by_id = Vec::with_capacity(v.tokens.len());
    for (id, t) in v.tokens.iter().enumerate() {
        let Some(t) = string(t) else {
            return Err((
                format!("tokenizer.ggml.tokens entry {id} is not a string"),
                "the GGUF file's vocabulary is damaged; convert the model again",
            ));
        };
        // NOTE: a repeated token keeps its first id, as a HashMap built in id order would not;
        // llama.cpp looks tokens up the same way (first one wins in `token_to_id`).
        vocab.entry(t.to_owned()).or_insert(json!(id));
        by_id.push(t);
    }
    let merges = v
        .merges
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .map(|(i, m)| {
            string(m).filter(|m| m.contains(' ')).ok_or_else(|| {
                (
                    format!("tokenizer.ggml.merges entry {i} is not a string of two tokens"),
                    "the GGUF file's merges are damaged; convert the model again",
                )
            })
        })
        .collect::<Result<Vec<&str>, Refusal>>()?;
    let types = v.token_types.unwrap_or(&[]);
    let added: Vec<serde_json::Value> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| int(t) == Some(CONTROL))
        .filter_map(|(id, _)| by_id.get(id).map(|t| (id, *t)))
        .map(|(id, content)| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let add_bos = v.add_bos.unwrap_or(false);
    let post_processor = match (add_bos, v.bos) {
        (true, Some(bos)) => {
            let Some(token) = by_id.get(bos as usize) else {
                return Err((
                    format!(
                        "tokenizer.ggml.bos_token_id {bos} is beyond the {} tokens",
                        by_id.len()
                    ),
                    "the GGUF file's vocabulary is damaged; convert the model again",
                ));
            };
            let mut specials = BTreeMap::new();
            specials.insert(
                token.to_string(),
                json!({"id": token, "ids": [bos], "tokens": [token]}),
            );
            json!({"type": "TemplateProcessing",
                   "single": [{"SpecialToken": {"id": token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                   "pair": [{"SpecialToken": {"id": token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                            {"SpecialToken": {"id": token, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                   "special_tokens": specials})
        }
        (true, None) => {
            return Err((
                "tokenizer.ggml.add_bos_token is true but there is no tokenizer.ggml.bos_token_id"
                    .into(),
                "the GGUF file's vocabulary is damaged; convert the model again",
            ))
        }
        (false, _) => serde_json::Value::Null,
    };
    let normalizer = if pre_name == "qwen2" {
        json!({"type": "NFC"})
    } else {
        serde_json::Value::Null
    };
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
                  "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    });
    doc.to_string().parse::<Tokenizer>().map_err(|e| {
        (
            format!("the tokenizer.ggml.* vocabulary does not form a BPE tokenizer: {e}"),
            "every merge must join two tokens of the vocabulary; convert the model again",
        )
    })
}
