//! Profiles: what a person says about themself (display name, status line, time zone)
//! and their avatar, and what anyone on the instance reads of it.
//!
//! An avatar upload is typed from its bytes (PNG, JPEG, GIF, WebP only: `picture`),
//! decoded within bounds (pixels, memory, [`DECODE_TIME`], one at a time per node),
//! cropped to its centred square and stored as JPEGs in [`AVATAR_SIDES`]: re-encoding
//! keeps the pixels only, so no EXIF (where a photo was taken) or other metadata
//! survives. A time zone is checked against the time zone database the server carries
//! (`chrono-tz`), so the profile's local time never depends on the machine's files.

use super::picture;
use crate::model::{validate, AppError, Profile, User, UserId, AVATAR_SIDES};
use crate::server::base::error::{Error, Result};
use crate::server::db::{ProfileText, Store};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The largest avatar upload.
pub const AVATAR_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Longest an avatar may take to decode and scale (and to wait for its turn).
const DECODE_TIME: Duration = Duration::from_secs(10);
/// JPEG quality of the stored sizes.
const QUALITY: u8 = 85;
/// The most pixels an avatar's picture may have (a 16 MP photo: any phone's).
const AVATAR_MAX_PIXELS: u64 = 16_000_000;
/// Avatars one person may upload per hour (each is a decode on the node's one turn).
const AVATARS_PER_HOUR: u32 = 12;

const NOT_A_PICTURE: &str = "Choose a PNG, JPEG, GIF or WebP picture for the avatar";
const UNREADABLE: &str = "That picture could not be read (or is too large in pixels)";
const BUSY: &str = "Other pictures are being processed; try again in a moment";

/// The profile rules (cheap to clone).
#[derive(Clone)]
pub struct Profiles {
    store: Store,
    /// Avatar uploads per person ([`AVATARS_PER_HOUR`]); recovered keys are
    /// forgotten (`retain_recent`), so it holds the recent uploaders only.
    uploads: Arc<DefaultKeyedRateLimiter<UserId>>,
}

/// What a person writes on their profile, unchecked.
pub struct ProfileForm<'a> {
    pub display_name: &'a str,
    pub status: &'a str,
    pub time_zone: &'a str,
}

impl Profiles {
    pub fn new(store: Store) -> Self {
        let per_hour = NonZeroU32::new(AVATARS_PER_HOUR).unwrap_or(NonZeroU32::MIN);
        Profiles {
            store,
            uploads: Arc::new(RateLimiter::keyed(Quota::per_hour(per_hour))),
        }
    }

    /// Anyone's profile (any signed-in person may read it); a deleted account has none.
    pub async fn profile(&self, id: UserId) -> Result<Profile> {
        self.store
            .profile(id)
            .await?
            .ok_or_else(|| AppError::NotFound("Person".into()).into())
    }

    /// People whose username, or a word of whose display name, starts with `prefix`
    /// (a leading `@` ignored): the new-chat form's suggestions. Too short or too long
    /// a prefix finds nobody.
    pub async fn find(&self, prefix: &str) -> Result<Vec<Profile>> {
        validate::query(prefix)?;
        let prefix = prefix.trim().trim_start_matches('@');
        if prefix.is_empty() || prefix.chars().count() > validate::USERNAME_MAX {
            return Ok(Vec::new());
        }
        self.store.find_people(prefix).await
    }

    /// Saves `user`'s display name, status and time zone (each may be empty).
    pub async fn set(&self, user: &User, form: ProfileForm<'_>) -> Result<()> {
        let display_name = validate::display_name(form.display_name)?;
        if !display_name.is_empty()
            && self
                .store
                .name_clashes(&display_name, Some(user.id))
                .await?
        {
            return Err(AppError::invalid(validate::DISPLAY_NAME_TAKEN_RULE).into());
        }
        let status = validate::status(form.status)?;
        let time_zone = canonical_zone(&validate::time_zone(form.time_zone)?)?;
        let text = ProfileText {
            display_name: &display_name,
            status: &status,
            time_zone: &time_zone,
        };
        self.store.set_profile(user.id, text).await
    }

    /// Makes `bytes` `user`'s avatar; returns its version.
    pub async fn set_avatar(&self, user: &User, bytes: Vec<u8>) -> Result<i64> {
        if bytes.len() > AVATAR_MAX_BYTES {
            return Err(avatar_too_large().into());
        }
        let format =
            picture::safe_format(&bytes).ok_or_else(|| AppError::invalid(NOT_A_PICTURE))?;
        // The turn goes with the decoding: one past its time is no longer waited for,
        // but it holds the turn until it ends. Counted against the hourly quota only
        // once it has a turn (a "busy" refusal costs the person nothing).
        let slot = picture::decode_slot(DECODE_TIME)
            .await
            .ok_or_else(|| AppError::invalid(BUSY))?;
        if self.uploads.len() > 10_000 {
            self.uploads.retain_recent();
        }
        if self.uploads.check_key(&user.id).is_err() {
            return Err(AppError::RateLimited.into());
        }
        let job = tokio::task::spawn_blocking(move || {
            let made = make_sizes(&bytes, format);
            drop(slot);
            made
        });
        let pictures = match tokio::time::timeout(DECODE_TIME, job).await {
            Ok(Ok(Some(pictures))) => pictures,
            Ok(Ok(None)) | Err(_) => return Err(AppError::invalid(UNREADABLE).into()),
            Ok(Err(e)) => return Err(Error::internal(format!("avatar task failed: {e}"))),
        };
        self.store.set_avatar(user.id, Some(&pictures)).await
    }

    pub async fn remove_avatar(&self, user: &User) -> Result<()> {
        self.store.set_avatar(user.id, None).await.map(|_| ())
    }

    /// The avatar of `id` at `side` pixels (one of [`AVATAR_SIDES`]), with its version.
    pub async fn avatar(&self, id: UserId, side: u32) -> Result<(Vec<u8>, i64)> {
        let found = if AVATAR_SIDES.contains(&side) {
            self.store.avatar(id, side).await?
        } else {
            None
        };
        found.ok_or_else(|| AppError::NotFound("Avatar".into()).into())
    }
}

/// The refusal of an avatar over [`AVATAR_MAX_BYTES`].
pub fn avatar_too_large() -> AppError {
    AppError::TooLarge(format!(
        "An avatar is at most {} MB",
        AVATAR_MAX_BYTES / (1024 * 1024)
    ))
}

/// The avatar's sizes: the upright picture's centred square, as JPEGs.
fn make_sizes(bytes: &[u8], format: image::ImageFormat) -> Option<Vec<(u32, Vec<u8>)>> {
    let image = picture::decode_upright(bytes, format, AVATAR_MAX_PIXELS)?;
    AVATAR_SIDES
        .iter()
        .map(|&side| {
            Some((
                side,
                picture::jpeg_on_white(&picture::square(&image, side), QUALITY)?,
            ))
        })
        .collect()
}

/// The zone's name as the database spells it ("europe/berlin" → "Europe/Berlin"); an
/// empty one stays empty.
fn canonical_zone(raw: &str) -> Result<String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(raw))
        .map(|tz| tz.name().to_string())
        .ok_or_else(|| AppError::invalid(validate::TIME_ZONE_RULE).into())
}

/// The time now in `zone` ("14:05, Monday"), when it is a known zone.
pub fn local_time(zone: &str, now_ms: i64) -> Option<String> {
    use chrono::TimeZone;
    let tz: chrono_tz::Tz = zone.parse().ok()?;
    let at = tz.timestamp_millis_opt(now_ms).single()?;
    Some(at.format("%H:%M, %A").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_checked_and_spelled_as_the_database_does() {
        assert_eq!(canonical_zone("europe/berlin").unwrap(), "Europe/Berlin");
        assert_eq!(canonical_zone("UTC").unwrap(), "UTC");
        assert_eq!(canonical_zone("").unwrap(), "");
        assert!(canonical_zone("Mars/Olympus").is_err());
        // 2026-01-05 12:00 UTC was a Monday; Berlin is an hour ahead in winter.
        let noon = 1_767_614_400_000;
        assert_eq!(local_time("Europe/Berlin", noon).unwrap(), "13:00, Monday");
        assert_eq!(local_time("Nowhere/Else", noon), None);
    }

    #[test]
    fn sizes_are_square_jpegs_without_the_metadata() {
        let mut img = image::RgbaImage::new(300, 120);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = image::Rgba([(x % 256) as u8, 0, 0, 255]);
        }
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let sizes = make_sizes(&png, image::ImageFormat::Png).unwrap();
        let got: Vec<(u32, (u32, u32))> = sizes
            .iter()
            .map(|(side, jpeg)| {
                let d = image::load_from_memory(jpeg).unwrap();
                (*side, (d.width(), d.height()))
            })
            .collect();
        // Smaller than 256: the square is its own size, never scaled up.
        assert_eq!(got, vec![(64, (64, 64)), (256, (120, 120))]);
        assert!(sizes.iter().all(|(_, j)| j.starts_with(&[0xFF, 0xD8])));
        assert!(make_sizes(b"not a picture", image::ImageFormat::Png).is_none());
    }
}
