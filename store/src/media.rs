//! Media storage. The embedded default keeps objects as files under `DATA_DIR/media`; the
//! S3 backend joins it behind the same interface with the VOD pipeline.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum MediaError {
    #[error("invalid object key `{0}`")]
    InvalidKey(String),
    #[error("media storage at {path} is not usable: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
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
    /// Keys are relative, `/`-separated and made of normal components only, so no key can
    /// name a file outside the root.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, MediaError> {
        // Checked segment by segment: `Path::components` would silently normalise `a/./b`
        // and `a//b`, and an object key must have exactly one spelling.
        let normal_only = !key.is_empty()
            && !key.contains('\\')
            && !key.chars().any(char::is_control)
            && key
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
        if normal_only {
            Ok(self.root.join(key))
        } else {
            Err(MediaError::InvalidKey(key.escape_default().to_string()))
        }
    }
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
}
