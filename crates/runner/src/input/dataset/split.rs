//! Choosing the parquet files of one split of a hub dataset from the repository's file list.
//!
//! The layouts recognised are the hub's conventions
//! (<https://huggingface.co/docs/hub/datasets-file-names-and-splits>) and the
//! `refs/convert/parquet` branch the hub writes for every dataset:
//!
//! | layout                                     | subset   | split   |
//! |--------------------------------------------|----------|---------|
//! | `{split}.parquet`, `{split}-*.parquet`     | —        | file    |
//! | `data/{split}-*.parquet`                   | —        | file    |
//! | `{split}/*.parquet`, `data/{split}/*.parquet` | —     | folder  |
//! | `{subset}/{split}-*.parquet` (`-of-` shards) | folder | file    |
//! | `{subset}/{split}/*.parquet`               | folder   | folder  |
//! | `{subset}/partial-{split}/*.parquet`       | folder   | folder  |
//!
//! A file's split is the start of its name up to the first `-` or `.`; when that start is a shard
//! number (`0000.parquet`), or the folder is a well-known split name and the file start is not,
//! the folder names the split instead.

use std::collections::BTreeSet;

use crate::{Error, Result};

/// The split evaluated when none is named.
pub const DEFAULT_SPLIT: &str = "test";

/// The subset name the hub gives a dataset without subsets.
const DEFAULT_SUBSET: &str = "default";

/// Split names common enough to recognise a folder as a split folder.
const KNOWN_SPLITS: &[&str] = &["train", "test", "validation", "valid", "val", "dev", "eval"];

/// One parquet file with the subset and split its path names.
struct Shard<'a> {
    path: &'a str,
    subset: Option<&'a str>,
    split: &'a str,
}

/// Picks the parquet files of `split` (in `subset`, if given) from a hub repository's file
/// list, sorted so that shards come in order.
///
/// Without a subset, files outside any subset folder win; otherwise the split must exist in
/// exactly one subset, or in one called `default`. The subset `default` also matches files
/// outside any subset folder.
pub fn select_split_files(
    files: &[String],
    subset: Option<&str>,
    split: &str,
) -> Result<Vec<String>> {
    let shards: Vec<Shard<'_>> = files.iter().filter_map(|f| classify(f)).collect();
    if shards.is_empty() {
        return Err(Error::NoParquetFiles { files: files.len() });
    }
    let in_scope: Vec<&Shard<'_>> = match subset {
        Some(wanted) => {
            let in_subset: Vec<_> = shards
                .iter()
                .filter(|s| s.subset.unwrap_or(DEFAULT_SUBSET) == wanted)
                .collect();
            if in_subset.is_empty() {
                return Err(Error::SubsetNotFound {
                    subset: wanted.to_owned(),
                    available: distinct(shards.iter().map(|s| s.subset.unwrap_or(DEFAULT_SUBSET))),
                });
            }
            in_subset
        }
        None => shards.iter().collect(),
    };
    let matching: Vec<&Shard<'_>> = in_scope
        .iter()
        .copied()
        .filter(|s| s.split == split)
        .collect();
    if matching.is_empty() {
        return Err(Error::SplitNotFound {
            split: split.to_owned(),
            subset: subset.map(str::to_owned),
            available: distinct(in_scope.iter().map(|s| s.split)),
        });
    }
    let chosen: Option<String> = if subset.is_some() || matching.iter().any(|s| s.subset.is_none())
    {
        None
    } else {
        let subsets = distinct(matching.iter().filter_map(|s| s.subset));
        match subsets.as_slice() {
            [only] => Some(only.clone()),
            _ if subsets.iter().any(|s| s == DEFAULT_SUBSET) => Some(DEFAULT_SUBSET.to_owned()),
            _ => {
                return Err(Error::AmbiguousSubset {
                    split: split.to_owned(),
                    available: subsets,
                })
            }
        }
    };
    let mut paths: Vec<String> = matching
        .iter()
        .filter(|s| subset.is_some() || s.subset == chosen.as_deref())
        .map(|s| s.path.to_owned())
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The subset and split a parquet file's path names, if it follows a known layout.
fn classify(path: &str) -> Option<Shard<'_>> {
    let stem = path.strip_suffix(".parquet")?;
    let mut parts: Vec<&str> = stem.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || p.starts_with('.')) {
        return None;
    }
    if parts.len() >= 2 && parts[0] == "data" {
        parts.remove(0);
    }
    let (file, dirs) = parts.split_last()?;
    let start = file.split(['-', '.']).next().unwrap_or(file);
    let is_shard_number = start.bytes().all(|b| b.is_ascii_digit());
    let (subset, split) = match *dirs {
        [] if is_shard_number => return None,
        [] => (None, start),
        [dir] if is_shard_number || (is_known(dir) && !is_known(start)) => (None, dir),
        [dir] => (Some(dir), start),
        [subset, "data"] if !is_shard_number => (Some(subset), start),
        [subset, dir] => (Some(subset), dir.strip_prefix("partial-").unwrap_or(dir)),
        _ => return None,
    };
    Some(Shard {
        path,
        subset,
        split,
    })
}

fn is_known(name: &str) -> bool {
    KNOWN_SPLITS.contains(&name)
}

/// Sorted distinct names, for messages.
fn distinct<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    names
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(files: &[&str]) -> Vec<String> {
        files.iter().map(|s| s.to_string()).collect()
    }

    fn select(files: &[&str], subset: Option<&str>, split: &str) -> Result<Vec<String>> {
        select_split_files(&list(files), subset, split)
    }

    #[test]
    fn data_split_shards() -> Result<()> {
        let files = [
            "README.md",
            ".gitattributes",
            "data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet",
            "data/test-00001-of-00002-5a1b.parquet",
            "data/test-00000-of-00002-9f3c.parquet",
            "data/validation-00000-of-00001.parquet",
        ];
        assert_eq!(
            select(&files, None, DEFAULT_SPLIT)?,
            [
                "data/test-00000-of-00002-9f3c.parquet",
                "data/test-00001-of-00002-5a1b.parquet"
            ]
        );
        assert_eq!(
            select(&files, None, "validation")?,
            ["data/validation-00000-of-00001.parquet"]
        );
        // A dataset without subsets is the `default` subset.
        assert_eq!(select(&files, Some("default"), "validation")?.len(), 1);
        Ok(())
    }

    #[test]
    fn subset_split_shards() -> Result<()> {
        // The glue layout: one folder per subset.
        let files = [
            "cola/test-00000-of-00001.parquet",
            "cola/train-00000-of-00001.parquet",
            "sst2/test-00000-of-00001.parquet",
            "sst2/validation-00000-of-00001.parquet",
            "mnli/validation_matched-00000-of-00001.parquet",
        ];
        assert_eq!(
            select(&files, Some("sst2"), "test")?,
            ["sst2/test-00000-of-00001.parquet"]
        );
        assert_eq!(
            select(&files, Some("mnli"), "validation_matched")?,
            ["mnli/validation_matched-00000-of-00001.parquet"]
        );
        let err = select(&files, None, "test").unwrap_err().to_string();
        assert!(err.contains("several subsets: cola, sst2"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        // A split in only one subset needs no subset.
        assert_eq!(select(&files, None, "train")?.len(), 1);
        let err = select(&files, Some("qqp"), "test").unwrap_err().to_string();
        assert!(err.contains("subset \"qqp\" not found"), "{err}");
        assert!(err.contains("cola, mnli, sst2"), "{err}");
        Ok(())
    }

    #[test]
    fn convert_parquet_layout() -> Result<()> {
        // `refs/convert/parquet`: {subset}/{split}/{n:04}.parquet, partial-{split} when capped.
        let files = [
            "default/test/0000.parquet",
            "default/test/0001.parquet",
            "default/partial-train/0000.parquet",
            "other/test/0000.parquet",
        ];
        assert_eq!(
            select(&files, None, "test")?,
            ["default/test/0000.parquet", "default/test/0001.parquet"]
        );
        assert_eq!(
            select(&files, Some("other"), "test")?,
            ["other/test/0000.parquet"]
        );
        assert_eq!(
            select(&files, None, "train")?,
            ["default/partial-train/0000.parquet"]
        );
        Ok(())
    }

    #[test]
    fn split_folders() -> Result<()> {
        let files = [
            "test/0000.parquet",
            "test/shard_a.parquet",
            "train/0000.parquet",
        ];
        assert_eq!(
            select(&files, None, "test")?,
            ["test/0000.parquet", "test/shard_a.parquet"]
        );
        let files = ["data/test/part-0.parquet", "data/train/part-0.parquet"];
        assert_eq!(select(&files, None, "test")?, ["data/test/part-0.parquet"]);
        Ok(())
    }

    #[test]
    fn top_level_files() -> Result<()> {
        let files = ["train.parquet", "test.parquet", "test-00001.parquet"];
        assert_eq!(
            select(&files, None, "test")?,
            ["test-00001.parquet", "test.parquet"]
        );
        Ok(())
    }

    #[test]
    fn missing_split_lists_available_splits() {
        let files = list(&[
            "data/train-00000-of-00001.parquet",
            "data/validation-00000-of-00001.parquet",
        ]);
        let err = select_split_files(&files, None, DEFAULT_SPLIT)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("split \"test\" not found; available splits: train, validation"),
            "{err}"
        );
        assert!(err.contains("\nhint: "), "{err}");
    }

    #[test]
    fn no_parquet_files() {
        let err = select(&["README.md", "data.csv"], None, "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no parquet files among its 2 files"), "{err}");
        assert!(err.contains("refs/convert/parquet"), "{err}");
    }
}
