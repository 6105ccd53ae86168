//! Where a model comes from: a local folder or a hub repo id, optionally pinned
//! `org/name@revision`. Parsing follows TEI `router/src/lib.rs` and mistral.rs
//! `looks_like_local_path`: an existing directory wins, a path-looking string that does not
//! exist is an error, anything else is a repo id.
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{Error, Result};

/// A model location as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// An existing folder with config.json, weights and tokenizer.json, or an existing
    /// `.gguf` file.
    Local(PathBuf),
    /// A hub repo, at `revision` (a branch, tag or commit sha) or the default branch.
    Hub {
        /// `org/name` or `name`.
        repo_id: String,
        /// What followed `@`, if anything.
        revision: Option<String>,
    },
}

/// File extensions that mark a string as a path rather than a repo id.
const FILE_EXTENSIONS: &[&str] = &[
    "json",
    "jsonl",
    "safetensors",
    "bin",
    "pt",
    "pth",
    "ckpt",
    "onnx",
    "gguf",
    "ggml",
    "h5",
    "msgpack",
    "txt",
    "csv",
    "parquet",
    "model",
];

impl FromStr for ModelSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let spec = s.trim();
        if spec.is_empty() {
            return Err(Error::InvalidSource {
                spec: s.to_owned(),
                reason: "it is empty",
            });
        }
        let path = expand_home(spec);
        if path.is_dir() {
            return Ok(Self::Local(path));
        }
        if path.is_file() && crate::gguf::is_gguf(&path) {
            return Ok(Self::Local(path));
        }
        if path.exists() {
            return Err(Error::NotAFolder { path });
        }
        if looks_like_path(spec) {
            return Err(Error::PathNotFound {
                path: spec.to_owned(),
            });
        }
        let (repo_id, revision) = parse_hub_id(spec)?;
        Ok(Self::Hub { repo_id, revision })
    }
}

/// Splits and checks a hub address `org/name[@revision]` (models and datasets alike): the repo
/// id as the hub allows it, and a non-empty revision.
pub fn parse_hub_id(spec: &str) -> Result<(String, Option<String>)> {
    if spec.trim().is_empty() {
        return Err(Error::InvalidSource {
            spec: spec.to_owned(),
            reason: "it is empty",
        });
    }
    let (repo_id, revision) = match spec.split_once('@') {
        Some((repo, rev)) => (repo, Some(rev)),
        None => (spec, None),
    };
    validate_repo_id(spec, repo_id)?;
    if let Some(rev) = revision {
        if rev.is_empty() || rev.contains(char::is_whitespace) || rev.contains('@') {
            return Err(Error::InvalidSource {
                spec: spec.to_owned(),
                reason: "the revision after `@` is empty or malformed",
            });
        }
    }
    Ok((repo_id.to_owned(), revision.map(str::to_owned)))
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::Hub {
                repo_id,
                revision: None,
            } => f.write_str(repo_id),
            Self::Hub {
                repo_id,
                revision: Some(rev),
            } => write!(f, "{repo_id}@{rev}"),
        }
    }
}

fn expand_home(spec: &str) -> PathBuf {
    match spec.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(rest),
            None => PathBuf::from(spec),
        },
        None => PathBuf::from(spec),
    }
}

fn looks_like_path(spec: &str) -> bool {
    if spec.starts_with(['.', '/', '~', '\\']) || spec.contains(['\\', ':']) {
        return true;
    }
    let repo = spec.split_once('@').map_or(spec, |(repo, _)| repo);
    if repo.split('/').count() > 2 {
        return true;
    }
    match repo.rsplit_once('.') {
        Some((_, ext)) => FILE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
        None => false,
    }
}

// https://huggingface.co/docs/huggingface_hub/package_reference/utilities#huggingface_hub.utils.validate_repo_id
fn validate_repo_id(spec: &str, repo_id: &str) -> Result<()> {
    let invalid = |reason| Error::InvalidSource {
        spec: spec.to_owned(),
        reason,
    };
    if repo_id.len() > 96 {
        return Err(invalid("a repo id has at most 96 characters"));
    }
    for part in repo_id.split('/') {
        if part.is_empty() {
            return Err(invalid("a repo id is `name` or `org/name`"));
        }
        let ok_chars = part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok_chars {
            return Err(invalid(
                "a repo id uses only letters, digits, `-`, `_` and `.`",
            ));
        }
        if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) || part.contains("--") {
            return Err(invalid(
                "a repo id part cannot start or end with `-` or `.`, nor contain `--`",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(repo: &str, rev: Option<&str>) -> ModelSource {
        ModelSource::Hub {
            repo_id: repo.to_owned(),
            revision: rev.map(str::to_owned),
        }
    }

    #[test]
    fn existing_directory_is_local() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().to_str().unwrap();
        assert_eq!(
            spec.parse::<ModelSource>().unwrap(),
            ModelSource::Local(dir.path().to_owned())
        );
    }

    #[test]
    fn repo_ids_parse_with_and_without_revision() {
        let cases = [
            ("bert-base-uncased", hub("bert-base-uncased", None)),
            ("org/name", hub("org/name", None)),
            ("org/name@main", hub("org/name", Some("main"))),
            ("Qwen/Qwen2.5-0.5B", hub("Qwen/Qwen2.5-0.5B", None)),
            (
                "org/name@0123456789abcdef0123456789abcdef01234567",
                hub("org/name", Some("0123456789abcdef0123456789abcdef01234567")),
            ),
            ("org/name@refs/pr/1", hub("org/name", Some("refs/pr/1"))),
        ];
        for (spec, want) in cases {
            let got: ModelSource = spec.parse().unwrap();
            assert_eq!(got, want, "{spec}");
            assert_eq!(got.to_string(), spec, "display gives back the spelling");
        }
    }

    #[test]
    fn missing_paths_are_errors_with_a_hint() {
        for spec in [
            "./nope",
            "/does/not/exist",
            "~/nope-model",
            "a/b/c",
            "model.safetensors",
            "C:\\models\\bert",
            "org/config.json",
        ] {
            let err = spec.parse::<ModelSource>().unwrap_err();
            assert!(matches!(err, Error::PathNotFound { .. }), "{spec}: {err}");
            assert!(err.to_string().contains("hint:"), "{spec}");
        }
    }

    #[test]
    fn malformed_repo_ids_are_refused() {
        for spec in [
            "",
            "org/",
            "/name",
            "org/na me",
            "org/name@",
            "org--x/name",
            "-org/x",
        ] {
            assert!(spec.parse::<ModelSource>().is_err(), "{spec}");
        }
    }
}
