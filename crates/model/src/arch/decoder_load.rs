//! Reading a transformers `*ForCausalLM` checkpoint into the shared [`Decoder`]: the
//! config.json fields every family shares ([`BaseConfig`], flattened into each family's own
//! `Config`), their family defaults, and the safetensors tensor names (`model.layers.{i}...`,
//! `lm_head.weight` or the tied embedding).
//!
//! Upstream: transformers `models/*/configuration_*.py` (field names and defaults) and
//! `models/*/modeling_*.py` (module names, hence tensor names).
use candle::Tensor;
use candle_nn::{Activation, VarBuilder};
use serde::Deserialize;
use serde_json::Value;

use super::decoder::{
    Decoder, DecoderSpec, DecoderWeights, GateUp, LayerKind, LayerWeights, NormKind, Proj, Qkv,
    RopeStyle,
};
use super::rope::{RopeContext, RopeIssue};
use super::{LoadContext, Loaded};
use crate::{Error, Result};

/// The config.json fields every decoder family shares. The required ones have no sensible
/// default (transformers would silently build a 7B-sized model); the others fall back to the
/// family's [`Defaults`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BaseConfig {
    pub(crate) vocab_size: usize,
    pub(crate) hidden_size: usize,
    pub(crate) intermediate_size: usize,
    pub(crate) num_hidden_layers: usize,
    pub(crate) num_attention_heads: usize,
    #[serde(default)]
    pub(crate) num_key_value_heads: Option<usize>,
    /// `null` in Llama configs means hidden / heads.
    #[serde(default)]
    pub(crate) head_dim: Option<usize>,
    #[serde(default)]
    pub(crate) rms_norm_eps: Option<f64>,
    #[serde(default)]
    pub(crate) max_position_embeddings: Option<usize>,
    #[serde(default)]
    pub(crate) tie_word_embeddings: Option<bool>,
    /// Gemma names it `hidden_activation`; the family passes whichever it reads.
    #[serde(default)]
    pub(crate) hidden_act: Option<String>,
    /// transformers 5: an object (or, for Gemma 3, one object per layer type).
    #[serde(default)]
    pub(crate) rope_parameters: Option<Value>,
    /// transformers 4: the scaling object, next to a top-level `rope_theta`.
    #[serde(default)]
    pub(crate) rope_scaling: Option<Value>,
    #[serde(default)]
    pub(crate) rope_theta: Option<f64>,
    #[serde(default)]
    pub(crate) partial_rotary_factor: Option<f64>,
}

/// A family's defaults for the fields its configuration class declares with one.
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    /// `None`: hidden_size / num_attention_heads.
    pub(crate) head_dim: Option<usize>,
    pub(crate) rms_norm_eps: f64,
    pub(crate) max_position_embeddings: usize,
    pub(crate) tie_word_embeddings: bool,
    pub(crate) hidden_act: &'static str,
    pub(crate) rope_theta: f64,
}

/// How a family's checkpoint names and shapes its tensors.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Layout {
    /// q/k/v projections carry biases (Qwen 2, `attention_bias`).
    pub(crate) qkv_bias: bool,
    /// The output projection carries a bias (`attention_bias` in Llama-style configs).
    pub(crate) o_bias: bool,
    /// gate/up/down carry biases (`mlp_bias`).
    pub(crate) mlp_bias: bool,
    /// One `self_attn.qkv_proj` (Phi-3).
    pub(crate) fused_qkv: bool,
    /// One `mlp.gate_up_proj` (Phi-3).
    pub(crate) fused_gate_up: bool,
    /// `self_attn.q_norm` / `k_norm` (Qwen 3, Gemma 3).
    pub(crate) qk_norm: bool,
    /// Gemma's four norms per block: `post_attention_layernorm` on the attention output,
    /// `pre_feedforward_layernorm` / `post_feedforward_layernorm` around the MLP.
    pub(crate) sandwich: bool,
}

/// A family's view of one checkpoint: the config with defaults applied.
pub(crate) struct Family<'a> {
    pub(crate) cx: &'a LoadContext<'a>,
    pub(crate) model_type: &'static str,
    pub(crate) base: &'a BaseConfig,
    pub(crate) head_dim: usize,
    pub(crate) kv_heads: usize,
    pub(crate) eps: f64,
    pub(crate) max_positions: usize,
    pub(crate) tie: bool,
    pub(crate) act: Activation,
    pub(crate) defaults: Defaults,
}

impl<'a> Family<'a> {
    /// Applies the family's defaults; refuses shapes no transformers model could have.
    pub(crate) fn new(
        cx: &'a LoadContext<'a>,
        model_type: &'static str,
        base: &'a BaseConfig,
        defaults: Defaults,
    ) -> Result<Self> {
        let unsupported = |reason: String, hint: &'static str| Error::UnsupportedConfig {
            path: cx.config.path.clone(),
            model_type,
            reason,
            hint,
        };
        let heads = base.num_attention_heads;
        if heads == 0 || base.hidden_size == 0 || base.vocab_size == 0 {
            return Err(unsupported(
                "hidden_size, vocab_size and num_attention_heads must be positive".into(),
                "check config.json",
            ));
        }
        let kv_heads = base.num_key_value_heads.unwrap_or(heads);
        if kv_heads == 0 || heads % kv_heads != 0 {
            return Err(unsupported(
                format!("num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}"),
                "grouped-query attention shares each kv head among a whole number of query heads; check config.json",
            ));
        }
        let head_dim = base
            .head_dim
            .or(defaults.head_dim)
            .unwrap_or(base.hidden_size / heads);
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(unsupported(
                format!("head_dim {head_dim} is not a positive even number"),
                "rotary embeddings rotate pairs of dims; check head_dim in config.json",
            ));
        }
        let act_name = base.hidden_act.as_deref().unwrap_or(defaults.hidden_act);
        let act: Activation =
            serde_json::from_value(Value::String(act_name.to_owned())).map_err(|_| {
                unsupported(
                    format!("hidden_act {act_name} is not implemented"),
                    "supported activations are silu, gelu, gelu_new and gelu_pytorch_tanh",
                )
            })?;
        if !matches!(
            act,
            Activation::Silu | Activation::Gelu | Activation::NewGelu | Activation::GeluPytorchTanh
        ) {
            return Err(unsupported(
                format!("hidden_act {act_name} is not implemented"),
                "supported activations are silu, gelu, gelu_new and gelu_pytorch_tanh",
            ));
        }
        Ok(Self {
            cx,
            model_type,
            base,
            head_dim,
            kv_heads,
            eps: base.rms_norm_eps.unwrap_or(defaults.rms_norm_eps),
            max_positions: base
                .max_position_embeddings
                .unwrap_or(defaults.max_position_embeddings),
            tie: base
                .tie_word_embeddings
                .unwrap_or(defaults.tie_word_embeddings),
            act,
            defaults,
        })
    }

    /// A configuration we do not implement, named in config.json.
    pub(crate) fn unsupported(&self, reason: String, hint: &'static str) -> Error {
        Error::UnsupportedConfig {
            path: self.cx.config.path.clone(),
            model_type: self.model_type,
            reason,
            hint,
        }
    }

    /// A RoPE setting we cannot use.
    pub(crate) fn rope_issue(&self, issue: RopeIssue) -> Error {
        self.unsupported(issue.reason, issue.hint)
    }

    /// The RoPE context of a family that rotates whole heads.
    pub(crate) fn rope_context(&self) -> RopeContext {
        RopeContext {
            head_dim: self.head_dim,
            max_positions: self.max_positions,
            theta: self.base.rope_theta,
            default_theta: self.defaults.rope_theta,
            partial_rotary_factor: self.base.partial_rotary_factor,
            allow_partial: false,
            original_max_override: None,
            phi3: false,
        }
    }

    /// The one rotation of a family without per-layer-type RoPE.
    pub(crate) fn flat_rope(&self, cx: &RopeContext) -> Result<super::rope::RopeSpec> {
        super::rope::flat(
            self.base.rope_parameters.as_ref(),
            self.base.rope_scaling.as_ref(),
            cx,
        )
        .map_err(|i| self.rope_issue(i))
    }

    /// Llama's shape: every layer full attention with rope 0, `Scale` norms, head_dim^-0.5,
    /// no soft-capping, no embedding scale. Families change what differs.
    pub(crate) fn spec(&self, rope: super::rope::RopeSpec) -> DecoderSpec {
        let b = self.base;
        DecoderSpec {
            hidden: b.hidden_size,
            heads: b.num_attention_heads,
            kv_heads: self.kv_heads,
            head_dim: self.head_dim,
            intermediate: b.intermediate_size,
            vocab: b.vocab_size,
            eps: self.eps,
            norm: NormKind::Scale,
            act: self.act,
            embed_scale: None,
            attn_scale: (self.head_dim as f64).powf(-0.5),
            attn_softcap: None,
            final_softcap: None,
            layers: vec![
                LayerKind {
                    window: None,
                    rope: 0
                };
                b.num_hidden_layers
            ],
            ropes: vec![rope],
            rope_style: RopeStyle::Half,
            max_positions: self.max_positions,
        }
    }

    /// Layers by `layer_types` (`full_attention` / `sliding_attention`), each sliding one with
    /// `window` and rope `sliding_rope`, the others rope `full_rope`.
    pub(crate) fn layer_kinds(
        &self,
        layer_types: &[String],
        window: Option<usize>,
        full_rope: usize,
        sliding_rope: usize,
    ) -> Result<Vec<LayerKind>> {
        let n = self.base.num_hidden_layers;
        if layer_types.len() != n {
            return Err(self.unsupported(
                format!(
                    "layer_types has {} entries for {n} layers",
                    layer_types.len()
                ),
                "layer_types must name one attention type per layer",
            ));
        }
        layer_types
            .iter()
            .map(|kind| match kind.as_str() {
                "full_attention" => Ok(LayerKind {
                    window: None,
                    rope: full_rope,
                }),
                "sliding_attention" => match window {
                    Some(w) if w > 0 => Ok(LayerKind {
                        window: Some(w),
                        rope: sliding_rope,
                    }),
                    _ => Err(self.unsupported(
                        "layer_types has sliding_attention layers but sliding_window is not set".into(),
                        "set sliding_window (and use_sliding_window where the family has it) in config.json",
                    )),
                },
                other => Err(self.unsupported(
                    format!("layer_types entry {other} is not implemented"),
                    "supported layer types are full_attention and sliding_attention",
                )),
            })
            .collect()
    }

    /// Loads the weights under their transformers names and builds the model.
    pub(crate) fn load(&self, spec: DecoderSpec, layout: Layout) -> Result<Loaded> {
        let weights = hf_weights(self.cx, &spec, layout, self.tie)?;
        Ok(Loaded::CausalLm(Box::new(Decoder::new(spec, weights)?)))
    }
}

fn proj(vb: &VarBuilder, name: &str, out: usize, inp: usize, bias: bool) -> candle::Result<Proj> {
    let vb = vb.pp(name);
    let weight = vb.get((out, inp), "weight")?;
    let bias = if bias {
        Some(vb.get(out, "bias")?)
    } else {
        None
    };
    Ok(Proj::dense(weight, bias))
}

/// Concatenates dense projections along their outputs, so one matmul computes them all.
fn fused(vb: &VarBuilder, names: &[(&str, usize)], inp: usize, bias: bool) -> candle::Result<Proj> {
    let mut weights = Vec::with_capacity(names.len());
    let mut biases = Vec::with_capacity(names.len());
    for &(name, out) in names {
        let vb = vb.pp(name);
        weights.push(vb.get((out, inp), "weight")?);
        if bias {
            biases.push(vb.get(out, "bias")?);
        }
    }
    let weight = Tensor::cat(&weights, 0)?; // (sum out, in)
    let bias = if bias {
        Some(Tensor::cat(&biases, 0)?)
    } else {
        None
    };
    Ok(Proj::dense(weight, bias))
}

/// The tensors of a transformers checkpoint (`model.` prefix, else at the root).
fn hf_weights(
    cx: &LoadContext<'_>,
    spec: &DecoderSpec,
    layout: Layout,
    tie: bool,
) -> candle::Result<DecoderWeights> {
    let base = cx.base("model", "embed_tokens.weight");
    let (h, d) = (spec.hidden, spec.head_dim);
    let (q_out, kv_out) = (spec.heads * d, spec.kv_heads * d);
    let i = spec.intermediate;
    let embed = base.get((spec.vocab, h), "embed_tokens.weight")?;
    let layers = (0..spec.layers.len())
        .map(|n| {
            let vb = base.pp(format!("layers.{n}"));
            let attn = vb.pp("self_attn");
            let mlp = vb.pp("mlp");
            let qkv = if layout.fused_qkv {
                Qkv::Fused(proj(
                    &attn,
                    "qkv_proj",
                    q_out + 2 * kv_out,
                    h,
                    layout.qkv_bias,
                )?)
            } else {
                Qkv::Fused(fused(
                    &attn,
                    &[("q_proj", q_out), ("k_proj", kv_out), ("v_proj", kv_out)],
                    h,
                    layout.qkv_bias,
                )?)
            };
            let gate_up = if layout.fused_gate_up {
                GateUp::Fused(proj(&mlp, "gate_up_proj", 2 * i, h, layout.mlp_bias)?)
            } else {
                GateUp::Fused(fused(
                    &mlp,
                    &[("gate_proj", i), ("up_proj", i)],
                    h,
                    layout.mlp_bias,
                )?)
            };
            let norm = |name: &str, dim: usize| vb.pp(name).get(dim, "weight");
            let (attn_out_norm, mlp_norm, mlp_out_norm) = if layout.sandwich {
                (
                    Some(norm("post_attention_layernorm", h)?),
                    norm("pre_feedforward_layernorm", h)?,
                    Some(norm("post_feedforward_layernorm", h)?),
                )
            } else {
                (None, norm("post_attention_layernorm", h)?, None)
            };
            let (q_norm, k_norm) = if layout.qk_norm {
                (
                    Some(attn.pp("q_norm").get(d, "weight")?),
                    Some(attn.pp("k_norm").get(d, "weight")?),
                )
            } else {
                (None, None)
            };
            Ok(LayerWeights {
                qkv,
                o: proj(&attn, "o_proj", h, q_out, layout.o_bias)?,
                gate_up,
                down: proj(&mlp, "down_proj", h, i, layout.mlp_bias)?,
                attn_norm: norm("input_layernorm", h)?,
                attn_out_norm,
                mlp_norm,
                mlp_out_norm,
                q_norm,
                k_norm,
            })
        })
        .collect::<candle::Result<Vec<_>>>()?;
    let norm = base.pp("norm").get(h, "weight")?;
    // transformers ties whenever tie_word_embeddings is set, whether or not the checkpoint
    // also holds an lm_head.weight.
    let lm_head = if tie {
        Proj::dense(embed.clone(), None)
    } else {
        Proj::dense(cx.vb.get((spec.vocab, h), "lm_head.weight")?, None)
    };
    Ok(DecoderWeights {
        embed,
        layers,
        norm,
        lm_head,
    })
}

/// A fixture's spec and weights, for tests that rebuild the core from changed weights.
#[cfg(test)]
pub(crate) fn fixture_parts(
    dir: &std::path::Path,
    defaults: Defaults,
    layout: Layout,
) -> (DecoderSpec, DecoderWeights) {
    let probe = crate::ProbeConfig::read(&dir.join("config.json")).unwrap();
    let files =
        crate::weights::discover(dir, &|name| Ok(Some(dir.join(name)).filter(|p| p.exists())))
            .unwrap();
    let weights = std::sync::Arc::new(crate::weights::Weights::open(&files).unwrap());
    let cx = LoadContext {
        config: &probe,
        vb: weights.var_builder(candle::DType::F32, &candle::Device::Cpu),
        num_labels: None,
    };
    let base: BaseConfig = cx.parse("test").unwrap();
    let family = Family::new(&cx, "test", &base, defaults).unwrap();
    let spec = family.spec(family.flat_rope(&family.rope_context()).unwrap());
    let weights = hf_weights(&cx, &spec, layout, family.tie).unwrap();
    (spec, weights)
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::fixture_dir;
    use crate::{load, Error, LoadOptions, ModelSource};
    use candle::Device;
    use serde_json::Value;

    /// A writable copy of tests/fixtures/llm/<name> with config.json changed by `edit`.
    fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(fixture_dir(name)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
        let config = dir.path().join("config.json");
        let mut json: Value =
            serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        edit(&mut json);
        std::fs::write(&config, json.to_string()).unwrap();
        dir
    }

    fn load_err(dir: &tempfile::TempDir) -> Error {
        let source = ModelSource::Local(dir.path().to_owned());
        load(&source, &Device::Cpu, &LoadOptions::default()).unwrap_err()
    }

    type Edit = dyn FnOnce(&mut Value);

    /// The message names every one of `names` and carries a hint line.
    fn assert_names(err: &Error, names: &[&str]) {
        let msg = err.to_string();
        for name in names {
            assert!(msg.contains(name), "message should name {name}: {msg}");
        }
        assert!(
            msg.contains("\nhint: "),
            "message should carry a hint: {msg}"
        );
    }

    #[test]
    fn unknown_rope_type_is_refused() {
        let dir = edited("llama", |c| {
            c["rope_parameters"] =
                serde_json::json!({"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4});
        });
        let err = load_err(&dir);
        assert!(matches!(err, Error::UnsupportedConfig { .. }), "{err}");
        assert_names(
            &err,
            &[
                "config.json",
                "rope_parameters.rope_type",
                "dynamic",
                "llama3",
            ],
        );
        // The older style names its own field.
        let dir = edited("llama3_legacy", |c| {
            c["rope_scaling"]["rope_type"] = "yarn".into()
        });
        assert_names(&load_err(&dir), &["rope_scaling.rope_type is yarn"]);
    }

    #[test]
    fn missing_required_fields_are_named() {
        for field in ["hidden_size", "num_attention_heads", "vocab_size"] {
            let dir = edited("llama", |c| {
                c.as_object_mut().unwrap().remove(field);
            });
            let err = load_err(&dir);
            assert!(matches!(err, Error::ArchConfig { .. }), "{err}");
            assert_names(&err, &["config.json", field]);
        }
        let dir = edited("llama3_legacy", |c| {
            c["rope_scaling"]
                .as_object_mut()
                .unwrap()
                .remove("low_freq_factor");
        });
        assert_names(
            &load_err(&dir),
            &["rope_scaling.low_freq_factor is missing"],
        );
    }

    #[test]
    fn tokenizer_larger_than_the_lm_head_is_refused() {
        // The tokenizer has 120 tokens; a head of 100 rows could not score them all.
        let dir = edited("llama", |c| c["vocab_size"] = 100.into());
        let err = load_err(&dir);
        assert!(matches!(err, Error::VocabMismatch { .. }), "{err}");
        assert_names(&err, &["tokenizer.json", "120", "100"]);
        // A config that promises more rows than the weights hold.
        let dir = edited("llama", |c| c["vocab_size"] = 130.into());
        let err = load_err(&dir);
        assert!(matches!(err, Error::WeightsMismatch { .. }), "{err}");
        assert_names(&err, &["embed_tokens", "[130, 32]", "[120, 32]"]);
    }

    #[test]
    fn an_untied_config_needs_its_lm_head() {
        // llama3_legacy is tied, so its checkpoint holds no lm_head.weight.
        let dir = edited("llama3_legacy", |c| c["tie_word_embeddings"] = false.into());
        let err = load_err(&dir);
        assert!(matches!(err, Error::WeightsMismatch { .. }), "{err}");
        assert_names(&err, &["lm_head.weight"]);
    }

    #[test]
    fn impossible_shapes_and_unknown_settings_are_refused() {
        let cases: Vec<(&str, Box<Edit>, &str)> = vec![
            (
                "llama",
                Box::new(|c| c["num_key_value_heads"] = 3.into()),
                "num_attention_heads 4 is not a multiple of num_key_value_heads 3",
            ),
            (
                "llama",
                Box::new(|c| c["hidden_act"] = "xielu".into()),
                "hidden_act xielu",
            ),
            (
                "qwen2",
                Box::new(|c| {
                    c["use_sliding_window"] = false.into();
                    c["layer_types"] = serde_json::json!(["full_attention", "sliding_attention"]);
                }),
                "sliding_window is not set",
            ),
            (
                "qwen2",
                Box::new(|c| c["layer_types"] = serde_json::json!(["full_attention"])),
                "layer_types has 1 entries for 2 layers",
            ),
            (
                "qwen2",
                Box::new(|c| {
                    c["layer_types"] = serde_json::json!(["full_attention", "chunked_attention"])
                }),
                "chunked_attention",
            ),
            (
                "gemma3_text",
                Box::new(|c| {
                    c["rope_parameters"] =
                        serde_json::json!({"rope_type": "default", "rope_theta": 1e4})
                }),
                "not keyed by layer type",
            ),
            (
                "gemma2",
                Box::new(|c| c["final_logit_softcapping"] = (-1.0).into()),
                "final_logit_softcapping is -1",
            ),
            (
                "gemma2",
                Box::new(|c| c["use_bidirectional_attention"] = true.into()),
                "use_bidirectional_attention",
            ),
            (
                "llama",
                Box::new(|c| c["partial_rotary_factor"] = 0.5.into()),
                "partial_rotary_factor is 0.5",
            ),
            (
                "phi3",
                Box::new(|c| c["rope_scaling"]["long_factor"] = serde_json::json!([1.0])),
                "rope_scaling.long_factor has 1 entries",
            ),
        ];
        for (name, edit, expected) in cases {
            let err = load_err(&edited(name, edit));
            assert!(matches!(err, Error::UnsupportedConfig { .. }), "{err}");
            assert_names(&err, &["config.json", expected]);
        }
    }
}
