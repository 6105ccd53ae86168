//! Fast tokenizers for checkpoints saved without `tokenizer.json`, built from their vocabulary
//! files the way transformers' `convert_slow_tokenizer.py` builds them: WordPiece from
//! `vocab.txt` (BERT, DistilBERT: `BertConverter`) and byte-level BPE from `vocab.json` +
//! `merges.txt` (RoBERTa: `RobertaConverter`). Options come from `tokenizer_config.json` with
//! the slow tokenizers' defaults.
//!
//! Upstream: <https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/convert_slow_tokenizer.py>
use std::path::{Path, PathBuf};

use tokenizers::models::bpe::BPE;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::config::TokenizerConfig;
use crate::{Error, Result};

/// Where a checkpoint's tokenizer comes from.
#[derive(Debug, Clone)]
pub(crate) enum TokenizerFiles {
    /// `tokenizer.json`, loaded as saved.
    Json(PathBuf),
    /// `vocab.txt`: a WordPiece tokenizer.
    WordPiece {
        /// vocab.txt.
        vocab: PathBuf,
        /// tokenizer_config.json, when present.
        config: TokenizerConfig,
    },
    /// `vocab.json` and `merges.txt`: a byte-level BPE tokenizer.
    ByteLevelBpe {
        /// vocab.json.
        vocab: PathBuf,
        /// merges.txt.
        merges: PathBuf,
        /// tokenizer_config.json, when present.
        config: TokenizerConfig,
    },
    /// A tokenizer already built from another file's contents (a GGUF file's metadata).
    Built {
        /// The file it came from.
        path: PathBuf,
        /// The tokenizer.
        tokenizer: Box<Tokenizer>,
    },
}

impl TokenizerFiles {
    /// The file to name in messages.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Self::Json(path) | Self::Built { path, .. } => path,
            Self::WordPiece { vocab, .. } | Self::ByteLevelBpe { vocab, .. } => vocab,
        }
    }

    /// Loads or builds the tokenizer.
    pub(crate) fn build(&self) -> Result<Tokenizer> {
        let err = |source| Error::Tokenizer {
            path: self.path().to_owned(),
            source,
        };
        match self {
            Self::Json(path) => Tokenizer::from_file(path).map_err(err),
            Self::Built { tokenizer, .. } => Ok((**tokenizer).clone()),
            Self::WordPiece { vocab, config } => word_piece(vocab, config).map_err(err),
            Self::ByteLevelBpe {
                vocab,
                merges,
                config,
            } => byte_level_bpe(vocab, merges, config).map_err(err),
        }
    }
}

fn path_str(path: &Path) -> tokenizers::Result<&str> {
    path.to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", path.display()).into())
}

fn id(tokenizer: &Tokenizer, token: &str, file: &Path) -> tokenizers::Result<u32> {
    tokenizer
        .token_to_id(token)
        .ok_or_else(|| format!("the special token {token} is not in {}", file.display()).into())
}

/// `BertConverter`: BertNormalizer (lower-casing, Chinese characters and accents as the
/// config says, BertTokenizer's defaults otherwise), BertPreTokenizer, `[CLS] A [SEP] B [SEP]`.
fn word_piece(vocab: &Path, config: &TokenizerConfig) -> tokenizers::Result<Tokenizer> {
    let unk = config.token(&config.unk_token, "[UNK]");
    let cls = config.token(&config.cls_token, "[CLS]");
    let sep = config.token(&config.sep_token, "[SEP]");
    let pad = config.token(&config.pad_token, "[PAD]");
    let mask = config.token(&config.mask_token, "[MASK]");
    let model = WordPiece::from_file(path_str(vocab)?)
        .unk_token(unk.clone())
        .build()?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(Some(BertNormalizer::new(
        true,
        config.tokenize_chinese_chars.unwrap_or(true),
        config.strip_accents,
        config.do_lower_case.unwrap_or(true),
    )))?;
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    let (cls_id, sep_id) = (id(&tokenizer, &cls, vocab)?, id(&tokenizer, &sep, vocab)?);
    let template = TemplateProcessing::builder()
        .try_single(format!("{cls}:0 $A:0 {sep}:0"))?
        .try_pair(format!("{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1"))?
        .special_tokens(vec![(cls.clone(), cls_id), (sep.clone(), sep_id)])
        .build()?;
    tokenizer.with_post_processor(Some(template));
    let specials = [unk, sep, pad, cls, mask]
        .into_iter()
        .filter(|t| tokenizer.token_to_id(t).is_some())
        .map(|t| AddedToken::from(t, true))
        .collect::<Vec<_>>();
    tokenizer.add_special_tokens(specials)?;
    Ok(tokenizer)
}

/// `RobertaConverter`: byte-level BPE, `<s> A </s></s> B </s>`, no prefix space unless the
/// config asks for one.
fn byte_level_bpe(
    vocab: &Path,
    merges: &Path,
    config: &TokenizerConfig,
) -> tokenizers::Result<Tokenizer> {
    let bos = config.token(&config.cls_token, "<s>");
    let eos = config.token(&config.sep_token, "</s>");
    let unk = config.token(&config.unk_token, "<unk>");
    let pad = config.token(&config.pad_token, "<pad>");
    let mask = config.token(&config.mask_token, "<mask>");
    let model = BPE::from_file(path_str(vocab)?, path_str(merges)?)
        .continuing_subword_prefix(String::new())
        .end_of_word_suffix(String::new())
        .build()?;
    let add_prefix_space = config.add_prefix_space.unwrap_or(false);
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(add_prefix_space, true, true)));
    let processing = RobertaProcessing::new(
        (eos.clone(), id(&tokenizer, &eos, vocab)?),
        (bos.clone(), id(&tokenizer, &bos, vocab)?),
    )
    .trim_offsets(true)
    .add_prefix_space(add_prefix_space);
    tokenizer.with_post_processor(Some(processing));
    let specials = [bos, pad, eos, unk]
        .into_iter()
        .map(|t| AddedToken::from(t, true))
        .chain(std::iter::once(AddedToken::from(mask, true).lstrip(true)))
        .filter(|t| tokenizer.token_to_id(&t.content).is_some())
        .collect::<Vec<_>>();
    tokenizer.add_special_tokens(specials)?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::EncodeInput;

    fn models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
    }

    fn texts() -> Vec<String> {
        let raw = std::fs::read_to_string(models().join("data/test.jsonl")).unwrap();
        raw.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["text"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    /// Writes the WordPiece vocabulary of a tokenizer.json as vocab.txt (one token per line, in
    /// id order), as the slow tokenizer saves it.
    fn write_vocab_txt(tokenizer: &Tokenizer, path: &Path) {
        let vocab = tokenizer.get_vocab(false);
        let mut by_id = vec![String::new(); vocab.len()];
        for (token, id) in vocab {
            by_id[id as usize] = token;
        }
        std::fs::write(path, by_id.join("\n") + "\n").unwrap();
    }

    fn ids(tokenizer: &Tokenizer, input: EncodeInput<'_>) -> Vec<u32> {
        tokenizer.encode(input, true).unwrap().get_ids().to_vec()
    }

    #[test]
    fn word_piece_from_vocab_txt_encodes_as_the_saved_tokenizer_json() {
        let mut saved = Tokenizer::from_file(models().join("bert_small/tokenizer.json")).unwrap();
        // The saved file truncates at 128 tokens; compare whole encodings.
        saved.with_truncation(None).unwrap();
        saved.with_padding(None);
        let dir = tempfile::tempdir().unwrap();
        let vocab = dir.path().join("vocab.txt");
        write_vocab_txt(&saved, &vocab);
        let files = TokenizerFiles::WordPiece {
            vocab,
            config: TokenizerConfig::default(),
        };
        let built = files.build().unwrap();
        let texts = texts();
        for text in &texts {
            let t = text.as_str();
            assert_eq!(ids(&built, t.into()), ids(&saved, t.into()), "{text:?}");
        }
        let pair = (texts[0].as_str(), texts[1].as_str());
        let (a, b) = (
            built.encode(pair, true).unwrap(),
            saved.encode(pair, true).unwrap(),
        );
        assert_eq!(a.get_ids(), b.get_ids());
        assert_eq!(a.get_type_ids(), b.get_type_ids());
    }

    #[test]
    fn word_piece_follows_do_lower_case() {
        let saved = Tokenizer::from_file(models().join("bert_small/tokenizer.json")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vocab = dir.path().join("vocab.txt");
        write_vocab_txt(&saved, &vocab);
        let build = |lower: bool| {
            let config: TokenizerConfig =
                serde_json::from_str(&format!(r#"{{"do_lower_case": {lower}}}"#)).unwrap();
            TokenizerFiles::WordPiece {
                vocab: vocab.clone(),
                config,
            }
            .build()
            .unwrap()
        };
        let (lower, cased) = (build(true), build(false));
        let unk = lower.token_to_id("[UNK]").unwrap();
        // The bundled vocabulary is lower-case: upper-case words only survive lower-casing.
        assert!(!ids(&lower, "GREAT".into()).contains(&unk));
        assert!(ids(&cased, "GREAT".into()).contains(&unk));
    }

    #[test]
    fn byte_level_bpe_wraps_texts_like_roberta() {
        let dir = tempfile::tempdir().unwrap();
        // A tiny byte-level vocabulary: single bytes (as ByteLevel maps them) plus one merge.
        let mut vocab = serde_json::Map::new();
        for (i, t) in [
            "<s>", "<pad>", "</s>", "<unk>", "<mask>", "a", "b", "Ġ", "ab", "Ġa",
        ]
        .iter()
        .enumerate()
        {
            vocab.insert((*t).to_owned(), i.into());
        }
        std::fs::write(
            dir.path().join("vocab.json"),
            serde_json::Value::Object(vocab).to_string(),
        )
        .unwrap();
        std::fs::write(dir.path().join("merges.txt"), "#version: 0.2\na b\nĠ a\n").unwrap();
        let files = TokenizerFiles::ByteLevelBpe {
            vocab: dir.path().join("vocab.json"),
            merges: dir.path().join("merges.txt"),
            config: TokenizerConfig::default(),
        };
        let tokenizer = files.build().unwrap();
        // <s> ab Ġa </s>
        assert_eq!(ids(&tokenizer, "ab a".into()), vec![0, 8, 9, 2]);
        // <s> A </s></s> B </s>
        assert_eq!(ids(&tokenizer, ("ab", "b").into()), vec![0, 8, 2, 2, 6, 2]);
        // Special tokens in the text are recognised, not split into bytes.
        assert_eq!(ids(&tokenizer, "ab<mask>".into()), vec![0, 8, 4, 2]);
    }

    /// Checkpoints saved with vocabulary files only (tests/fixtures/arch, made by
    /// make_vocab_fixtures.py) give transformers' logits, tokenized as transformers tokenizes
    /// them from the same files.
    #[test]
    fn checkpoints_without_tokenizer_json_match_transformers() {
        use crate::arch::testing::check_arch_fixture;
        use crate::DTypeSpec;
        for name in ["roberta_bpe", "bert_vocab_txt"] {
            check_arch_fixture(name, DTypeSpec::F32, &candle::Device::Cpu);
        }
    }

    #[test]
    fn a_vocabulary_without_the_special_tokens_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let vocab = dir.path().join("vocab.txt");
        std::fs::write(&vocab, "hello\nworld\n").unwrap();
        let err = TokenizerFiles::WordPiece {
            vocab,
            config: TokenizerConfig::default(),
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(err.contains("vocab.txt") && err.contains("[CLS]"), "{err}");
    }
}
