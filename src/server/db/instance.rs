//! `instance_settings` (the sign-up mode, whether the first administrator was made) and
//! `signup_invitations`: who may create an account, decided in the transaction that
//! creates it, so a single-use invitation serves one sign-up and only one sign-up ever
//! becomes the first administrator, on either database and however many nodes race.

use super::write_tx::BeginWrite;
use super::{now_ms, Store};
use crate::model::admin::{InstanceFigures, InvitationLink, SignupMode};
use crate::model::{AppError, User, UserId};
use crate::server::base::error::{Error, Result};

/// At most this many invitations can be usable at once (each admin's clicks add rows).
pub const INVITATIONS_OPEN_MAX: i64 = 200;

/// What a sign-up brings besides its name and password.
#[derive(Clone, Copy, Debug)]
pub struct SignupGate<'a> {
    /// The SHA-256 of the invitation link's token, if the sign-up came from one.
    pub invitation: Option<&'a [u8]>,
}

/// The account a sign-up created.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub user: User,
    /// The first account of the instance: its administrator.
    pub admin: bool,
}

/// The error of a sign-up the mode does not allow.
pub const CLOSED: &str = "Sign-up is closed on this server";
pub const NEEDS_INVITATION: &str = "Sign-up needs an invitation link on this server";
pub const INVITATION_INVALID: &str = "This invitation link is not valid any more";

/// An invitation in time, not used up nor revoked, whose maker is still an active
/// administrator (without the token: for listing and counting them).
macro_rules! open_invitation {
    ($i:literal) => {
        concat!(
            $i,
            ".revoked_at IS NULL AND ",
            $i,
            ".expires_at > $1
             AND (",
            $i,
            ".max_uses IS NULL OR ",
            $i,
            ".uses < ",
            $i,
            ".max_uses)
             AND EXISTS (SELECT 1 FROM users a WHERE a.id = ",
            $i,
            ".inviter_id AND a.is_admin
                         AND a.deactivated_at IS NULL AND a.deleted_at IS NULL)"
        )
    };
}

/// An invitation that can still be used, with who made it (an administrator still).
macro_rules! usable {
    () => {
        "token_hash = $1 AND revoked_at IS NULL AND expires_at > $2
     AND (max_uses IS NULL OR uses < max_uses)
     AND EXISTS (SELECT 1 FROM users a WHERE a.id = inviter_id AND a.is_admin
                 AND a.deactivated_at IS NULL AND a.deleted_at IS NULL)"
    };
}

impl Store {
    /// The sign-up mode; `default` (`--signup`) is stored on first use, so a new
    /// database starts with it and an administrator's choice outlives restarts.
    pub async fn signup_mode(&self, default: SignupMode) -> Result<SignupMode> {
        // Read first: every sign-up page asks, and only the first ask may write.
        let value: Option<String> = on_pool!(&self.pool, p => {
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = 'signup_mode'")
                .fetch_optional(p)
                .await?
        });
        if let Some(value) = value {
            return Ok(SignupMode::parse(&value).unwrap_or(default));
        }
        let value: String = on_pool!(&self.pool, p => {
            sqlx::query(
                "INSERT INTO instance_settings (name, value) VALUES ('signup_mode', $1)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(default.as_str())
            .execute(p)
            .await?;
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = 'signup_mode'")
                .fetch_one(p)
                .await?
        });
        Ok(SignupMode::parse(&value).unwrap_or(default))
    }

    /// Whether the first administrator was made (no account is made one after).
    pub async fn first_admin_made(&self) -> Result<bool> {
        let row: Option<(String,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT value FROM instance_settings WHERE name = 'first_admin'")
                .fetch_optional(p)
                .await?
        });
        Ok(row.is_some())
    }

    /// Sets the sign-up mode (an administrator's action, recorded).
    pub async fn set_signup_mode(&self, actor: UserId, mode: SignupMode) -> Result<()> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query(
                "INSERT INTO instance_settings (name, value) VALUES ('signup_mode', $1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(mode.as_str())
            .execute(&mut *tx)
            .await?;
            audit!(&mut *tx, Some(actor), "signup_mode", None::<UserId>, mode.as_str());
            tx.commit().await?;
        });
        Ok(())
    }

    /// Creates an account if the sign-up mode allows it: the first account of a new
    /// database always (it becomes the administrator), else `Open` anyone, `Invite` only
    /// with a usable invitation (whose use is counted here), `Closed` no one. A taken
    /// name is a [`AppError::Conflict`] and uses nothing up.
    pub async fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        mode: SignupMode,
        gate: SignupGate<'_>,
    ) -> Result<NewAccount> {
        let now = now_ms();
        let made = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let first: Option<(String,)> =
                sqlx::query_as("SELECT value FROM instance_settings WHERE name = 'first_admin'")
                    .fetch_optional(&mut *tx)
                    .await?;
            let first = first.is_none();
            let inviter: Option<UserId> = match gate.invitation {
                Some(hash) => sqlx::query_scalar(concat!(
                    "UPDATE signup_invitations SET uses = uses + 1 WHERE ",
                    usable!(),
                    " RETURNING inviter_id"
                ))
                .bind(hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?,
                None => None,
            };
            // The mode as of this transaction (an administrator may have just changed it).
            let stored: Option<String> =
                sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = 'signup_mode'")
                    .fetch_optional(&mut *tx)
                    .await?;
            let mode = stored.as_deref().and_then(SignupMode::parse).unwrap_or(mode);
            let allowed = match (mode, inviter, gate.invitation) {
                (SignupMode::Closed, _, _) => Err(CLOSED),
                (SignupMode::Invite, None, None) => Err(NEEDS_INVITATION),
                (SignupMode::Invite, None, Some(_)) => Err(INVITATION_INVALID),
                _ => Ok(()),
            };
            if !first {
                allowed.map_err(AppError::invalid)?;
            }
            let inserted = sqlx::query_as::<_, User>(
                "INSERT INTO users (username, password_hash, created_at, invited_by)
                 VALUES ($1, $2, $3, $4) RETURNING id, username",
            )
            .bind(username)
            .bind(password_hash)
            .bind(now)
            .bind(inviter)
            .fetch_one(&mut *tx)
            .await;
            let user = match inserted {
                Ok(user) => user,
                Err(e) => {
                    let e = Error::from(e);
                    return Err(if e.is_unique_violation() {
                        AppError::Conflict("That username is taken".into()).into()
                    } else {
                        e
                    });
                }
            };
            // Once per database: the row's key decides between racing sign-ups.
            let admin = first
                && sqlx::query(
                    "INSERT INTO instance_settings (name, value) VALUES ('first_admin', $1)
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(user.id.0.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
            // Two sign-ups raced for the first account and this one lost: the mode
            // applies to it like to any later one.
            if first && !admin {
                allowed.map_err(AppError::invalid)?;
            }
            if admin {
                sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
                    .bind(true)
                    .bind(user.id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            NewAccount { user, admin }
        });
        Ok(made)
    }

    /// Who made the invitation whose token hashes to `hash`, if it can still be used.
    pub async fn invitation_inviter(&self, hash: &[u8]) -> Result<Option<String>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_scalar(concat!(
                "SELECT (SELECT username FROM users WHERE id = inviter_id)
                 FROM signup_invitations WHERE ",
                usable!()
            ))
            .bind(hash)
            .bind(now_ms())
            .fetch_optional(p)
            .await?
        }))
    }

    /// Stores a new invitation (its token's hash), recorded; refused past
    /// [`INVITATIONS_OPEN_MAX`] usable ones.
    pub async fn create_invitation(
        &self,
        actor: UserId,
        hash: &[u8],
        max_uses: Option<i64>,
        days: i64,
    ) -> Result<i64> {
        let now = now_ms();
        let expires_at = now + days * 24 * 3600 * 1000;
        Ok(on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let open: i64 = sqlx::query_scalar(concat!(
                "SELECT COUNT(*) FROM signup_invitations i WHERE ",
                open_invitation!("i")
            ))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            if open >= INVITATIONS_OPEN_MAX {
                return Err(AppError::invalid(TOO_MANY_INVITATIONS).into());
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO signup_invitations (token_hash, inviter_id, max_uses, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(hash)
            .bind(actor)
            .bind(max_uses)
            .bind(expires_at)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let uses = max_uses.map_or("any number of sign-ups".to_string(), |n| format!("{n} sign-up"));
            let valid = if days == 1 { "1 day".to_string() } else { format!("{days} days") };
            let detail = format!("#{id}: {uses}, valid {valid}");
            audit!(&mut *tx, Some(actor), "invitation_created", None::<UserId>, &detail);
            tx.commit().await?;
            id
        }))
    }

    /// The invitations that can still be used, newest first.
    pub async fn open_invitations(&self) -> Result<Vec<InvitationLink>> {
        type Row = (i64, Option<String>, Option<i64>, i64, i64, i64);
        let rows: Vec<Row> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                concat!(
                    "SELECT i.id, u.username, i.max_uses, i.uses, i.expires_at, i.created_at
                     FROM signup_invitations i LEFT JOIN users u ON u.id = i.inviter_id
                     WHERE ",
                    open_invitation!("i"),
                    " ORDER BY i.id DESC LIMIT $2"
                ),
            )
            .bind(now_ms())
            .bind(INVITATIONS_OPEN_MAX)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, inviter, max_uses, uses, expires_at, created_at)| InvitationLink {
                    id,
                    inviter: inviter.unwrap_or_default(),
                    max_uses,
                    uses,
                    expires_at,
                    created_at,
                },
            )
            .collect())
    }

    /// Revokes an invitation (recorded); an unknown or already revoked one is NotFound.
    pub async fn revoke_invitation(&self, actor: UserId, id: i64) -> Result<()> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE signup_invitations SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(AppError::NotFound("Invitation".into()).into());
            }
            audit!(&mut *tx, Some(actor), "invitation_revoked", None::<UserId>, &format!("#{id}"));
            tx.commit().await?;
        });
        Ok(())
    }

    /// People, chats, messages and stored bytes (the administration page's figures; the
    /// connections are the caller's to add).
    pub async fn instance_figures(&self) -> Result<InstanceFigures> {
        let (people, chats, messages, storage_bytes): (i64, i64, i64, i64) = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL),
                        (SELECT COUNT(*) FROM chats),
                        (SELECT COUNT(*) FROM messages WHERE deleted_at IS NULL),
                        (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files)",
            )
            .fetch_one(p)
            .await?
        });
        Ok(InstanceFigures {
            people,
            chats,
            messages,
            storage_bytes,
            connections: 0,
        })
    }
}

pub const TOO_MANY_INVITATIONS: &str =
    "Too many invitations are open: revoke some or let them expire";
