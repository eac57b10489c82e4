//! Subtitles as an HLS rendition: the segmented WebVTT files, their media playlist, and the
//! `SUBTITLES` group added to a master playlist.
//!
//! # Timing: `X-TIMESTAMP-MAP`
//!
//! Every segment starts with `X-TIMESTAMP-MAP=MPEGTS:<ticks>,LOCAL:00:00:00.000`: cue time 0
//! is media time `<ticks>` on the 90 kHz MPEG-2 clock. Cues keep their times from the start
//! of the video (not from the segment's start), the convention RFC 8216 §3.5 and every
//! player follow.
//!
//! What `<ticks>` must be depends on the video segments' own timestamps, not on a
//! convention. hls.js (`src/utils/webvtt-parser.ts`) places a cue at
//! `cue time + (MPEGTS − initPTS) / 90000` seconds, where `initPTS` is the first video
//! fragment's start in 90 kHz ticks, the same offset it subtracts from the video, so cues
//! and pictures line up exactly when `MPEGTS` is the media time that cue time 0 means.
//! Safari's native player maps `MPEGTS` straight onto the media timestamps. Our ffmpeg fMP4
//! renditions start their media timeline at 0 (the first frame is shown at about 80 ms at
//! 25 fps with B-frames, which hls.js and Safari shift away for the video and, through the
//! same `initPTS`, for the cues), so the right value is [`MPEGTS_FOR_ZERO_START`] = 0, as
//! GStreamer's `hlswebvttsink` writes for fMP4. The often-copied `MPEGTS:900000` (10 s)
//! belongs to MPEG-TS segments whose clock starts at 10 s; with fMP4 that starts at 0 it puts
//! every cue 10 s late in hls.js (Jellyfin issue 16647, hls.js issues 5987 and 6302 are
//! this mismatch). RFC 8216 also says a segment without the tag maps cue 0 to MPEG-2 time 0;
//! the tag is written anyway because hls.js and video.js (VHS) only apply their offsets
//! predictably when it is present. The value is a parameter for a video whose timeline
//! does not start at 0 (a recording cut from a live stream keeps its timestamps).
//!
//! Checked against ffmpeg 5.1: its HLS demuxer (`-strict experimental`) reads a rendition
//! written here next to our fMP4 video, drops the repeated copy of a cue that spans two
//! segments, and puts the cues on the same timeline as the video and audio.
//!
//! The plain `.vtt` track for `<track>` elements ([`super::write_vtt`]) carries no
//! timestamp map: browsers ignore it and take cue times as media times.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::Cue;
use super::vtt::write_cues;

/// The segment length the worker uses: subtitles are small, so long segments mean few
/// requests (a one-hour talk is 60 files of a few kilobytes).
pub const DEFAULT_SEGMENT_MS: u64 = 60_000;
/// `X-TIMESTAMP-MAP`'s `MPEGTS` for a video whose media timeline starts at 0 (our fMP4).
pub const MPEGTS_FOR_ZERO_START: u64 = 0;
/// The `GROUP-ID` of the subtitle renditions in the master playlist.
pub const SUBTITLE_GROUP_ID: &str = "subs";
/// The MPEG-2 clock has 33 bits.
const MPEGTS_LIMIT: u64 = 1 << 33;
/// A segment shorter than a second would make `EXT-X-TARGETDURATION` (whole seconds) lie.
const MIN_SEGMENT_MS: u64 = 1000;
/// More segments than this is a mistake in the arguments, not a video.
const MAX_SEGMENTS: u64 = 100_000;
const MAX_NAME_CHARS: usize = 100;

/// Why a subtitle rendition or the master playlist holding it could not be written. Values
/// are quoted debug-escaped, so messages stay one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtitleHlsError {
    #[error("the video has no duration")]
    NoDuration,
    #[error("a subtitle segment must last at least 1 s, not {0} ms")]
    SegmentTooShort(u64),
    #[error("{0} segments is more than a playlist should list; use longer segments")]
    TooManySegments(u64),
    #[error("MPEGTS {0} does not fit the 33-bit MPEG-2 clock")]
    MpegtsOutOfRange(u64),
    #[error(
        "unsafe URI {0:?}: it must be non-empty, must not start with '#' and must not contain \
         whitespace, control characters or quotes"
    )]
    UnsafeUri(String),
    #[error(
        "unsafe rendition name {0:?}: it must be 1 to 100 characters without quotes, line \
         breaks or control characters"
    )]
    UnsafeName(String),
    #[error("{0:?} is not a language tag; use a BCP 47 tag such as `en` or `pt-BR`")]
    BadLanguage(String),
    #[error("two subtitle renditions are named {0:?}; names must differ within a group")]
    DuplicateName(String),
    #[error("only one subtitle rendition can be the default")]
    SeveralDefaults,
    #[error("the default subtitle rendition {0:?} must also be AUTOSELECT")]
    DefaultNotAutoselect(String),
    #[error("not a master playlist: it must start with #EXTM3U and list variants")]
    NotAMaster,
}

/// One segment file of a subtitle rendition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VttSegment {
    /// As listed in the playlist, relative to it.
    pub uri: String,
    pub start_ms: u64,
    pub duration_ms: u64,
    /// The file's content.
    pub text: String,
}

/// A subtitle rendition: its media playlist and its segment files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentedVtt {
    pub playlist: String,
    pub segments: Vec<VttSegment>,
}

/// Cuts cues into the segments of an HLS subtitle rendition covering `duration_ms` (the
/// video's duration) in `segment_ms` steps, the last one shorter.
///
/// Each segment is `WEBVTT`, the `X-TIMESTAMP-MAP` line with `mpegts` (see the module
/// documentation; [`MPEGTS_FOR_ZERO_START`] for our videos), a blank line and every cue that
/// overlaps the segment's time, in display order, with its full times: a cue across a
/// boundary is in both segments (players drop the repeat). A segment without cues is only its
/// header, which is valid. Cues that start at or after the end of the video are in no
/// segment. `segment_uri(n)` names segment `n` (0-based), each name checked as master
/// playlist URIs are.
///
/// The playlist declares version 3, the lowest that allows its decimal `#EXTINF` durations
/// (Apple's QA1752); nothing else in it needs more, and version 6 and 7 only matter to the
/// video playlists (for `EXT-X-MAP`), which keep their own.
pub fn segment_vtt(
    cues: &[Cue],
    duration_ms: u64,
    segment_ms: u64,
    mpegts: u64,
    segment_uri: impl Fn(usize) -> String,
) -> Result<SegmentedVtt, SubtitleHlsError> {
    if duration_ms == 0 {
        return Err(SubtitleHlsError::NoDuration);
    }
    if segment_ms < MIN_SEGMENT_MS {
        return Err(SubtitleHlsError::SegmentTooShort(segment_ms));
    }
    if mpegts >= MPEGTS_LIMIT {
        return Err(SubtitleHlsError::MpegtsOutOfRange(mpegts));
    }
    let count = duration_ms.div_ceil(segment_ms);
    if count > MAX_SEGMENTS {
        return Err(SubtitleHlsError::TooManySegments(count));
    }
    let count = count as usize;
    let uris: Vec<String> = (0..count).map(&segment_uri).collect();
    for uri in &uris {
        check_uri(uri)?;
    }

    // Each cue goes straight to the segments it overlaps: O(cues + placements).
    let mut ordered: Vec<&Cue> = cues.iter().collect();
    ordered.sort_by_key(|c| (c.start_ms, c.end_ms));
    let mut members: Vec<Vec<&Cue>> = vec![Vec::new(); count];
    for cue in ordered {
        if cue.start_ms >= duration_ms {
            continue;
        }
        // A cue that does not end after it starts is written lasting 1 ms.
        let end = cue.end_ms.max(cue.start_ms + 1);
        let first = (cue.start_ms / segment_ms) as usize;
        let last = (((end - 1) / segment_ms) as usize).min(count - 1);
        for segment in &mut members[first..=last] {
            segment.push(cue);
        }
    }

    let header = format!("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n\n");
    let mut playlist = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXT-X-MEDIA-SEQUENCE:0\n",
        segment_ms.div_ceil(1000)
    );
    let mut segments = Vec::with_capacity(count);
    for (n, (uri, cues)) in uris.into_iter().zip(members).enumerate() {
        let start_ms = n as u64 * segment_ms;
        let duration = segment_ms.min(duration_ms - start_ms);
        let _ = write!(
            playlist,
            "#EXTINF:{}.{:03},\n{uri}\n",
            duration / 1000,
            duration % 1000
        );
        let mut text = header.clone();
        write_cues(cues.into_iter(), &mut text);
        segments.push(VttSegment {
            uri,
            start_ms,
            duration_ms: duration,
            text,
        });
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    Ok(SegmentedVtt { playlist, segments })
}

/// One subtitle language offered in the master playlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtitleRendition {
    /// What the player's menu shows ("English", "English (auto)").
    pub name: String,
    /// BCP 47.
    pub language: String,
    /// The rendition's media playlist, relative to the master.
    pub uri: String,
    /// Shown without the viewer choosing it (at most one per master).
    pub default: bool,
    /// The player may choose it to match the viewer's language settings.
    pub autoselect: bool,
}

/// Offers `renditions` in a master playlist that ffmpeg or [`crate::hls::master_playlist`]
/// wrote: every earlier `TYPE=SUBTITLES` media line and `SUBTITLES=` attribute is removed,
/// one `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",…` line per rendition is written before
/// the first `#EXT-X-STREAM-INF`, and every `#EXT-X-STREAM-INF` gets `SUBTITLES="subs"`.
/// Everything else is kept line for line, so applying it again with the same renditions
/// gives the same text, and no renditions takes subtitles out.
///
/// Like the master writer it refuses rather than escapes (HLS quoted strings have no escape):
/// names without quotes or control characters, BCP 47 languages, URIs as for variants, names
/// unique, at most one default and the default also AUTOSELECT (RFC 8216 §4.3.4.1). Nothing
/// is written unless everything passes.
pub fn master_with_subtitles(
    master_text: &str,
    renditions: &[SubtitleRendition],
) -> Result<String, SubtitleHlsError> {
    for (i, r) in renditions.iter().enumerate() {
        let unsafe_char = |c: char| c.is_control() || matches!(c, '"' | '\u{2028}' | '\u{2029}');
        if r.name.trim().is_empty()
            || r.name.chars().count() > MAX_NAME_CHARS
            || r.name.chars().any(unsafe_char)
        {
            return Err(SubtitleHlsError::UnsafeName(r.name.clone()));
        }
        if !crate::talk::is_language_tag(&r.language) {
            return Err(SubtitleHlsError::BadLanguage(r.language.clone()));
        }
        check_uri(&r.uri)?;
        if renditions[..i].iter().any(|other| other.name == r.name) {
            return Err(SubtitleHlsError::DuplicateName(r.name.clone()));
        }
        if r.default && !r.autoselect {
            return Err(SubtitleHlsError::DefaultNotAutoselect(r.name.clone()));
        }
    }
    if renditions.iter().filter(|r| r.default).count() > 1 {
        return Err(SubtitleHlsError::SeveralDefaults);
    }
    let mut lines = master_text.lines().map(str::trim_end);
    if lines.clone().find(|l| !l.is_empty()) != Some("#EXTM3U")
        || !lines.clone().any(|l| l.starts_with("#EXT-X-STREAM-INF:"))
    {
        return Err(SubtitleHlsError::NotAMaster);
    }

    let yes_no = |b: bool| if b { "YES" } else { "NO" };
    let mut out = String::with_capacity(master_text.len() + renditions.len() * 128);
    let mut media_written = false;
    for line in lines.by_ref() {
        if let Some(attributes) = line.strip_prefix("#EXT-X-MEDIA:")
            && split_attributes(attributes)
                .any(|(key, value)| key == "TYPE" && value == "SUBTITLES")
        {
            continue;
        }
        let Some(attributes) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        if !media_written {
            for r in renditions {
                let _ = writeln!(
                    out,
                    "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SUBTITLE_GROUP_ID}\",NAME=\"{}\",\
                     LANGUAGE=\"{}\",DEFAULT={},AUTOSELECT={},URI=\"{}\"",
                    r.name,
                    r.language,
                    yes_no(r.default),
                    yes_no(r.autoselect),
                    r.uri
                );
            }
            media_written = true;
        }
        out.push_str("#EXT-X-STREAM-INF:");
        let mut first = true;
        for (key, value) in split_attributes(attributes) {
            if key == "SUBTITLES" {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(key);
            out.push('=');
            out.push_str(value);
        }
        if !renditions.is_empty() {
            if !first {
                out.push(',');
            }
            let _ = write!(out, "SUBTITLES=\"{SUBTITLE_GROUP_ID}\"");
        }
        out.push('\n');
    }
    Ok(out)
}

/// The `KEY=value` pairs of an attribute list, values as written (quoted ones with their
/// quotes, which may hold commas).
fn split_attributes(list: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = list;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut in_quotes = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                c == ',' && !in_quotes
            })
            .map_or(rest.len(), |(i, _)| i);
        let item = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        Some(item.split_once('=').unwrap_or((item, "")))
    })
    .map(|(key, value)| (key.trim(), value.trim()))
}

fn check_uri(uri: &str) -> Result<(), SubtitleHlsError> {
    crate::hls::check_uri(uri).map_err(|_| SubtitleHlsError::UnsafeUri(uri.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What ffmpeg 5.1 writes for `-master_pl_name master.m3u8 -var_stream_map "v:0,a:0,name:hi
    /// v:1,a:1,name:lo"` with fMP4 segments, blank lines and all.
    const FFMPEG_MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n\
        #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x180,CODECS=\"avc1.64000c,mp4a.40.2\"\n\
        s2_hi.m3u8\n\n\
        #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=160x90,CODECS=\"avc1.64000b,mp4a.40.2\"\n\
        s2_lo.m3u8\n\n";

    /// ffmpeg with an audio group (`a:0,agroup:aud,language:en v:0,agroup:aud`).
    const FFMPEG_AUDIO_GROUP_MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_aud\",NAME=\"audio_0\",DEFAULT=YES,LANGUAGE=\"en\",URI=\"s3_audio.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=75900,CODECS=\"mp4a.40.2\",AUDIO=\"group_aud\"\n\
        s3_audio.m3u8\n\n\
        #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x180,CODECS=\"avc1.64000c,mp4a.40.2\",AUDIO=\"group_aud\"\n\
        s3_video.m3u8\n\n";

    fn rendition(name: &str, language: &str, uri: &str) -> SubtitleRendition {
        SubtitleRendition {
            name: name.into(),
            language: language.into(),
            uri: uri.into(),
            default: false,
            autoselect: true,
        }
    }

    #[test]
    fn subtitles_are_added_to_an_ffmpeg_master() {
        let mut en = rendition("English", "en", "subs/en/index.m3u8");
        en.default = true;
        let mut pt = rendition("Português (auto)", "pt-BR", "subs/pt-BR/index.m3u8");
        pt.autoselect = false;
        let out = master_with_subtitles(FFMPEG_MASTER, &[en.clone(), pt.clone()]).unwrap();
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:7\n\
             #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"subs/en/index.m3u8\"\n\
             #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Português (auto)\",LANGUAGE=\"pt-BR\",DEFAULT=NO,AUTOSELECT=NO,URI=\"subs/pt-BR/index.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x180,CODECS=\"avc1.64000c,mp4a.40.2\",SUBTITLES=\"subs\"\n\
             s2_hi.m3u8\n\n\
             #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=160x90,CODECS=\"avc1.64000b,mp4a.40.2\",SUBTITLES=\"subs\"\n\
             s2_lo.m3u8\n\n"
        );
        // Again: the same text. Other renditions replace the earlier ones; none removes them.
        assert_eq!(master_with_subtitles(&out, &[en.clone(), pt]).unwrap(), out);
        let only_en = master_with_subtitles(&out, std::slice::from_ref(&en)).unwrap();
        assert_eq!(only_en.matches("TYPE=SUBTITLES").count(), 1);
        assert_eq!(only_en.matches("SUBTITLES=\"subs\"").count(), 2);
        assert_eq!(master_with_subtitles(&out, &[]).unwrap(), FFMPEG_MASTER);
        // The largest variant is still found in the result.
        assert_eq!(
            crate::hls_read::largest_variant(&out).as_deref(),
            Some("s2_hi.m3u8")
        );
    }

    #[test]
    fn audio_groups_and_our_own_master_are_kept() {
        let out = master_with_subtitles(
            FFMPEG_AUDIO_GROUP_MASTER,
            &[rendition("English", "en", "en.m3u8")],
        )
        .unwrap();
        assert!(out.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_aud\""));
        let media_at = out.find("TYPE=SUBTITLES").unwrap();
        assert!(out.find("TYPE=AUDIO").unwrap() < media_at);
        assert!(media_at < out.find("#EXT-X-STREAM-INF").unwrap());
        assert!(out.contains(
            "#EXT-X-STREAM-INF:BANDWIDTH=75900,CODECS=\"mp4a.40.2\",AUDIO=\"group_aud\",SUBTITLES=\"subs\"\n"
        ));

        let ours = crate::hls::master_playlist(
            &[crate::hls::Variant {
                uri: "720p/index.m3u8".into(),
                bandwidth: 3_500_000,
                average_bandwidth: 3_000_000,
                width: 1280,
                height: 720,
                frame_rate: 30.0,
                codecs: "avc1.64001f,mp4a.40.2".into(),
            }],
            None,
        )
        .unwrap();
        // Someone else's subtitles group, attribute in the middle of the list, CR LF.
        let crlf = ours
            .replace(
                "#EXT-X-STREAM-INF:BANDWIDTH=3500000,",
                "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"old\",NAME=\"x\",URI=\"x.m3u8\"\n\
                 #EXT-X-STREAM-INF:SUBTITLES=\"old\",BANDWIDTH=3500000,",
            )
            .replace('\n', "\r\n");
        let out = master_with_subtitles(&crlf, &[rendition("English", "en", "en.m3u8")]).unwrap();
        assert!(!out.contains("old") && !out.contains('\r'), "{out}");
        assert!(out.contains(
            "#EXT-X-STREAM-INF:BANDWIDTH=3500000,AVERAGE-BANDWIDTH=3000000,RESOLUTION=1280x720,\
             FRAME-RATE=30.000,CODECS=\"avc1.64001f,mp4a.40.2\",SUBTITLES=\"subs\"\n720p/index.m3u8\n"
        ), "{out}");
    }

    #[test]
    fn injection_attempts_are_refused() {
        let attempts = [
            (
                rendition("English\"\n#EXT-X-ENDLIST", "en", "en.m3u8"),
                "name",
            ),
            (rendition("a\"b", "en", "en.m3u8"), "name"),
            (rendition("a\rb", "en", "en.m3u8"), "name"),
            (rendition("a\u{2028}b", "en", "en.m3u8"), "name"),
            (rendition(" ", "en", "en.m3u8"), "name"),
            (rendition(&"n".repeat(101), "en", "en.m3u8"), "name"),
            (
                rendition("English", "en\",URI=\"evil", "en.m3u8"),
                "language",
            ),
            (
                rendition("English", "en\n#EXT-X-ENDLIST", "en.m3u8"),
                "language",
            ),
            (
                rendition("English", "en", "en.m3u8\"\n#EXT-X-MEDIA:TYPE=SUBTITLES"),
                "uri",
            ),
            (rendition("English", "en", "#EXT-X-ENDLIST"), "uri"),
            (rendition("English", "en", ""), "uri"),
            (rendition("English", "en", "a b.m3u8"), "uri"),
        ];
        for (bad, what) in attempts {
            let err = master_with_subtitles(
                FFMPEG_MASTER,
                &[rendition("Fine", "fr", "fr.m3u8"), bad.clone()],
            )
            .unwrap_err();
            let expected = match what {
                "name" => SubtitleHlsError::UnsafeName(bad.name.clone()),
                "language" => SubtitleHlsError::BadLanguage(bad.language.clone()),
                _ => SubtitleHlsError::UnsafeUri(bad.uri.clone()),
            };
            assert_eq!(err, expected);
            assert!(!err.to_string().contains('\n'), "{err}");
        }
        let mut a = rendition("A", "en", "a.m3u8");
        let mut b = rendition("B", "de", "b.m3u8");
        a.default = true;
        b.default = true;
        assert_eq!(
            master_with_subtitles(FFMPEG_MASTER, &[a.clone(), b.clone()]),
            Err(SubtitleHlsError::SeveralDefaults)
        );
        b.default = false;
        b.name = "A".into();
        assert_eq!(
            master_with_subtitles(FFMPEG_MASTER, &[a.clone(), b]),
            Err(SubtitleHlsError::DuplicateName("A".into()))
        );
        a.autoselect = false;
        assert_eq!(
            master_with_subtitles(FFMPEG_MASTER, &[a]),
            Err(SubtitleHlsError::DefaultNotAutoselect("A".into()))
        );
        for not_master in [
            "",
            "#EXTM3U\n#EXTINF:6,\nseg.m4s\n",
            "hello\n#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na\n",
        ] {
            assert_eq!(
                master_with_subtitles(not_master, &[]),
                Err(SubtitleHlsError::NotAMaster),
                "{not_master:?}"
            );
        }
    }

    #[test]
    fn a_rendition_in_minute_segments() {
        let cues = [
            Cue::new(1000, 4000, "Hello"),
            Cue::new(59_000, 61_500, "across"),
            Cue::new(125_000, 126_000, "past the end"),
        ];
        let out = segment_vtt(
            &cues,
            121_250,
            DEFAULT_SEGMENT_MS,
            MPEGTS_FOR_ZERO_START,
            |n| format!("seg_{n}.vtt"),
        )
        .unwrap();
        assert_eq!(
            out.playlist,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:60\n#EXT-X-PLAYLIST-TYPE:VOD\n\
             #EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:60.000,\nseg_0.vtt\n#EXTINF:60.000,\nseg_1.vtt\n\
             #EXTINF:1.250,\nseg_2.vtt\n#EXT-X-ENDLIST\n"
        );
        let header = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n";
        assert_eq!(
            out.segments[0].text,
            format!(
                "{header}00:00:01.000 --> 00:00:04.000\nHello\n\n\
                 00:00:59.000 --> 00:01:01.500\nacross\n\n"
            )
        );
        assert_eq!(
            out.segments[1].text,
            format!("{header}00:00:59.000 --> 00:01:01.500\nacross\n\n")
        );
        assert_eq!(out.segments[2].text, header);
        assert_eq!(
            out.segments
                .iter()
                .map(|s| (s.start_ms, s.duration_ms))
                .collect::<Vec<_>>(),
            [(0, 60_000), (60_000, 60_000), (120_000, 1250)]
        );
        // Every segment reads back as WebVTT.
        for segment in &out.segments {
            assert!(super::super::parse_vtt(segment.text.as_bytes()).is_ok());
        }
        let other = segment_vtt(&cues, 10_500, 6000, 900_000, |n| format!("{n}.vtt")).unwrap();
        assert!(
            other.segments[0]
                .text
                .starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n")
        );
        assert!(other.playlist.contains("#EXT-X-TARGETDURATION:6\n"));
        assert!(
            other
                .playlist
                .contains("#EXTINF:6.000,\n0.vtt\n#EXTINF:4.500,\n1.vtt\n")
        );
    }

    #[test]
    fn bad_segmenting_arguments_are_refused() {
        let name = |n: usize| format!("{n}.vtt");
        assert_eq!(
            segment_vtt(&[], 0, 60_000, 0, name),
            Err(SubtitleHlsError::NoDuration)
        );
        assert_eq!(
            segment_vtt(&[], 1000, 999, 0, name),
            Err(SubtitleHlsError::SegmentTooShort(999))
        );
        assert_eq!(
            segment_vtt(&[], 1000, 1000, 1 << 33, name),
            Err(SubtitleHlsError::MpegtsOutOfRange(1 << 33))
        );
        assert_eq!(
            segment_vtt(&[], 200_000_000, 1000, 0, name),
            Err(SubtitleHlsError::TooManySegments(200_000))
        );
        assert_eq!(
            segment_vtt(&[], 1000, 1000, 0, |_| "a\n#EXT-X-ENDLIST".into()),
            Err(SubtitleHlsError::UnsafeUri("a\n#EXT-X-ENDLIST".into()))
        );
    }

    proptest! {
        #[test]
        fn every_cue_is_in_every_segment_it_overlaps_and_nowhere_else(
            times in prop::collection::vec((0u64..20_000, 0u64..8_000), 0..25),
            duration in 1u64..20_000,
            segment in 1000u64..7000,
        ) {
            let cues: Vec<Cue> = times
                .iter()
                .enumerate()
                .map(|(i, &(start, length))| Cue::new(start, start + length, format!("cue {i}")))
                .collect();
            let out = segment_vtt(&cues, duration, segment, 0, |n| format!("{n}.vtt")).unwrap();
            prop_assert_eq!(out.segments.len() as u64, duration.div_ceil(segment));
            prop_assert_eq!(out.segments.iter().map(|s| s.duration_ms).sum::<u64>(), duration);
            for s in &out.segments {
                let parsed = super::super::parse_vtt(s.text.as_bytes()).unwrap();
                let (a, b) = (s.start_ms, s.start_ms + s.duration_ms);
                let mut expected: Vec<Cue> = cues
                    .iter()
                    .filter(|c| c.start_ms < b && c.end_ms.max(c.start_ms + 1) > a)
                    .map(|c| Cue::new(c.start_ms, c.end_ms.max(c.start_ms + 1), c.text.clone()))
                    .collect();
                super::super::sort_cues(&mut expected);
                prop_assert_eq!(parsed, expected);
            }
        }
    }
}
