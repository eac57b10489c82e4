//! Resumable uploads: what a client may open (size, type, name) and how a file is cut into
//! chunks. Shared by the studio's uploader (wasm) and the server, so both agree on the plan.

use serde::{Deserialize, Serialize};

/// Chunk size handed to clients: S3 multipart parts must be at least 5 MiB (but the last), and
/// 8 MiB keeps a retried chunk cheap on a slow link.
pub const CHUNK_SIZE: u32 = 8 * 1024 * 1024;

/// S3 allows at most 10,000 parts per multipart upload.
pub const MAX_CHUNKS: u64 = 10_000;

/// Default largest upload when the tenant sets none: 20 GiB (a 4K talk of several hours).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 20 * 1024 * 1024 * 1024;

/// Extensions of containers ffmpeg reads that people upload talks in.
const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "m2ts", "flv", "wmv",
    "3gp", "ogv", "mxf",
];
const AUDIO_EXTENSIONS: &[&str] = &["mp3", "m4a", "wav", "flac", "ogg", "opus", "aac"];

/// What the client says when opening an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenUpload {
    pub file_name: String,
    pub size_bytes: u64,
    #[serde(default)]
    pub content_type: String,
}

/// A validated upload request, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPlan {
    /// Printable, without directories; shown in the studio.
    pub file_name: String,
    /// Lower case, what the source object key ends with.
    pub extension: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub chunk_size: u32,
    pub chunk_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRejected {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error(
        "“{extension}” files are not accepted: upload a video (MP4, MOV, MKV, WebM, …) or an audio file (MP3, M4A, WAV, …)"
    )]
    UnsupportedType { extension: String },
    #[error(
        "the file name has no extension, so its type is unknown: upload a video such as talk.mp4"
    )]
    NoExtension,
}

impl UploadRejected {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            UploadRejected::Empty => "empty_file",
            UploadRejected::TooLarge { .. } => "file_too_large",
            UploadRejected::UnsupportedType { .. } | UploadRejected::NoExtension => {
                "unsupported_type"
            }
        }
    }
}

/// An upload refused because its uploader or tenant has no room left for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    /// The uploader already has `limit` uploads open (started, not completed or cancelled).
    #[error(
        "you already have {limit} uploads in progress: finish or cancel one before starting another (an upload nobody touches for a day is cancelled automatically)"
    )]
    OpenUploads { limit: u32 },
    /// The tenant's stored sources (`used` bytes, open uploads included) plus this upload's
    /// `size` would exceed its `limit`.
    #[error(
        "this site's video storage is full: {used} of its {limit} are used and this file needs {size}; delete videos that are no longer needed, or ask an administrator to raise the storage quota",
        used = human_bytes(*used), limit = human_bytes(*limit), size = human_bytes(*size)
    )]
    Storage { limit: u64, used: u64, size: u64 },
}

impl QuotaExceeded {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            QuotaExceeded::OpenUploads { .. } => "too_many_open_uploads",
            QuotaExceeded::Storage { .. } => "storage_quota_exceeded",
        }
    }
}

/// A byte count for people: `512 bytes`, `1.5 MB`, `20.0 GB` (decimal units, as disks are sold).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Checks an upload request against the size limit and the accepted types.
pub fn plan_upload(request: &OpenUpload, max_bytes: u64) -> Result<UploadPlan, UploadRejected> {
    if request.size_bytes == 0 {
        return Err(UploadRejected::Empty);
    }
    let limit = max_bytes.min(CHUNK_SIZE as u64 * MAX_CHUNKS);
    if request.size_bytes > limit {
        return Err(UploadRejected::TooLarge {
            size: request.size_bytes,
            limit,
        });
    }
    let file_name = clean_file_name(&request.file_name);
    let extension = extension_of(&file_name).ok_or(UploadRejected::NoExtension)?;
    if !VIDEO_EXTENSIONS.contains(&extension.as_str())
        && !AUDIO_EXTENSIONS.contains(&extension.as_str())
    {
        return Err(UploadRejected::UnsupportedType { extension });
    }
    let content_type = clean_content_type(&request.content_type, &extension);
    let chunk_count = request.size_bytes.div_ceil(CHUNK_SIZE as u64) as u32;
    Ok(UploadPlan {
        file_name,
        extension,
        content_type,
        size_bytes: request.size_bytes,
        chunk_size: CHUNK_SIZE,
        chunk_count,
    })
}

/// The byte length chunk `n` must have.
pub fn chunk_len(size_bytes: u64, chunk_size: u32, n: u32) -> Option<u64> {
    let start = n as u64 * chunk_size as u64;
    (start < size_bytes).then(|| (size_bytes - start).min(chunk_size as u64))
}

/// The last path component (browsers may send `C:\fakepath\x.mp4`), without control or
/// bidirectional-override characters, trimmed, at most 255 bytes; `upload` if nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let printable: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let trimmed = printable.trim().trim_start_matches('.').trim();
    let mut name = String::new();
    for c in trimmed.chars() {
        if name.len() + c.len_utf8() > 255 {
            break;
        }
        name.push(c);
    }
    if name.is_empty() {
        "upload".to_owned()
    } else {
        name
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Lower-case ASCII alphanumeric extension of at most 5 characters.
pub fn extension_of(file_name: &str) -> Option<String> {
    let (stem, extension) = file_name.rsplit_once('.')?;
    let valid = !stem.is_empty()
        && (1..=5).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphanumeric());
    valid.then(|| extension.to_ascii_lowercase())
}

/// The client's content type when it is a plain `type/subtype`, else one derived from the
/// extension (browsers send nothing or `application/octet-stream` for many containers).
fn clean_content_type(raw: &str, extension: &str) -> String {
    let raw = raw.trim().to_ascii_lowercase();
    let plain = raw.len() <= 127
        && (raw.starts_with("video/") || raw.starts_with("audio/"))
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/.+-".contains(c));
    if plain {
        return raw;
    }
    let derived = match extension {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" | "opus" => "audio/ogg",
        "aac" => "audio/aac",
        _ => "application/octet-stream",
    };
    derived.to_owned()
}

/// Parses a lower- or upper-case hex SHA-256.
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Where an open upload stands, as `GET /api/v1/uploads/{id}` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadStatus {
    pub id: uuid::Uuid,
    pub video_id: uuid::Uuid,
    pub file_name: String,
    pub size_bytes: u64,
    pub chunk_size: u32,
    pub chunk_count: u32,
    pub state: String,
    /// Chunk numbers that arrived (with their verified SHA-256).
    pub received: Vec<u32>,
    pub received_bytes: u64,
    /// Chunks may go straight to object storage: ask
    /// `POST /api/v1/uploads/{id}/chunks/{n}/url` for a presigned URL. Sending chunks through
    /// the server always works too.
    #[serde(default)]
    pub direct: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(name: &str, size: u64, content_type: &str) -> OpenUpload {
        OpenUpload {
            file_name: name.to_owned(),
            size_bytes: size,
            content_type: content_type.to_owned(),
        }
    }

    #[test]
    fn a_video_is_cut_into_chunks_covering_it_exactly() {
        let plan = plan_upload(&open("Talk.MP4", 20 * 1024 * 1024 + 5, ""), u64::MAX).unwrap();
        assert_eq!(plan.extension, "mp4");
        assert_eq!(plan.content_type, "video/mp4");
        assert_eq!(plan.chunk_count, 3);
        assert_eq!(
            chunk_len(plan.size_bytes, plan.chunk_size, 2),
            Some(4 * 1024 * 1024 + 5)
        );
        assert_eq!(chunk_len(plan.size_bytes, plan.chunk_size, 3), None);
        let total: u64 = (0..plan.chunk_count)
            .map(|n| chunk_len(plan.size_bytes, plan.chunk_size, n).unwrap())
            .sum();
        assert_eq!(total, plan.size_bytes);
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        assert_eq!(
            plan_upload(&open("a.mp4", 0, ""), 10),
            Err(UploadRejected::Empty)
        );
        assert_eq!(
            plan_upload(&open("a.mp4", 11, ""), 10),
            Err(UploadRejected::TooLarge {
                size: 11,
                limit: 10
            })
        );
        assert_eq!(
            plan_upload(&open("notes.txt", 5, "text/plain"), 10)
                .unwrap_err()
                .code(),
            "unsupported_type"
        );
        assert_eq!(
            plan_upload(&open("README", 5, ""), 10),
            Err(UploadRejected::NoExtension)
        );
        assert_eq!(
            plan_upload(&open(".mp4", 5, ""), 10),
            Err(UploadRejected::NoExtension)
        );
        // More parts than S3 allows is refused whatever the tenant's limit.
        let huge = CHUNK_SIZE as u64 * MAX_CHUNKS + 1;
        assert!(matches!(
            plan_upload(&open("a.mp4", huge, ""), u64::MAX),
            Err(UploadRejected::TooLarge { .. })
        ));
    }

    #[test]
    fn file_names_lose_directories_and_control_characters() {
        assert_eq!(clean_file_name("../../etc/passwd.mp4"), "passwd.mp4");
        assert_eq!(clean_file_name("C:\\fakepath\\talk.mov"), "talk.mov");
        assert_eq!(
            clean_file_name("a\u{0}b\nc\u{202e}4pm.exe.mp4"),
            "abc4pm.exe.mp4"
        );
        assert_eq!(clean_file_name("  ..hidden.mp4 "), "hidden.mp4");
        assert_eq!(clean_file_name("\n\t"), "upload");
        let long = format!("{}.mp4", "é".repeat(300));
        let cleaned = clean_file_name(&long);
        assert!(cleaned.len() <= 255 && cleaned.chars().all(|c| c == 'é'));
        let plan = plan_upload(&open("../x/\u{1b}[31mred.MKV", 1, "video/x-matroska"), 10).unwrap();
        assert_eq!(plan.file_name, "[31mred.MKV");
        assert_eq!(plan.extension, "mkv");
    }

    #[test]
    fn content_types_are_plain_or_derived_from_the_extension() {
        let plan = plan_upload(&open("a.webm", 1, "video/webm\r\nX-Evil: 1"), 10).unwrap();
        assert_eq!(plan.content_type, "video/webm");
        let plan = plan_upload(&open("a.mov", 1, "application/octet-stream"), 10).unwrap();
        assert_eq!(plan.content_type, "video/quicktime");
        let plan = plan_upload(&open("a.mp4", 1, "Video/MP4"), 10).unwrap();
        assert_eq!(plan.content_type, "video/mp4");
    }

    #[test]
    fn quota_refusals_say_what_to_do_in_human_units() {
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_bytes(20 * 1024 * 1024 * 1024), "21.5 GB");
        let full = QuotaExceeded::Storage {
            limit: 10_000_000_000,
            used: 9_500_000_000,
            size: 700_000_000,
        };
        assert_eq!(full.code(), "storage_quota_exceeded");
        let message = full.to_string();
        assert!(
            message.contains("9.5 GB of its 10.0 GB") && message.contains("needs 700.0 MB"),
            "{message}"
        );
        let busy = QuotaExceeded::OpenUploads { limit: 3 };
        assert_eq!(busy.code(), "too_many_open_uploads");
        assert!(busy.to_string().contains("3 uploads in progress"));
    }

    #[test]
    fn sha256_hex_is_parsed_strictly() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(parse_sha256(hex).unwrap()[0], 0xe3);
        assert_eq!(parse_sha256(&hex.to_uppercase()).unwrap()[31], 0x55);
        assert!(parse_sha256(&hex[1..]).is_none());
        assert!(parse_sha256(&format!("{}zz", &hex[2..])).is_none());
        assert!(parse_sha256("é".repeat(32).as_str()).is_none());
    }
}
