//! Weight discovery (`model.safetensors`, else the shards named by
//! `model.safetensors.index.json`; pickle checkpoints are refused) and the one memory-mapped
//! safetensors backend, which also counts the parameters the model actually loaded.
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle::safetensors::MmapedSafetensors;
use candle::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use serde::Deserialize;

use crate::{Error, Result};

const SINGLE: &str = "model.safetensors";
const INDEX: &str = "model.safetensors.index.json";
const PICKLES: &[&str] = &["pytorch_model.bin", "pytorch_model.bin.index.json"];

#[derive(Deserialize)]
struct Index {
    weight_map: HashMap<String, String>,
}

/// The safetensors files of a checkpoint. `find(name)` returns the local path of a repo file, or
/// `None` when the repo has no such file (`folder` is only used in messages).
pub(crate) fn discover(
    folder: &Path,
    find: &dyn Fn(&str) -> Result<Option<PathBuf>>,
) -> Result<Vec<PathBuf>> {
    if let Some(single) = find(SINGLE)? {
        return Ok(vec![single]);
    }
    if let Some(index_path) = find(INDEX)? {
        let raw = std::fs::read_to_string(&index_path).map_err(Error::io(&index_path))?;
        let index: Index = serde_json::from_str(&raw).map_err(Error::json(&index_path))?;
        let shards: BTreeSet<&String> = index.weight_map.values().collect();
        let mut files = Vec::with_capacity(shards.len());
        for shard in shards {
            // NOTE: a shard name is a path relative to the model folder; one that climbs out of
            // it (`../../etc/passwd`) or is absolute would read an arbitrary file.
            let plain = std::path::Path::new(shard.as_str())
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain || shard.is_empty() {
                return Err(Error::ShardOutsideFolder {
                    index: index_path.clone(),
                    shard: shard.clone(),
                });
            }
            let path = find(shard)?.ok_or_else(|| Error::MissingShard {
                index: index_path.clone(),
                shard: shard.clone(),
            })?;
            files.push(path);
        }
        if files.is_empty() {
            return Err(Error::MissingWeights {
                path: folder.to_owned(),
            });
        }
        return Ok(files);
    }
    for pickle in PICKLES {
        if find(pickle)?.is_some() {
            return Err(Error::PickleOnly {
                path: folder.to_owned(),
                file: (*pickle).to_owned(),
            });
        }
    }
    Err(Error::MissingWeights {
        path: folder.to_owned(),
    })
}

/// Memory-mapped safetensors files plus a record of which tensors were loaded.
pub(crate) struct Weights {
    files: Vec<MmapedSafetensors>,
    routing: HashMap<String, (usize, usize)>,
    loaded: Mutex<BTreeSet<String>>,
}

impl Weights {
    /// Maps every file and validates its header; a corrupt or truncated file is an error naming
    /// it.
    pub(crate) fn open(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::with_capacity(paths.len());
        let mut routing = HashMap::new();
        for (index, path) in paths.iter().enumerate() {
            // SAFETY: the map is read-only and lives as long as `Weights`. Mutating the file while
            // it is mapped is undefined behaviour; like every safetensors loader (candle, TEI,
            // transformers) we accept that checkpoints are not rewritten while a run reads them.
            #[allow(unsafe_code)]
            let st = unsafe { MmapedSafetensors::new(path) }.map_err(|source| {
                Error::CorruptWeights {
                    path: path.clone(),
                    source,
                }
            })?;
            for (name, view) in st.tensors() {
                routing.insert(name, (index, view.shape().iter().product()));
            }
            files.push(st);
        }
        Ok(Self {
            files,
            routing,
            loaded: Mutex::new(BTreeSet::new()),
        })
    }

    /// A root `VarBuilder` over these weights, converting to `dtype` on `device`.
    pub(crate) fn var_builder(
        self: &Arc<Self>,
        dtype: DType,
        device: &Device,
    ) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(Tracked(self.clone())), dtype, device.clone())
    }

    /// Element count of every tensor loaded so far.
    pub(crate) fn loaded_parameters(&self) -> usize {
        let loaded = match self.loaded.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        loaded
            .iter()
            .filter_map(|name| self.routing.get(name))
            .map(|&(_, n)| n)
            .sum()
    }

    /// Tensors in the files that the model never asked for.
    pub(crate) fn unused(&self) -> Vec<String> {
        let loaded = match self.loaded.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut unused: Vec<_> = self
            .routing
            .keys()
            .filter(|k| !loaded.contains(*k))
            .cloned()
            .collect();
        unused.sort();
        unused
    }

    fn load(&self, name: &str, device: &Device) -> candle::Result<Tensor> {
        let &(index, _) =
            self.routing
                .get(name)
                .ok_or_else(|| candle::Error::CannotFindTensor {
                    path: name.to_owned(),
                })?;
        let tensor = self.files[index].load(name, device)?;
        match self.loaded.lock() {
            Ok(mut l) => l.insert(name.to_owned()),
            Err(poisoned) => poisoned.into_inner().insert(name.to_owned()),
        };
        Ok(tensor)
    }
}

struct Tracked(Arc<Weights>);

impl SimpleBackend for Tracked {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle::Result<Tensor> {
        let tensor = self.0.load(name, dev)?.to_dtype(dtype)?;
        if tensor.shape() != &shape {
            return Err(candle::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: shape,
                got: tensor.shape().clone(),
            }
            .bt());
        }
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle::Result<Tensor> {
        self.0.load(name, dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.routing.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finder(dir: &Path) -> impl Fn(&str) -> Result<Option<PathBuf>> + '_ {
        move |name| {
            let p = dir.join(name);
            Ok(p.exists().then_some(p))
        }
    }

    fn bert_small() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/bert_small/model.safetensors")
    }

    #[test]
    fn pickle_only_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pytorch_model.bin"), b"not loaded").unwrap();
        let err = discover(dir.path(), &finder(dir.path())).unwrap_err();
        assert!(matches!(err, Error::PickleOnly { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("pytorch_model.bin") && msg.contains("safetensors"),
            "{msg}"
        );
    }

    #[test]
    fn no_weights_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let err = discover(dir.path(), &finder(dir.path())).unwrap_err();
        assert!(matches!(err, Error::MissingWeights { .. }), "{err}");
    }

    #[test]
    fn sharded_index_lists_every_shard_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(bert_small(), dir.path().join("a.safetensors")).unwrap();
        std::fs::copy(bert_small(), dir.path().join("b.safetensors")).unwrap();
        std::fs::write(
            dir.path().join(INDEX),
            r#"{"metadata": {}, "weight_map": {"x": "b.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}"#,
        )
        .unwrap();
        let files = discover(dir.path(), &finder(dir.path())).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].ends_with("a.safetensors"));
        let weights = Weights::open(&files).unwrap();
        assert!(weights.routing.contains_key("classifier.weight"));

        std::fs::write(
            dir.path().join(INDEX),
            r#"{"weight_map": {"x": "c.safetensors"}}"#,
        )
        .unwrap();
        let err = discover(dir.path(), &finder(dir.path())).unwrap_err();
        assert!(matches!(err, Error::MissingShard { .. }), "{err}");
    }

    #[test]
    fn truncated_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(bert_small()).unwrap();
        for (name, len) in [
            ("head.safetensors", 100),
            ("data.safetensors", bytes.len() - 10),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes[..len]).unwrap();
            let err = Weights::open(std::slice::from_ref(&path)).err().unwrap();
            assert!(matches!(err, Error::CorruptWeights { .. }), "{err}");
            let msg = err.to_string();
            assert!(msg.contains(name) && msg.contains("hint:"), "{msg}");
        }
    }

    #[test]
    fn counts_only_what_was_loaded() {
        let weights = Arc::new(Weights::open(&[bert_small()]).unwrap());
        let vb = weights.var_builder(DType::F32, &Device::Cpu);
        let w = vb.get((3, 32), "classifier.weight").unwrap();
        assert_eq!(w.dims(), [3, 32]);
        let _ = vb.get(3, "classifier.bias").unwrap();
        assert!(
            vb.get((4, 32), "classifier.weight").is_err(),
            "shape is checked"
        );
        assert_eq!(weights.loaded_parameters(), 3 * 32 + 3);
        assert!(weights
            .unused()
            .contains(&"bert.pooler.dense.weight".to_owned()));
    }
}
