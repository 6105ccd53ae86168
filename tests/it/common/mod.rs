//! Shared helpers: running the binary, fixture paths, float comparison.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `tests/fixtures`.
pub(crate) fn fixture(rel: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(rel)
}

/// The built binary, run from the repository root, with a hub cache that does not exist and
/// the hub switched off so that no test can reach the network.
pub(crate) fn cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_distill-eval"));
    c.current_dir(root())
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", root().join("target").join("no-hf-home"))
        .env_remove("HF_HUB_CACHE")
        .env("NO_COLOR", "1");
    c
}

/// The result of a run, with its streams as text.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `args` and captures everything.
pub(crate) fn run(args: &[&str]) -> Run {
    run_with(cmd(), args)
}

/// Runs `args` on a prepared command.
pub(crate) fn run_with(mut c: Command, args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = c.args(args).output().expect("the binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Asserts a clean failure: exit code 2, one `distill-eval:` message containing every needle,
/// and no panic.
pub(crate) fn assert_error(r: &Run, needles: &[&str]) {
    assert_eq!(
        r.code, 2,
        "expected exit 2\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.starts_with("distill-eval: "),
        "stderr should be one clean message:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "panic:\n{}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}:\n{}", r.stderr);
    }
}

/// `|a - b| <= abs + rel * |b|`.
pub(crate) fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * b.abs()
}

/// Path as a `&str` for argument lists.
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Copies the files of folder `from` into `to` (created).
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
    }
}

/// A bundled checkpoint folder.
pub(crate) fn model(name: &str) -> PathBuf {
    root().join("models").join(name)
}
