//! `users`' profile columns (display name, status, time zone, avatar version) and
//! `avatars` (the avatar's pictures, one row per size; small JPEGs, so a database copy
//! or a second node has them with everything else).
//!
//! An avatar is replaced in one transaction (its rows, then the version the addresses
//! carry), so a reader sees the old pictures or the new ones, never a mix; the version
//! only grows, so an address once cached never shows another picture.

use super::write_tx::BeginWrite;
use super::Store;
use crate::model::{AppError, Profile, UserId};
use crate::server::base::error::{Error, Result};

/// `avatars.side` is an `INTEGER` (PostgreSQL: 32 bits); sides are [`AVATAR_SIDES`].
///
/// [`AVATAR_SIDES`]: crate::model::AVATAR_SIDES
fn side_column(side: u32) -> i32 {
    i32::try_from(side).unwrap_or(i32::MAX)
}

/// What a person writes on their profile (checked by `domain::profiles`).
pub struct ProfileText<'a> {
    pub display_name: &'a str,
    pub status: &'a str,
    pub time_zone: &'a str,
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: UserId,
    username: String,
    display_name: String,
    status: String,
    time_zone: String,
    avatar_version: i64,
    deactivated: bool,
}

/// Most people one search finds (the new-chat form's suggestions).
pub const PEOPLE_FOUND: i64 = 8;

impl ProfileRow {
    fn into_profile(self) -> Profile {
        Profile {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            status: self.status,
            time_zone: self.time_zone,
            // Negative: removed (see `set_avatar`).
            avatar: self.avatar_version.max(0),
            deactivated: self.deactivated,
        }
    }
}

impl Store {
    /// Active people whose username starts with `prefix` or whose display name has a
    /// word that does (any ASCII case), usernames first, at most [`PEOPLE_FOUND`]:
    /// the new-chat form's suggestions. An index search for the usernames; the display
    /// names are a scan of `users`, bounded by the instance's size.
    pub async fn find_people(&self, prefix: &str) -> Result<Vec<Profile>> {
        let start = format!("{}%", super::people::like_escaped(&prefix.to_lowercase()));
        let word = format!("% {start}");
        let rows: Vec<ProfileRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                // Names and the avatar only: a walk over prefixes gathers nobody's
                // status or time zone.
                "SELECT id, username, display_name, '' AS status, '' AS time_zone, avatar_version,
                        (deactivated_at IS NOT NULL) AS deactivated FROM users
                 WHERE deleted_at IS NULL AND deactivated_at IS NULL
                   AND (username LIKE $1 ESCAPE '!' OR LOWER(display_name) LIKE $1 ESCAPE '!'
                        OR LOWER(display_name) LIKE $2 ESCAPE '!')
                 ORDER BY (username LIKE $1 ESCAPE '!') DESC, username
                 LIMIT $3",
            )
            .bind(&start)
            .bind(&word)
            .bind(PEOPLE_FOUND)
            .fetch_all(p)
            .await
        })?;
        Ok(rows.into_iter().map(ProfileRow::into_profile).collect())
    }

    /// The profile of an account that exists and is not deleted.
    pub async fn profile(&self, user: UserId) -> Result<Option<Profile>> {
        let row: Option<ProfileRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT id, username, display_name, status, time_zone, avatar_version,
                        (deactivated_at IS NOT NULL) AS deactivated
                 FROM users WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(user)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(ProfileRow::into_profile))
    }

    /// Whether `name` (any ASCII case) is the username of an account other than
    /// `user`, or (`user` none: at a sign-up) anyone's display name: a display name must
    /// not pass for another person's username, nor a new username for someone's display
    /// name.
    pub async fn name_clashes(&self, name: &str, user: Option<UserId>) -> Result<bool> {
        let lower = name.to_ascii_lowercase();
        let found: Option<(UserId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT id FROM users
                 WHERE deleted_at IS NULL
                   AND (($2 IS NOT NULL AND username = $1 AND id != $2)
                        OR ($2 IS NULL AND LOWER(display_name) = $1))
                 LIMIT 1",
            )
            .bind(&lower)
            .bind(user)
            .fetch_optional(p)
            .await
        })?;
        Ok(found.is_some())
    }

    pub async fn set_profile(&self, user: UserId, text: ProfileText<'_>) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query(
                "UPDATE users SET display_name = $2, status = $3, time_zone = $4
                 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(user)
            .bind(text.display_name)
            .bind(text.status)
            .bind(text.time_zone)
            .execute(p)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Replaces the avatar with `pictures` ((side, JPEG) each); `None`: removes it.
    /// Returns the new version (0 when removed).
    pub async fn set_avatar(
        &self,
        user: UserId,
        pictures: Option<&[(u32, Vec<u8>)]>,
    ) -> Result<i64> {
        let version = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query("DELETE FROM avatars WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
            for (side, bytes) in pictures.unwrap_or_default() {
                sqlx::query("INSERT INTO avatars (user_id, side, bytes) VALUES ($1, $2, $3)")
                    .bind(user)
                    .bind(side_column(*side))
                    .bind(bytes.as_slice())
                    .execute(&mut *tx)
                    .await?;
            }
            // The version grows past every earlier one, even across a removal (stored
            // negative: no avatar, and the next one is one past it), so an address
            // cached once never shows another picture. A closed account gets none
            // (an upload still decoding when it closed is dropped with the rollback).
            let version: Option<(i64,)> = sqlx::query_as(
                "UPDATE users SET avatar_version = CASE WHEN $2 THEN ABS(avatar_version) + 1
                                                         ELSE -ABS(avatar_version) END
                 WHERE id = $1 AND deleted_at IS NULL RETURNING avatar_version",
            )
            .bind(user)
            .bind(pictures.is_some())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((version,)) = version else {
                return Err(AppError::NotFound("Person".into()).into());
            };
            tx.commit().await?;
            Ok::<_, Error>(version)
        })?;
        Ok(version.max(0))
    }

    /// An administrator (`actor`) clears `target`'s display name, status and avatar, in
    /// one transaction with its audit entry. `false`: no such account.
    pub async fn clear_profile(&self, actor: UserId, target: UserId) -> Result<bool> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE users SET display_name = '', status = '',
                        avatar_version = -ABS(avatar_version)
                 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(target)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM avatars WHERE user_id = $1")
                .bind(target)
                .execute(&mut *tx)
                .await?;
            audit!(&mut *tx, Some(actor), "profile cleared", Some(target), "");
            tx.commit().await?;
        });
        Ok(true)
    }

    /// The avatar of `user` at `side` pixels, if they have one, with its version.
    pub async fn avatar(&self, user: UserId, side: u32) -> Result<Option<(Vec<u8>, i64)>> {
        let row: Option<(Vec<u8>, i64)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT a.bytes, u.avatar_version FROM avatars a JOIN users u ON u.id = a.user_id
                 WHERE a.user_id = $1 AND a.side = $2 AND u.deleted_at IS NULL",
            )
            .bind(user)
            .bind(side_column(side))
            .fetch_optional(p)
            .await
        })?;
        Ok(row)
    }
}
