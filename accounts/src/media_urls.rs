//! Short-lived signed `/media` URLs: how an editor previews the outputs of a video that is not
//! public yet (draft, scheduled, unpublished, no talk at all), which plain `/media` URLs refuse.
//!
//! The signature covers the video's whole prefix, not one file, and sits in the path:
//! `/media/s/{expires}/{signature}/{tenant}/{video}/{rest}`. A player resolves the relative
//! URLs inside a playlist (`720p/index.m3u8`, `seg_3.m4s`) against the playlist's own path, so
//! every child request carries the same token; a query-string signature would be lost there.
//!
//! The signature is HMAC-SHA256 over `{expires}/{tenant}/{video}` with a key derived from the
//! installation's token-signing secret (so replicas agree without a new setting), and it is
//! checked without any database read. Expiry times are rounded up to a step, so a page
//! rendered twice within a step names the same URLs and the browser's cache keeps working.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrotape_model::studio::StudioVideo;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

/// The path segment that marks a signed media URL.
pub const SIGNED_PREFIX: &str = "s";
/// A signed URL stays valid for at least this long after it is made…
pub const MIN_LIFETIME_SECS: i64 = 60 * 60;
/// …and at most this much longer (expiry rounded up to a multiple of this step).
pub const EXPIRY_STEP_SECS: i64 = 15 * 60;

type HmacSha256 = Hmac<Sha256>;

/// Makes and checks signed media URLs.
#[derive(Clone)]
pub struct MediaUrlSigner {
    key: [u8; 32],
}

/// Why a signed media path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedPathError {
    /// Not of the form `s/{expires}/{signature}/{tenant}/{video}/…`.
    Malformed,
    Expired,
    /// The signature does not match this video's prefix and expiry.
    BadSignature,
}

impl MediaUrlSigner {
    /// A signer whose key is derived from `secret` (the token-signing key): a separate key per
    /// purpose, so a media signature can never pass for anything else.
    pub fn from_secret(secret: &[u8]) -> MediaUrlSigner {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"ferrotape media url signing v1");
        MediaUrlSigner {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, expires: i64, tenant: Uuid, video: Uuid) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{expires}/{tenant}/{video}").as_bytes());
        mac
    }

    /// The signed `/media/…` URL of `key` (`{tenant}/{video}/…`), valid for at least
    /// [`MIN_LIFETIME_SECS`]; `None` when the key does not start with a tenant and video id.
    pub fn sign_key(&self, key: &str, now: OffsetDateTime) -> Option<String> {
        let mut parts = key.splitn(3, '/');
        let tenant = parts.next()?.parse::<Uuid>().ok()?;
        let video = parts.next()?.parse::<Uuid>().ok()?;
        let rest = parts.next()?;
        let earliest = now.unix_timestamp() + MIN_LIFETIME_SECS;
        let expires = earliest.div_euclid(EXPIRY_STEP_SECS) * EXPIRY_STEP_SECS + EXPIRY_STEP_SECS;
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(expires, tenant, video).finalize().into_bytes());
        Some(format!(
            "/media/{SIGNED_PREFIX}/{expires}/{signature}/{tenant}/{video}/{rest}"
        ))
    }

    /// `path` (`/media/{key}`, as repositories build it) as a signed URL; any other path is
    /// returned unchanged.
    pub fn sign_media_path(&self, path: &str, now: OffsetDateTime) -> String {
        path.strip_prefix("/media/")
            .and_then(|key| self.sign_key(key, now))
            .unwrap_or_else(|| path.to_owned())
    }

    /// Points the studio's view of a video (which need not be public) at signed URLs.
    pub fn sign_studio_video(&self, video: &mut StudioVideo, now: OffsetDateTime) {
        if let Some(poster) = video.poster_url.as_mut() {
            *poster = self.sign_media_path(poster, now);
        }
    }

    /// Checks the path after `/media/` of a signed URL (`s/{expires}/{signature}/{key}`) and
    /// returns the storage key it names.
    pub fn verify<'p>(
        &self,
        path: &'p str,
        now: OffsetDateTime,
    ) -> Result<&'p str, SignedPathError> {
        let mut parts = path.splitn(4, '/');
        let (Some(SIGNED_PREFIX), Some(expires), Some(signature), Some(key)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignedPathError::Malformed);
        };
        let expires: i64 = expires.parse().map_err(|_| SignedPathError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SignedPathError::Malformed)?;
        let mut ids = key.splitn(3, '/');
        let (Some(tenant), Some(video)) = (ids.next(), ids.next()) else {
            return Err(SignedPathError::Malformed);
        };
        let (Ok(tenant), Ok(video)) = (tenant.parse::<Uuid>(), video.parse::<Uuid>()) else {
            return Err(SignedPathError::Malformed);
        };
        // The signature first (constant time), so a forged expiry learns nothing.
        self.mac(expires, tenant, video)
            .verify_slice(&signature)
            .map_err(|_| SignedPathError::BadSignature)?;
        if expires <= now.unix_timestamp() {
            return Err(SignedPathError::Expired);
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> MediaUrlSigner {
        MediaUrlSigner::from_secret(b"a test secret of at least thirty-two bytes")
    }

    #[test]
    fn one_signature_covers_every_file_of_the_video_until_it_expires() {
        let (t, v) = (Uuid::new_v4(), Uuid::new_v4());
        let now = OffsetDateTime::now_utc();
        let url = signer()
            .sign_key(&format!("{t}/{v}/hls/master.m3u8"), now)
            .unwrap();
        let path = url.strip_prefix("/media/").unwrap();
        assert_eq!(
            signer().verify(path, now),
            Ok(format!("{t}/{v}/hls/master.m3u8").as_str())
        );
        // A relative child of the playlist keeps the token.
        let child = path.replace("master.m3u8", "720p/seg_3.m4s");
        assert!(signer().verify(&child, now).is_ok());
        let later = now + time::Duration::seconds(MIN_LIFETIME_SECS + EXPIRY_STEP_SECS + 1);
        assert_eq!(signer().verify(path, later), Err(SignedPathError::Expired));
    }

    #[test]
    fn urls_made_within_a_step_are_the_same() {
        let key = format!("{}/{}/thumbs/poster.jpg", Uuid::nil(), Uuid::nil());
        let start = OffsetDateTime::from_unix_timestamp(EXPIRY_STEP_SECS * 1000).unwrap();
        let a = signer().sign_key(&key, start).unwrap();
        let b = signer()
            .sign_key(&key, start + time::Duration::seconds(EXPIRY_STEP_SECS - 1))
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn tampering_another_video_or_another_key_is_refused() {
        let (t, v, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let now = OffsetDateTime::now_utc();
        let url = signer()
            .sign_key(&format!("{t}/{v}/hls/master.m3u8"), now)
            .unwrap();
        let path = url.strip_prefix("/media/").unwrap().to_owned();
        let swapped = path.replace(&v.to_string(), &other.to_string());
        assert_eq!(
            signer().verify(&swapped, now),
            Err(SignedPathError::BadSignature)
        );
        let expires: i64 = path.split('/').nth(1).unwrap().parse().unwrap();
        let extended = path.replacen(&expires.to_string(), &(expires + 3600).to_string(), 1);
        assert_eq!(
            signer().verify(&extended, now),
            Err(SignedPathError::BadSignature)
        );
        let stranger = MediaUrlSigner::from_secret(b"another installation's secret, 32+ bytes");
        assert_eq!(
            stranger.verify(&path, now),
            Err(SignedPathError::BadSignature)
        );
        for bad in ["s", "s/x/y/z", "s/1/!!/a/b/c", "x/1/AAAA/a/b/c"] {
            assert_eq!(signer().verify(bad, now), Err(SignedPathError::Malformed));
        }
    }
}
