//! Publishing a transcode while ffmpeg still writes it, so a talk is watchable minutes before
//! its ladder is done.
//!
//! ffmpeg writes every rendition's playlist as an `EVENT` playlist (it grows; nothing is ever
//! removed from it), replacing it atomically after each finished segment, and each segment
//! appears under its final name only once complete (`temp_file`). [`Publisher::publish`] reads
//! each playlist once, stores every file it names that storage does not hold yet (init
//! segment, media segments), and only then stores that very playlist text: storage never holds
//! a playlist naming a segment it does not hold, with local files or S3 alike.
//!
//! Files are stored through a hard link in a staging folder, so `MediaStore::put_file` (which
//! may move its file) leaves ffmpeg's output in place for the bandwidth measurement at the end.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use ferrotape_store::media::{MediaStore, check_key};

/// The rendition playlists of one transcode, published as they grow.
pub struct Publisher {
    /// ffmpeg's `hls` folder: one sub-folder per rendition.
    hls_dir: PathBuf,
    staging: PathBuf,
    /// Storage key of the `hls` folder (`{tenant}/{video}/v{n}/hls`).
    hls_key: String,
    renditions: Vec<String>,
    /// Files under `hls_dir` already stored (`720p/seg_3.m4s`).
    stored: HashSet<String>,
    /// Per rendition: the playlist text last stored and the seconds it lists.
    published: BTreeMap<String, (String, f64)>,
    staged: u64,
}

/// What one rendition playlist names.
#[derive(Debug, Default, PartialEq)]
struct Listing {
    /// Init segment first, then the media segments in order.
    files: Vec<String>,
    segments: usize,
    seconds: f64,
}

impl Publisher {
    pub fn new(
        hls_dir: PathBuf,
        staging: PathBuf,
        hls_key: String,
        renditions: Vec<String>,
    ) -> Self {
        Publisher {
            hls_dir,
            staging,
            hls_key,
            renditions,
            stored: HashSet::new(),
            published: BTreeMap::new(),
            staged: 0,
        }
    }

    /// Whether anything was stored (a restarted encode must not reuse these names).
    pub fn published_anything(&self) -> bool {
        !self.stored.is_empty()
    }

    /// Files under the `hls` folder that are stored already, relative to it.
    pub fn stored(&self) -> &HashSet<String> {
        &self.stored
    }

    /// Stores what ffmpeg finished since the last call. Returns the seconds every rendition's
    /// stored playlist lists, once each lists at least one segment (`None` before).
    pub async fn publish(&mut self, media: &dyn MediaStore) -> Result<Option<f64>, String> {
        for rendition in self.renditions.clone() {
            let path = self.hls_dir.join(&rendition).join("index.m3u8");
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(text) => text,
                // Not written yet: ffmpeg writes it after the rendition's first segment.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
            };
            if self
                .published
                .get(&rendition)
                .is_some_and(|(last, _)| *last == text)
            {
                continue;
            }
            let listing = parse(&text)?;
            if listing.segments == 0 {
                continue;
            }
            for file in &listing.files {
                let relative = format!("{rendition}/{file}");
                if !self.stored.contains(&relative) {
                    self.store(media, &relative, &self.hls_dir.join(&relative))
                        .await?;
                    self.stored.insert(relative);
                }
            }
            let snapshot = self.stage_text(&text).await?;
            self.put(media, &format!("{rendition}/index.m3u8"), &snapshot)
                .await?;
            self.published.insert(rendition, (text, listing.seconds));
        }
        Ok(self.available())
    }

    /// The seconds every rendition's stored playlist lists; `None` until each lists one segment.
    pub fn available(&self) -> Option<f64> {
        self.renditions
            .iter()
            .map(|r| self.published.get(r).map(|(_, secs)| *secs))
            .try_fold(f64::INFINITY, |min, secs| secs.map(|s| min.min(s)))
            .filter(|secs| secs.is_finite())
    }

    /// Stores a text file (the interim master) at `relative` under the `hls` folder.
    pub async fn put_text(
        &mut self,
        media: &dyn MediaStore,
        relative: &str,
        text: &str,
    ) -> Result<(), String> {
        let staged = self.stage_text(text).await?;
        self.put(media, relative, &staged).await
    }

    async fn store(
        &mut self,
        media: &dyn MediaStore,
        relative: &str,
        file: &Path,
    ) -> Result<(), String> {
        let link = self.next_staging_path();
        tokio::fs::hard_link(file, &link)
            .await
            .map_err(|e| format!("cannot stage {}: {e}", file.display()))?;
        self.put(media, relative, &link).await
    }

    async fn put(&self, media: &dyn MediaStore, relative: &str, file: &Path) -> Result<(), String> {
        let result = media
            .put_file(&format!("{}/{relative}", self.hls_key), file)
            .await
            .map_err(|e| e.to_string());
        // Moved into local storage, or uploaded and no longer needed.
        let _ = tokio::fs::remove_file(file).await;
        result
    }

    async fn stage_text(&mut self, text: &str) -> Result<PathBuf, String> {
        let path = self.next_staging_path();
        tokio::fs::write(&path, text)
            .await
            .map_err(|e| format!("cannot stage a playlist: {e}"))?;
        Ok(path)
    }

    fn next_staging_path(&mut self) -> PathBuf {
        self.staged += 1;
        self.staging.join(format!("{}", self.staged))
    }
}

/// The files an ffmpeg rendition playlist names. Each must be a plain file name in the
/// rendition's folder (ffmpeg writes `init.mp4` and `seg_N.m4s`); anything else is refused.
fn parse(text: &str) -> Result<Listing, String> {
    let mut listing = Listing::default();
    let mut duration = 0.0;
    let name = |uri: &str| -> Result<String, String> {
        if uri.contains('/') || check_key(uri).is_err() {
            return Err(format!(
                "ffmpeg's playlist names an unexpected file {uri:?}"
            ));
        }
        Ok(uri.to_owned())
    };
    for line in text.lines() {
        if let Some(map) = line.strip_prefix("#EXT-X-MAP:") {
            let uri = map
                .split_once("URI=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(uri, _)| uri)
                .ok_or("ffmpeg's playlist has an unreadable EXT-X-MAP")?;
            listing.files.push(name(uri)?);
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok())
                .unwrap_or(0.0);
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            listing.files.push(name(line.trim())?);
            listing.segments += 1;
            listing.seconds += duration;
            duration = 0.0;
        }
    }
    Ok(listing)
}

/// The final form of an ffmpeg `EVENT` playlist once the encode has ended: type `VOD`, closed
/// by `#EXT-X-ENDLIST` (ffmpeg writes the end tag but keeps the type).
pub fn finished_playlist(text: &str) -> String {
    let mut out: String = text
        .lines()
        .map(|line| {
            if line.starts_with("#EXT-X-PLAYLIST-TYPE:") {
                "#EXT-X-PLAYLIST-TYPE:VOD"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    if !out.lines().any(|line| line == "#EXT-X-ENDLIST") {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROWING: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n\
        #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.000000,\nseg_0.m4s\n#EXTINF:5.500000,\nseg_1.m4s\n";

    #[test]
    fn a_growing_playlist_names_its_init_and_segments() {
        let listing = parse(GROWING).unwrap();
        assert_eq!(listing.files, ["init.mp4", "seg_0.m4s", "seg_1.m4s"]);
        assert_eq!(listing.segments, 2);
        assert!((listing.seconds - 11.5).abs() < 1e-9);
    }

    #[test]
    fn a_playlist_naming_files_elsewhere_is_refused() {
        for hostile in [
            "../../source/original.mp4",
            "a/seg.m4s",
            "..",
            "/etc/passwd",
        ] {
            let text = format!("#EXTM3U\n#EXTINF:6,\n{hostile}\n");
            assert!(parse(&text).is_err(), "{hostile}");
        }
        assert!(parse("#EXTM3U\n#EXT-X-MAP:URI=\"../init.mp4\"\n").is_err());
    }

    #[test]
    fn the_finished_playlist_is_vod_with_an_end() {
        let done = finished_playlist(&format!("{GROWING}#EXT-X-ENDLIST\n"));
        assert!(done.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"), "{done}");
        assert!(!done.contains("EVENT"));
        assert_eq!(done.matches("#EXT-X-ENDLIST").count(), 1);
        let closed = finished_playlist(GROWING);
        assert!(closed.ends_with("seg_1.m4s\n#EXT-X-ENDLIST\n"), "{closed}");
    }
}
