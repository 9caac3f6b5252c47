//! `natter backup PATH`: a consistent copy of the embedded SQLite database at PATH, then
//! the shared files it names in a folder beside it, `PATH`'s stem + `-files` (as
//! `natter.db` keeps its files in `natter-files`), laid out as the files folder is.
//!
//! Why the database first: a row says "stored" only once its bytes are whole, and bytes
//! are never changed after, so every file the copy names can be copied afterwards. One
//! deleted in between (its message deleted, then swept) is counted as missing: its
//! message was deleted after the copy was taken. With S3-compatible storage the files
//! are not copied: the bucket is backed up with its own tools (README, "Backups").

use crate::model::AppError;
use crate::server::base::error::{Error, Result};
use crate::server::blobs::{Blobs, Object};
use crate::server::db::Store;
use std::path::{Path, PathBuf};

/// What a backup copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The files folder, when there was one to copy.
    pub files_dir: Option<PathBuf>,
    pub files: usize,
    pub thumbs: usize,
    /// Named by the copy, gone from the storage since (deleted after the copy).
    pub missing: usize,
}

/// The folder a backup at `path` puts the files in: `dir/stem-files`.
pub fn files_dir_of(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "natter".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-files"))
}

/// Copies the database to `path` and, if the files are in the folder `files`, its
/// stored files to [`files_dir_of`]`(path)` (which must not exist). The folder must be
/// there already when the database names files: a mistyped `--files-dir` fails before
/// anything is written, rather than look like a folder whose files were all deleted.
pub async fn backup(store: &Store, files: Option<&Path>, path: &Path) -> Result<Report> {
    let folder = files_dir_of(path);
    if files.is_some() && folder.exists() {
        return Err(AppError::Invalid(format!(
            "{} exists already: give a new backup path",
            folder.display()
        ))
        .into());
    }
    let blobs = match files {
        Some(dir) if dir.is_dir() => Some(Blobs::existing(dir)?),
        Some(dir) if !store.stored_file_ids().await?.is_empty() => {
            return Err(Error::internal(format!(
                "no files folder at {} although the database names files (is --files-dir right?)",
                dir.display()
            )));
        }
        _ => None,
    };
    store.backup_to(path).await?;
    let Some(blobs) = blobs.as_ref() else {
        return Ok(Report::default());
    };
    // What the copy names, from the copy itself: exactly the files it can show.
    let copy = Store::open(&format!("sqlite://{}", path.display()), 1).await?;
    let stored = copy.stored_file_ids().await;
    copy.close().await;
    let stored = stored?;
    // A file the live database still calls stored but the folder lacks is not a
    // deletion: the folder is the wrong one, or damaged.
    let live: std::collections::HashSet<_> = store
        .stored_file_ids()
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut report = Report {
        files_dir: Some(folder.clone()),
        ..Report::default()
    };
    for sub in ["f", "t"] {
        private_dir(&folder.join(sub))?;
    }
    for (id, thumb) in stored {
        if blobs
            .copy_out(Object::File(id), &folder.join("f").join(id.to_string()))
            .await?
        {
            report.files += 1;
        } else if live.contains(&id) {
            return Err(Error::internal(format!(
                "file {id} is stored in the database but not in {}: is --files-dir right? \
                 (the database copy at {} is complete; the files folder beside it is not)",
                blobs.label,
                path.display()
            )));
        } else {
            report.missing += 1;
            continue;
        }
        if thumb
            && blobs
                .copy_out(Object::Thumb(id), &folder.join("t").join(id.to_string()))
                .await?
        {
            report.thumbs += 1;
        }
    }
    Ok(report)
}

/// A folder only its owner reads (the files are the chats' own).
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_go_beside_the_copy() {
        assert_eq!(
            files_dir_of(Path::new("/backups/natter-2026-12-06.db")),
            PathBuf::from("/backups/natter-2026-12-06-files")
        );
        assert_eq!(files_dir_of(Path::new("copy")), PathBuf::from("copy-files"));
    }
}
