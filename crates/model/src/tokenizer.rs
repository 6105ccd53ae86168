//! Tokenization with the model's own tokenizer (tokenizer.json, or one built from its vocabulary
//! files by `convert.rs`): special tokens added, truncation at the
//! effective max length (LongestFirst for pairs), no padding; and right-padded batches on the
//! model's device.
use std::path::PathBuf;

use candle::{Device, Tensor};
use tokenizers::{
    EncodeInput, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::convert::TokenizerFiles;
use crate::{Error, Result};

/// One text, or a pair of texts, to classify.
#[derive(Debug, Clone, Copy)]
pub struct TextInput<'a> {
    /// The first (or only) segment.
    pub text: &'a str,
    /// The second segment of a pair task (NLI, paraphrase).
    pub pair: Option<&'a str>,
}

impl<'a> TextInput<'a> {
    /// A single text.
    pub fn single(text: &'a str) -> Self {
        Self { text, pair: None }
    }
}

/// One tokenized input, unpadded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Segment ids (0 for the first text, 1 for the pair).
    pub type_ids: Vec<u32>,
}

impl Encoded {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens (never the case with special tokens added).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A right-padded batch on the model's device. HF semantics: `attention_mask` 1 = attend.
/// All tensors are (b, t) u32.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Token ids, padded with the tokenizer's pad id.
    pub input_ids: Tensor,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Tensor,
    /// Segment ids, padded with 0.
    pub token_type_ids: Tensor,
}

/// Where two tokenizers' vocabularies first disagree ([`crate::Model::first_vocab_difference`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VocabDifference {
    /// The smallest id whose token differs, or that only one vocabulary has.
    pub id: u32,
    /// This model's token at `id` (`None`: it has no such id).
    pub this: Option<String>,
    /// The other model's token at `id` (`None`: it has no such id).
    pub other: Option<String>,
    /// This vocabulary's size, added tokens included.
    pub this_size: usize,
    /// The other vocabulary's size, added tokens included.
    pub other_size: usize,
}

impl std::fmt::Display for VocabDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |t: &Option<String>| match t {
            Some(t) => format!("{t:?}"),
            None => "absent".to_owned(),
        };
        write!(
            f,
            "token id {} is {} in one vocabulary and {} in the other ({} and {} tokens)",
            self.id,
            show(&self.this),
            show(&self.other),
            self.this_size,
            self.other_size
        )
    }
}

/// The tokenizer with truncation set and padding off, plus the pad id used by [`Self::batch`].
pub(crate) struct TextEncoder {
    tokenizer: Tokenizer,
    /// The same tokenizer without truncation, for causal LMs' documents.
    documents: Option<Tokenizer>,
    pad_id: u32,
    max_length: usize,
    type_vocab_size: Option<usize>,
}

/// What decides the truncation length and the vocab check.
pub(crate) struct EncoderSpec<'a> {
    /// tokenizer.json, or the vocabulary files to build it from.
    pub(crate) tokenizer: &'a TokenizerFiles,
    /// The user's `max_length`.
    pub(crate) requested: Option<usize>,
    /// tokenizer_config.json `model_max_length`, when sane.
    pub(crate) tokenizer_limit: Option<usize>,
    /// What the position table allows.
    pub(crate) model_limit: Option<usize>,
    /// config.json `vocab_size`.
    pub(crate) vocab_size: Option<usize>,
    /// config.json `pad_token_id`.
    pub(crate) config_pad_id: Option<u32>,
    /// Rows of the model's token type table, when it reads type ids.
    pub(crate) type_vocab_size: Option<usize>,
    /// Also keep an untruncated copy for whole documents (causal LMs).
    pub(crate) documents: bool,
}

/// Characters of input kept per token of the window (far more than any real tokenizer's mean:
/// English averages about 4 per token): what lies beyond can never reach the model.
const CHARS_PER_TOKEN: usize = 32;

/// The first `max_chars` characters of `text`.
fn clip(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Used when neither the user, the tokenizer config nor the model sets a limit.
const FALLBACK_MAX_LENGTH: usize = 512;

impl TextEncoder {
    pub(crate) fn load(spec: &EncoderSpec<'_>) -> Result<Self> {
        let path = spec.tokenizer.path();
        let tok_err = |source| Error::Tokenizer {
            path: PathBuf::from(path),
            source,
        };
        let mut tokenizer = spec.tokenizer.build()?;
        if let Some(model_vocab) = spec.vocab_size {
            let tokenizer_vocab = tokenizer.get_vocab_size(true);
            if tokenizer_vocab > model_vocab {
                return Err(Error::VocabMismatch {
                    path: path.to_owned(),
                    tokenizer_vocab,
                    model_vocab,
                });
            }
        }
        // The pad id saved in tokenizer.json wins (it is what transformers pads with), then the
        // model config, then the usual pad tokens.
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or(spec.config_pad_id)
            .or_else(|| tokenizer.token_to_id("[PAD]"))
            .or_else(|| tokenizer.token_to_id("<pad>"))
            .unwrap_or(0);
        let max_length = [spec.requested, spec.tokenizer_limit, spec.model_limit]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(FALLBACK_MAX_LENGTH);
        // tokenizer.json may carry the padding and truncation it was saved with; both are ours
        // to decide.
        tokenizer.with_padding(None);
        let documents = if spec.documents {
            let mut whole = tokenizer.clone();
            whole.with_truncation(None).map_err(tok_err)?;
            Some(whole)
        } else {
            None
        };
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(tok_err)?;
        Ok(Self {
            tokenizer,
            documents,
            pad_id,
            max_length,
            type_vocab_size: spec.type_vocab_size,
        })
    }

    /// Vocabulary size, added tokens included.
    pub(crate) fn token_text(&self, id: u32) -> String {
        self.tokenizer.decode(&[id], false).unwrap_or_default()
    }

    pub(crate) fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The id padding is filled with.
    pub(crate) fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The id of a token given by its text (an added or special token, or a vocabulary entry).
    pub(crate) fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    /// Ids back to text without the special tokens (transformers'
    /// `decode(ids, skip_special_tokens=True)`).
    pub(crate) fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|source| Error::Encode { source })
    }

    /// Each text alone with the tokenizer's template (special tokens added), no truncation, no
    /// padding; `None` when the encoder was built without the untruncated copy.
    pub(crate) fn encode_documents(&self, texts: &[&str]) -> Option<Result<Vec<Vec<u32>>>> {
        let tokenizer = self.documents.as_ref()?;
        let inputs: Vec<EncodeInput<'_>> = texts.iter().map(|&t| EncodeInput::from(t)).collect();
        Some(
            tokenizer
                .encode_batch_fast(inputs, true)
                .map(|encodings| encodings.iter().map(|e| e.get_ids().to_vec()).collect())
                .map_err(|source| Error::Encode { source }),
        )
    }

    /// Right-pads id rows to the longest with the pad id; segment ids are 0.
    pub(crate) fn batch_ids(&self, rows: &[&[u32]], device: &Device) -> Result<Batch> {
        let b = rows.len();
        let t = rows
            .iter()
            .map(|r| r.len())
            .max()
            .ok_or(Error::EmptyBatch)?
            .max(1);
        let mut ids = vec![self.pad_id; b * t];
        let mut mask = vec![0u32; b * t];
        for (row, item) in rows.iter().enumerate() {
            let start = row * t;
            ids[start..start + item.len()].copy_from_slice(item);
            mask[start..start + item.len()].fill(1);
        }
        Ok(Batch {
            input_ids: Tensor::from_vec(ids, (b, t), device)?,
            attention_mask: Tensor::from_vec(mask, (b, t), device)?,
            token_type_ids: Tensor::zeros((b, t), candle::DType::U32, device)?,
        })
    }

    /// The first id at which the two vocabularies (added tokens included) hold different
    /// tokens, or which only one of them has; `None` when they are identical.
    pub(crate) fn first_vocab_difference(&self, other: &TextEncoder) -> Option<VocabDifference> {
        let (a, b) = (id_table(&self.tokenizer), id_table(&other.tokenizer));
        let id = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))?;
        let at = |t: &[Option<String>]| t.get(id).cloned().flatten();
        Some(VocabDifference {
            id: id as u32,
            this: at(&a),
            other: at(&b),
            this_size: self.vocab_size(),
            other_size: other.vocab_size(),
        })
    }

    pub(crate) fn max_length(&self) -> usize {
        self.max_length
    }

    pub(crate) fn encode(&self, inputs: &[TextInput<'_>]) -> Result<Vec<Encoded>> {
        // Only the first `max_length` tokens are kept, so a text longer than a generous multiple
        // of that is cut before tokenizing: an 11 MB line then costs what the window costs.
        let max_chars = self.max_length.saturating_mul(CHARS_PER_TOKEN);
        let inputs: Vec<EncodeInput<'_>> = inputs
            .iter()
            .map(|i| match i.pair {
                None => EncodeInput::from(clip(i.text, max_chars)),
                Some(pair) => EncodeInput::from((clip(i.text, max_chars), clip(pair, max_chars))),
            })
            .collect();
        // NOTE: `encode_batch_fast` skips offset tracking, which we never use.
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|source| Error::Encode { source })?;
        let encoded: Vec<Encoded> = encodings
            .into_iter()
            .map(|e| Encoded {
                ids: e.get_ids().to_vec(),
                type_ids: e.get_type_ids().to_vec(),
            })
            .collect();
        // A type id beyond the model's table would fail deep in the embedding lookup.
        if let Some(limit) = self.type_vocab_size {
            let bad = encoded.iter().enumerate().find_map(|(i, e)| {
                e.type_ids
                    .iter()
                    .find(|&&t| t as usize >= limit)
                    .map(|&t| (i, t))
            });
            if let Some((index, type_id)) = bad {
                return Err(Error::TypeIdOutOfRange {
                    index,
                    type_id,
                    type_vocab_size: limit,
                });
            }
        }
        Ok(encoded)
    }

    pub(crate) fn batch(&self, items: &[&Encoded], device: &Device) -> Result<Batch> {
        let b = items.len();
        let t = items
            .iter()
            .map(|e| e.len())
            .max()
            .ok_or(Error::EmptyBatch)?;
        let t = t.max(1);
        let mut ids = vec![self.pad_id; b * t];
        let mut mask = vec![0u32; b * t];
        let mut types = vec![0u32; b * t];
        for (row, item) in items.iter().enumerate() {
            let start = row * t;
            let n = item.len();
            ids[start..start + n].copy_from_slice(&item.ids);
            mask[start..start + n].fill(1);
            let k = item.type_ids.len().min(n);
            types[start..start + k].copy_from_slice(&item.type_ids[..k]);
        }
        Ok(Batch {
            input_ids: Tensor::from_vec(ids, (b, t), device)?,
            attention_mask: Tensor::from_vec(mask, (b, t), device)?,
            token_type_ids: Tensor::from_vec(types, (b, t), device)?,
        })
    }
}

/// Token by id (`None` for ids the vocabulary skips), added tokens included.
fn id_table(tokenizer: &Tokenizer) -> Vec<Option<String>> {
    let vocab = tokenizer.get_vocab(true);
    let n = vocab.values().max().map_or(0, |&m| m as usize + 1);
    let mut table = vec![None; n];
    for (token, id) in vocab {
        table[id as usize] = Some(token);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tokenizer_json() -> TokenizerFiles {
        TokenizerFiles::Json(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/bert_small/tokenizer.json"),
        )
    }

    fn encoder(requested: Option<usize>, model_limit: Option<usize>) -> TextEncoder {
        let path = tokenizer_json();
        TextEncoder::load(&EncoderSpec {
            tokenizer: &path,
            requested,
            tokenizer_limit: Some(128),
            model_limit,
            vocab_size: Some(291),
            config_pad_id: Some(0),
            type_vocab_size: None,
            documents: false,
        })
        .unwrap()
    }

    #[test]
    fn truncation_is_the_smallest_limit() {
        assert_eq!(encoder(None, None).max_length(), 128);
        assert_eq!(encoder(Some(16), Some(512)).max_length(), 16);
        assert_eq!(encoder(None, Some(65)).max_length(), 65);
        let long = "good ".repeat(400);
        let enc = encoder(Some(16), None)
            .encode(&[TextInput::single(&long)])
            .unwrap();
        assert_eq!(enc[0].len(), 16);
        assert_eq!(enc[0].ids[0], 2, "[CLS] kept");
        assert_eq!(enc[0].ids[15], 3, "[SEP] kept");
    }

    #[test]
    fn empty_text_is_cls_sep_and_pairs_get_segment_ids() {
        let e = encoder(None, None);
        let enc = e
            .encode(&[
                TextInput::single(""),
                TextInput {
                    text: "good",
                    pair: Some("bad"),
                },
            ])
            .unwrap();
        assert_eq!(enc[0].ids, [2, 3]);
        assert_eq!(enc[1].ids.first(), Some(&2));
        assert_eq!(enc[1].type_ids.last(), Some(&1));
    }

    #[test]
    fn a_type_id_beyond_the_type_table_names_the_example() {
        let mut e = encoder(None, None);
        e.type_vocab_size = Some(1);
        let single = [TextInput::single("good"), TextInput::single("bad")];
        assert!(e.encode(&single).is_ok(), "single texts only use type 0");
        let pair = TextInput {
            text: "good",
            pair: Some("bad"),
        };
        let err = e.encode(&[single[0], pair]).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                Error::TypeIdOutOfRange {
                    index: 1,
                    type_id: 1,
                    type_vocab_size: 1
                }
            ),
            "{msg}"
        );
        assert!(
            msg.contains("example 2")
                && msg.contains("type_vocab_size is 1")
                && msg.contains("hint: this model takes single texts"),
            "{msg}"
        );
        e.type_vocab_size = Some(2);
        assert!(e.encode(&[pair]).is_ok());
    }

    #[test]
    fn batch_right_pads_with_the_pad_id() {
        let e = encoder(None, None);
        let a = Encoded {
            ids: vec![2, 10, 3],
            type_ids: vec![0, 0, 0],
        };
        let b = Encoded {
            ids: vec![2, 3],
            type_ids: vec![0, 0],
        };
        let batch = e.batch(&[&a, &b], &Device::Cpu).unwrap();
        assert_eq!(
            batch.input_ids.to_vec2::<u32>().unwrap(),
            [[2, 10, 3], [2, 3, 0]]
        );
        assert_eq!(
            batch.attention_mask.to_vec2::<u32>().unwrap(),
            [[1, 1, 1], [1, 1, 0]]
        );
        assert!(matches!(e.batch(&[], &Device::Cpu), Err(Error::EmptyBatch)));
    }

    #[test]
    fn larger_tokenizer_vocab_is_refused() {
        let path = tokenizer_json();
        let err = TextEncoder::load(&EncoderSpec {
            tokenizer: &path,
            requested: None,
            tokenizer_limit: None,
            model_limit: None,
            vocab_size: Some(100),
            config_pad_id: None,
            type_vocab_size: None,
            documents: false,
        })
        .err()
        .unwrap();
        assert!(matches!(err, Error::VocabMismatch { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("291") && msg.contains("100"), "{msg}");
    }
}
