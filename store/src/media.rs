//! Media storage behind one trait, [`MediaStore`]. The embedded default keeps objects as files
//! under `DATA_DIR/media` ([`LocalMedia`]); [`crate::s3::S3Media`] implements the same trait.
//!
//! Object keys follow DESIGN.md: `{tenant}/{video}/source/original.{ext}`,
//! `…/hls/{rung}/seg_{n}.m4s`, `…/thumbs/poster.jpg`; upload chunks wait under
//! `…/upload/part_{n}` until the upload completes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use thiserror::Error;

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
    /// The object store answered with an error or could not be reached.
    #[error("object storage failed to {operation}: {message}")]
    Remote {
        operation: &'static str,
        message: String,
    },
    #[error("media storage is misconfigured: {0}")]
    Config(String),
}

/// Where one upload's chunks go and the object they become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// The object the joined chunks become (`…/source/original.mp4`).
    pub key: String,
    /// Where chunks wait (local storage): `…/upload`.
    pub parts_prefix: String,
    /// Every chunk but the last is this long; chunk `n` starts at `n * chunk_size`.
    pub chunk_size: u64,
    /// The S3 multipart upload that holds the chunks as parts.
    pub multipart_id: Option<String>,
}

impl UploadTarget {
    /// The local file every chunk is written into at its own offset, renamed to the target
    /// once complete: joining costs nothing, however large the upload.
    fn partial_key(&self) -> String {
        format!("{}/source.partial", self.parts_prefix)
    }
}

/// A chunk as storage holds it. Chunks are numbered from 0; S3 parts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub n: u32,
    pub size: u64,
    /// S3's ETag of the part, needed to complete the multipart upload.
    pub etag: Option<String>,
}

/// A request the browser makes itself, so chunk bytes go straight to object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPart {
    pub url: String,
    /// Headers the request must carry exactly as given (they are signed).
    pub headers: Vec<(String, String)>,
}

/// Where media objects live. Every key is checked by [`check_key`] first.
#[async_trait]
pub trait MediaStore: Send + Sync + std::fmt::Debug {
    /// `local` or `s3`, for logs.
    fn backend(&self) -> &'static str;

    /// Prepares storage for an upload that will become `key`; returns the S3 multipart id.
    async fn start_upload(&self, key: &str) -> Result<Option<String>, MediaError>;

    /// Stores chunk `n`, already checked against `sha256`; a resent chunk replaces the
    /// earlier copy. [`MediaError::NotFound`] when the upload's chunks were already joined.
    async fn write_part(
        &self,
        target: &UploadTarget,
        n: u32,
        bytes: Bytes,
        sha256: &[u8; 32],
    ) -> Result<(), MediaError>;

    /// A URL the client can PUT chunk `n` to directly, valid for `valid_for`; storage refuses
    /// a body that is not exactly `length` bytes or whose SHA-256 is not `sha256` (both are
    /// signed). `None` when this backend takes chunks only through [`MediaStore::write_part`].
    async fn presign_part(
        &self,
        target: &UploadTarget,
        n: u32,
        length: u64,
        sha256: &[u8; 32],
        valid_for: Duration,
    ) -> Result<Option<PresignedPart>, MediaError>;

    /// The chunks storage holds, when storage is the record of them (direct uploads);
    /// `None` when the database's chunk records are.
    async fn listed_parts(
        &self,
        target: &UploadTarget,
    ) -> Result<Option<Vec<StoredPart>>, MediaError>;

    /// Joins `parts` (every chunk, in order) into the target object; returns its size.
    async fn finish_upload(
        &self,
        target: &UploadTarget,
        parts: &[StoredPart],
    ) -> Result<u64, MediaError>;

    /// Discards whatever chunks an unfinished upload stored.
    async fn abort_upload(&self, target: &UploadTarget) -> Result<(), MediaError>;

    /// The size of object `key`, `None` when it does not exist.
    async fn object_size(&self, key: &str) -> Result<Option<u64>, MediaError>;

    /// Stores a local file (a transcode output) under `key`. The file may be moved.
    async fn put_file(&self, key: &str, file: &Path) -> Result<(), MediaError>;

    /// A local path to read `key` from: the object itself for local storage, else a copy
    /// downloaded into `scratch`.
    async fn readable_path(&self, key: &str, scratch: &Path) -> Result<PathBuf, MediaError>;

    /// Up to `len` bytes of object `key` from byte `start` (fewer at its end).
    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Bytes, MediaError>;

    /// A local path ffprobe can judge object `key` (`size` bytes) from without a whole copy:
    /// the object itself for local storage, else a sparse stand-in written into `scratch`
    /// holding only what a prober reads ([`crate::probe_copy`]).
    async fn probe_path(&self, key: &str, size: u64, scratch: &Path)
    -> Result<PathBuf, MediaError>;

    /// Removes every object under `prefix/` (a retried transcode clears its earlier outputs).
    async fn delete_prefix(&self, prefix: &str) -> Result<(), MediaError>;

    /// Removes the object `key` (a replaced poster or photo); a missing object is no error.
    async fn delete_object(&self, key: &str) -> Result<(), MediaError>;
}

/// The configured storage, for callers that need a backend's own abilities (`/media` serves
/// local files directly and streams S3 objects).
#[derive(Debug, Clone)]
pub enum OpenedMedia {
    Local(LocalMedia),
    S3(crate::s3::S3Media),
}

impl OpenedMedia {
    pub fn shared(&self) -> std::sync::Arc<dyn MediaStore> {
        match self {
            OpenedMedia::Local(local) => std::sync::Arc::new(local.clone()),
            OpenedMedia::S3(s3) => std::sync::Arc::new(s3.clone()),
        }
    }
}

/// The MIME type of a player-facing output, from its extension.
pub fn content_type_of(key: &str) -> Option<&'static str> {
    Some(match key.rsplit_once('.')?.1 {
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" => "video/iso.segment",
        "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "jpg" => "image/jpeg",
        "vtt" => "text/vtt; charset=utf-8",
        // The subtitle editor's waveform (`{tenant}/{video}/subs/waveform.json`).
        "json" => "application/json",
        _ => return None,
    })
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
        // Sized once: `/media` builds one per request, and `join` grows it twice.
        let mut path = PathBuf::with_capacity(self.root.as_os_str().len() + 1 + key.len());
        path.push(&self.root);
        path.push(key);
        Ok(path)
    }
}

#[async_trait]
impl MediaStore for LocalMedia {
    fn backend(&self) -> &'static str {
        "local"
    }

    async fn start_upload(&self, _key: &str) -> Result<Option<String>, MediaError> {
        Ok(None)
    }

    async fn write_part(
        &self,
        target: &UploadTarget,
        n: u32,
        bytes: Bytes,
        _sha256: &[u8; 32],
    ) -> Result<(), MediaError> {
        let path = self.path_of(&target.partial_key())?;
        create_parent(&path).await?;
        let offset = u64::from(n) * target.chunk_size;
        // Positioned writes: parallel chunks never touch each other's bytes, and a resent
        // chunk rewrites its own range. Synced before the chunk is reported stored.
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            file.write_all_at(&bytes, offset).map_err(io(&path))?;
            file.sync_data().map_err(io(&path))
        })
        .await
        .map_err(|e| MediaError::Io {
            path: PathBuf::from(&target.key),
            source: std::io::Error::other(e.to_string()),
        })?
    }

    async fn presign_part(
        &self,
        _target: &UploadTarget,
        _n: u32,
        _length: u64,
        _sha256: &[u8; 32],
        _valid_for: Duration,
    ) -> Result<Option<PresignedPart>, MediaError> {
        Ok(None)
    }

    async fn listed_parts(
        &self,
        _target: &UploadTarget,
    ) -> Result<Option<Vec<StoredPart>>, MediaError> {
        Ok(None)
    }

    async fn finish_upload(
        &self,
        target: &UploadTarget,
        parts: &[StoredPart],
    ) -> Result<u64, MediaError> {
        let partial = self.path_of(&target.partial_key())?;
        let expected: u64 = parts.iter().map(|part| part.size).sum();
        let contiguous = parts
            .iter()
            .enumerate()
            .all(|(i, part)| part.n as usize == i);
        let length = match tokio::fs::metadata(&partial).await {
            Ok(metadata) => metadata.len(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => 0,
            Err(err) => return Err(io(&partial)(err)),
        };
        // The chunk records say which ranges were written; the file must span them exactly.
        if !contiguous || parts.is_empty() || length != expected {
            return Err(MediaError::NotFound(format!(
                "{} (chunks cover {expected} bytes, {length} stored)",
                target.partial_key()
            )));
        }
        let destination = self.path_of(&target.key)?;
        create_parent(&destination).await?;
        tokio::fs::rename(&partial, &destination)
            .await
            .map_err(io(&destination))?;
        self.abort_upload(target).await?;
        Ok(length)
    }

    async fn abort_upload(&self, target: &UploadTarget) -> Result<(), MediaError> {
        self.delete_prefix(&target.parts_prefix).await
    }

    async fn object_size(&self, key: &str) -> Result<Option<u64>, MediaError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(metadata) if metadata.is_file() => Ok(Some(metadata.len())),
            Ok(_) => Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io(&path)(err)),
        }
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

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Bytes, MediaError> {
        let path = self.path_of(key)?;
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let file = std::fs::File::open(&path).map_err(|err| match err.kind() {
                std::io::ErrorKind::NotFound => MediaError::NotFound(path.display().to_string()),
                _ => io(&path)(err),
            })?;
            let available = file.metadata().map_err(io(&path))?.len();
            let len = len.min(available.saturating_sub(start));
            let mut buffer = vec![0u8; len as usize];
            file.read_exact_at(&mut buffer, start).map_err(io(&path))?;
            Ok(Bytes::from(buffer))
        })
        .await
        .map_err(|e| MediaError::Io {
            path: PathBuf::from(key),
            source: std::io::Error::other(e.to_string()),
        })?
    }

    async fn probe_path(
        &self,
        key: &str,
        _size: u64,
        scratch: &Path,
    ) -> Result<PathBuf, MediaError> {
        self.readable_path(key, scratch).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), MediaError> {
        let path = self.path_of(prefix)?;
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io(&path)(err)),
        }
    }

    async fn delete_object(&self, key: &str) -> Result<(), MediaError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
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

    #[test]
    fn served_extensions_have_their_types() {
        assert_eq!(
            content_type_of("t/v/subs/waveform.json"),
            Some("application/json")
        );
        assert_eq!(
            content_type_of("t/v/subs/x/r2/captions.vtt"),
            Some("text/vtt; charset=utf-8")
        );
        assert_eq!(
            content_type_of("t/v/hls/master.m3u8"),
            Some("application/vnd.apple.mpegurl")
        );
        assert_eq!(content_type_of("t/v/source/original.mkv"), None);
        assert_eq!(content_type_of("t/v/subs/json"), None);
    }
}
