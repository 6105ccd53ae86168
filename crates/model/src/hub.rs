//! The hub: the huggingface_hub cache layout first, then the network unless offline. The only
//! file that imports `hf_hub` (0.5, sync API); the runner also uses it for hub datasets.
//!
//! NOTE: hf-hub 0.5 does not honour `HF_HUB_OFFLINE` nor `HF_HUB_CACHE`, has no connect timeout,
//! and only resolves `refs/<branch>`; this module does those itself so that Python's
//! huggingface_hub and this crate share one cache and an unreachable hub fails fast.
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use hf_hub::api::sync::{ApiBuilder, ApiRepo};
use hf_hub::{Repo, RepoType};

use crate::{Error, Result};

const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// Per-address TCP connect timeout of the reachability probe.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Upper bound on the whole probe, name resolution included.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach the hub.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Never touch the network; also forced on by `HF_HUB_OFFLINE=1|true|yes`.
    pub offline: bool,
    /// The hub cache folder. `None`: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub` (the layout Python's huggingface_hub uses).
    pub cache_dir: Option<PathBuf>,
    /// Show hf-hub's download bars.
    pub progress: bool,
}

impl HubOptions {
    /// `offline`, or `HF_HUB_OFFLINE` set to 1/true/yes.
    pub fn is_offline(&self) -> bool {
        self.offline || env_flag("HF_HUB_OFFLINE")
    }

    /// The cache folder in effect.
    pub fn cache_root(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        if let Some(dir) = non_empty_env("HF_HUB_CACHE") {
            return PathBuf::from(dir);
        }
        if let Some(home) = non_empty_env("HF_HOME") {
            return PathBuf::from(home).join("hub");
        }
        let home = non_empty_env("HOME")
            .or_else(|| non_empty_env("USERPROFILE"))
            .unwrap_or_else(|| ".".to_owned());
        PathBuf::from(home)
            .join(".cache")
            .join("huggingface")
            .join("hub")
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_flag(name: &str) -> bool {
    non_empty_env(name).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// What kind of repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// `models--org--name` in the cache.
    Model,
    /// `datasets--org--name` in the cache.
    Dataset,
}

impl RepoKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
        }
    }

    fn repo_type(self) -> RepoType {
        match self {
            Self::Model => RepoType::Model,
            Self::Dataset => RepoType::Dataset,
        }
    }
}

/// An opened hub repo: a cached snapshot, a network client, or both.
pub struct HubRepo {
    repo_id: String,
    revision: String,
    explicit_revision: bool,
    kind: RepoKind,
    cache: PathBuf,
    endpoint: String,
    offline: bool,
    progress: bool,
    snapshot: Option<Snapshot>,
    remote: Mutex<Option<Arc<Remote>>>,
}

impl std::fmt::Debug for HubRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubRepo")
            .field("repo_id", &self.repo_id)
            .field("revision", &self.revision)
            .field("kind", &self.kind)
            .field("snapshot", &self.snapshot.as_ref().map(|s| &s.dir))
            .field("offline", &self.offline)
            .finish()
    }
}

#[derive(Debug, Clone)]
struct Snapshot {
    sha: String,
    dir: PathBuf,
}

struct Remote {
    api: ApiRepo,
    sha: String,
    files: Vec<String>,
}

/// Opens `repo_id` at `revision` (default branch when `None`): the cached snapshot when there is
/// one, else the hub unless offline.
#[tracing::instrument(skip_all, fields(repo_id = repo_id, revision = ?revision))]
pub fn open(
    repo_id: &str,
    revision: Option<&str>,
    kind: RepoKind,
    opts: &HubOptions,
) -> Result<HubRepo> {
    let endpoint = non_empty_env("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    open_at(&endpoint, repo_id, revision, kind, opts)
}

/// [`open`] against an explicit endpoint (tests point it at a closed port).
pub(crate) fn open_at(
    endpoint: &str,
    repo_id: &str,
    revision: Option<&str>,
    kind: RepoKind,
    opts: &HubOptions,
) -> Result<HubRepo> {
    let cache = opts.cache_root();
    let rev = revision.unwrap_or("main");
    let repo_dir = cache.join(format!("{}--{}", kind.prefix(), repo_id.replace('/', "--")));
    let snapshot = find_snapshot(&repo_dir, rev);
    let repo = HubRepo {
        repo_id: repo_id.to_owned(),
        revision: rev.to_owned(),
        explicit_revision: revision.is_some(),
        kind,
        cache,
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        offline: opts.is_offline(),
        progress: opts.progress,
        snapshot,
        remote: Mutex::new(None),
    };
    match &repo.snapshot {
        Some(s) => tracing::debug!(snapshot = %s.dir.display(), "using the hub cache"),
        None if repo.offline => return Err(repo.not_cached(None)),
        // Nothing cached: reach the hub now so that a wrong id or a dead network shows early.
        None => {
            repo.remote()?;
        }
    }
    Ok(repo)
}

/// `snapshots/<sha>` for a commit sha, or through `refs/<branch or tag>`.
fn find_snapshot(repo_dir: &Path, revision: &str) -> Option<Snapshot> {
    let at = |sha: &str| {
        let dir = repo_dir.join("snapshots").join(sha);
        dir.is_dir().then(|| Snapshot {
            sha: sha.to_owned(),
            dir,
        })
    };
    if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
        if let Some(s) = at(revision) {
            return Some(s);
        }
    }
    // NOTE: both the revision and the sha a ref file holds come from outside (the command line,
    // the cache); neither may lead out of the repo's folder.
    let plain = |p: &str| {
        !p.is_empty()
            && Path::new(p)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    if !plain(revision) {
        return None;
    }
    let sha = std::fs::read_to_string(repo_dir.join("refs").join(revision)).ok()?;
    let sha = sha.trim();
    if !(sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())) {
        tracing::warn!(
            "{}: the ref does not hold a commit sha; ignoring it",
            repo_dir.join("refs").join(revision).display()
        );
        return None;
    }
    at(sha)
}

impl HubRepo {
    /// The cached path of `file`, downloading it if allowed.
    #[tracing::instrument(skip_all, fields(file = file))]
    pub fn get(&self, file: &str) -> Result<PathBuf> {
        if let Some(path) = self.cached(file) {
            return Ok(path);
        }
        if self.offline {
            return Err(self.not_cached(Some(file)));
        }
        let remote = self.remote()?;
        remote.api.get(file).map_err(|e| self.hub_error(file, e))
    }

    /// Like [`HubRepo::get`], but `Ok(None)` when the repo has no such file.
    pub fn find(&self, file: &str) -> Result<Option<PathBuf>> {
        if let Some(path) = self.cached(file) {
            return Ok(Some(path));
        }
        if self.offline {
            // The snapshot folder is all we know; a file absent from it is absent.
            return Ok(None);
        }
        let remote = self.remote()?;
        if !remote.files.iter().any(|f| f == file) {
            return Ok(None);
        }
        self.get(file).map(Some)
    }

    /// Repo-relative paths: from the hub when online, from the snapshot folder when offline.
    pub fn list_files(&self) -> Result<Vec<String>> {
        if self.offline {
            let snapshot = self
                .snapshot
                .as_ref()
                .ok_or_else(|| self.not_cached(None))?;
            let mut files = Vec::new();
            walk(&snapshot.dir, &snapshot.dir, &mut files)?;
            files.sort();
            return Ok(files);
        }
        Ok(self.remote()?.files.clone())
    }

    /// The resolved commit sha, when known.
    pub fn revision(&self) -> Option<String> {
        if let Some(s) = &self.snapshot {
            return Some(s.sha.clone());
        }
        let remote = self.remote.lock().ok()?;
        remote.as_ref().map(|r| r.sha.clone())
    }

    /// The repo id.
    pub fn repo_id(&self) -> &str {
        &self.repo_id
    }

    fn cached(&self, file: &str) -> Option<PathBuf> {
        let path = self.snapshot.as_ref()?.dir.join(file);
        path.exists().then_some(path)
    }

    fn remote(&self) -> Result<Arc<Remote>> {
        let mut slot = self
            .remote
            .lock()
            .map_err(|_| self.hub_error("the repo info", "a previous request panicked"))?;
        if let Some(remote) = slot.as_ref() {
            return Ok(remote.clone());
        }
        probe(&self.endpoint).map_err(|e| self.hub_error("the repo info", e))?;
        let mut builder = ApiBuilder::from_env()
            .with_endpoint(self.endpoint.clone())
            .with_cache_dir(self.cache.clone())
            .with_progress(self.progress);
        if let Some(token) = non_empty_env("HF_TOKEN") {
            builder = builder.with_token(Some(token));
        }
        let api = builder
            .build()
            .map_err(|e| self.hub_error("the repo info", e))?;
        let repo = Repo::with_revision(
            self.repo_id.clone(),
            self.kind.repo_type(),
            self.revision.clone(),
        );
        let api = api.repo(repo);
        let info = api.info().map_err(|e| self.hub_error("the repo info", e))?;
        let remote = Arc::new(Remote {
            api,
            sha: info.sha,
            files: info.siblings.into_iter().map(|s| s.rfilename).collect(),
        });
        *slot = Some(remote.clone());
        Ok(remote)
    }

    fn not_cached(&self, file: Option<&str>) -> Error {
        Error::NotCached {
            repo: self.repo_id.clone(),
            revision: self.revision.clone(),
            revision_flag: if self.explicit_revision {
                format!(" --revision {}", self.revision)
            } else {
                String::new()
            },
            cache: self.cache.clone(),
            file: file.map(str::to_owned),
        }
    }

    fn hub_error(&self, what: &str, source: impl Into<crate::error::BoxError>) -> Error {
        Error::Hub {
            repo: self.repo_id.clone(),
            revision: self.revision.clone(),
            what: what.to_owned(),
            cache: self.cache.clone(),
            source: source.into(),
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let path = entry.map_err(Error::io(dir))?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// A TCP connect to the endpoint with a short timeout, on a helper thread so that a hanging name
/// lookup cannot hold the caller either.
fn probe(endpoint: &str) -> io::Result<()> {
    let authority = authority(endpoint).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot parse the endpoint {endpoint}"),
        )
    })?;
    let (tx, rx) = mpsc::channel();
    let target = authority.clone();
    std::thread::spawn(move || {
        let result = (|| {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
            for addr in target.to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e,
                }
            }
            Err(last)
        })();
        let _ = tx.send(result);
    });
    match rx.recv_timeout(PROBE_TIMEOUT) {
        Ok(result) => result.map_err(|e| io::Error::new(e.kind(), format!("{authority}: {e}"))),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{authority} did not answer within {PROBE_TIMEOUT:?}"),
        )),
    }
}

/// `host:port` of an `http(s)://host[:port][/path]` endpoint.
fn authority(endpoint: &str) -> Option<String> {
    let (default_port, rest) = if let Some(rest) = endpoint.strip_prefix("https://") {
        (443, rest)
    } else if let Some(rest) = endpoint.strip_prefix("http://") {
        (80, rest)
    } else {
        return None;
    };
    let host_port = rest.split('/').next().filter(|h| !h.is_empty())?;
    let has_port = match host_port.rfind(']') {
        Some(end) => host_port[end..].contains(':'),
        None => host_port.contains(':'),
    };
    Some(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Instant;

    pub(crate) const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    /// A cache folder with `models--org--tiny` holding a copy of `from` at [`SHA`] on `main`.
    pub(crate) fn fake_cache(from: &Path) -> tempfile::TempDir {
        let cache = tempfile::tempdir().unwrap();
        let repo = cache.path().join("models--org--tiny");
        let snap = repo.join("snapshots").join(SHA);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs").join("main"), SHA).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, snap.join(path.file_name().unwrap())).unwrap();
        }
        cache
    }

    fn offline(cache: &Path) -> HubOptions {
        HubOptions {
            offline: true,
            cache_dir: Some(cache.to_owned()),
            progress: false,
        }
    }

    fn bert_small() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/bert_small")
    }

    #[test]
    fn cached_repo_resolves_by_branch_and_sha() {
        let cache = fake_cache(&bert_small());
        for rev in [None, Some("main"), Some(SHA)] {
            let repo = open("org/tiny", rev, RepoKind::Model, &offline(cache.path())).unwrap();
            assert_eq!(repo.revision().as_deref(), Some(SHA));
            let config = repo.get("config.json").unwrap();
            assert!(config.ends_with(format!("{SHA}/config.json")));
            assert!(repo.find("pytorch_model.bin").unwrap().is_none());
            let files = repo.list_files().unwrap();
            assert!(files.contains(&"model.safetensors".to_owned()), "{files:?}");
        }
    }

    #[test]
    fn uncached_repo_offline_is_not_cached() {
        let cache = fake_cache(&bert_small());
        let start = Instant::now();
        let err = open("org/other", None, RepoKind::Model, &offline(cache.path())).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(matches!(err, Error::NotCached { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("org/other@main"), "{msg}");
        assert!(msg.contains("huggingface-cli download org/other"), "{msg}");
        // An unknown branch of a cached repo is not cached either.
        let err = open(
            "org/tiny",
            Some("dev"),
            RepoKind::Model,
            &offline(cache.path()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--revision dev"), "{err}");
        // A dataset of the same name is a different cache folder.
        let err = open("org/tiny", None, RepoKind::Dataset, &offline(cache.path())).unwrap_err();
        assert!(matches!(err, Error::NotCached { .. }), "{err}");
    }

    #[test]
    fn missing_file_of_a_cached_repo_offline_names_the_file() {
        let cache = fake_cache(&bert_small());
        let repo = open("org/tiny", None, RepoKind::Model, &offline(cache.path())).unwrap();
        let err = repo.get("vocab.txt").unwrap_err();
        assert!(err.to_string().contains("missing file vocab.txt"), "{err}");
    }

    #[test]
    fn unreachable_endpoint_fails_fast() {
        let cache = tempfile::tempdir().unwrap();
        let opts = HubOptions {
            offline: false,
            cache_dir: Some(cache.path().to_owned()),
            progress: false,
        };
        let start = Instant::now();
        let result = open_at(
            "http://127.0.0.1:9",
            "org/absent",
            None,
            RepoKind::Model,
            &opts,
        );
        assert!(start.elapsed() < Duration::from_secs(8));
        let err = result.unwrap_err();
        if opts.is_offline() {
            // HF_HUB_OFFLINE is set in this environment.
            assert!(matches!(err, Error::NotCached { .. }), "{err}");
        } else {
            assert!(matches!(err, Error::Hub { .. }), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains("org/absent@main") && msg.contains("hint:"),
                "{msg}"
            );
        }
    }

    #[test]
    fn endpoint_authority() {
        assert_eq!(
            authority("https://huggingface.co").as_deref(),
            Some("huggingface.co:443")
        );
        assert_eq!(
            authority("http://127.0.0.1:9").as_deref(),
            Some("127.0.0.1:9")
        );
        assert_eq!(
            authority("http://[::1]/mirror").as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(authority("ftp://x"), None);
    }
}
