//! Files shared in chats: uploads (streamed to storage, typed from their bytes, limited
//! in size, per-user storage and rate), thumbnails of the safe image formats (decoding
//! bounded in pixels, memory and time), members-only reads, and the sweeper that
//! removes what was never sent or was deleted.
//!
//! An upload's life: a row in state "uploading" (`Store::begin_upload`), the bytes to
//! `blobs`, a thumbnail if it is an image, then "stored"; any failure dooms the row. A
//! `send` naming stored files attaches them in the batch that stores the message
//! (`db/messages/batch.rs`). The sweeper dooms uploads left unsent for
//! [`UNSENT_TTL_MS`] and deletes doomed files' objects, then their rows, so storage and
//! database agree after a crash at any point.

use super::picture;
use crate::model::{validate, AppError, ChatId, FileId, FileInfo, User, UserId};
use crate::server::base::error::{Error, Result};
use crate::server::blobs::{Blobs, Object, PutError, Reading};
use crate::server::db::{Store, Uploaded};
use bytes::Bytes;
use futures::Stream;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// An upload not sent in a message within this long is removed.
pub const UNSENT_TTL_MS: i64 = 24 * 3600 * 1000;
/// An upload still "uploading" after this long was cut short (uploads time out well
/// before; longer for a large `--file-max-mb`: `Files::stale_upload_ms`): doomed.
pub const STALE_UPLOAD_MS: i64 = 3600 * 1000;
/// How often the sweeper looks.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// A staging file this old belongs to no upload still running (uploads time out long
/// before).
const STAGING_AGE: Duration = Duration::from_secs(3600);
/// Uploads streaming at once on this node by default (`--uploads-at-once`); more wait
/// up to [`SLOT_WAIT`], then are refused (each holds up to three parts in memory, one
/// filling and two being written: 256 KiB each in a folder, 5 MiB on S3).
pub const UPLOADS_AT_ONCE: usize = 32;
/// Uploads one person may have streaming at once (a slow client must not take every
/// slot of the node).
pub const UPLOADS_PER_USER: u32 = 3;
/// Longest wait for a free upload slot.
const SLOT_WAIT: Duration = Duration::from_secs(10);
/// An image with more pixels than this is not decoded: it is shared as a plain file,
/// without a thumbnail.
pub use super::picture::MAX_IMAGE_PIXELS;
/// Longest a thumbnail may take; past it the file is shared without one.
const THUMB_TIME: Duration = Duration::from_secs(10);
/// The thumbnail's longest side, in pixels (shown at half that on a 2× screen).
pub const THUMB_SIDE: u32 = 480;

/// The limits (`--file-max-mb`, `--files-quota-mb`, `--uploads-per-minute`).
#[derive(Clone, Copy, Debug)]
pub struct FileRules {
    pub max_bytes: u64,
    pub quota_bytes: u64,
    pub uploads_per_minute: u32,
    /// Uploads streaming at once on this node (more wait, then are refused).
    pub at_once: usize,
}

/// The file service (cheap to clone).
#[derive(Clone)]
pub struct Files {
    store: Store,
    blobs: Blobs,
    rules: FileRules,
    uploads: Arc<DefaultKeyedRateLimiter<UserId>>,
    /// Uploads streaming per person now (entries leave at zero: bounded by the
    /// uploads in flight, never by who has ever uploaded).
    per_user: Arc<std::sync::Mutex<std::collections::HashMap<UserId, u32>>>,
    streaming: Arc<Semaphore>,
}

/// A file being read: what it is and its bytes.
pub struct Download {
    pub info: FileInfo,
    pub reading: Reading,
    /// Whether it may be shown in the page (an image of the safe subset); anything else
    /// is only ever a download.
    pub inline: bool,
}

impl Files {
    pub fn new(store: Store, blobs: Blobs, rules: FileRules) -> Self {
        let per_minute =
            NonZeroU32::new(rules.uploads_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Files {
            store,
            blobs,
            rules,
            uploads: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            per_user: Arc::default(),
            streaming: Arc::new(Semaphore::new(rules.at_once.max(1))),
        }
    }

    /// The storage (tests compare it with the database).
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// How old a row still "uploading" must be to be taken for a crash's leftover: an
    /// hour, or longer when the largest file at the slowest rate allowed takes longer.
    pub fn stale_upload_ms(&self) -> i64 {
        let slowest = self.rules.max_bytes / UPLOAD_MIN_RATE + UPLOAD_GRACE_SECS + 600;
        STALE_UPLOAD_MS.max(i64::try_from(slowest.saturating_mul(1000)).unwrap_or(i64::MAX))
    }

    pub fn rules(&self) -> FileRules {
        self.rules
    }

    /// Stores one file that `user` uploads to `chat`, streamed from `source`.
    pub async fn upload<S, E>(
        &self,
        user: &User,
        chat: ChatId,
        name: &str,
        source: S,
    ) -> Result<FileInfo>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display + Send,
    {
        if self.uploads.check_key(&user.id).is_err() {
            crate::server::base::counters::rate_limited("upload");
            return Err(AppError::RateLimited.into());
        }
        // Forget users who have not uploaded for a while (the map is keyed by user).
        if self.uploads.len() > 10_000 {
            self.uploads.retain_recent();
        }
        let _mine = self.claim_user_slot(user.id)?;
        let used = self.store.file_usage(user.id).await?;
        let room = self
            .rules
            .quota_bytes
            .saturating_sub(u64::try_from(used).unwrap_or(0));
        if room == 0 {
            return Err(quota_error(self.rules.quota_bytes).into());
        }
        let name = validate::file_name(name);
        let id = self
            .store
            .begin_upload(chat, user.id, &name)
            .await?
            .ok_or_else(AppError::chat_not_found)?;
        // Whatever ends this upload early (an error, or the request dropped: the
        // client went away, the time ran out), its row is doomed and its bytes swept.
        let mut guard = Unfinished {
            store: self.store.clone(),
            id,
            done: false,
        };
        let stored = self.store_bytes(id, name, source, room).await;
        if stored.is_err() {
            // At once, not from the guard's task: the answer says it failed, so a sweep
            // right after must find the row doomed.
            if let Err(doom) = self.store.doom_file(id).await {
                tracing::warn!(error = %doom, file = %id, "could not doom a failed upload");
            }
        }
        guard.done = true;
        stored
    }

    async fn store_bytes<S, E>(
        &self,
        id: FileId,
        name: String,
        source: S,
        room: u64,
    ) -> Result<FileInfo>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display + Send,
    {
        let slot = match tokio::time::timeout(SLOT_WAIT, self.streaming.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return Err(Error::internal("upload slots closed")),
            Err(_) => return Err(AppError::RateLimited.into()),
        };
        let max = self.rules.max_bytes.min(room);
        let mut head = Head::default();
        let source = paced(source);
        let source = futures::StreamExt::inspect(source, |chunk| {
            if let Ok(bytes) = chunk {
                head.keep(bytes);
            }
        });
        // What others download carries no EXIF but the orientation (`exif`); what is
        // stripped counts against nothing, so stripping stops past `max` bytes in.
        let source = super::exif::stripped(source, max);
        let size = match self.blobs.put_stream(Object::File(id), source, max).await {
            Ok(size) => size,
            Err(PutError::TooLarge) if max < self.rules.max_bytes => {
                return Err(quota_error(self.rules.quota_bytes).into())
            }
            Err(PutError::TooLarge) => {
                return Err(AppError::TooLarge(format!(
                    "The file is too large (at most {})",
                    crate::model::size_label(
                        i64::try_from(self.rules.max_bytes).unwrap_or(i64::MAX)
                    )
                ))
                .into())
            }
            Err(PutError::Source(e)) => {
                return Err(AppError::invalid(format!("The upload did not complete: {e}")).into())
            }
            Err(PutError::Storage(e)) => return Err(e),
        };
        if size == 0 {
            return Err(AppError::invalid("The file is empty").into());
        }
        // The upload's slot is for streaming; a thumbnail waits for its own.
        drop(slot);
        let kind = sniff(&head.bytes);
        let mut facts = Uploaded {
            size: i64::try_from(size).unwrap_or(i64::MAX),
            mime: kind.mime().to_string(),
            ..Uploaded::default()
        };
        if let Kind::Image(format) = kind {
            match self.thumbnail(id, format).await {
                Ok(Some((w, h))) => {
                    facts.width = Some(w);
                    facts.height = Some(h);
                    facts.thumb = true;
                }
                // Not decodable within the bounds: shared as a plain file.
                Ok(None) => facts.mime = "application/octet-stream".into(),
                Err(e) => return Err(e),
            }
        }
        if !self.store.finish_upload(id, &facts).await? {
            // Doomed while it streamed (nothing does that today): the sweeper may have
            // removed the row already, so the objects are removed here.
            self.blobs.delete(Object::Thumb(id)).await?;
            self.blobs.delete(Object::File(id)).await?;
            return Err(AppError::chat_not_found().into());
        }
        Ok(FileInfo {
            id,
            name,
            size: facts.size,
            mime: facts.mime,
            width: facts.width,
            height: facts.height,
            thumb: facts.thumb,
        })
    }

    /// Decodes the stored image (bounded) and stores its thumbnail; its size after the
    /// EXIF orientation, or `None` if it is too large, broken or too slow to decode.
    async fn thumbnail(
        &self,
        id: FileId,
        format: image::ImageFormat,
    ) -> Result<Option<(u32, u32)>> {
        // Bounded: with others' decodes ahead, the file is shared without a thumbnail
        // rather than the upload waiting until it times out.
        let Some(slot) = picture::decode_slot(THUMB_TIME).await else {
            tracing::info!(file = %id, "no thumbnail: others' pictures were in the way");
            return Ok(None);
        };
        let Some(bytes) = self
            .blobs
            .read_all(Object::File(id), self.rules.max_bytes)
            .await?
        else {
            return Ok(None);
        };
        // The slot goes with the decoding: a decode past its time is no longer waited
        // for, but it still holds its slot until it ends.
        let job = tokio::task::spawn_blocking(move || {
            let made = make_thumbnail(&bytes, format);
            drop(slot);
            made
        });
        let made = match tokio::time::timeout(THUMB_TIME, job).await {
            Ok(Ok(made)) => made,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, file = %id, "thumbnail task failed");
                None
            }
            Err(_) => {
                tracing::warn!(file = %id, "thumbnail took too long");
                None
            }
        };
        let Some((jpeg, w, h)) = made else {
            return Ok(None);
        };
        self.blobs.put(Object::Thumb(id), jpeg).await?;
        Ok(Some((w, h)))
    }

    /// A file (or its thumbnail) for `reader`, who must be a member of its chat now.
    pub async fn open(&self, reader: UserId, id: FileId, thumb: bool) -> Result<Download> {
        let info = self
            .store
            .file_for(id, reader)
            .await?
            .ok_or_else(|| AppError::NotFound("File".into()))?;
        if thumb && !info.thumb {
            return Err(AppError::NotFound("File".into()).into());
        }
        let object = if thumb {
            Object::Thumb(id)
        } else {
            Object::File(id)
        };
        let reading = self
            .blobs
            .get(object)
            .await?
            .ok_or_else(|| Error::internal(format!("file {id}: its bytes are missing")))?;
        let inline = info.is_image();
        Ok(Download {
            info,
            reading,
            inline,
        })
    }

    /// Uploads that will not be sent after all (a form whose message was refused): their
    /// objects go with the next sweep. Failures are only logged.
    pub async fn forget_unsent(&self, ids: &[FileId]) {
        for id in ids {
            if let Err(e) = self.store.doom_unsent_file(*id).await {
                tracing::warn!(error = %e, file = %id, "could not doom an unsent upload");
            }
        }
    }

    /// A page of a chat's files for a member (the Files panel).
    pub async fn of_chat(
        &self,
        reader: UserId,
        chat: ChatId,
        before: Option<FileId>,
        limit: i64,
    ) -> Result<Vec<FileInfo>> {
        self.store
            .chat_files(chat, reader, before, limit)
            .await?
            .ok_or_else(|| AppError::chat_not_found().into())
    }

    /// One pass of the sweeper: dooms uploads stored but unsent since
    /// `unsent_before_ms`, and rows still "uploading" since `stale_before_ms` (a crash
    /// cut them short: no request still running is that old), then deletes doomed files'
    /// objects and rows. Returns how many files were removed.
    pub async fn sweep(&self, unsent_before_ms: i64, stale_before_ms: i64) -> Result<usize> {
        self.store.doom_unsent(unsent_before_ms).await?;
        self.store.doom_stale_uploads(stale_before_ms).await?;
        let mut removed = 0;
        let mut after = FileId(0);
        loop {
            let doomed = self.store.doomed_files(after, 100).await?;
            let Some(last) = doomed.last() else {
                return Ok(removed);
            };
            after = *last;
            for id in doomed {
                // One that fails is left for the next sweep; the others go on.
                let gone = async {
                    self.blobs.delete(Object::Thumb(id)).await?;
                    self.blobs.delete(Object::File(id)).await?;
                    self.store.forget_file(id).await
                };
                match gone.await {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!(error = %e, file = %id, "could not remove a file"),
                }
            }
        }
    }

    /// Counts an upload of `user` while the guard lives; refused past [`UPLOADS_PER_USER`].
    /// The no-JavaScript form holds one while its body is parsed, before any upload.
    pub fn claim_user_slot(&self, user: UserId) -> Result<UserSlot> {
        let mut map = self
            .per_user
            .lock()
            .map_err(|_| Error::internal("upload counts poisoned"))?;
        let n = map.entry(user).or_insert(0);
        if *n >= UPLOADS_PER_USER {
            return Err(AppError::invalid(format!(
                "At most {UPLOADS_PER_USER} uploads at once: wait for one to finish"
            ))
            .into());
        }
        *n += 1;
        Ok(UserSlot {
            map: self.per_user.clone(),
            user,
        })
    }

    /// Runs [`Self::sweep`] every minute for as long as the process lives (every node
    /// may: deleting twice is harmless).
    pub fn spawn_sweeper(&self) {
        let files = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            let mut passes: u64 = 0;
            loop {
                tick.tick().await;
                // At start and then hourly: staging files of uploads a crash cut short.
                if passes.is_multiple_of(60) {
                    match files.blobs.clean_staging(STAGING_AGE).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(removed = n, "upload staging files removed"),
                        Err(e) => tracing::warn!(error = %e, "staging cleanup failed"),
                    }
                }
                passes += 1;
                let now = crate::server::db::now_ms();
                match files
                    .sweep(now - UNSENT_TTL_MS, now - STALE_UPLOAD_MS)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "files swept"),
                    Err(e) => tracing::warn!(error = %e, "file sweep failed"),
                }
            }
        });
    }
}

/// An upload that sends nothing for this long is cut (it would hold a node's slot).
const UPLOAD_IDLE: Duration = Duration::from_secs(15);
/// After this long, an upload must have averaged at least [`UPLOAD_MIN_RATE`]: a body
/// trickled in a byte at a time cannot hold a slot for the whole upload time limit.
const UPLOAD_GRACE_SECS: u64 = 30;
/// Bytes a second (64 kbit/s: a poor mobile link still passes).
const UPLOAD_MIN_RATE: u64 = 8_000;

/// `source`, cut with an error when it stalls ([`UPLOAD_IDLE`]) or crawls
/// ([`UPLOAD_MIN_RATE`] after [`UPLOAD_GRACE_SECS`]).
fn paced<S, E>(source: S) -> impl Stream<Item = std::result::Result<Bytes, String>> + Unpin + Send
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display + Send,
{
    // tokio's clock (the tests pause it).
    let started = tokio::time::Instant::now();
    Box::pin(futures::stream::unfold(
        (source, 0u64, false),
        move |(mut source, mut got, ended)| async move {
            if ended {
                return None;
            }
            let cut = |why: String, source, got| Some((Err(why), (source, got, true)));
            match tokio::time::timeout(UPLOAD_IDLE, futures::StreamExt::next(&mut source)).await {
                Err(_) => cut(
                    format!("no data for {} s", UPLOAD_IDLE.as_secs()),
                    source,
                    got,
                ),
                Ok(None) => None,
                Ok(Some(Err(e))) => cut(e.to_string(), source, got),
                Ok(Some(Ok(bytes))) => {
                    got += bytes.len() as u64;
                    let secs = started.elapsed().as_secs();
                    if secs >= UPLOAD_GRACE_SECS && got < UPLOAD_MIN_RATE * secs {
                        return cut("it arrives too slowly".into(), source, got);
                    }
                    Some((Ok(bytes), (source, got, false)))
                }
            }
        },
    ))
}

/// An upload between its row and its end: dropped before it finished (an error, or the
/// request's future dropped mid-way), it dooms the row, from a task of its own since a
/// drop cannot wait. Without it, bytes stored by a request cut short would stay a day,
/// counted against no quota (their row still "uploading", at size 0).
struct Unfinished {
    store: Store,
    id: FileId,
    done: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (store, id) = (self.store.clone(), self.id);
        tokio::spawn(async move {
            if let Err(e) = store.doom_file(id).await {
                tracing::warn!(error = %e, file = %id, "could not doom an unfinished upload");
            }
        });
    }
}

/// One upload of a user counted in [`Files::per_user`] until dropped.
pub struct UserSlot {
    map: Arc<std::sync::Mutex<std::collections::HashMap<UserId, u32>>>,
    user: UserId,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.lock() {
            if let Some(n) = map.get_mut(&self.user) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&self.user);
                }
            }
        }
    }
}

fn quota_error(quota: u64) -> AppError {
    AppError::TooLarge(format!(
        "Your files take all the storage you have ({}): delete some messages with files first",
        crate::model::size_label(i64::try_from(quota).unwrap_or(i64::MAX))
    ))
}

/// The first bytes of an upload, for [`sniff`].
#[derive(Default)]
struct Head {
    bytes: Vec<u8>,
}

/// Bytes enough to tell every type apart.
const HEAD_BYTES: usize = 8192;

impl Head {
    fn keep(&mut self, chunk: &Bytes) {
        let room = HEAD_BYTES.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&chunk[..room.min(chunk.len())]);
    }
}

/// What a file is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One of the formats natter decodes and shows inline.
    Image(image::ImageFormat),
    /// Anything else, with the type its bytes suggest (for the card; it is always
    /// served as a download).
    Other(&'static str),
}

impl Kind {
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Image(f) => f.to_mime_type(),
            Kind::Other(m) => m,
        }
    }
}

/// The type of a file from its first bytes: never from its name or the client's word.
pub fn sniff(head: &[u8]) -> Kind {
    use image::ImageFormat as F;
    if let Ok(f @ (F::Png | F::Jpeg | F::Gif | F::WebP)) = image::guess_format(head) {
        return Kind::Image(f);
    }
    if let Some(t) = infer::get(head) {
        // A static string for every type `infer` knows; images outside the safe subset
        // (SVG is text, and never inline) land here as downloads too.
        return Kind::Other(t.mime_type());
    }
    let text = !head.contains(&0) && std::str::from_utf8(trim_partial_utf8(head)).is_ok();
    Kind::Other(if text {
        "text/plain"
    } else {
        "application/octet-stream"
    })
}

/// `head` without a UTF-8 sequence cut at its end (the head is the first 8 KiB).
fn trim_partial_utf8(head: &[u8]) -> &[u8] {
    match std::str::from_utf8(head) {
        Ok(_) => head,
        Err(e) if e.error_len().is_none() => &head[..e.valid_up_to()],
        Err(_) => head,
    }
}

/// Decodes `bytes` as `format` within the bounds and makes a JPEG thumbnail of at most
/// [`THUMB_SIDE`]: (jpeg, width, height) of the upright image, or `None`.
fn make_thumbnail(bytes: &[u8], format: image::ImageFormat) -> Option<(Vec<u8>, u32, u32)> {
    let image = picture::decode_upright(bytes, format, MAX_IMAGE_PIXELS)?;
    let (width, height) = (image.width(), image.height());
    // Never larger than the picture itself (`thumbnail` would scale a small one up).
    let small = if width <= THUMB_SIDE && height <= THUMB_SIDE {
        image
    } else {
        image.thumbnail(THUMB_SIDE, THUMB_SIDE)
    };
    Some((picture::jpeg_on_white(&small, 80)?, width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_or_trickled_upload_is_cut() {
        use futures::StreamExt;
        let stalled = futures::stream::pending::<std::result::Result<Bytes, String>>();
        let first = paced(stalled).next().await;
        assert!(
            matches!(first, Some(Err(ref e)) if e.contains("no data")),
            "{first:?}"
        );

        // A byte a second: past the grace, cut for its pace.
        let trickle = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, String>(Bytes::from_static(b"x")), ()))
        });
        let mut paced_trickle = paced(Box::pin(trickle));
        let mut bytes = 0;
        let why = loop {
            match paced_trickle.next().await {
                Some(Ok(b)) => bytes += b.len(),
                Some(Err(e)) => break e,
                None => panic!("ended"),
            }
        };
        assert!(why.contains("too slowly"), "{why}");
        assert!((29..=31).contains(&bytes), "{bytes}");

        // A fast one passes whole.
        let chunks: Vec<std::result::Result<Bytes, String>> = (0..5)
            .map(|_| Ok(Bytes::from(vec![1u8; 100_000])))
            .collect();
        let got: Vec<_> = paced(futures::stream::iter(chunks)).collect().await;
        assert!(got.iter().all(|c| c.is_ok()) && got.len() == 5);
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Kind::Image(image::ImageFormat::Png)
        );
        // HTML and SVG are never images here, whatever their name says.
        assert!(matches!(
            sniff(b"<!doctype html><script>alert(1)</script>"),
            Kind::Other(_)
        ));
        assert!(matches!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>"),
            Kind::Other(_)
        ));
        assert_eq!(sniff(b"%PDF-1.7\n").mime(), "application/pdf");
        assert_eq!(
            sniff(&[0, 159, 146, 150]).mime(),
            "application/octet-stream"
        );
        // A UTF-8 character cut by the 8 KiB head is still text.
        let mut head = "a".repeat(HEAD_BYTES - 1).into_bytes();
        head.push(0xC3);
        assert_eq!(sniff(&head).mime(), "text/plain");
    }

    #[test]
    fn a_decompression_bomb_is_not_decoded() {
        // A valid PNG header that claims 100 000 × 100 000 pixels.
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&ihdr);
        let mut crc_input = b"IHDR".to_vec();
        crc_input.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32fast::hash(&crc_input).to_be_bytes());
        assert!(make_thumbnail(&png, image::ImageFormat::Png).is_none());
    }

    #[test]
    fn a_thumbnail_keeps_the_aspect_ratio() {
        let img = image::RgbaImage::from_pixel(1000, 500, image::Rgba([10, 20, 30, 128]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("encode: {e}"));
        let (jpeg, w, h) =
            make_thumbnail(&png, image::ImageFormat::Png).unwrap_or_else(|| panic!("no thumbnail"));
        assert_eq!((w, h), (1000, 500));
        let thumb = image::load_from_memory(&jpeg).unwrap_or_else(|e| panic!("decode: {e}"));
        assert_eq!(
            (thumb.width(), thumb.height()),
            (THUMB_SIDE, THUMB_SIDE / 2)
        );
        // A small picture's thumbnail is its own size, never scaled up.
        let mut small = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(60, 30, image::Rgb([1, 2, 3])))
            .write_to(
                &mut std::io::Cursor::new(&mut small),
                image::ImageFormat::Png,
            )
            .unwrap_or_else(|e| panic!("encode: {e}"));
        let (jpeg, _, _) = make_thumbnail(&small, image::ImageFormat::Png)
            .unwrap_or_else(|| panic!("no thumbnail"));
        let thumb = image::load_from_memory(&jpeg).unwrap_or_else(|e| panic!("decode: {e}"));
        assert_eq!((thumb.width(), thumb.height()), (60, 30));
    }
}
