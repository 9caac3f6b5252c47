//! Where files' bytes live: a directory (the embedded default, `--files-dir`) or
//! S3-compatible object storage (several nodes, `--files-url s3://bucket/prefix`), through
//! `object_store`, which covers both behind one interface.
//!
//! Keys are `f/ID` (the file as uploaded) and `t/ID` (its thumbnail). This module knows
//! nothing of who may read what: the database does (`db/files.rs`), and every fetch asks
//! it first (`domain::files`).

use crate::model::FileId;
use crate::server::base::error::{Error, Result};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use std::sync::Arc;

/// A file's two objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// The bytes as uploaded.
    File(FileId),
    /// A small JPEG made from an image.
    Thumb(FileId),
}

impl Object {
    fn path(self) -> Path {
        match self {
            Object::File(id) => Path::from(format!("f/{id}")),
            Object::Thumb(id) => Path::from(format!("t/{id}")),
        }
    }
}

/// A stored object being read: its length and its bytes, as they come.
pub struct Reading {
    pub size: u64,
    pub bytes: BoxStream<'static, Result<Bytes>>,
}

/// Why a stream was not stored.
#[derive(Debug)]
pub enum PutError {
    /// It went past `max` bytes: what was written is discarded.
    TooLarge,
    /// The client's stream failed (it went away, or sent a broken body).
    Source(String),
    /// The storage failed.
    Storage(Error),
}

/// The storage: cheap to clone.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Bytes buffered per part of a streamed upload: small on a local disk, 5 MiB on S3
    /// (its smallest part but the last). What one upload holds in memory.
    part: usize,
    /// Where, for the log (`dir …` or `s3://…`).
    pub label: String,
    /// The folder, for a local store (its staging files: [`Blobs::clean_staging`]).
    dir: Option<std::path::PathBuf>,
}

/// Parts of one upload being sent to the storage at once.
const PARTS_IN_FLIGHT: usize = 2;

impl Blobs {
    /// A directory, created if missing.
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::internal(format!("files dir {}: {e}", dir.display())))?;
        Self::existing(dir)
    }

    /// A directory that must exist already (`natter backup`: a mistyped `--files-dir`
    /// must not look like a folder whose files were all deleted).
    pub fn existing(dir: &std::path::Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::internal(format!(
                "no files folder at {} (is --files-dir right?)",
                dir.display()
            )));
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(storage)?;
        Ok(Blobs {
            store: Arc::new(store),
            part: 256 * 1024,
            label: format!("dir {}", dir.display()),
            dir: Some(dir.to_path_buf()),
        })
    }

    /// `s3://bucket[/prefix]`. Endpoint, region and credentials come from the usual
    /// variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint), then
    /// `settings` (`--files-s3 KEY=VALUE`) over them.
    pub fn s3(url: &str, settings: &[(String, String)]) -> Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::internal(format!("--files-url must be s3://bucket/prefix, not {url}"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder.with_endpoint(endpoint);
        }
        for (key, value) in settings {
            let key: object_store::aws::AmazonS3ConfigKey = key
                .parse()
                .map_err(|_| Error::internal(format!("--files-s3: no S3 setting {key:?}")))?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder.build().map_err(storage)?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
        };
        Ok(Blobs {
            store,
            part: 5 * 1024 * 1024,
            label: format!("s3://{bucket}/{prefix}"),
            dir: None,
        })
    }

    /// Stores `source` as `object`, a part at a time, refusing it past `max` bytes.
    /// Returns its length. On an error the multipart upload is aborted. What a crash or
    /// a cut request (its future dropped) leaves behind: in a folder, a staging file
    /// (`f/ID#N`) that [`Blobs::clean_staging`] removes; on S3, an incomplete multipart
    /// upload, for the bucket's lifecycle rule (README, "Configuration").
    pub async fn put_stream<S, E>(
        &self,
        object: Object,
        source: S,
        max: u64,
    ) -> Result<u64, PutError>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let upload = self
            .store
            .put_multipart(&object.path())
            .await
            .map_err(|e| PutError::Storage(storage(e)))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part);
        let mut source = source;
        let mut size: u64 = 0;
        let failure = loop {
            let chunk = match source.next().await {
                None => break None,
                Some(Err(e)) => break Some(PutError::Source(e.to_string())),
                Some(Ok(chunk)) => chunk,
            };
            size += chunk.len() as u64;
            if size > max {
                break Some(PutError::TooLarge);
            }
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                break Some(PutError::Storage(storage(e)));
            }
            writer.put(chunk);
        };
        match failure {
            None => writer
                .finish()
                .await
                .map(|_| size)
                .map_err(|e| PutError::Storage(storage(e))),
            Some(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "aborting an upload failed");
                }
                Err(e)
            }
        }
    }

    /// In a folder: removes staging files (`NAME#N`, an upload's parts before it is
    /// whole) older than `age`, which a crash or a cut request left behind. Returns how
    /// many. Nothing to do on S3.
    pub async fn clean_staging(&self, age: std::time::Duration) -> Result<usize> {
        let Some(dir) = self.dir.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            for sub in ["f", "t"] {
                let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                    continue;
                };
                for entry in entries.flatten() {
                    // The name first: most files are whole ones, no metadata read for them.
                    if !entry.file_name().to_string_lossy().contains('#') {
                        continue;
                    }
                    let old = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|elapsed| elapsed >= age);
                    if old && std::fs::remove_file(entry.path()).is_ok() {
                        removed += 1;
                    }
                }
            }
            removed
        })
        .await
        .map_err(|e| Error::internal(format!("staging cleanup: {e}")))
    }

    /// Stores small bytes (a thumbnail) in one request.
    pub async fn put(&self, object: Object, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&object.path(), bytes.into())
            .await
            .map(|_| ())
            .map_err(storage)
    }

    /// The object's length and bytes; `None` if it is not there.
    pub async fn get(&self, object: Object) -> Result<Option<Reading>> {
        match self.store.get(&object.path()).await {
            Ok(got) => Ok(Some(Reading {
                size: got.meta.size,
                bytes: got.into_stream().map(|r| r.map_err(storage)).boxed(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    /// The whole object in memory, if it is at most `max` bytes (thumbnailing).
    pub async fn read_all(&self, object: Object, max: u64) -> Result<Option<Vec<u8>>> {
        let Some(mut reading) = self.get(object).await? else {
            return Ok(None);
        };
        if reading.size > max {
            return Ok(None);
        }
        let mut all = Vec::with_capacity(usize::try_from(reading.size).unwrap_or(0));
        while let Some(chunk) = reading.bytes.next().await {
            all.extend_from_slice(&chunk?);
            if all.len() as u64 > max {
                return Ok(None);
            }
        }
        Ok(Some(all))
    }

    /// Writes `object` to a new file `dest` (mode 0600), streamed. `Ok(false)` if the
    /// object is not there.
    pub async fn copy_out(&self, object: Object, dest: &std::path::Path) -> Result<bool> {
        use tokio::io::AsyncWriteExt;
        let Some(mut reading) = self.get(object).await? else {
            return Ok(false);
        };
        let io = |e: std::io::Error| Error::internal(format!("{}: {e}", dest.display()));
        let mut out = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .await
            .map_err(io)?;
        while let Some(chunk) = reading.bytes.next().await {
            out.write_all(&chunk?).await.map_err(io)?;
        }
        out.sync_all().await.map_err(io)?;
        Ok(true)
    }

    /// Every whole object stored (a folder's staging files are not listed): what the
    /// tests compare with the database, and a check after a crash.
    pub async fn objects(&self) -> Result<Vec<Object>> {
        let mut listing = self.store.list(None);
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(storage)?;
            let mut parts = meta.location.parts();
            let (Some(kind), Some(id), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let Ok(id) = id.as_ref().parse::<i64>() else {
                continue;
            };
            match kind.as_ref() {
                "f" => out.push(Object::File(FileId(id))),
                "t" => out.push(Object::Thumb(FileId(id))),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Deletes the object; one that is not there is fine (deleting is retried).
    pub async fn delete(&self, object: Object) -> Result<()> {
        match self.store.delete(&object.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }
}

fn storage(e: object_store::Error) -> Error {
    Error::internal(format!("file storage: {e}"))
}
