//! A stand-in for a remote source that ffprobe can judge without the web server downloading
//! the whole file: a sparse file of the object's full size holding only the ranges a prober
//! reads — the head (container headers, the first packets), the tail (indexes and the last
//! timestamps many containers keep at the end) and, for MP4/MOV, the `moov` index wherever it
//! lies, found by walking the top-level boxes with small ranged reads. Everything else stays a
//! hole (zeros, no disk space), at its real offset, so ffprobe sees the file's real layout.
//!
//! The probe only decides whether a file is playable and what the ladder will be; the worker
//! reads the whole file when it transcodes, and fails the video with a reason if the rest of the
//! file does not hold up.

use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::media::{MediaError, MediaStore};

/// How much of a source is read for probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeWindows {
    /// Bytes from the start. ffprobe reads at most 5 MB of packets (its default probe size)
    /// to find the streams.
    pub head: u64,
    /// Bytes before the end: MPEG-TS/PS durations, Matroska cues, AVI's `idx1`.
    pub tail: u64,
    /// The largest MP4/MOV `moov` read (a few MB for hours of video).
    pub index_limit: u64,
}

impl Default for ProbeWindows {
    fn default() -> Self {
        ProbeWindows {
            head: 8 << 20,
            tail: 8 << 20,
            index_limit: 64 << 20,
        }
    }
}

/// Top-level ISO BMFF boxes a file may start with: what marks an MP4, MOV, M4A or 3GP.
const ISO_FIRST_BOXES: &[&[u8; 4]] = &[
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp",
];
/// Top-level boxes walked before giving up on finding `moov`.
const MAX_TOP_LEVEL_BOXES: usize = 64;

/// Writes the stand-in for object `key` (`size` bytes) into `scratch` and returns its path.
pub async fn sparse_copy(
    media: &dyn MediaStore,
    key: &str,
    size: u64,
    scratch: &Path,
    windows: ProbeWindows,
) -> Result<PathBuf, MediaError> {
    let head = media.read_range(key, 0, windows.head.min(size)).await?;
    let mut pieces: Vec<(u64, Bytes)> = Vec::new();
    for range in remote_ranges(media, key, size, &head, windows).await? {
        let bytes = media
            .read_range(key, range.start, range.end - range.start)
            .await?;
        pieces.push((range.start, bytes));
    }
    pieces.push((0, head));
    let name = key.rsplit('/').next().unwrap_or("source");
    let path = scratch.join(name);
    let file_path = path.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::create(&file_path)?;
        file.set_len(size)?;
        for (offset, bytes) in pieces {
            file.write_all_at(&bytes, offset)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))
    .and_then(|written| written)
    .map_err(|source| MediaError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// The ranges to read besides the head (already read into `head`), without overlaps.
async fn remote_ranges(
    media: &dyn MediaStore,
    key: &str,
    size: u64,
    head: &[u8],
    windows: ProbeWindows,
) -> Result<Vec<Range<u64>>, MediaError> {
    let covered = head.len() as u64;
    let tail = size.saturating_sub(windows.tail).max(covered)..size;
    let mut wanted = Vec::from([tail]);
    if let Some(index) = moov_box(media, key, size, head).await? {
        let end = index
            .end
            .min(index.start.saturating_add(windows.index_limit));
        wanted.push(index.start.max(covered)..end);
    }
    Ok(merge(wanted))
}

/// Sorted, non-empty, non-overlapping.
fn merge(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// Where the `moov` box of an ISO BMFF file lies, if the file is one and has it.
async fn moov_box(
    media: &dyn MediaStore,
    key: &str,
    size: u64,
    head: &[u8],
) -> Result<Option<Range<u64>>, MediaError> {
    let is_iso = head
        .get(4..8)
        .is_some_and(|kind| ISO_FIRST_BOXES.iter().any(|first| first[..] == *kind));
    if !is_iso {
        return Ok(None);
    }
    let mut offset = 0u64;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if offset.saturating_add(8) > size {
            break;
        }
        // A box header is 8 bytes, 16 with a 64-bit size.
        let in_head = usize::try_from(offset)
            .ok()
            .and_then(|start| head.get(start..start.checked_add(16)?));
        let header = match in_head {
            Some(bytes) => Bytes::copy_from_slice(bytes),
            None => media.read_range(key, offset, 16.min(size - offset)).await?,
        };
        let Some((kind, length)) = box_header(&header, size - offset) else {
            break;
        };
        if &kind == b"moov" {
            return Ok(Some(offset..offset + length));
        }
        offset += length;
    }
    Ok(None)
}

/// A box's type and total length from its header, `None` when the header is not a sane one.
fn box_header(header: &[u8], remaining: u64) -> Option<([u8; 4], u64)> {
    let size32 = u32::from_be_bytes(header.get(0..4)?.try_into().ok()?);
    let kind: [u8; 4] = header.get(4..8)?.try_into().ok()?;
    let (length, header_len) = match size32 {
        // The box runs to the end of the file.
        0 => (remaining, 8),
        1 => (u64::from_be_bytes(header.get(8..16)?.try_into().ok()?), 16),
        n => (u64::from(n), 8),
    };
    (length >= header_len && length <= remaining).then_some((kind, length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::LocalMedia;
    use std::os::unix::fs::{FileExt, MetadataExt};

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    const WINDOWS: ProbeWindows = ProbeWindows {
        head: 1024,
        tail: 1024,
        index_limit: 1 << 20,
    };

    /// An MP4 as cameras write it: `ftyp`, a 100 MiB `mdat` with a 64-bit size, then `moov`.
    /// Written sparsely, so the test costs no disk.
    fn camera_mp4(media: &LocalMedia, key: &str) -> (u64, Range<u64>, Vec<u8>) {
        let path = media.path_of(key).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(&path).unwrap();
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
        let mdat_len: u64 = 100 << 20;
        let mut mdat = 1u32.to_be_bytes().to_vec();
        mdat.extend_from_slice(b"mdat");
        mdat.extend_from_slice(&mdat_len.to_be_bytes());
        let moov = boxed(b"moov", &[7u8; 5000]);
        file.write_all_at(&ftyp, 0).unwrap();
        file.write_all_at(&mdat, ftyp.len() as u64).unwrap();
        file.write_all_at(b"frames", ftyp.len() as u64 + 5000)
            .unwrap();
        let moov_at = ftyp.len() as u64 + mdat_len;
        file.write_all_at(&moov, moov_at).unwrap();
        let size = moov_at + moov.len() as u64;
        (size, moov_at..size, moov)
    }

    #[tokio::test]
    async fn an_index_at_the_end_of_an_mp4_is_found_and_copied_and_the_middle_is_not() {
        let root = tempfile::tempdir().unwrap();
        let media = LocalMedia::open(root.path()).unwrap();
        let (size, moov_range, moov) = camera_mp4(&media, "t/v/source/original.mp4");
        let head = media
            .read_range("t/v/source/original.mp4", 0, WINDOWS.head)
            .await
            .unwrap();
        let ranges = remote_ranges(&media, "t/v/source/original.mp4", size, &head, WINDOWS)
            .await
            .unwrap();
        // The moov is the last box, so it and the tail window merge into one read.
        assert_eq!(ranges, vec![moov_range.start.min(size - 1024)..size]);

        let scratch = tempfile::tempdir().unwrap();
        let copy = sparse_copy(
            &media,
            "t/v/source/original.mp4",
            size,
            scratch.path(),
            WINDOWS,
        )
        .await
        .unwrap();
        assert_eq!(copy.file_name().unwrap(), "original.mp4");
        let metadata = std::fs::metadata(&copy).unwrap();
        assert_eq!(metadata.len(), size, "the real layout, offsets kept");
        assert!(
            metadata.blocks() * 512 < 1 << 20,
            "only what was read takes space: {} bytes",
            metadata.blocks() * 512
        );
        let file = std::fs::File::open(&copy).unwrap();
        let mut read = vec![0u8; moov.len()];
        file.read_exact_at(&mut read, moov_range.start).unwrap();
        assert_eq!(read, moov);
        let mut middle = [1u8; 6];
        file.read_exact_at(&mut middle, 24 + 5000).unwrap();
        assert_eq!(middle, [0u8; 6], "the middle of mdat was never read");
    }

    #[tokio::test]
    async fn other_containers_get_their_head_and_tail_and_a_small_file_is_read_once() {
        let root = tempfile::tempdir().unwrap();
        let media = LocalMedia::open(root.path()).unwrap();
        let path = media.path_of("t/v/source/original.mkv").unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(&path).unwrap();
        file.write_all_at(b"\x1a\x45\xdf\xa3matroska", 0).unwrap();
        file.set_len(10 << 20).unwrap();
        let head = media
            .read_range("t/v/source/original.mkv", 0, 1024)
            .await
            .unwrap();
        let ranges = remote_ranges(&media, "t/v/source/original.mkv", 10 << 20, &head, WINDOWS)
            .await
            .unwrap();
        assert_eq!(ranges, vec![(10 << 20) - 1024..10 << 20]);

        // A file smaller than the head window is read whole, in one request.
        let ranges = remote_ranges(
            &media,
            "t/v/source/original.mkv",
            600,
            &head[..600],
            WINDOWS,
        )
        .await
        .unwrap();
        assert_eq!(ranges, Vec::<Range<u64>>::new());
    }

    #[test]
    fn box_headers_that_lie_about_their_size_end_the_walk() {
        assert_eq!(
            box_header(&boxed(b"moov", &[0; 8]), 100),
            Some((*b"moov", 16))
        );
        assert_eq!(
            box_header(&boxed(b"moov", &[0; 8]), 10),
            None,
            "past the end"
        );
        assert_eq!(box_header(&[0, 0, 0, 4, b'f', b'r', b'e', b'e'], 100), None);
        assert_eq!(
            box_header(&[0, 0, 0, 0, b'm', b'd', b'a', b't'], 100),
            Some((*b"mdat", 100))
        );
        assert_eq!(
            box_header(&[0, 0, 0, 1, b'm', b'd', b'a', b't'], 100),
            None,
            "cut 64-bit size"
        );
    }

    #[test]
    fn ranges_merge() {
        assert_eq!(
            merge(vec![10..20, 0..5, 15..30, 40..40]),
            vec![0..5, 10..30]
        );
    }
}
