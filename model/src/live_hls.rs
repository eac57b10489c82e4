//! The playlists viewers of a live stream load, put together from what the live transcoder
//! wrote.
//!
//! A live session can be several transcoder runs: the publisher's connection drops and comes
//! back within the reconnect window, and each push is a new ffmpeg writing its own folder
//! (`r{n}/{rendition}/`), numbering its segments from 0 and deleting the ones that left its
//! window. Viewers keep one playlist per rendition across those runs: [`compose`] lists the
//! newest segments of every run in order, with an `EXT-X-DISCONTINUITY` (and the run's own
//! init segment) where a run starts, and media and discontinuity sequence numbers that only
//! ever grow, as RFC 8216 requires of a live playlist.
//!
//! Only URIs that stay in the run's folder are taken (a plain file name), so nothing a damaged
//! playlist says can make the server point a player elsewhere.

/// One segment of a run's media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub duration: f64,
    /// A file name in the run's rendition folder.
    pub uri: String,
    /// `EXT-X-PROGRAM-DATE-TIME`, as ffmpeg wrote it.
    pub program_date_time: Option<String>,
}

/// A transcoder run's media playlist of one rendition, as ffmpeg's HLS muxer keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPlaylist {
    /// `EXT-X-MEDIA-SEQUENCE`: how many of the run's segments left its window before the first
    /// one listed.
    pub media_sequence: u64,
    /// `EXT-X-MAP` (fMP4 init segment), a file name in the same folder.
    pub map_uri: Option<String>,
    pub segments: Vec<Segment>,
}

impl RunPlaylist {
    /// Every segment the run has written, listed or not.
    pub fn total_segments(&self) -> u64 {
        self.media_sequence + self.segments.len() as u64
    }
}

/// Reads one of ffmpeg's live media playlists. Lines it does not know are skipped; segments
/// with an unusable URI or duration are left out.
pub fn parse_run_playlist(text: &str) -> RunPlaylist {
    let mut playlist = RunPlaylist::default();
    let mut duration = None;
    let mut program_date_time = None;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            playlist.media_sequence = value.trim().parse().unwrap_or(0);
        } else if let Some(attributes) = line.strip_prefix("#EXT-X-MAP:") {
            playlist.map_uri = quoted_uri(attributes).filter(|uri| plain_file_name(uri));
        } else if let Some(value) = line.strip_prefix("#EXTINF:") {
            duration = value
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d > 0.0);
        } else if let Some(value) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            program_date_time = Some(value.to_owned());
        } else if !line.is_empty() && !line.starts_with('#') {
            let (duration, pdt) = (duration.take(), program_date_time.take());
            if let Some(duration) = duration
                && plain_file_name(line)
            {
                playlist.segments.push(Segment {
                    duration,
                    uri: line.to_owned(),
                    program_date_time: pdt,
                });
            }
        }
    }
    playlist
}

/// A run of the session, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The run's folder is `r{number}`.
    pub number: u32,
    pub playlist: RunPlaylist,
}

/// The media playlist viewers load for one rendition of a session: the newest segments
/// covering `window_secs` (the DVR window; at least three segments when there are that many),
/// across every run. `ended`: the session is over, so the list is closed with
/// `EXT-X-ENDLIST`.
pub fn compose(runs: &[Run], window_secs: f64, ended: bool) -> String {
    // Every segment of every run, with its position in the whole session.
    struct Listed<'a> {
        run: usize,
        sequence: u64,
        segment: &'a Segment,
    }
    let mut all = Vec::new();
    let mut before = 0u64;
    for (index, run) in runs.iter().enumerate() {
        let first = before + run.playlist.media_sequence;
        for (i, segment) in run.playlist.segments.iter().enumerate() {
            all.push(Listed {
                run: index,
                sequence: first + i as u64,
                segment,
            });
        }
        before += run.playlist.total_segments();
    }
    let mut start = all.len();
    let mut covered = 0.0;
    while start > 0 && (covered < window_secs || all.len() - start < 3) {
        start -= 1;
        covered += all[start].segment.duration;
    }
    let shown = &all[start..];
    let target = shown
        .iter()
        .map(|l| l.segment.duration.ceil() as u64)
        .max()
        .unwrap_or(1)
        .max(1);
    let media_sequence = shown.first().map_or(before, |l| l.sequence);
    // A segment's discontinuity number is the count of run starts before it (after the first).
    let discontinuity_sequence = shown
        .first()
        .map_or(runs.len().saturating_sub(1), |l| l.run);

    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n\
         #EXT-X-MEDIA-SEQUENCE:{media_sequence}\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    let mut current_run = None;
    for listed in shown {
        if current_run != Some(listed.run) {
            let run = &runs[listed.run];
            if current_run.is_some() {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(map) = &run.playlist.map_uri {
                out.push_str(&format!("#EXT-X-MAP:URI=\"r{}/{map}\"\n", run.number));
            }
            current_run = Some(listed.run);
        }
        out.push_str(&format!("#EXTINF:{:.3},\n", listed.segment.duration));
        if let Some(pdt) = &listed.segment.program_date_time {
            out.push_str(&format!("#EXT-X-PROGRAM-DATE-TIME:{pdt}\n"));
        }
        out.push_str(&format!(
            "r{}/{}\n",
            runs[listed.run].number, listed.segment.uri
        ));
    }
    if ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// `URI="…"` in an attribute list.
fn quoted_uri(attributes: &str) -> Option<String> {
    let start = attributes.find("URI=\"")? + 5;
    let end = attributes[start..].find('"')? + start;
    Some(attributes[start..end].to_owned())
}

/// A file name of the folder itself: letters, digits, `_`, `-` and `.`, not starting with a dot.
pub fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_text(media_sequence: u64, names: &[&str]) -> String {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{media_sequence}\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init_0.mp4\"\n"
        );
        for name in names {
            text.push_str(&format!(
                "#EXTINF:1.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-02T21:20:08.958+0000\n{name}\n"
            ));
        }
        text
    }

    fn run(number: u32, media_sequence: u64, names: &[&str]) -> Run {
        Run {
            number,
            playlist: parse_run_playlist(&run_text(media_sequence, names)),
        }
    }

    #[test]
    fn ffmpegs_playlist_is_read_with_its_sequence_map_and_dates() {
        let playlist = parse_run_playlist(&run_text(7, &["seg_7.m4s", "seg_8.m4s"]));
        assert_eq!(playlist.media_sequence, 7);
        assert_eq!(playlist.map_uri.as_deref(), Some("init_0.mp4"));
        assert_eq!(playlist.segments.len(), 2);
        assert_eq!(playlist.segments[1].uri, "seg_8.m4s");
        assert_eq!(playlist.total_segments(), 9);
        assert!(playlist.segments[0].program_date_time.is_some());
    }

    #[test]
    fn uris_leaving_the_folder_and_nonsense_durations_are_left_out() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"../../secret\"\n#EXTINF:1.0,\n../x.m4s\n\
                    #EXTINF:1.0,\nhttp://evil/x.m4s\n#EXTINF:1.0,\n/etc/passwd\n#EXTINF:NaN,\n\
                    seg_1.m4s\n#EXTINF:-1,\nseg_2.m4s\n#EXTINF:1.0,\nseg_3.m4s\n";
        let playlist = parse_run_playlist(text);
        assert_eq!(playlist.map_uri, None);
        let uris: Vec<_> = playlist.segments.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(uris, ["seg_3.m4s"]);
    }

    #[test]
    fn one_run_lists_its_newest_segments_in_the_window() {
        let names: Vec<String> = (0..20).map(|i| format!("seg_{i}.m4s")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let text = compose(&[run(0, 0, &names)], 5.0, false);
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:15\n"), "{text}");
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
        assert!(text.contains("#EXT-X-MAP:URI=\"r0/init_0.mp4\"\n"));
        assert!(text.contains("r0/seg_15.m4s\n") && text.contains("r0/seg_19.m4s\n"));
        assert!(!text.contains("seg_14.m4s"));
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
        assert!(!text.contains("ENDLIST"));
    }

    #[test]
    fn a_reconnect_continues_the_numbers_with_a_discontinuity_and_its_own_init() {
        // The first run wrote 10 segments (its playlist lists the last 4), the second 3.
        let runs = [
            run(0, 6, &["seg_6.m4s", "seg_7.m4s", "seg_8.m4s", "seg_9.m4s"]),
            run(1, 0, &["seg_0.m4s", "seg_1.m4s", "seg_2.m4s"]),
        ];
        let text = compose(&runs, 100.0, false);
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:6\n"), "{text}");
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
        let tail = text.split("r0/seg_9.m4s\n").nth(1).unwrap();
        assert!(
            tail.starts_with("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"r1/init_0.mp4\"\n"),
            "{tail}"
        );
        // The window moves past the first run: numbering goes on from 10, one discontinuity
        // has left the list.
        let text = compose(&runs, 3.0, true);
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"), "{text}");
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
        assert!(text.contains("#EXT-X-MAP:URI=\"r1/init_0.mp4\"\n"));
        assert!(text.ends_with("r1/seg_2.m4s\n#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn a_run_that_wrote_nothing_yet_keeps_the_numbers() {
        let runs = [run(0, 0, &["seg_0.m4s", "seg_1.m4s"]), run(1, 0, &[])];
        let text = compose(&runs, 10.0, false);
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
        let empty = compose(&[], 10.0, false);
        assert!(empty.contains("#EXT-X-MEDIA-SEQUENCE:0\n"), "{empty}");
    }

    #[test]
    fn plain_file_names_only() {
        for good in ["seg_1.m4s", "init_0.mp4", "a-b.ts"] {
            assert!(plain_file_name(good), "{good}");
        }
        for bad in ["", ".hidden", "../x", "a/b", "a\\b", "x%2f", "a b", "x\0"] {
            assert!(!plain_file_name(bad), "{bad:?}");
        }
    }
}
