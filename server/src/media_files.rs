//! Local media files for `/media`, answered from memory. Outputs are small (segments of a few
//! seconds, playlists, text tracks, images), so one blocking call opens, stats and reads a file
//! whole, where a streamed file costs a trip to the blocking pool per 64 KiB read; and the
//! files read stay in memory, bounded by bytes and least recently used out first, so a segment
//! a thousand viewers fetch is one shared buffer. A kept file is served while it is still the
//! file on disk: every request stats it (size and modification time), so a deleted or
//! rewritten file is answered as it is now.
//!
//! Answers follow RFC 9110: `ETag` (size and modification time) and `Last-Modified`;
//! `If-None-Match` (weak comparison, `*`), else `If-Modified-Since`, → 304; one byte range
//! (`If-Range` honoured) → 206, one that starts past the end → 416 with `Content-Range: bytes
//! */len`; several ranges, or a `Range` that is not `bytes=` syntax, are ignored (the whole file,
//! 200), which bounds what a request can make the server send.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use lru::LruCache;

/// Files larger than this are not read whole (the caller streams them).
pub const MAX_WHOLE_FILE: u64 = 32 * 1024 * 1024;

/// A file read whole, with its validators.
pub struct FileBytes {
    pub body: Bytes,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    /// Whole seconds (what `Last-Modified` says), for `If-Modified-Since` and `If-Range`.
    modified_secs: u64,
    /// The identity checked against the disk: size and modification time.
    identity: (u64, SystemTime),
}

/// What reading a media file found.
pub enum Found {
    File(Arc<FileBytes>),
    /// Too large to read whole: stream it.
    TooLarge,
    Missing,
}

/// The kept immutable files.
pub struct MediaFiles {
    max_bytes: usize,
    kept: Mutex<Kept>,
}

struct Kept {
    files: LruCache<PathBuf, Arc<FileBytes>>,
    bytes: usize,
}

impl MediaFiles {
    /// Keeps up to `max_bytes` of immutable files (0: none; every request reads the disk).
    pub fn new(max_bytes: usize) -> MediaFiles {
        MediaFiles {
            max_bytes,
            kept: Mutex::new(Kept {
                files: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// Bytes of files kept now.
    pub fn kept_bytes(&self) -> usize {
        self.kept.lock().expect("media files lock").bytes
    }

    /// The file at `path`, from memory when it is kept and still the file on disk.
    pub async fn read(&self, path: &Path) -> std::io::Result<Found> {
        let kept = self.kept(path);
        if let Some(file) = &kept {
            // One stat on this thread, not a trip to the blocking pool (which costs more than
            // the stat of a file whose inode is cached: most of a playlist's time went to
            // waking pool threads). Only a changed file is read again; a deleted one is gone.
            match std::fs::metadata(path) {
                Ok(metadata) if metadata.is_file() && identity_of(&metadata) == file.identity => {
                    return Ok(Found::File(file.clone()));
                }
                Ok(_) => {}
                Err(err) if is_missing(&err) => {
                    self.forget(path);
                    return Ok(Found::Missing);
                }
                Err(err) => return Err(err),
            }
        }
        let owned = path.to_owned();
        let known = kept.as_ref().map(|f| f.identity);
        let read = tokio::task::spawn_blocking(move || read_whole(&owned, known))
            .await
            .map_err(std::io::Error::other)??;
        let file = match read {
            Read::Missing => {
                self.forget(path);
                return Ok(Found::Missing);
            }
            Read::TooLarge => {
                self.forget(path);
                return Ok(Found::TooLarge);
            }
            // Changed back between the stat and the read: the kept bytes.
            Read::Unchanged => kept.expect("unchanged implies a kept file"),
            Read::Bytes(file) => Arc::new(file),
        };
        self.keep(path, file.clone());
        Ok(Found::File(file))
    }

    fn kept(&self, path: &Path) -> Option<Arc<FileBytes>> {
        self.kept
            .lock()
            .expect("media files lock")
            .files
            .get(path)
            .cloned()
    }

    fn forget(&self, path: &Path) {
        let mut kept = self.kept.lock().expect("media files lock");
        if let Some(old) = kept.files.pop(path) {
            kept.bytes -= old.body.len();
        }
    }

    fn keep(&self, path: &Path, file: Arc<FileBytes>) {
        let size = file.body.len();
        if size > self.max_bytes {
            return;
        }
        let mut kept = self.kept.lock().expect("media files lock");
        if let Some(old) = kept.files.put(path.to_owned(), file) {
            kept.bytes -= old.body.len();
        }
        kept.bytes += size;
        while kept.bytes > self.max_bytes {
            let Some((_, old)) = kept.files.pop_lru() else {
                break;
            };
            kept.bytes -= old.body.len();
        }
    }
}

impl Default for MediaFiles {
    fn default() -> MediaFiles {
        MediaFiles::new(DEFAULT_MAX_BYTES)
    }
}

/// What `FERROTAPE_MEDIA_CACHE_BYTES` defaults to.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

enum Read {
    Bytes(FileBytes),
    Unchanged,
    TooLarge,
    Missing,
}

/// Opens, stats and (unless it is `known` or too large) reads the file, in one blocking call.
fn read_whole(path: &Path, known: Option<(u64, SystemTime)>) -> std::io::Result<Read> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if is_missing(&err) => return Ok(Read::Missing),
        Err(err) => return Err(err),
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Ok(Read::Missing);
    }
    let (len, modified) = identity_of(&metadata);
    if known == Some((len, modified)) {
        return Ok(Read::Unchanged);
    }
    if len > MAX_WHOLE_FILE {
        return Ok(Read::TooLarge);
    }
    let mut body = Vec::with_capacity(len as usize);
    // A file growing while it is read is cut at the size it had: the validators describe it.
    (&mut file).take(len).read_to_end(&mut body)?;
    if body.len() as u64 != len {
        // Truncated under us: report it as it is now, next time.
        return Ok(Read::Missing);
    }
    let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Read::Bytes(FileBytes {
        body: Bytes::from(body),
        etag: etag_of(len, modified),
        last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(modified))
            .expect("HTTP date"),
        modified_secs: since_epoch.as_secs(),
        identity: (len, modified),
    }))
}

/// The strong validator of a file of `len` bytes last modified at `modified` (hex size and
/// nanoseconds): a rewritten file gets a new one.
pub fn etag_of(len: u64, modified: SystemTime) -> HeaderValue {
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    HeaderValue::from_str(&format!("\"{len:x}-{nanos:x}\"")).expect("hex ETag")
}

/// What tells one version of a file from another: its size and modification time.
fn identity_of(metadata: &std::fs::Metadata) -> (u64, SystemTime) {
    (metadata.len(), metadata.modified().unwrap_or(UNIX_EPOCH))
}

/// A path that does not name a file: gone, or a folder on the way is a file.
fn is_missing(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// The answer to a GET or HEAD of `file`: 200, 206, 304 or 416 with its validators,
/// `Content-Type` and `Accept-Ranges` (the caller adds caching and CORS).
pub fn answer(
    file: &FileBytes,
    content_type: &'static str,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let unmodified = match text(header::IF_NONE_MATCH) {
        Some(tags) => etag_listed(tags, &file.etag),
        None => text(header::IF_MODIFIED_SINCE)
            .and_then(seconds_of_http_date)
            .is_some_and(|since| file.modified_secs <= since),
    };
    let len = file.body.len() as u64;
    let mut response = if unmodified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let range = text(header::RANGE)
            .filter(|_| text(header::IF_RANGE).is_none_or(|v| if_range_holds(v, file)));
        let (status, body, content_range) = match range.map(|r| byte_range(r, len)) {
            Some(Some(Ok((start, end)))) => (
                StatusCode::PARTIAL_CONTENT,
                file.body.slice(start as usize..=end as usize),
                Some(format!("bytes {start}-{end}/{len}")),
            ),
            Some(Some(Err(Unsatisfiable))) => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                response.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{len}")).expect("digits"),
                );
                return response;
            }
            // No range, or one we ignore: the whole file.
            _ => (StatusCode::OK, file.body.clone(), None),
        };
        let length = HeaderValue::from(body.len() as u64);
        let body = if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(body)
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, length);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(content_range) = content_range {
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("digits"),
            );
        }
        response
    };
    let headers = response.headers_mut();
    // Room for these, `media::serve`'s and the layers' (about a dozen) at once, instead of
    // the map growing and rehashing twice on every response.
    headers.reserve(16);
    headers.insert(header::ETAG, file.etag.clone());
    headers.insert(header::LAST_MODIFIED, file.last_modified.clone());
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// Whether `If-None-Match` lists `etag` (weak comparison) or is `*`.
fn etag_listed(tags: &str, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default();
    tags.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}

/// `If-Range`: the range applies only to the representation named (strong ETag, or the exact
/// `Last-Modified` date).
fn if_range_holds(value: &str, file: &FileBytes) -> bool {
    let value = value.trim();
    if value.starts_with('"') {
        return value == file.etag.to_str().unwrap_or_default();
    }
    seconds_of_http_date(value) == Some(file.modified_secs)
}

fn seconds_of_http_date(text: &str) -> Option<u64> {
    httpdate::parse_http_date(text.trim())
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// A range that starts past the end of the file.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// The one byte range `Range` asks of a file of `len` bytes, as inclusive offsets; `None` when
/// the header is to be ignored (not `bytes=`, malformed, or several ranges).
pub fn byte_range(header: &str, len: u64) -> Option<Result<(u64, u64), Unsatisfiable>> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => {
            let suffix = number(last)?;
            if suffix == 0 || len == 0 {
                return Some(Err(Unsatisfiable));
            }
            (len.saturating_sub(suffix), len - 1)
        }
        // `bytes=N-`: from N to the end.
        (false, true) => {
            let start = number(first)?;
            if start >= len {
                return Some(Err(Unsatisfiable));
            }
            (start, len - 1)
        }
        (false, false) => {
            let (start, end) = (number(first)?, number(last)?);
            if end < start {
                return None;
            }
            if start >= len {
                return Some(Err(Unsatisfiable));
            }
            (start, end.min(len - 1))
        }
        (true, true) => return None,
    };
    Some(Ok(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_are_read_as_rfc_9110_says() {
        let len = 1000;
        for (header, expected) in [
            ("bytes=0-99", Some(Ok((0, 99)))),
            ("bytes=100-", Some(Ok((100, 999)))),
            ("bytes=-100", Some(Ok((900, 999)))),
            ("bytes=-5000", Some(Ok((0, 999)))),
            ("bytes=990-5000", Some(Ok((990, 999)))),
            (" bytes= 5 - 9 ", Some(Ok((5, 9)))),
            ("bytes=1000-", Some(Err(Unsatisfiable))),
            ("bytes=1000-2000", Some(Err(Unsatisfiable))),
            ("bytes=-0", Some(Err(Unsatisfiable))),
            // Ignored: the whole file.
            ("bytes=0-1,5-9", None),
            ("bytes=0-1,0-1,0-1", None),
            ("bytes=9-5", None),
            ("bytes=-", None),
            ("bytes=a-b", None),
            ("bytes=+1-2", None),
            ("items=0-1", None),
            ("bytes=99999999999999999999999-", None),
            ("", None),
        ] {
            assert_eq!(byte_range(header, len), expected, "{header:?}");
        }
        assert_eq!(byte_range("bytes=0-", 0), Some(Err(Unsatisfiable)));
    }

    fn file(body: &'static [u8]) -> FileBytes {
        FileBytes {
            body: Bytes::from_static(body),
            etag: HeaderValue::from_static("\"a-1\""),
            last_modified: HeaderValue::from_static("Tue, 01 Dec 2026 10:00:00 GMT"),
            modified_secs: 1_796_119_200,
            identity: (body.len() as u64, UNIX_EPOCH),
        }
    }

    fn answered(headers: &[(&'static str, &'static str)], method: Method) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        answer(&file(b"0123456789"), "video/iso.segment", &method, &map)
    }

    #[test]
    fn validators_ranges_and_head_answer_as_a_web_server_does() {
        // (request headers, status, Content-Range)
        type Case<'a> = (&'a [(&'a str, &'a str)], StatusCode, Option<&'a str>);
        let cases: &[Case] = &[
            (&[], StatusCode::OK, None),
            (
                &[("if-none-match", "\"a-1\"")],
                StatusCode::NOT_MODIFIED,
                None,
            ),
            (
                &[("if-none-match", "W/\"a-1\", \"b\"")],
                StatusCode::NOT_MODIFIED,
                None,
            ),
            (&[("if-none-match", "*")], StatusCode::NOT_MODIFIED, None),
            (
                &[("if-none-match", "garbage, W/, \"\"")],
                StatusCode::OK,
                None,
            ),
            (&[("if-none-match", "\"other\"")], StatusCode::OK, None),
            // If-None-Match wins over If-Modified-Since.
            (
                &[
                    ("if-none-match", "\"other\""),
                    ("if-modified-since", "Tue, 01 Dec 2026 10:00:00 GMT"),
                ],
                StatusCode::OK,
                None,
            ),
            (
                &[("if-modified-since", "Tue, 01 Dec 2026 10:00:00 GMT")],
                StatusCode::NOT_MODIFIED,
                None,
            ),
            (
                &[("if-modified-since", "Tue, 01 Dec 2026 09:59:59 GMT")],
                StatusCode::OK,
                None,
            ),
            (&[("if-modified-since", "yesterday")], StatusCode::OK, None),
            (
                &[("range", "bytes=2-4")],
                StatusCode::PARTIAL_CONTENT,
                Some("bytes 2-4/10"),
            ),
            (
                &[("range", "bytes=-3")],
                StatusCode::PARTIAL_CONTENT,
                Some("bytes 7-9/10"),
            ),
            (
                &[("range", "bytes=10-")],
                StatusCode::RANGE_NOT_SATISFIABLE,
                Some("bytes */10"),
            ),
            (&[("range", "bytes=0-1,3-4")], StatusCode::OK, None),
            (
                &[("range", "bytes=2-4"), ("if-range", "\"a-1\"")],
                StatusCode::PARTIAL_CONTENT,
                Some("bytes 2-4/10"),
            ),
            (
                &[("range", "bytes=2-4"), ("if-range", "\"old\"")],
                StatusCode::OK,
                None,
            ),
            (
                &[
                    ("range", "bytes=2-4"),
                    ("if-range", "Tue, 01 Dec 2026 10:00:00 GMT"),
                ],
                StatusCode::PARTIAL_CONTENT,
                Some("bytes 2-4/10"),
            ),
            (
                &[
                    ("range", "bytes=2-4"),
                    ("if-range", "Mon, 30 Nov 2026 10:00:00 GMT"),
                ],
                StatusCode::OK,
                None,
            ),
        ];
        for (headers, status, content_range) in cases {
            let response = answered(headers, Method::GET);
            assert_eq!(response.status(), *status, "{headers:?}");
            assert_eq!(
                response
                    .headers()
                    .get("content-range")
                    .map(|v| v.to_str().unwrap()),
                *content_range,
                "{headers:?}"
            );
            if *status != StatusCode::RANGE_NOT_SATISFIABLE {
                assert_eq!(response.headers()["etag"], "\"a-1\"", "{headers:?}");
            }
        }
        let part = answered(&[("range", "bytes=2-4")], Method::GET);
        assert_eq!(part.headers()["content-length"], "3");
        let head = answered(&[], Method::HEAD);
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-length"], "10");
        assert_eq!(head.headers()["accept-ranges"], "bytes");
    }

    #[tokio::test]
    async fn kept_files_follow_the_disk_and_stay_within_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let files = MediaFiles::new(25);
        let path = |name: &str| dir.path().join(name);
        let body = |found: Found| match found {
            Found::File(file) => file.body.clone(),
            _ => panic!("not a file"),
        };
        std::fs::write(path("a.m4s"), b"aaaaaaaaaa").unwrap();
        std::fs::write(path("b.m4s"), b"bbbbbbbbbb").unwrap();
        std::fs::write(path("c.m4s"), b"cccccccccc").unwrap();
        for name in ["a.m4s", "b.m4s", "c.m4s"] {
            files.read(&path(name)).await.unwrap();
        }
        assert_eq!(files.kept_bytes(), 20, "the least recently used file left");

        // A kept file deleted or rewritten is noticed at its next request.
        std::fs::remove_file(path("c.m4s")).unwrap();
        std::fs::write(path("b.m4s"), b"new b").unwrap();
        assert!(matches!(
            files.read(&path("c.m4s")).await.unwrap(),
            Found::Missing
        ));
        assert_eq!(body(files.read(&path("b.m4s")).await.unwrap()), "new b");
        assert_eq!(files.kept_bytes(), 5);

        // Playlists are rewritten in place: the rewrite shows at once, and so does a deletion.
        std::fs::write(path("index.m3u8"), b"#EXTM3U\n1").unwrap();
        files.read(&path("index.m3u8")).await.unwrap();
        std::fs::write(path("index.m3u8"), b"#EXTM3U\n12").unwrap();
        assert_eq!(
            body(files.read(&path("index.m3u8")).await.unwrap()),
            "#EXTM3U\n12"
        );
        assert_eq!(files.kept_bytes(), 15);
        std::fs::remove_file(path("index.m3u8")).unwrap();
        assert!(matches!(
            files.read(&path("index.m3u8")).await.unwrap(),
            Found::Missing
        ));
        assert_eq!(files.kept_bytes(), 5);
        assert!(matches!(
            files.read(&dir.path().join("a.m4s/x")).await.unwrap(),
            Found::Missing
        ));
        assert!(matches!(
            files.read(dir.path()).await.unwrap(),
            Found::Missing
        ));
    }
}
