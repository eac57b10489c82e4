//! Media storage behind one trait, [`MediaStore`]. The embedded default keeps objects as files
//! under `DATA_DIR/media` ([`LocalMedia`]); the S3 backend implements the same trait.
//!
//! Object keys follow DESIGN.md: `{tenant}/{video}/source/original.{ext}`,
//! `…/hls/{rung}/seg_{n}.m4s`, `…/thumbs/poster.jpg`; upload chunks wait under
//! `…/upload/part_{n}` until the upload completes.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use thiserror::Error;
use tokio::io::AsyncWriteExt;

#[derive(Debug, Error)]
pub enum MediaError {
    #[error("invalid object key `{0}`")]
    InvalidKey(String),
    #[error("object `{0}` does not exist")]
    NotFound(String),
    #[error("media storage at {path} is not usable: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where media objects live. Every key is checked by [`check_key`] first.
#[async_trait]
pub trait MediaStore: Send + Sync + std::fmt::Debug {
    /// `local` or `s3`, for logs.
    fn backend(&self) -> &'static str;

    /// Stores one upload chunk; a resent chunk replaces the earlier copy.
    async fn write_part(&self, key: &str, bytes: &[u8]) -> Result<(), MediaError>;

    /// Joins `parts` in order into `key`, then removes the parts.
    async fn assemble(&self, parts: &[String], key: &str) -> Result<u64, MediaError>;

    /// Stores a local file (a transcode output) under `key`. The file may be moved.
    async fn put_file(&self, key: &str, file: &Path) -> Result<(), MediaError>;

    /// A local path to read `key` from: the object itself for local storage, else a copy
    /// downloaded into `scratch`.
    async fn readable_path(&self, key: &str, scratch: &Path) -> Result<PathBuf, MediaError>;

    /// Removes every object under `prefix/` (a retried transcode clears its earlier outputs).
    async fn delete_prefix(&self, prefix: &str) -> Result<(), MediaError>;
}

/// Keys are relative, `/`-separated and made of normal components only, so no key can name a
/// file outside the root, and an object key has exactly one spelling.
pub fn check_key(key: &str) -> Result<(), MediaError> {
    // Checked segment by segment: `Path::components` would silently normalise `a/./b` and `a//b`.
    let normal_only = !key.is_empty()
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if normal_only {
        Ok(())
    } else {
        Err(MediaError::InvalidKey(key.escape_default().to_string()))
    }
}

/// Local file storage rooted at one directory.
#[derive(Debug, Clone)]
pub struct LocalMedia {
    root: PathBuf,
}

impl LocalMedia {
    /// Creates the root if needed and checks it is writable.
    pub fn open(root: &Path) -> Result<LocalMedia, MediaError> {
        crate::config::prepare_writable_dir(root).map_err(|e| MediaError::Io {
            path: root.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(LocalMedia {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps an object key (`{tenant}/{video}/hls/master.m3u8`) to a path under the root.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, MediaError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes through a temporary name and renames, so a reader never sees half a file.
    async fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), MediaError> {
        create_parent(path).await?;
        let temporary = temporary_sibling(path);
        let mut file = tokio::fs::File::create(&temporary)
            .await
            .map_err(io(&temporary))?;
        file.write_all(bytes).await.map_err(io(&temporary))?;
        file.sync_data().await.map_err(io(&temporary))?;
        drop(file);
        tokio::fs::rename(&temporary, path).await.map_err(io(path))
    }
}

#[async_trait]
impl MediaStore for LocalMedia {
    fn backend(&self) -> &'static str {
        "local"
    }

    async fn write_part(&self, key: &str, bytes: &[u8]) -> Result<(), MediaError> {
        let path = self.path_of(key)?;
        self.write_atomically(&path, bytes).await
    }

    async fn assemble(&self, parts: &[String], key: &str) -> Result<u64, MediaError> {
        let target = self.path_of(key)?;
        create_parent(&target).await?;
        let temporary = temporary_sibling(&target);
        let mut out = tokio::fs::File::create(&temporary)
            .await
            .map_err(io(&temporary))?;
        let mut total = 0;
        for part in parts {
            let path = self.path_of(part)?;
            let mut input = match tokio::fs::File::open(&path).await {
                Ok(file) => file,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    let _ = tokio::fs::remove_file(&temporary).await;
                    return Err(MediaError::NotFound(part.clone()));
                }
                Err(err) => return Err(io(&path)(err)),
            };
            total += tokio::io::copy(&mut input, &mut out)
                .await
                .map_err(io(&path))?;
        }
        out.sync_all().await.map_err(io(&temporary))?;
        drop(out);
        tokio::fs::rename(&temporary, &target)
            .await
            .map_err(io(&target))?;
        for part in parts {
            let path = self.path_of(part)?;
            let _ = tokio::fs::remove_file(&path).await;
        }
        // The parts' directory, once empty (remove_dir refuses a non-empty one).
        if let Some(dir) = parts
            .first()
            .and_then(|p| self.path_of(p).ok()?.parent().map(Path::to_owned))
        {
            let _ = tokio::fs::remove_dir(dir).await;
        }
        Ok(total)
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), MediaError> {
        let target = self.path_of(key)?;
        create_parent(&target).await?;
        // A rename when the scratch directory shares the file system, a copy otherwise.
        if tokio::fs::rename(file, &target).await.is_ok() {
            return Ok(());
        }
        let temporary = temporary_sibling(&target);
        tokio::fs::copy(file, &temporary).await.map_err(io(file))?;
        tokio::fs::rename(&temporary, &target)
            .await
            .map_err(io(&target))
    }

    async fn readable_path(&self, key: &str, _scratch: &Path) -> Result<PathBuf, MediaError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(_) => Ok(path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(MediaError::NotFound(key.to_owned()))
            }
            Err(err) => Err(io(&path)(err)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), MediaError> {
        let path = self.path_of(prefix)?;
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io(&path)(err)),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MediaError + '_ {
    move |source| MediaError::Io {
        path: path.to_owned(),
        source,
    }
}

async fn create_parent(path: &Path) -> Result<(), MediaError> {
    match path.parent() {
        Some(parent) => tokio::fs::create_dir_all(parent).await.map_err(io(parent)),
        None => Ok(()),
    }
}

/// `name.tmp-<random>` next to `path`: concurrent writers of the same key never share one.
fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp-{:016x}", rand_u64()));
    path.with_file_name(name)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let media = LocalMedia::open(tmp.path()).unwrap();
        assert_eq!(
            media.path_of("t/v/hls/master.m3u8").unwrap(),
            tmp.path().join("t/v/hls/master.m3u8")
        );
        for hostile in [
            "../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            "a/./b",
            "",
            "a\\..\\b",
            "a\nb",
        ] {
            assert!(media.path_of(hostile).is_err(), "{hostile:?} was accepted");
        }
    }

    #[tokio::test]
    async fn parts_are_assembled_in_order_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let media = LocalMedia::open(tmp.path()).unwrap();
        media
            .write_part("t/v/upload/part_1", b"world")
            .await
            .unwrap();
        media
            .write_part("t/v/upload/part_0", b"hello ")
            .await
            .unwrap();
        // A resent chunk replaces the first copy.
        media
            .write_part("t/v/upload/part_1", b"there")
            .await
            .unwrap();
        let parts = [
            "t/v/upload/part_0".to_owned(),
            "t/v/upload/part_1".to_owned(),
        ];
        let size = media
            .assemble(&parts, "t/v/source/original.mp4")
            .await
            .unwrap();
        assert_eq!(size, 11);
        let path = media
            .readable_path("t/v/source/original.mp4", tmp.path())
            .await
            .unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b"hello there");
        assert!(!tmp.path().join("t/v/upload/part_0").exists());
        let missing = media.assemble(&parts, "t/v/source/again.mp4").await;
        assert!(
            matches!(missing, Err(MediaError::NotFound(_))),
            "{missing:?}"
        );
        assert!(!tmp.path().join("t/v/source/again.mp4").exists());
        media.delete_prefix("t/v").await.unwrap();
        assert!(!tmp.path().join("t/v").exists());
        media.delete_prefix("t/v").await.unwrap();
    }
}
