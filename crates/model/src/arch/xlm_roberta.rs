//! XLM-RoBERTa for sequence classification (`XLMRobertaForSequenceClassification`).
//!
//! Unsupervised Cross-lingual Representation Learning at Scale,
//! <https://arxiv.org/abs/1911.02116>. Upstream: transformers
//! `models/xlm_roberta/modeling_xlm_roberta.py`, which is RoBERTa with another vocabulary: the
//! code is `roberta.rs`'s (same position offset, same head); weights live under `roberta.`.
use candle::DType;

use super::{roberta, Architecture, LoadContext, Loaded, Task};
use crate::config::ProbeConfig;
use crate::Result;

/// HF `model_type`.
const MODEL_TYPE: &str = "xlm-roberta";

pub(crate) struct XlmRoberta;

impl Architecture for XlmRoberta {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["XLMRobertaForSequenceClassification"]
    }

    fn task(&self) -> Task {
        Task::SequenceClassification
    }

    fn dtypes(&self) -> &'static [DType] {
        roberta::DTYPES
    }

    fn max_positions(&self, config: &ProbeConfig) -> Option<usize> {
        roberta::max_positions(config)
    }

    fn type_vocab_size(&self, config: &ProbeConfig) -> Option<usize> {
        roberta::type_vocab_size(config)
    }

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        roberta::load_family(&cx, MODEL_TYPE, "roberta")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{arch_dir, check_arch_fixture, load_local, test_device};
    use crate::DTypeSpec;
    use candle::Device;

    fn tiny_xlm_roberta_matches_transformers(dev: &Device) {
        check_arch_fixture("xlm_roberta", DTypeSpec::F32, dev);
    }
    test_device!(tiny_xlm_roberta_matches_transformers, xlm_roberta_cpu, xlm_roberta_cuda, xlm_roberta_metal);

    #[test]
    fn truncates_at_the_offset_position_limit() {
        // 66 positions, padding_idx 0: 65 tokens fit (the fixture was scored with truncation at 65).
        let model = load_local(&arch_dir("xlm_roberta"), DTypeSpec::F32);
        assert_eq!(model.info.max_length, 65);
        assert_eq!(model.info.model_type, "xlm-roberta");
    }

    #[test]
    fn f16_stays_close() {
        check_arch_fixture("xlm_roberta", DTypeSpec::F16, &Device::Cpu);
    }
}
