//! `files`: what was shared in a chat, and the state of its bytes (see
//! `migrations/sqlite/0011_files.sql`: uploading → stored → doomed). The bytes themselves
//! are in `server::blobs`; every read here checks that the reader is a member of the
//! file's chat now, so access ends with membership, on every node.

use super::Store;
use crate::model::{AppError, ChatId, FileId, FileInfo, Message, MessageId, UserId};
use crate::server::base::error::Result;

/// A row's states.
pub const UPLOADING: i64 = 0;
pub const STORED: i64 = 1;
pub const DOOMED: i64 = 2;

#[derive(sqlx::FromRow)]
struct FileRow {
    id: FileId,
    name: String,
    size: i64,
    mime: String,
    width: Option<i64>,
    height: Option<i64>,
    thumb: bool,
}

impl From<FileRow> for FileInfo {
    fn from(r: FileRow) -> Self {
        FileInfo {
            id: r.id,
            name: r.name,
            size: r.size,
            mime: r.mime,
            width: r.width.and_then(|w| u32::try_from(w).ok()),
            height: r.height.and_then(|h| u32::try_from(h).ok()),
            thumb: r.thumb,
        }
    }
}

/// A file with the message it is attached to.
#[derive(sqlx::FromRow)]
struct AttachedRow {
    message_id: MessageId,
    #[sqlx(flatten)]
    file: FileRow,
}

const FILE_COLUMNS: &str = "f.id, f.name, f.size, f.mime, f.width, f.height, f.thumb";

/// What an upload found out about its bytes, recorded when they are all stored.
#[derive(Clone, Debug, Default)]
pub struct Uploaded {
    pub size: i64,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumb: bool,
}

impl Store {
    /// Records an upload about to start, by a member of `chat`; `None` if `uploader` is
    /// not one. The row exists before the first byte is stored, so a crash mid-upload
    /// leaves a row the sweeper finds.
    pub async fn begin_upload(
        &self,
        chat: ChatId,
        uploader: UserId,
        name: &str,
    ) -> Result<Option<FileId>> {
        let now = super::now_ms();
        let id: Option<(FileId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "INSERT INTO files (chat_id, uploader_id, name, created_at)
                 SELECT $1, $2, $3, $4 WHERE EXISTS
                   (SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2)
                 RETURNING id",
            )
            .bind(chat)
            .bind(uploader)
            .bind(name)
            .bind(now)
            .fetch_optional(p)
            .await?
        });
        Ok(id.map(|(id,)| id))
    }

    /// The upload's bytes are all stored: the file can be sent. `false` if the row is
    /// no longer uploading (doomed meanwhile): then nothing changed.
    pub async fn finish_upload(&self, id: FileId, stored: &Uploaded) -> Result<bool> {
        let done = on_pool!(&self.pool, p => {
            sqlx::query(
                "UPDATE files SET state = $2, size = $3, mime = $4, width = $5, height = $6,
                 thumb = $7 WHERE id = $1 AND state = $8",
            )
            .bind(id)
            .bind(STORED)
            .bind(stored.size)
            .bind(&stored.mime)
            .bind(stored.width.map(i64::from))
            .bind(stored.height.map(i64::from))
            .bind(stored.thumb)
            .bind(UPLOADING)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// An upload that failed or was refused (still uploading): its objects go with the
    /// next sweep.
    pub async fn doom_file(&self, id: FileId) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("UPDATE files SET state = $2 WHERE id = $1 AND state = $3")
                .bind(id)
                .bind(DOOMED)
                .bind(UPLOADING)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// A stored upload that no message took: doomed (never one that a message holds).
    pub async fn doom_unsent_file(&self, id: FileId) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query(
                "UPDATE files SET state = $2 WHERE id = $1 AND message_id IS NULL AND state = $3",
            )
            .bind(id)
            .bind(DOOMED)
            .bind(STORED)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Bytes of `uploader`'s files that count against the quota (all but doomed ones,
    /// uploads in progress at their size so far: 0).
    pub async fn file_usage(&self, uploader: UserId) -> Result<i64> {
        let (used,): (Option<i64>,) = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT CAST(SUM(size) AS BIGINT) FROM files WHERE uploader_id = $1 AND state < $2",
            )
            .bind(uploader)
            .bind(DOOMED)
            .fetch_one(p)
            .await?
        });
        Ok(used.unwrap_or(0))
    }

    /// A stored file as `reader` may see it: they are a member of its chat, and it was
    /// sent in a message that is not deleted (or it is their own upload, not sent yet).
    /// `None` otherwise: strangers, removed members and everyone after a delete learn
    /// nothing, not even that it exists.
    pub async fn file_for(&self, id: FileId, reader: UserId) -> Result<Option<FileInfo>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files f
             JOIN chat_members cm ON cm.chat_id = f.chat_id AND cm.user_id = $2
             LEFT JOIN messages m ON m.id = f.message_id
             WHERE f.id = $1 AND f.state = $3
               AND ((f.message_id IS NULL AND f.uploader_id = $2)
                    OR (m.id IS NOT NULL AND m.deleted_at IS NULL))"
        );
        let row: Option<FileRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(reader)
                .bind(STORED)
                .fetch_optional(p)
                .await?
        });
        Ok(row.map(Into::into))
    }

    /// The files a `send` names, checked: each uploaded by `sender` to `chat`, stored,
    /// and in no message yet. In the order given; an error names what is wrong.
    pub async fn files_to_send(
        &self,
        ids: &[FileId],
        sender: UserId,
        chat: ChatId,
    ) -> Result<Vec<FileInfo>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files f
             WHERE f.id = $1 AND f.uploader_id = $2 AND f.chat_id = $3 AND f.state = $4
               AND f.message_id IS NULL"
        );
        let mut out = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(AppError::invalid("The same file is attached twice").into());
            }
            let row: Option<FileRow> = on_pool!(&self.pool, p => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(id)
                    .bind(sender)
                    .bind(chat)
                    .bind(STORED)
                    .fetch_optional(p)
                    .await?
            });
            match row {
                Some(row) => out.push(row.into()),
                None => return Err(AppError::invalid(
                    "An attached file is not ready: upload it to this chat first, and send it once",
                )
                .into()),
            }
        }
        Ok(out)
    }

    /// Of `ids`, those stored and in no message yet (the committer's last look before a
    /// batch attaches them: two sends that raced past [`Store::files_to_send`] with the
    /// same file must not both show it).
    pub async fn unattached_files(&self, ids: &[FileId]) -> Result<Vec<FileId>> {
        let ids = serde_json::to_string(ids)?;
        let sql = match &self.pool {
            super::Pool::Sqlite(_) => {
                "SELECT f.id FROM files f JOIN json_each($1) AS v ON f.id = v.value
                 WHERE f.message_id IS NULL AND f.state = $2"
            }
            super::Pool::Postgres(_) => {
                "SELECT f.id FROM files f
                 WHERE f.id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint))
                   AND f.message_id IS NULL AND f.state = $2"
            }
        };
        let rows: Vec<(FileId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(sql).bind(ids).bind(STORED).fetch_all(p).await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Fills in the files of `messages` (all of one chat, as a page is), in upload order.
    pub(super) async fn attach_files(&self, messages: &mut [Message]) -> Result<()> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
            return Ok(());
        };
        let chat = first.chat_id;
        let (lo, hi) = messages
            .iter()
            .fold((first.id.0, last.id.0), |(lo, hi), m| {
                (lo.min(m.id.0), hi.max(m.id.0))
            });
        let sql = format!(
            "SELECT f.message_id, {FILE_COLUMNS} FROM files f
             WHERE f.chat_id = $1 AND f.message_id BETWEEN $2 AND $3 AND f.state = $4
             ORDER BY f.message_id, f.id"
        );
        let rows: Vec<AttachedRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(chat)
                .bind(lo)
                .bind(hi)
                .bind(STORED)
                .fetch_all(p)
                .await?
        });
        if rows.is_empty() {
            return Ok(());
        }
        let mut by_message: std::collections::HashMap<MessageId, Vec<FileInfo>> =
            Default::default();
        for AttachedRow { message_id, file } in rows {
            by_message.entry(message_id).or_default().push(file.into());
        }
        for m in messages.iter_mut() {
            if let Some(files) = by_message.remove(&m.id) {
                if !m.deleted {
                    m.files = files;
                }
            }
        }
        Ok(())
    }

    /// A chat's shared files, newest first, `limit` of them before file `before` (the
    /// Files panel's pages), for a member (`None` for anyone else).
    pub async fn chat_files(
        &self,
        chat: ChatId,
        reader: UserId,
        before: Option<FileId>,
        limit: i64,
    ) -> Result<Option<Vec<FileInfo>>> {
        if !self.is_member(chat, reader).await? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files f JOIN messages m ON m.id = f.message_id
             WHERE f.chat_id = $1 AND f.message_id IS NOT NULL AND f.state = {STORED}
               AND f.id < $2 AND m.deleted_at IS NULL
             ORDER BY f.id DESC LIMIT {}",
            limit.clamp(1, 200)
        );
        let rows: Vec<FileRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(chat)
                .bind(before.map_or(i64::MAX, |b| b.0))
                .fetch_all(p)
                .await?
        });
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// Uploads never sent that started before `before_ms` are doomed (the sweeper then
    /// removes them); returns how many.
    pub async fn doom_unsent(&self, before_ms: i64) -> Result<u64> {
        let done = on_pool!(&self.pool, p => {
            sqlx::query(
                "UPDATE files SET state = $2 WHERE message_id IS NULL AND created_at < $1
                 AND state < $2",
            )
            .bind(before_ms)
            .bind(DOOMED)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Uploads still "uploading" that started before `before_ms` are doomed.
    pub async fn doom_stale_uploads(&self, before_ms: i64) -> Result<u64> {
        let done = on_pool!(&self.pool, p => {
            sqlx::query(
                "UPDATE files SET state = $2
                 WHERE message_id IS NULL AND created_at < $1 AND state = $3",
            )
                .bind(before_ms)
                .bind(DOOMED)
                .bind(UPLOADING)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(done)
    }

    /// Up to `limit` doomed files after `after`: their objects are to be deleted, then
    /// their rows. (The state is written into the SQL, not bound, so SQLite uses the
    /// partial index `files_doomed`.)
    pub async fn doomed_files(&self, after: FileId, limit: i64) -> Result<Vec<FileId>> {
        let sql = format!(
            "SELECT id FROM files WHERE state = {DOOMED} AND id > $1 ORDER BY id LIMIT {}",
            limit.clamp(1, 1000)
        );
        let rows: Vec<(FileId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .fetch_all(p)
                .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Every stored file, and whether it has a thumbnail: what a backup copies.
    pub async fn stored_file_ids(&self) -> Result<Vec<(FileId, bool)>> {
        let rows: Vec<(FileId, bool)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT id, thumb FROM files WHERE state = $1 ORDER BY id")
                .bind(STORED)
                .fetch_all(p)
                .await?
        });
        Ok(rows)
    }

    /// Forgets a doomed file whose objects are gone.
    pub async fn forget_file(&self, id: FileId) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM files WHERE id = $1 AND state = $2")
                .bind(id)
                .bind(DOOMED)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}
