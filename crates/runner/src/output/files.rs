//! Writing a command's outputs all or none, without ever destroying what the paths point at.
//!
//! Every output is first written in full ([`Outputs::stage`]): a regular file (or a new path)
//! into a temporary file beside it, anything else into memory. Only when every output is ready
//! does [`Outputs::commit`] rename the temporary files over their paths and stream the rest, so
//! a failure while rendering the third output leaves the first two untouched.
//!
//! - A path naming a regular file, or nothing yet, is replaced atomically (flushed, synced,
//!   renamed).
//! - A symlink is followed: its target is replaced (when a regular file) or streamed into, and
//!   the link itself stays a link.
//! - A FIFO, a character device (`/dev/null`, `/dev/full`, a terminal) or a socket is streamed
//!   into: renaming a file over it would replace the device by a regular file.
//! - `-` is standard output; at most one output of a command may go there.
//! - An output that is one of the command's own input files is refused before anything runs.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where one output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (`-` on the command line).
    Stdout,
    /// A path.
    File(PathBuf),
}

impl Target {
    /// `-` is standard output, anything else a path.
    pub fn parse(path: &Path) -> Self {
        if path.as_os_str() == "-" {
            Self::Stdout
        } else {
            Self::File(path.to_owned())
        }
    }

    /// Whether this is standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Self::Stdout)
    }
}

/// An output rendered and waiting for [`Outputs::commit`].
enum Staged {
    /// A temporary file to rename over `path` (the resolved target of any symlink).
    Rename {
        tmp: tempfile::NamedTempFile,
        path: PathBuf,
        shown: PathBuf,
    },
    /// Bytes to stream into a special file (or through a dangling symlink).
    Stream { bytes: Vec<u8>, path: PathBuf },
    /// Bytes for standard output.
    Stdout { bytes: Vec<u8> },
}

/// The outputs of one command: staged one by one, then committed together.
#[derive(Default)]
pub struct Outputs {
    staged: Vec<Staged>,
}

/// Refuses a set of targets that cannot all be honoured: two on standard output, one that is a
/// directory, or one that is also an input of the command (`inputs`: files and folders it
/// reads). Called before any work starts.
pub fn check_targets(targets: &[(&str, Target)], inputs: &[PathBuf]) -> Result<()> {
    let stdout: Vec<&str> = targets
        .iter()
        .filter(|(_, t)| t.is_stdout())
        .map(|(flag, _)| *flag)
        .collect();
    if stdout.len() > 1 {
        return Err(Error::StdoutTwice {
            flags: stdout.iter().map(|f| (*f).to_owned()).collect(),
        });
    }
    for (flag, target) in targets {
        let Target::File(path) = target else { continue };
        if path.is_dir() {
            return Err(Error::OutputIsDirectory {
                flag: (*flag).to_owned(),
                path: path.clone(),
            });
        }
        for input in inputs {
            if is_inside(path, input) {
                return Err(Error::OutputIsInput {
                    flag: (*flag).to_owned(),
                    path: path.clone(),
                    input: input.clone(),
                });
            }
        }
    }
    let files: Vec<(&str, &PathBuf)> = targets
        .iter()
        .filter_map(|(flag, t)| match t {
            Target::File(p) => Some((*flag, p)),
            Target::Stdout => None,
        })
        .collect();
    for (i, (flag, a)) in files.iter().enumerate() {
        if let Some((other, _)) = files[i + 1..].iter().find(|(_, b)| same_place(a, b)) {
            return Err(Error::OutputTwice {
                path: (*a).clone(),
                flags: vec![(*flag).to_owned(), (*other).to_owned()],
            });
        }
    }
    Ok(())
}

/// Whether `output` is the file `input`, or one of the files a checkpoint folder `input` is read
/// from (its config, weights, tokenizer and training state; other files there, such as a
/// report written next to the checkpoint, are fine).
fn is_inside(output: &Path, input: &Path) -> bool {
    if same_place(output, input) {
        return true;
    }
    if !input.is_dir() {
        return false;
    }
    let read_by_models = output.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        n.ends_with(".safetensors")
            || n.ends_with(".gguf")
            || n.ends_with(".index.json")
            || n.starts_with("tokenizer")
            || n.starts_with("vocab.")
            || matches!(
                n.as_ref(),
                "config.json" | "merges.txt" | "trainer_state.json" | "generation_config.json"
            )
    });
    match (canonical_parent(output), std::fs::canonicalize(input)) {
        (Some(out), Ok(dir)) => read_by_models && out.parent() == Some(dir.as_path()),
        _ => false,
    }
}

/// The canonical form of `path`, resolving its parent when the file does not exist yet.
fn canonical_parent(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
}

/// Whether two paths name the same file (the same inode where it exists).
fn same_place(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (canonical_parent(a), canonical_parent(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// How a path is written.
enum Kind {
    /// Replace `0` atomically (a regular file or a new path; symlinks resolved).
    Rename(PathBuf),
    /// Stream into the path (special files, dangling symlinks).
    Stream,
}

fn kind(path: &Path) -> Result<Kind> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Kind::Rename(path.to_owned()))
        }
        Err(source) => {
            return Err(Error::Write {
                path: path.to_owned(),
                source,
            })
        }
    };
    if meta.file_type().is_symlink() {
        return Ok(match std::fs::canonicalize(path) {
            Ok(target) if target.is_file() => Kind::Rename(target),
            Ok(target) if target.is_dir() => {
                return Err(Error::OutputIsDirectory {
                    flag: String::new(),
                    path: path.to_owned(),
                })
            }
            _ => Kind::Stream,
        });
    }
    if meta.is_dir() {
        return Err(Error::OutputIsDirectory {
            flag: String::new(),
            path: path.to_owned(),
        });
    }
    Ok(if meta.is_file() {
        Kind::Rename(path.to_owned())
    } else {
        Kind::Stream
    })
}

impl Outputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Renders one output with `write`. Nothing visible changes until [`commit`](Self::commit).
    pub fn stage(
        &mut self,
        target: &Target,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let in_memory = |write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>| {
            let mut bytes = Vec::new();
            write(&mut bytes).map(|()| bytes)
        };
        let mut write = Some(write);
        let mut once = |w: &mut dyn Write| match write.take() {
            Some(f) => f(w),
            None => Ok(()),
        };
        let staged = match target {
            Target::Stdout => Staged::Stdout {
                bytes: in_memory(&mut once).map_err(|source| Error::Stdout { source })?,
            },
            Target::File(path) => match kind(path)? {
                Kind::Stream => Staged::Stream {
                    bytes: in_memory(&mut once).map_err(|source| Error::Write {
                        path: path.clone(),
                        source,
                    })?,
                    path: path.clone(),
                },
                Kind::Rename(resolved) => Staged::Rename {
                    tmp: temp_file(&resolved, path, &mut once)?,
                    path: resolved,
                    shown: path.clone(),
                },
            },
        };
        self.staged.push(staged);
        Ok(())
    }

    /// Makes every staged output visible: renames first (each atomic), then streams, then
    /// standard output. Temporary files of outputs not yet committed are removed on failure.
    pub fn commit(self) -> Result<()> {
        let mut rest = Vec::new();
        for staged in self.staged {
            match staged {
                Staged::Rename { tmp, path, shown } => {
                    tmp.persist(&path).map_err(|e| Error::Write {
                        path: shown,
                        source: e.error,
                    })?;
                }
                other => rest.push(other),
            }
        }
        for staged in rest {
            match staged {
                Staged::Stream { bytes, path } => {
                    let write = || -> std::io::Result<()> {
                        let mut file = std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(true)
                            .open(&path)?;
                        file.write_all(&bytes)?;
                        file.flush()
                    };
                    write().map_err(|source| Error::Write { path, source })?;
                }
                Staged::Stdout { bytes } => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&bytes)
                        .and_then(|()| out.flush())
                        .map_err(|source| Error::Stdout { source })?;
                }
                Staged::Rename { .. } => unreachable!("renamed above"),
            }
        }
        Ok(())
    }
}

/// Writes a file atomically: stages it alone and commits it.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let mut outputs = Outputs::new();
    outputs.stage(&Target::File(path.to_owned()), write)?;
    outputs.commit()
}

/// A temporary file beside `resolved`, filled by `write`, flushed and synced. Errors name
/// `shown`, the path the user gave.
fn temp_file(
    resolved: &Path,
    shown: &Path,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<tempfile::NamedTempFile> {
    let write_err = |source| Error::Write {
        path: shown.to_path_buf(),
        source,
    };
    let dir = match resolved.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = resolved
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // NOTE: tempfile creates files readable by the owner only; ask for what `File::create`
    // gives (0o666 less the umask), since reports and logits are meant to be shared.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // tempfile's error names its own temporary path; the user only needs to know why `path`
    // could not be written, so keep the OS error alone where there is one.
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| write_err(without_temp_path(e)))?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out).map_err(write_err)?;
        out.flush().map_err(write_err)?;
    }
    tmp.as_file().sync_all().map_err(write_err)?;
    Ok(tmp)
}

/// tempfile's error without the ` at path "<temporary file>"` it appends to the OS error.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.split_once(" at path \"") {
        Some((reason, _)) => std::io::Error::new(e.kind(), reason.to_owned()),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    fn names(dir: &Path) -> TestResult<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        Ok(names)
    }

    #[test]
    fn write_atomic_replaces_or_leaves_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.json");
        write_atomic(&path, |w| w.write_all(b"first"))?;
        write_atomic(&path, |w| w.write_all(b"second"))?;
        assert_eq!(std::fs::read_to_string(&path)?, "second");

        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("renderer failed"))
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cannot write") && err.contains("out.json"),
            "{err}"
        );
        assert!(err.contains("renderer failed"), "{err}");
        assert_eq!(std::fs::read_to_string(&path)?, "second");
        assert_eq!(names(dir.path())?, ["out.json"]);

        let fresh = dir.path().join("fresh.json");
        assert!(write_atomic(&fresh, |_| Err(std::io::Error::other("no"))).is_err());
        assert!(!fresh.exists());

        let err = write_atomic(&dir.path().join("no/such/dir/x.json"), |w| {
            w.write_all(b"x")
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no/such/dir/x.json") && err.contains("hint: "),
            "{err}"
        );
        // The message names the user's file, not the temporary one beside it.
        assert!(
            !err.contains(".x.json.") && !err.contains("at path"),
            "{err}"
        );
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_gives_the_permissions_of_file_create() -> TestResult {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let reference = dir.path().join("reference");
        std::fs::File::create(&reference)?;
        let path = dir.path().join("atomic");
        write_atomic(&path, |w| w.write_all(b"x"))?;
        let mode =
            |p: &Path| -> std::io::Result<u32> { Ok(std::fs::metadata(p)?.permissions().mode()) };
        assert_eq!(mode(&path)?, mode(&reference)?);
        Ok(())
    }

    #[test]
    fn a_failed_output_leaves_every_other_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (a, b, c) = (
            dir.path().join("a.json"),
            dir.path().join("b.md"),
            dir.path().join("c.html"),
        );
        std::fs::write(&a, "old a")?;
        std::fs::write(&b, "old b")?;
        let mut outputs = Outputs::new();
        outputs.stage(&Target::File(a.clone()), |w| w.write_all(b"new a"))?;
        outputs.stage(&Target::File(b.clone()), |w| w.write_all(b"new b"))?;
        let err = outputs
            .stage(&Target::File(c.clone()), |_| {
                Err(std::io::Error::other("disk full"))
            })
            .unwrap_err();
        assert!(err.to_string().contains("c.html"), "{err}");
        drop(outputs);
        assert_eq!(std::fs::read_to_string(&a)?, "old a");
        assert_eq!(std::fs::read_to_string(&b)?, "old b");
        assert_eq!(names(dir.path())?, ["a.json", "b.md"]);
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn special_files_and_symlinks_are_written_through_not_replaced() -> TestResult {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir()?;
        // A character device stays a device.
        write_atomic(Path::new("/dev/null"), |w| w.write_all(b"x"))?;
        assert!(std::fs::metadata("/dev/null")?.file_type().is_char_device());
        // /dev/full: the write error names the file and carries a hint.
        if Path::new("/dev/full").exists() {
            let err = write_atomic(Path::new("/dev/full"), |w| w.write_all(&[0; 64]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("/dev/full") && err.contains("hint: "), "{err}");
            assert!(std::fs::metadata("/dev/full")?.file_type().is_char_device());
        }
        // A symlink to a regular file: the target is replaced, the link stays a link.
        let target = dir.path().join("real.json");
        std::fs::write(&target, "old")?;
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link)?;
        write_atomic(&link, |w| w.write_all(b"new"))?;
        assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target)?, "new");
        Ok(())
    }

    #[test]
    fn targets_that_cannot_all_be_honoured_are_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let input = dir.path().join("data.jsonl");
        std::fs::write(&input, "{}")?;
        let out = dir.path().join("out.json");
        let stdout_twice = check_targets(
            &[("--json", Target::Stdout), ("--html", Target::Stdout)],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(stdout_twice.contains("--json") && stdout_twice.contains("--html"));
        assert!(stdout_twice.contains("hint: "), "{stdout_twice}");
        let is_input = check_targets(
            &[("--json", Target::File(input.clone()))],
            std::slice::from_ref(&input),
        )
        .unwrap_err()
        .to_string();
        assert!(is_input.contains("data.jsonl") && is_input.contains("input"));
        let in_model = check_targets(
            &[("--json", Target::File(dir.path().join("model.safetensors")))],
            &[dir.path().to_owned()],
        );
        assert!(in_model.is_err());
        let twice = check_targets(
            &[
                ("--json", Target::File(out.clone())),
                ("--html", Target::File(out.clone())),
            ],
            &[],
        );
        assert!(twice.is_err());
        let dir_target = check_targets(&[("--json", Target::File(dir.path().to_owned()))], &[]);
        assert!(dir_target.is_err());
        check_targets(
            &[("--json", Target::File(out)), ("--html", Target::Stdout)],
            &[input],
        )?;
        Ok(())
    }
}
