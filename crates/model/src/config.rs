//! The first stage of reading config.json: just enough (`ProbeConfig`) to pick the architecture,
//! the labels and the truncation length. Each architecture then parses the raw JSON into its own
//! private `Config` (TEI `ModelConfig`; mistral.rs `AutoNormalLoader`).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// transformers' name for one class per example, scored with a softmax.
pub(crate) const SINGLE_LABEL: &str = "single_label_classification";

/// The fields every HF config shares.
#[derive(Debug, Clone, Deserialize)]
pub struct ProbeConfig {
    /// HF classes, e.g. `["BertForSequenceClassification"]`.
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    /// HF `model_type`, e.g. `bert`.
    #[serde(default)]
    pub model_type: Option<String>,
    /// Label names by id (keys are decimal strings in JSON).
    #[serde(default)]
    pub id2label: Option<BTreeMap<String, String>>,
    /// Label count when id2label is absent.
    #[serde(default)]
    pub num_labels: Option<usize>,
    /// transformers' `problem_type`: `single_label_classification`, `multi_label_classification`
    /// or `regression` (absent: regression when there is one label, else single-label).
    #[serde(default)]
    pub problem_type: Option<String>,
    /// Rows of the word embedding table.
    #[serde(default)]
    pub vocab_size: Option<usize>,
    /// Padding id (also RoBERTa's position offset).
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// Rows of the absolute position table.
    #[serde(default)]
    pub max_position_embeddings: Option<usize>,
    /// Rows of the token type (segment) table.
    #[serde(default)]
    pub type_vocab_size: Option<usize>,
    /// Where it was read from.
    #[serde(skip)]
    pub path: PathBuf,
    /// The raw JSON, for the architecture's own parser.
    #[serde(skip)]
    pub raw: String,
}

impl ProbeConfig {
    /// Reads and probes `config.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let raw = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let mut probe: Self = serde_json::from_str(&raw).map_err(Error::json(path))?;
        probe.path = path.to_owned();
        probe.raw = raw;
        Ok(probe)
    }

    /// The problem the head was trained for, resolved as transformers does when the config does
    /// not say: one label is regression, more are single-label classification.
    pub fn problem_type(&self, num_labels: usize) -> String {
        match self.problem_type.as_deref() {
            Some(kind) if !kind.is_empty() => kind.to_owned(),
            _ if num_labels == 1 => "regression".to_owned(),
            _ => SINGLE_LABEL.to_owned(),
        }
    }

    /// `architectures[0]`, when present.
    pub fn architecture(&self) -> Option<&str> {
        self.architectures
            .as_ref()
            .and_then(|a| a.first())
            .map(String::as_str)
    }

    /// Label names in id order; `LABEL_i` when the config has none (transformers' default of 2).
    pub fn labels(&self) -> Result<Vec<String>> {
        let Some(map) = self.id2label.as_ref().filter(|m| !m.is_empty()) else {
            let n = self.num_labels.unwrap_or(2);
            return Ok((0..n).map(|i| format!("LABEL_{i}")).collect());
        };
        let invalid = |reason: String| Error::InvalidLabels {
            path: self.path.clone(),
            reason,
        };
        let mut by_id = BTreeMap::new();
        for (key, name) in map {
            let id: usize = key
                .trim()
                .parse()
                .map_err(|_| invalid(format!("key `{key}` is not an integer")))?;
            by_id.insert(id, name.clone());
        }
        for (expected, id) in by_id.keys().enumerate() {
            if *id != expected {
                return Err(invalid(format!(
                    "{} labels but id {expected} is missing",
                    by_id.len()
                )));
            }
        }
        // NOTE: labels are aligned by name; two ids of one name would make that ambiguous
        // (the same folder as teacher and student then disagrees with itself).
        let mut seen = std::collections::HashMap::new();
        for (id, name) in &by_id {
            if let Some(first) = seen.insert(name.as_str(), *id) {
                return Err(invalid(format!(
                    "ids {first} and {id} are both named {name:?}"
                )));
            }
        }
        if let Some(n) = self.num_labels {
            if n != by_id.len() {
                return Err(invalid(format!(
                    "num_labels is {n} but id2label has {} entries",
                    by_id.len()
                )));
            }
        }
        Ok(by_id.into_values().collect())
    }
}

/// The part of tokenizer_config.json we use: the length limit, and what building a tokenizer
/// from vocabulary files needs (`convert.rs`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TokenizerConfig {
    /// transformers writes a huge float (1e30) when unset.
    #[serde(default)]
    pub(crate) model_max_length: Option<f64>,
    /// WordPiece: lower-case before splitting (BertTokenizer's default: true).
    #[serde(default)]
    pub(crate) do_lower_case: Option<bool>,
    /// WordPiece: put spaces around CJK characters (default: true).
    #[serde(default)]
    pub(crate) tokenize_chinese_chars: Option<bool>,
    /// WordPiece: strip accents (default: when lower-casing).
    #[serde(default)]
    pub(crate) strip_accents: Option<bool>,
    /// Byte-level BPE: add a space before the first word (RoBERTa's default: false).
    #[serde(default)]
    pub(crate) add_prefix_space: Option<bool>,
    /// Special tokens: a string, or an object with `content` (an `AddedToken`).
    #[serde(default)]
    pub(crate) unk_token: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) cls_token: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) sep_token: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) pad_token: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) mask_token: Option<serde_json::Value>,
    /// The end-of-sequence token (the last fallback of a causal LM's EOS ids).
    #[serde(default)]
    pub(crate) eos_token: Option<serde_json::Value>,
}

impl TokenizerConfig {
    /// A special token's text, or `default` when the config does not name it.
    pub(crate) fn token(&self, value: &Option<serde_json::Value>, default: &str) -> String {
        match value {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Object(o)) => o
                .get("content")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(default)
                .to_owned(),
            _ => default.to_owned(),
        }
    }

    pub(crate) fn read(path: &Path) -> Result<Self> {
        let raw = std::fs::read_to_string(path).map_err(Error::io(path))?;
        serde_json::from_str(&raw).map_err(Error::json(path))
    }

    /// `model_max_length` when it is a real limit (transformers uses 1e30 for "none").
    pub(crate) fn max_length(&self) -> Option<usize> {
        self.model_max_length
            .filter(|n| (1.0..1e6).contains(n))
            .map(|n| n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(json: &str) -> ProbeConfig {
        let mut p: ProbeConfig = serde_json::from_str(json).unwrap();
        p.path = "config.json".into();
        p
    }

    #[test]
    fn labels_come_in_id_order() {
        let p = probe(
            r#"{"id2label": {"2": "neu", "0": "pos", "1": "neg", "10": "x", "3": "a", "4": "b", "5": "c", "6": "d", "7": "e", "8": "f", "9": "g"}}"#,
        );
        let labels = p.labels().unwrap();
        assert_eq!(labels[..3], ["pos", "neg", "neu"]);
        assert_eq!(labels[10], "x", "numeric, not lexicographic, order");
    }

    #[test]
    fn duplicate_label_names_are_refused() {
        let err = probe(r#"{"id2label": {"0": "pos", "1": "neg", "2": "pos"}}"#)
            .labels()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ids 0 and 2") && err.contains("\"pos\""),
            "{err}"
        );
        assert!(err.contains("hint: "), "{err}");
    }

    #[test]
    fn labels_default_to_label_i() {
        assert_eq!(probe("{}").labels().unwrap(), ["LABEL_0", "LABEL_1"]);
        assert_eq!(probe(r#"{"num_labels": 3}"#).labels().unwrap().len(), 3);
    }

    #[test]
    fn problem_type_is_resolved_as_transformers_does() {
        assert_eq!(probe("{}").problem_type(3), SINGLE_LABEL);
        assert_eq!(probe("{}").problem_type(1), "regression");
        let multi = probe(r#"{"problem_type": "multi_label_classification"}"#);
        assert_eq!(multi.problem_type(3), "multi_label_classification");
        let null = probe(r#"{"problem_type": null}"#);
        assert_eq!(null.problem_type(2), SINGLE_LABEL);
    }

    #[test]
    fn sparse_labels_are_refused() {
        let err = probe(r#"{"id2label": {"0": "a", "2": "c"}}"#)
            .labels()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidLabels { .. }), "{err}");
        let err = probe(r#"{"id2label": {"x": "a"}}"#).labels().unwrap_err();
        assert!(err.to_string().contains("`x`"), "{err}");
    }

    #[test]
    fn huge_model_max_length_means_none() {
        let t: TokenizerConfig =
            serde_json::from_str(r#"{"model_max_length": 1000000000000000019884624838656}"#)
                .unwrap();
        assert_eq!(t.max_length(), None);
        let t: TokenizerConfig = serde_json::from_str(r#"{"model_max_length": 128}"#).unwrap();
        assert_eq!(t.max_length(), Some(128));
    }
}
