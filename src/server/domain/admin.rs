//! The instance's administration (issue 34): who may sign up (the mode, invitation
//! links), the people on the instance (administrators, deactivation, password reset
//! links an administrator hands over), the audit log and the figures.
//!
//! Every call but the sign-up's own checks here that its caller is an active
//! administrator, in the database on every call, so a revoked or deactivated one loses
//! the rights at once on every node. The rules that need a transaction (the last
//! administrator, single use) are in `db::people`, `db::instance` and `db::resets`.

use super::auth::{hash_password, hash_token, new_token};
use crate::model::admin::{
    AuditEntry, InstanceFigures, InvitationLink, InvitationUses, PeoplePage, SignupInfo,
    SignupMode, INVITATION_DAYS, RESET_HOURS,
};
use crate::model::{AppError, User, UserId};
use crate::server::base::error::Result;
use crate::server::db::{
    now_ms, NewAccount, SignupGate, Store, CLOSED, INVITATION_INVALID, NEEDS_INVITATION,
};

/// The administration's rules, on the store alone.
#[derive(Clone)]
pub struct Admin {
    store: Store,
    /// `--signup`: the mode a new database starts with.
    default_mode: SignupMode,
}

/// What a signed-in non-administrator gets from an administrative call.
pub const NOT_ADMIN: AppError = AppError::Forbidden;
pub const NOT_YOURSELF: &str = "You cannot deactivate yourself";
pub const LINK_INVALID: &str =
    "This link is not valid any more: ask an administrator for a new one";

impl Admin {
    pub fn new(store: Store, default_mode: SignupMode) -> Self {
        Admin {
            store,
            default_mode,
        }
    }

    async fn require(&self, user: &User) -> Result<()> {
        if self.store.is_admin(user.id).await? {
            Ok(())
        } else {
            Err(NOT_ADMIN.into())
        }
    }

    /// Whether `user` is an active administrator (the "Administration" link).
    pub async fn is_admin(&self, user: &User) -> Result<bool> {
        self.store.is_admin(user.id).await
    }

    pub async fn mode(&self) -> Result<SignupMode> {
        self.store.signup_mode(self.default_mode).await
    }

    /// What the sign-up page says: the mode, whether this account would be the first
    /// administrator, and who made the invitation in the link (if it can be used).
    pub async fn signup_info(&self, invite: Option<&str>) -> Result<SignupInfo> {
        let inviter = match invite.and_then(token_hash) {
            Some(hash) => self.store.invitation_inviter(&hash).await?,
            None => None,
        };
        Ok(SignupInfo {
            mode: self.mode().await?,
            first: !self.store.first_admin_made().await?,
            inviter,
        })
    }

    /// Creates an account under the sign-up mode (see `Store::create_account`). A link's
    /// token that is not even well-formed counts as an invalid invitation.
    pub async fn sign_up(
        &self,
        name: &str,
        password: String,
        invite: Option<&str>,
    ) -> Result<NewAccount> {
        let invite = invite.filter(|t| !t.is_empty());
        let hash = invite.map(|t| token_hash(t).unwrap_or_default());
        let mode = self.mode().await?;
        // A sign-up that cannot succeed is refused before the slow hash (the write
        // decides again, in its transaction).
        if mode != SignupMode::Open && self.store.first_admin_made().await? {
            match (mode, &hash) {
                (SignupMode::Closed, _) => return Err(AppError::invalid(CLOSED).into()),
                (_, None) => return Err(AppError::invalid(NEEDS_INVITATION).into()),
                (_, Some(h)) if self.store.invitation_inviter(h).await?.is_none() => {
                    return Err(AppError::invalid(INVITATION_INVALID).into())
                }
                _ => {}
            }
        }
        // `@all` / `@here` name the group, never a person; and a new username must not
        // be someone's display name (it would pass for them). After the mode's check:
        // a closed server tells a stranger nothing about its people's names.
        if crate::model::Broadcast::is_word(name) || self.store.name_clashes(name, None).await? {
            return Err(AppError::Conflict("That username is taken".into()).into());
        }
        let password_hash = hash_password(password).await?;
        let gate = SignupGate {
            invitation: hash.as_deref(),
        };
        let made = self
            .store
            .create_account(name, &password_hash, mode, gate)
            .await?;
        if made.admin {
            tracing::info!(user = %made.user.id, "the first account is the administrator");
        }
        Ok(made)
    }

    pub async fn set_mode(&self, user: &User, mode: SignupMode) -> Result<()> {
        self.require(user).await?;
        self.store.set_signup_mode(user.id, mode).await
    }

    /// A new invitation link's token (shown once; only its hash is kept).
    pub async fn create_invitation(
        &self,
        user: &User,
        uses: InvitationUses,
        days: i64,
    ) -> Result<String> {
        self.require(user).await?;
        if !INVITATION_DAYS.contains(&days) {
            return Err(AppError::invalid(DAYS_RULE).into());
        }
        let (token, hash) = new_token();
        let max_uses = match uses {
            InvitationUses::Once => Some(1),
            InvitationUses::Many => None,
        };
        self.store
            .create_invitation(user.id, &hash, max_uses, days)
            .await?;
        Ok(token)
    }

    pub async fn invitations(&self, user: &User) -> Result<Vec<InvitationLink>> {
        self.require(user).await?;
        self.store.open_invitations().await
    }

    pub async fn revoke_invitation(&self, user: &User, id: i64) -> Result<()> {
        self.require(user).await?;
        self.store.revoke_invitation(user.id, id).await
    }

    pub async fn people(&self, user: &User, query: &str, page: i64) -> Result<PeoplePage> {
        self.require(user).await?;
        let query: String = query
            .trim()
            .chars()
            .take(crate::model::validate::USERNAME_MAX)
            .collect();
        self.store.people(&query, page.clamp(0, 100_000)).await
    }

    pub async fn deactivate(&self, user: &User, target: UserId) -> Result<()> {
        self.require(user).await?;
        if target == user.id {
            return Err(AppError::invalid(NOT_YOURSELF).into());
        }
        self.store.deactivate(user.id, target).await?;
        tracing::info!(by = %user.id, user = %target, "account deactivated");
        Ok(())
    }

    /// Clears `target`'s display name, status and avatar (recorded in the audit log).
    pub async fn clear_profile(&self, user: &User, target: UserId) -> Result<()> {
        self.require(user).await?;
        if !self.store.clear_profile(user.id, target).await? {
            return Err(AppError::NotFound("Person".into()).into());
        }
        Ok(())
    }

    pub async fn reactivate(&self, user: &User, target: UserId) -> Result<()> {
        self.require(user).await?;
        self.store.reactivate(user.id, target).await
    }

    pub async fn set_admin(&self, user: &User, target: UserId, on: bool) -> Result<()> {
        self.require(user).await?;
        self.store.set_admin(Some(user.id), target, on).await
    }

    /// `natter admin grant|revoke NAME`: the recovery path, for whoever runs the server.
    pub async fn set_admin_by_name(&self, name: &str, on: bool) -> Result<User> {
        let name = name.trim().to_lowercase();
        let Some(target) = self.store.users_by_names(&[name]).await?.pop() else {
            return Err(AppError::NotFound("Person".into()).into());
        };
        self.store.set_admin(None, target.id, on).await?;
        Ok(target)
    }

    /// A one-time password reset link's token for `target`, valid [`RESET_HOURS`].
    pub async fn reset_link(&self, user: &User, target: UserId) -> Result<String> {
        self.require(user).await?;
        let (token, hash) = new_token();
        let expires_at = now_ms() + RESET_HOURS * 3600 * 1000;
        self.store
            .create_reset(user.id, target, &hash, expires_at)
            .await?;
        Ok(token)
    }

    /// Whose password a reset link sets, if it can still be used.
    pub async fn reset_for(&self, token: &str) -> Result<Option<User>> {
        match token_hash(token) {
            Some(hash) => self.store.reset_user(&hash).await,
            None => Ok(None),
        }
    }

    /// Sets the new password through a reset link (once); every session of the person
    /// ends. The caller starts a new one.
    pub async fn use_reset(&self, token: &str, password: String) -> Result<User> {
        let Some(hash) = token_hash(token) else {
            return Err(AppError::invalid(LINK_INVALID).into());
        };
        // Checked before the slow hash, and again in the write.
        if self.store.reset_user(&hash).await?.is_none() {
            return Err(AppError::invalid(LINK_INVALID).into());
        }
        let password_hash = hash_password(password).await?;
        self.store
            .use_reset(&hash, &password_hash)
            .await?
            .ok_or_else(|| AppError::invalid(LINK_INVALID).into())
    }

    pub async fn audit(&self, user: &User, before: Option<i64>) -> Result<Vec<(i64, AuditEntry)>> {
        self.require(user).await?;
        self.store.audit_log(before).await
    }

    /// The figures, without the connections (the caller knows those).
    pub async fn figures(&self, user: &User) -> Result<InstanceFigures> {
        self.require(user).await?;
        self.store.instance_figures().await
    }
}

pub const DAYS_RULE: &str = "An invitation is valid for 1, 7 or 30 days";

/// The hash of a link's token, if it is one natter could have made (64 hex digits):
/// anything else is not looked up at all.
fn token_hash(token: &str) -> Option<Vec<u8>> {
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash_token(token))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        let (token, hash) = super::new_token();
        assert_eq!(super::token_hash(&token), Some(hash));
        assert_eq!(super::token_hash("abc"), None);
        assert_eq!(super::token_hash(&"z".repeat(64)), None);
        assert_eq!(super::token_hash(&"a".repeat(65)), None);
    }
}
