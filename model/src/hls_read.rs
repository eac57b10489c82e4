//! Reading our own HLS playlists back, to find the full-resolution picture at a moment of a
//! video (a poster chosen from a frame): the master's largest variant, and the segment of its
//! media playlist that holds a time.
//!
//! Only URIs that stay inside the playlist's folder are returned (no scheme, no absolute path,
//! no `..`), so even a damaged playlist cannot point a caller at another object.

/// The URI of the variant with the most pixels (ties: the higher bandwidth), `None` when the
/// master lists no video variant.
pub fn largest_variant(master: &str) -> Option<String> {
    let mut best: Option<((u64, u64), String)> = None;
    let mut pending: Option<(u64, u64)> = None;
    for line in master.lines().map(str::trim) {
        if let Some(attributes) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            pending = attribute(attributes, "RESOLUTION")
                .and_then(|r| r.split_once('x'))
                .and_then(|(w, h)| {
                    Some(u64::from(w.parse::<u32>().ok()?) * u64::from(h.parse::<u32>().ok()?))
                })
                .map(|pixels| {
                    let bandwidth = attribute(attributes, "BANDWIDTH")
                        .and_then(|b| b.parse().ok())
                        .unwrap_or(0);
                    (pixels, bandwidth)
                });
        } else if !line.is_empty()
            && !line.starts_with('#')
            // Every URI line ends the variant before it (`take`), chosen or not.
            && let Some(rank) = pending.take()
            && safe_relative_uri(line)
            && best.as_ref().is_none_or(|(r, _)| rank > *r)
        {
            best = Some((rank, line.to_owned()));
        }
    }
    best.map(|(_, uri)| uri)
}

/// An attribute's value in an `#EXT-X-…:` attribute list (unquoted values only, which is all
/// `RESOLUTION` and `BANDWIDTH` are).
fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    // Quoted values (CODECS) may hold commas: skip over them.
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], quoted[end + 1..].trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((value, next)) => (value, next),
                None => (after, ""),
            }
        };
        if key.trim() == name {
            return Some(value.trim());
        }
        rest = next;
    }
    None
}

/// The segment of a media playlist that holds a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentAt {
    /// The fMP4 initialisation segment (`#EXT-X-MAP`), relative to the playlist.
    pub init: Option<String>,
    /// The media segment, relative to the playlist.
    pub uri: String,
    /// When the segment starts, in milliseconds from the start of the video.
    pub start_ms: u64,
}

/// The segment holding `at_ms` (the last one for a time at or past the end: the final frames),
/// `None` for a playlist without segments or with an unsafe URI.
pub fn segment_at(playlist: &str, at_ms: u64) -> Option<SegmentAt> {
    let mut init = None;
    let mut start_ms = 0u64;
    let mut duration_ms: Option<u64> = None;
    let mut last = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(attributes) = line.strip_prefix("#EXT-X-MAP:") {
            init = quoted_attribute(attributes, "URI").map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration_ms = rest
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d >= 0.0)
                .map(|d| (d * 1000.0).round() as u64);
        } else if !line.is_empty() && !line.starts_with('#') {
            let length = duration_ms.take()?;
            if !safe_relative_uri(line) || init.as_deref().is_some_and(|i| !safe_relative_uri(i)) {
                return None;
            }
            let segment = SegmentAt {
                init: init.clone(),
                uri: line.to_owned(),
                start_ms,
            };
            if at_ms < start_ms + length {
                return Some(segment);
            }
            start_ms += length;
            last = Some(segment);
        }
    }
    last
}

fn quoted_attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    let start = list.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &list[start..];
    Some(&rest[..rest.find('"')?])
}

/// A path below the playlist's folder: no scheme, query, absolute path, backslash or `..`.
fn safe_relative_uri(uri: &str) -> bool {
    !uri.is_empty()
        && uri.len() <= 512
        && !uri.starts_with('/')
        && !uri.contains(':')
        && !uri.contains('?')
        && !uri.contains('\\')
        && !uri.chars().any(|c| c.is_control() || c.is_whitespace())
        && uri
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=900000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",FRAME-RATE=30.000\n\
        360p/index.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=3500000,AVERAGE-BANDWIDTH=3200000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=30.000\n\
        720p/index.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n";

    #[test]
    fn the_largest_variant_wins_whatever_its_place() {
        assert_eq!(largest_variant(MASTER).as_deref(), Some("720p/index.m3u8"));
        let reversed = MASTER
            .replace("360p/", "x/")
            .replace("720p/", "360p/")
            .replace("x/", "720p/");
        assert_eq!(
            largest_variant(&reversed).as_deref(),
            Some("360p/index.m3u8")
        );
    }

    #[test]
    fn audio_only_and_unsafe_variants_are_not_chosen() {
        assert_eq!(
            largest_variant(
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"mp4a.40.2\"\na/index.m3u8\n"
            ),
            None
        );
        for uri in [
            "../other/index.m3u8",
            "/etc/passwd",
            "http://x/i.m3u8",
            "a//b.m3u8",
        ] {
            let master = format!("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=9x9\n{uri}\n");
            assert_eq!(largest_variant(&master), None, "{uri}");
        }
    }

    const MEDIA: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n\
        #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n\
        #EXTINF:6.000000,\nseg_0.m4s\n#EXTINF:6.000000,\nseg_1.m4s\n#EXTINF:2.500000,\nseg_2.m4s\n#EXT-X-ENDLIST\n";

    #[test]
    fn the_segment_holding_a_time_and_its_start() {
        let at = |ms| segment_at(MEDIA, ms).map(|s| (s.uri, s.start_ms));
        assert_eq!(at(0), Some(("seg_0.m4s".into(), 0)));
        assert_eq!(at(5_999), Some(("seg_0.m4s".into(), 0)));
        assert_eq!(at(6_000), Some(("seg_1.m4s".into(), 6_000)));
        assert_eq!(at(14_000), Some(("seg_2.m4s".into(), 12_000)));
        // Past the end: the last segment (its last frames).
        assert_eq!(at(99_000), Some(("seg_2.m4s".into(), 12_000)));
        assert_eq!(
            segment_at(MEDIA, 0).unwrap().init.as_deref(),
            Some("init.mp4")
        );
    }

    #[test]
    fn empty_or_unsafe_media_playlists_give_nothing() {
        assert_eq!(segment_at("#EXTM3U\n#EXT-X-ENDLIST\n", 0), None);
        assert_eq!(
            segment_at("#EXTM3U\n#EXTINF:6,\n../../x/seg.m4s\n", 0),
            None
        );
        assert_eq!(
            segment_at(
                "#EXTM3U\n#EXT-X-MAP:URI=\"/abs/init.mp4\"\n#EXTINF:6,\ns.m4s\n",
                0
            ),
            None
        );
        // A segment without its duration is not a playlist we wrote.
        assert_eq!(segment_at("#EXTM3U\nseg_0.m4s\n", 0), None);
    }
}
