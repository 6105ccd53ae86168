//! Checkpoint discovery: `students/*`-style patterns expanded to checkpoint folders, and the
//! training step of each folder (`trainer_state.json`, else the folder name).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Expands `dir/*`-style patterns among `specs` into the matching checkpoint folders (those
/// holding a config.json), sorted; other specs are kept as given.
pub fn expand(specs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for spec in specs {
        if !spec.contains(['*', '?', '[']) {
            out.push(spec.clone());
            continue;
        }
        let paths = glob::glob(spec).map_err(|e| Error::Pattern {
            pattern: spec.clone(),
            reason: e.msg.to_owned(),
        })?;
        let mut found: Vec<PathBuf> = paths
            .filter_map(std::result::Result::ok)
            .filter(|p| p.join("config.json").is_file())
            .collect();
        if found.is_empty() {
            return Err(Error::NoCheckpoints {
                pattern: spec.clone(),
            });
        }
        found.sort();
        out.extend(found.into_iter().map(|p| p.display().to_string()));
    }
    Ok(out)
}

/// Where a checkpoint's step was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepSource {
    /// `global_step` of `trainer_state.json`.
    TrainerState,
    /// The last number in the folder name.
    FolderName,
}

/// The training step of a checkpoint folder, and where it came from. A `trainer_state.json`
/// that cannot be read or has no integer `global_step` is reported with a warning naming it,
/// and the folder name is used instead.
pub fn checkpoint_step(dir: &Path) -> Option<(u64, StepSource)> {
    let state = dir.join("trainer_state.json");
    match std::fs::read_to_string(&state) {
        Ok(text) => {
            let step = serde_json::from_str::<serde_json::Value>(&text)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    v.get("global_step")
                        .and_then(serde_json::Value::as_u64)
                        .ok_or_else(|| "no integer global_step".to_owned())
                });
            match step {
                Ok(step) => return Some((step, StepSource::TrainerState)),
                Err(reason) => tracing::warn!(
                    "{}: {reason}; taking the step from the folder name instead",
                    state.display()
                ),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            "cannot read {}: {e}; taking the step from the folder name instead",
            state.display()
        ),
    }
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let digits: String = name
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let step = digits.chars().rev().collect::<String>().parse().ok()?;
    Some((step, StepSource::FolderName))
}

/// Checkpoint folders from folders and patterns, with their steps, sorted by step. Two folders
/// of the same step are refused: the trend would be ambiguous.
pub fn find(specs: &[String]) -> Result<Vec<(u64, PathBuf)>> {
    let dirs = expand(specs)?;
    let mut out = Vec::with_capacity(dirs.len());
    for d in dirs {
        let path = PathBuf::from(&d);
        let (step, source) =
            checkpoint_step(&path).ok_or_else(|| Error::NoStep { path: path.clone() })?;
        tracing::debug!(path = %path.display(), step, ?source, "checkpoint");
        out.push((step, path));
    }
    out.sort();
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::DuplicateStep {
            step: w[0].0,
            first: w[0].1.clone(),
            second: w[1].1.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_to_checkpoint_folders() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b", "a", "not_a_model"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("a/config.json"), "{}").unwrap();
        std::fs::write(dir.path().join("b/config.json"), "{}").unwrap();
        let pattern = format!("{}/*", dir.path().display());
        let got = expand(&[pattern, "org/model".into()]).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].ends_with("/a") && got[1].ends_with("/b"));
        assert_eq!(got[2], "org/model");
        let none = format!("{}/zzz*", dir.path().display());
        assert!(expand(&[none]).is_err());
    }

    #[test]
    fn steps_come_from_trainer_state_or_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("checkpoint-1500");
        std::fs::create_dir(&a).unwrap();
        assert_eq!(checkpoint_step(&a), Some((1500, StepSource::FolderName)));
        std::fs::write(a.join("trainer_state.json"), r#"{"global_step": 1499}"#).unwrap();
        assert_eq!(checkpoint_step(&a), Some((1499, StepSource::TrainerState)));
        // Malformed: the name is used (with a warning).
        std::fs::write(a.join("trainer_state.json"), r#"{"global_step": "x""#).unwrap();
        assert_eq!(checkpoint_step(&a), Some((1500, StepSource::FolderName)));
        let b = dir.path().join("epoch3-final");
        std::fs::create_dir(&b).unwrap();
        assert_eq!(checkpoint_step(&b), Some((3, StepSource::FolderName)));
        let c = dir.path().join("final");
        std::fs::create_dir(&c).unwrap();
        assert_eq!(checkpoint_step(&c), None);
    }

    #[test]
    fn two_checkpoints_of_one_step_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["checkpoint-10", "run-10"] {
            let d = dir.path().join(name);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("config.json"), "{}").unwrap();
        }
        let pattern = format!("{}/*", dir.path().display());
        let err = find(&[pattern]).unwrap_err().to_string();
        assert!(err.contains("step 10") && err.contains("run-10"), "{err}");
        assert!(err.contains("hint: "), "{err}");
    }
}
