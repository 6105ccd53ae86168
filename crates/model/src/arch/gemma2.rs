//! Gemma 2 (`Gemma2ForCausalLM`), every position's logits.
//!
//! Gemma 2: Improving Open Language Models at a Practical Size,
//! <https://arxiv.org/abs/2408.00118>. Upstream: transformers
//! `models/gemma2/modeling_gemma2.py` (v5.24.0). What differs from Llama: embeddings scaled by
//! sqrt(hidden_size) (rounded to the model dtype), `(1 + w)` RMS norms computed in f32, norms
//! after attention and around the MLP as well as before, scores scaled by
//! `query_pre_attn_scalar^-0.5` and soft-capped (`attn_logit_softcapping`), logits soft-capped
//! (`final_logit_softcapping`), sliding-window layers by `layer_types` (by default every other
//! layer from the first), GELU (tanh) in the MLP, tied embeddings by default.
use candle::DType;
use serde::Deserialize;

use super::decoder::NormKind;
use super::decoder_load::{BaseConfig, Defaults, Family, Layout};
use super::{Architecture, LoadContext, Loaded, Task};
use crate::Result;

/// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/gemma2/configuration_gemma2.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    base: BaseConfig,
    #[serde(default)]
    hidden_activation: Option<String>,
    #[serde(default = "default_query_pre_attn_scalar")]
    query_pre_attn_scalar: f64,
    /// Absent: 4096.
    #[serde(default = "default_window")]
    sliding_window: Option<usize>,
    #[serde(default)]
    layer_types: Option<Vec<String>>,
    /// Absent: 30; `null`: off.
    #[serde(default = "default_final_softcap")]
    final_logit_softcapping: Option<f64>,
    /// Absent: 50; `null`: off.
    #[serde(default = "default_attn_softcap")]
    attn_logit_softcapping: Option<f64>,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    use_bidirectional_attention: Option<bool>,
}

fn default_query_pre_attn_scalar() -> f64 {
    256.0
}
fn default_window() -> Option<usize> {
    Some(4096)
}
fn default_final_softcap() -> Option<f64> {
    Some(30.0)
}
fn default_attn_softcap() -> Option<f64> {
    Some(50.0)
}

/// HF `model_type`.
const MODEL_TYPE: &str = "gemma2";

const DEFAULTS: Defaults = Defaults {
    head_dim: Some(256),
    rms_norm_eps: 1e-6,
    max_position_embeddings: 8192,
    tie_word_embeddings: true,
    hidden_act: "gelu_pytorch_tanh",
    rope_theta: 10_000.0,
};

/// What Gemma 2 and Gemma 3 change in the shared core.
pub(crate) fn gemma_layout() -> Layout {
    Layout {
        sandwich: true,
        ..Layout::default()
    }
}

/// A positive soft-cap, or an error naming the field.
pub(crate) fn softcap(family: &Family<'_>, field: &str, cap: Option<f64>) -> Result<Option<f64>> {
    match cap {
        Some(c) if !(c.is_finite() && c > 0.0) => Err(family.unsupported(
            format!("{field} is {c}, not a positive number"),
            "set the soft-cap the model was trained with, or null to turn it off",
        )),
        other => Ok(other),
    }
}

pub(crate) struct Gemma2;

impl Architecture for Gemma2 {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["Gemma2ForCausalLM"]
    }

    fn task(&self) -> Task {
        Task::CausalLm
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32, DType::F16, DType::BF16]
    }

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        let mut cfg: Config = cx.parse(MODEL_TYPE)?;
        // transformers 5 reads only hidden_activation; older configs carry both.
        cfg.base.hidden_act = cfg.hidden_activation.clone();
        let family = Family::new(&cx, MODEL_TYPE, &cfg.base, DEFAULTS)?;
        if cfg.use_bidirectional_attention == Some(true) {
            return Err(family.unsupported(
                "use_bidirectional_attention is true: this is an encoder, not a causal LM".into(),
                "evaluate Gemma 2 checkpoints with causal attention",
            ));
        }
        let rope = family.flat_rope(&family.rope_context())?;
        let mut spec = family.spec(rope);
        let types = match &cfg.layer_types {
            Some(t) => t.clone(),
            // `Gemma2Config.__post_init__`: layers 0, 2, 4, ... slide.
            None => (0..cfg.base.num_hidden_layers)
                .map(|i| if (i + 1) % 2 == 1 { "sliding_attention" } else { "full_attention" }.to_owned())
                .collect(),
        };
        spec.layers = family.layer_kinds(&types, cfg.sliding_window, 0, 0)?;
        spec.norm = NormKind::OffsetOne;
        spec.embed_scale = Some((cfg.base.hidden_size as f64).sqrt());
        spec.attn_scale = cfg.query_pre_attn_scalar.powf(-0.5);
        spec.attn_softcap = softcap(&family, "attn_logit_softcapping", cfg.attn_logit_softcapping)?;
        spec.final_softcap =
            softcap(&family, "final_logit_softcapping", cfg.final_logit_softcapping)?;
        let layout = Layout {
            qkv_bias: cfg.attention_bias,
            o_bias: cfg.attention_bias,
            ..gemma_layout()
        };
        family.load(spec, layout)
    }
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::{check_fixture, test_device};
    use candle::Device;

    fn gemma2_softcap_matches_transformers(dev: &Device) {
        check_fixture("gemma2", dev);
    }
    test_device!(gemma2_softcap_matches_transformers, gemma2_cpu, gemma2_cuda, gemma2_metal);
}
