//! The tokenizer a GGUF file carries in its `tokenizer.ggml.*` metadata, rebuilt as a
//! `tokenizers` tokenizer:
//! - GPT-2-style byte-level BPE (`tokenizer.ggml.model = gpt2`) from the token list and the
//!   merges, with the pre-tokenizer that `tokenizer.ggml.pre` names;
//! - SentencePiece-style vocabularies (`tokenizer.ggml.model = llama`) from the tokens and their
//!   scores: llama.cpp's `llm_tokenizer_spm` merges, over the characters of the text (spaces
//!   written `▁`, one `▁` prepended when `tokenizer.ggml.add_space_prefix` says so), the
//!   adjacent pair whose concatenation is the highest-scoring token, and spells any character
//!   left outside the vocabulary as its UTF-8 bytes (`<0xNN>` tokens), else the unknown token.
//!   That is a BPE whose merges are every split of every token into two tokens, ranked by the
//!   score of the joined token, with byte fallback: what transformers' GGUF loader builds
//!   (`integrations/ggml.py`, `GGUFTokenizerSkeleton` and `GGUFLlamaConverter`).
//!
//! Both get a BOS when `tokenizer.ggml.add_bos_token` asks for one (an EOS when
//! `add_eos_token` does), the control tokens as special tokens and the user-defined ones as
//! added tokens.
//!
//! Upstream: llama.cpp `src/llama-vocab.cpp` (`llama_vocab::impl::load`: the pre-tokenizer
//! names and their split regexes; `add_bos` and `add_space_prefix` default to true only for
//! SentencePiece vocabularies; `llm_tokenizer_spm_session`) and the HF tokenizer.json files of
//! the same models (which split the same way).
use std::collections::BTreeMap;

use candle::quantized::gguf_file::Value;
use serde_json::json;
use tokenizers::Tokenizer;

/// `tokenizer.ggml.token_type` of a control token (llama.cpp `LLAMA_TOKEN_TYPE_CONTROL`).
const CONTROL: i64 = 3;
/// `LLAMA_TOKEN_TYPE_UNKNOWN`.
const UNKNOWN: i64 = 2;
/// `LLAMA_TOKEN_TYPE_USER_DEFINED`.
const USER_DEFINED: i64 = 4;

/// What the metadata holds that a tokenizer is built from.
pub(crate) struct GgufVocab<'a> {
    pub(crate) model: &'a str,
    pub(crate) pre: Option<&'a str>,
    pub(crate) tokens: &'a [Value],
    pub(crate) merges: Option<&'a [Value]>,
    pub(crate) token_types: Option<&'a [Value]>,
    pub(crate) bos: Option<u32>,
    pub(crate) add_bos: Option<bool>,
    /// `tokenizer.ggml.scores` (SentencePiece vocabularies).
    pub(crate) scores: Option<&'a [Value]>,
    pub(crate) eos: Option<u32>,
    pub(crate) add_eos: Option<bool>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub(crate) unk: Option<u32>,
    /// `tokenizer.ggml.add_space_prefix`.
    pub(crate) add_space_prefix: Option<bool>,
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
    match v.model {
        "gpt2" => build_bpe(v),
        "llama" => build_spm(v),
        other => Err((
            format!("tokenizer.ggml.model is {other}, a vocabulary type distill-eval does not rebuild"),
            "distill-eval rebuilds byte-level BPE (gpt2) and SentencePiece (llama) vocabularies from GGUF metadata",
        )),
    }
}

/// The tokens in id order, and the first id of each (a repeated token keeps its first id).
fn token_table<'a>(
    v: &'a GgufVocab<'_>,
) -> Result<(Vec<&'a str>, serde_json::Map<String, serde_json::Value>), Refusal> {
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
    Ok((by_id, vocab))
}

/// The control tokens as special added tokens, and (SentencePiece vocabularies) the
/// user-defined ones as plain added tokens.
fn added_tokens(v: &GgufVocab<'_>, by_id: &[&str], user_defined: bool) -> Vec<serde_json::Value> {
    v.token_types
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .filter_map(|(id, t)| match int(t) {
            Some(CONTROL) => Some((id, true)),
            Some(USER_DEFINED) if user_defined => Some((id, false)),
            _ => None,
        })
        .filter_map(|(id, special)| by_id.get(id).map(|t| (id, *t, special)))
        .map(|(id, content, special)| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": special})
        })
        .collect()
}

/// `[BOS] $A [EOS]` as `add_bos` / `add_eos` ask (`null` when neither does).
fn post_processor(
    by_id: &[&str],
    bos: (bool, Option<u32>),
    eos: (bool, Option<u32>),
) -> Result<serde_json::Value, Refusal> {
    let mut specials = BTreeMap::new();
    let mut special = |(wanted, id): (bool, Option<u32>),
                       what: &str|
     -> Result<Option<String>, Refusal> {
        if !wanted {
            return Ok(None);
        }
        let Some(id) = id else {
            return Err((
                format!("tokenizer.ggml.add_{what}_token is true but there is no tokenizer.ggml.{what}_token_id"),
                "the GGUF file's vocabulary is damaged; convert the model again",
            ));
        };
        let Some(token) = by_id.get(id as usize) else {
            return Err((
                format!(
                    "tokenizer.ggml.{what}_token_id {id} is beyond the {} tokens",
                    by_id.len()
                ),
                "the GGUF file's vocabulary is damaged; convert the model again",
            ));
        };
        specials.insert(
            token.to_string(),
            json!({"id": token, "ids": [id], "tokens": [token]}),
        );
        Ok(Some(token.to_string()))
    };
    let bos = special(bos, "bos")?;
    let eos = special(eos, "eos")?;
    if bos.is_none() && eos.is_none() {
        return Ok(serde_json::Value::Null);
    }
    let piece = |token: &Option<String>, type_id: u32| {
        token
            .as_ref()
            .map(|t| json!({"SpecialToken": {"id": t, "type_id": type_id}}))
    };
    let seq = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
    let single: Vec<_> = [piece(&bos, 0), Some(seq("A", 0)), piece(&eos, 0)]
        .into_iter()
        .flatten()
        .collect();
    let pair: Vec<_> = [
        piece(&bos, 0),
        Some(seq("A", 0)),
        piece(&eos, 0),
        piece(&bos, 1),
        Some(seq("B", 1)),
        piece(&eos, 1),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(
        json!({"type": "TemplateProcessing", "single": single, "pair": pair,
              "special_tokens": specials}),
    )
}

fn parse(doc: serde_json::Value) -> Result<Tokenizer, Refusal> {
    doc.to_string().parse::<Tokenizer>().map_err(|e| {
        (
            format!("the tokenizer.ggml.* vocabulary does not form a BPE tokenizer: {e}"),
            "every merge must join two tokens of the vocabulary; convert the model again",
        )
    })
}

/// A GPT-2-style byte-level BPE vocabulary.
fn build_bpe(v: &GgufVocab<'_>) -> Result<Tokenizer, Refusal> {
    let pre_name = v.pre.unwrap_or("default");
    let Some(pre) = pre_tokenizer(pre_name) else {
        return Err((
            format!("tokenizer.ggml.pre is {pre_name}, a pre-tokenizer distill-eval does not know"),
            "known pre-tokenizers: default, gpt2, smollm, starcoder, refact, codeshell, llama-bpe, llama3, qwen2",
        ));
    };
    let (by_id, vocab) = token_table(v)?;
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
    let added = added_tokens(v, &by_id, false);
    // llama.cpp adds a BOS to BPE vocabularies only when the file says so.
    let post_processor = post_processor(
        &by_id,
        (v.add_bos.unwrap_or(false), v.bos),
        (v.add_eos.unwrap_or(false), v.eos),
    )?;
    let normalizer = if pre_name == "qwen2" {
        json!({"type": "NFC"})
    } else {
        serde_json::Value::Null
    };
    parse(json!({
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
    }))
}

/// The merges that make a BPE of a SentencePiece vocabulary: every split of every token into
/// two tokens, those of one token ordered by their ids (descending), then all of them by the
/// joined token's score (descending, stable), as transformers' `GGUFTokenizerSkeleton` derives
/// them. Splits fall on character boundaries, as Python's string slices do.
fn spm_merges<'a>(
    by_id: &[&'a str],
    vocab: &serde_json::Map<String, serde_json::Value>,
    scores: &[f32],
) -> Vec<(&'a str, &'a str)> {
    let id = |t: &str| vocab.get(t).and_then(|v| v.as_u64());
    let mut merges: Vec<(&str, &str, f32)> = Vec::new();
    for (token, &score) in by_id.iter().zip(scores) {
        let mut local: Vec<(u64, u64, &str, &str)> = token
            .char_indices()
            .skip(1)
            .filter_map(|(at, _)| {
                let (l, r) = token.split_at(at);
                Some((id(l)?, id(r)?, l, r))
            })
            .collect();
        local.sort_by_key(|&(l, r, _, _)| std::cmp::Reverse((l, r)));
        merges.extend(local.into_iter().map(|(_, _, l, r)| (l, r, score)));
    }
    // NOTE: `sort_by` is stable, as Python's `sorted`; `total_cmp` keeps the order total even
    // with a NaN score (a damaged file), which then ranks first.
    merges.sort_by(|a, b| b.2.total_cmp(&a.2));
    merges.into_iter().map(|(l, r, _)| (l, r)).collect()
}

/// A SentencePiece-style vocabulary (`tokenizer.ggml.model = llama`).
fn build_spm(v: &GgufVocab<'_>) -> Result<Tokenizer, Refusal> {
    let (by_id, vocab) = token_table(v)?;
    let scores: Vec<f32> = match v.scores {
        // llama.cpp reads a missing score as 0.
        None => vec![0.0; by_id.len()],
        Some(s) if s.len() != by_id.len() => {
            return Err((
                format!(
                    "tokenizer.ggml.scores has {} entries for {} tokens",
                    s.len(),
                    by_id.len()
                ),
                "the GGUF file's vocabulary is damaged; convert the model again",
            ))
        }
        Some(s) => s
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::F32(x) => Ok(*x),
                Value::F64(x) => Ok(*x as f32),
                _ => Err((
                    format!("tokenizer.ggml.scores entry {i} is not a number"),
                    "the GGUF file's vocabulary is damaged; convert the model again",
                )),
            })
            .collect::<Result<_, Refusal>>()?,
    };
    let types = v.token_types.unwrap_or(&[]);
    let unk = match v.unk {
        Some(id) => Some(by_id.get(id as usize).copied().ok_or_else(|| {
            (
                format!(
                    "tokenizer.ggml.unknown_token_id {id} is beyond the {} tokens",
                    by_id.len()
                ),
                "the GGUF file's vocabulary is damaged; convert the model again",
            )
        })?),
        None => types
            .iter()
            .position(|t| int(t) == Some(UNKNOWN))
            .and_then(|id| by_id.get(id).copied()),
    };
    let merges: Vec<serde_json::Value> = spm_merges(&by_id, &vocab, &scores)
        .into_iter()
        .map(|(l, r)| json!([l, r]))
        .collect();
    let added = added_tokens(v, &by_id, true);
    // llama.cpp's defaults for SentencePiece vocabularies: a BOS, no EOS, a space prefix.
    let post_processor = post_processor(
        &by_id,
        (v.add_bos.unwrap_or(true), v.bos),
        (v.add_eos.unwrap_or(false), v.eos),
    )?;
    let space_prefix = v.add_space_prefix.unwrap_or(true);
    let replace = json!({"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"});
    let normalizer = if space_prefix {
        json!({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u{2581}"}, replace]})
    } else {
        json!({"type": "Sequence", "normalizers": [replace]})
    };
    let mut decoders = vec![
        json!({"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "}),
        json!({"type": "ByteFallback"}),
        json!({"type": "Fuse"}),
    ];
    if space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    parse(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": null,
        "post_processor": post_processor,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {"type": "BPE", "dropout": null, "unk_token": unk,
                  "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    }))
}
