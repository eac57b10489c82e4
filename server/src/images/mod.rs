//! Images editors give the site: talk posters (an uploaded image or a frame of the video) and
//! speaker photos. `decode` turns untrusted bytes into the JPEG we serve; `frame` takes a
//! full-resolution frame from a transcoded video; this module bounds the work and stores the
//! result under `{tenant}/{talk or speaker}/images/{sha256}.jpg` — a content-hashed name, so
//! `/media` serves it `immutable` and a new image always has a new URL.

pub mod decode;
pub mod frame;

use ferrotape_model::TenantId;
use ferrotape_store::media::{MediaError, MediaStore};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

pub use decode::{ImageRejected, Jpeg, Shape};

/// Images decoded at once by this server: each may hold up to `MAX_DECODED_BYTES` while it
/// is resized, so a burst of uploads queues instead of exhausting memory.
static DECODING: Semaphore = Semaphore::const_new(2);

/// Decodes and re-encodes `bytes` on a blocking thread, at most two at a time.
pub async fn prepare(bytes: axum::body::Bytes, shape: Shape) -> Result<Jpeg, ImageRejected> {
    let _permit = DECODING.acquire().await.expect("never closed");
    match tokio::task::spawn_blocking(move || decode::process(&bytes, shape)).await {
        Ok(result) => result,
        Err(err) => {
            // A panic inside a decoder: the file is the likeliest culprit.
            tracing::error!(%err, "decoding an image panicked");
            Err(ImageRejected::Damaged)
        }
    }
}

/// The key of an image of `owner` (a talk or a speaker).
pub fn key_for(tenant: TenantId, owner: Uuid, jpeg: &Jpeg) -> String {
    let hash: String = Sha256::digest(&jpeg.bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}/{owner}/images/{hash}.jpg", tenant.0)
}

/// Whether `name` is a file name [`key_for`] writes: 64 lowercase hex digits and `.jpg`.
pub fn is_image_name(name: &str) -> bool {
    name.strip_suffix(".jpg").is_some_and(|hash| {
        hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Stores `jpeg` under `key`.
pub async fn store(media: &dyn MediaStore, key: &str, jpeg: &Jpeg) -> Result<(), MediaError> {
    let scratch = tempfile::tempdir().map_err(|source| MediaError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let path = scratch.path().join("image.jpg");
    tokio::fs::write(&path, &jpeg.bytes)
        .await
        .map_err(|source| MediaError::Io {
            path: path.clone(),
            source,
        })?;
    media.put_file(key, &path).await
}

/// Deletes a replaced image; a failure leaves an orphan object behind, never a broken page,
/// so it is logged and not reported.
pub async fn delete_replaced(media: &dyn MediaStore, key: &str) {
    if let Err(err) = media.delete_object(key).await {
        tracing::warn!(%err, key, "could not delete a replaced image");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_content_hashed_under_the_owner() {
        let jpeg = Jpeg {
            bytes: b"x".to_vec(),
            width: 1,
            height: 1,
        };
        let owner = Uuid::nil();
        let key = key_for(TenantId::DEFAULT, owner, &jpeg);
        let name = key.rsplit('/').next().unwrap();
        assert!(key.starts_with(&format!("{}/{owner}/images/", TenantId::DEFAULT.0)));
        assert!(is_image_name(name), "{key}");
        for bad in [
            "x.jpg",
            "../a.jpg",
            &name.to_uppercase(),
            &name.replace(".jpg", ".png"),
        ] {
            assert!(!is_image_name(bad), "{bad}");
        }
    }
}
