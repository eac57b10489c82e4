//! Text the player reads: the HLS master playlist and the WebVTT thumbnail track.
//!
//! Both are line-based formats where one stray newline in a URI turns data into directives, so
//! every value that reaches the output is either validated ([`master_playlist`]) or escaped
//! ([`thumbnails_vtt`]) here, in one place.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::ladder::sane_fps;

/// Why a master playlist could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HlsError {
    #[error("a master playlist needs at least one variant")]
    NoVariants,
    #[error(
        "unsafe playlist URI {0:?}: it must be non-empty, must not start with '#' and must not \
         contain whitespace, control characters or quotes"
    )]
    UnsafeUri(String),
    #[error("unsafe CODECS value {0:?}: only ASCII letters, digits and . , - _ + are allowed")]
    UnsafeCodecs(String),
    #[error("variant {uri:?} has a frame rate that is not a positive number")]
    InvalidFrameRate { uri: String },
    #[error("variant {uri:?} has a zero-sized resolution")]
    InvalidResolution { uri: String },
    #[error("variant {uri:?} has a zero bandwidth")]
    ZeroBandwidth { uri: String },
}

/// One video rendition in the master playlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Media playlist URI, usually relative to the master ("720p/index.m3u8").
    pub uri: String,
    /// Peak bits per second, including audio (HLS `BANDWIDTH`).
    pub bandwidth: u64,
    /// Average bits per second, including audio (HLS `AVERAGE-BANDWIDTH`).
    pub average_bandwidth: u64,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    /// RFC 6381 codec list, e.g. `avc1.64001f,mp4a.40.2`.
    pub codecs: String,
}

/// An audio-only rendition: the fallback for very poor connections (and what Apple's review
/// guidelines ask for on cellular).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioOnlyVariant {
    pub uri: String,
    pub bandwidth: u64,
    pub codecs: String,
}

/// Writes the master playlist.
///
/// Variants are written in the given order (the first is where many players start, so the
/// caller decides); the audio-only variant, if any, comes last so it is never the starting
/// point. Every URI and codec list is checked first, and nothing is written unless all pass:
/// a value that could end a line or a quoted attribute is rejected, so a crafted name cannot
/// add tags to the playlist.
pub fn master_playlist(
    variants: &[Variant],
    audio_only: Option<&AudioOnlyVariant>,
) -> Result<String, HlsError> {
    if variants.is_empty() && audio_only.is_none() {
        return Err(HlsError::NoVariants);
    }
    for variant in variants {
        check_uri(&variant.uri)?;
        check_codecs(&variant.codecs)?;
        if !(variant.frame_rate.is_finite() && variant.frame_rate > 0.0) {
            return Err(HlsError::InvalidFrameRate {
                uri: variant.uri.clone(),
            });
        }
        if variant.width == 0 || variant.height == 0 {
            return Err(HlsError::InvalidResolution {
                uri: variant.uri.clone(),
            });
        }
        if variant.bandwidth == 0 {
            return Err(HlsError::ZeroBandwidth {
                uri: variant.uri.clone(),
            });
        }
    }
    if let Some(audio) = audio_only {
        check_uri(&audio.uri)?;
        check_codecs(&audio.codecs)?;
        if audio.bandwidth == 0 {
            return Err(HlsError::ZeroBandwidth {
                uri: audio.uri.clone(),
            });
        }
    }

    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},\
             FRAME-RATE={:.3},CODECS=\"{}\"\n{}\n",
            v.bandwidth, v.average_bandwidth, v.width, v.height, v.frame_rate, v.codecs, v.uri
        );
    }
    if let Some(audio) = audio_only {
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\"\n{}\n",
            audio.bandwidth, audio.codecs, audio.uri
        );
    }
    Ok(out)
}

/// A URI line must stay one line and must not read as a tag or comment.
pub(crate) fn check_uri(uri: &str) -> Result<(), HlsError> {
    let unsafe_char = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'');
    if uri.is_empty() || uri.starts_with('#') || uri.chars().any(unsafe_char) {
        return Err(HlsError::UnsafeUri(uri.to_owned()));
    }
    Ok(())
}

/// CODECS is a quoted attribute; RFC 6381 codec strings only need this small alphabet, so
/// anything else is refused rather than escaped (HLS has no escape for quotes).
fn check_codecs(codecs: &str) -> Result<(), HlsError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '-' | '_' | '+');
    if codecs.is_empty() || !codecs.chars().all(allowed) {
        return Err(HlsError::UnsafeCodecs(codecs.to_owned()));
    }
    Ok(())
}

/// The RFC 6381 name of an H.264 stream: `avc1.PPCCLL` in lowercase hex, e.g. High profile
/// (100) level 3.1 → `avc1.64001f`.
pub fn avc_codec_string(profile_idc: u8, constraint_flags: u8, level_idc: u8) -> String {
    format!("avc1.{profile_idc:02x}{constraint_flags:02x}{level_idc:02x}")
}

/// H.264 levels from 3.0 up (Table A-1): `level_idc`, MaxFS (macroblocks per frame),
/// MaxMBPS (macroblocks per second). Lower levels are not worth targeting for web playback.
const H264_LEVELS: [(u8, u64, u64); 9] = [
    (30, 1620, 40_500),
    (31, 3600, 108_000),
    (32, 5120, 216_000),
    (40, 8192, 245_760),
    (41, 8192, 245_760),
    (42, 8704, 522_240),
    (50, 22_080, 589_824),
    (51, 36_864, 983_040),
    (52, 36_864, 2_073_600),
];

/// The smallest H.264 level (as `level_idc`: 30 = 3.0 … 52 = 5.2) whose frame size and
/// macroblock rate limits hold the picture, so the declared level is honest and decoders are
/// not asked for more than needed.
///
/// Besides MaxFS and MaxMBPS it applies the spec's limit on each side (at most
/// √(8 × MaxFS) macroblocks), which matters for very wide or tall pictures. Level 4.1 has the
/// same limits as 4.0 here (it differs only in bitrate), so 4.0 is chosen first. A picture
/// beyond 5.2 gets 52 as the best available answer; a non-positive or non-finite `fps` is
/// treated as 30, as in [`crate::ladder::output_fps`].
pub fn h264_level_for(width: u32, height: u32, fps: f64) -> u8 {
    let mbs_wide = u64::from(width.div_ceil(16));
    let mbs_high = u64::from(height.div_ceil(16));
    let frame_mbs = mbs_wide * mbs_high;
    let mb_rate = frame_mbs as f64 * sane_fps(fps);
    H264_LEVELS
        .iter()
        .find(|&&(_, max_fs, max_mbps)| {
            let max_side = ((max_fs * 8) as f64).sqrt();
            frame_mbs <= max_fs
                && mbs_wide as f64 <= max_side
                && mbs_high as f64 <= max_side
                && mb_rate <= max_mbps as f64
        })
        .map_or(52, |&(level, _, _)| level)
}

/// Sprite sheets are grids of this many columns…
pub const SPRITE_COLUMNS: u32 = 10;
/// …and rows.
pub const SPRITE_ROWS: u32 = 10;
/// Tiles on one full sheet.
pub const TILES_PER_SHEET: u32 = SPRITE_COLUMNS * SPRITE_ROWS;
/// Upper bound on thumbnails per video, so a ten-hour stream costs five sheets, not 18 000
/// frame grabs.
pub const MAX_THUMBNAIL_TILES: u32 = 500;
/// Thumbnails closer together than this show nearly the same frame.
pub const MIN_THUMBNAIL_INTERVAL_SECS: f64 = 2.0;
/// Length of a tile's long side, in pixels: big enough for a scrubbing preview, small enough
/// that a 10×10 sheet stays a modest download.
pub const THUMBNAIL_LONG_SIDE: u32 = 160;

/// How to cut scrubbing thumbnails for one video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpritePlan {
    /// Seconds between grabbed frames.
    pub interval_secs: f64,
    pub tiles: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub sheets: u32,
}

/// Plans the thumbnails for a video.
///
/// One tile every 2 s until the video is longer than 1000 s (500 × 2 s); past that the
/// 500-tile cap wins and the interval stretches (14.4 s for two hours), so the cost is
/// bounded. The tile is 160 px on its long side with the source's aspect ratio, rounded to
/// even (≥ 2); a source without dimensions is assumed to be 16:9.
///
/// A zero, negative or non-finite duration (a failed probe, a still image) gets one tile
/// covering the first 2 s, so the player still has something to show.
pub fn sprite_plan(duration_secs: f64, source_width: u32, source_height: u32) -> SpritePlan {
    let (interval_secs, tiles) = if duration_secs.is_finite() && duration_secs > 0.0 {
        let interval =
            (duration_secs / f64::from(MAX_THUMBNAIL_TILES)).max(MIN_THUMBNAIL_INTERVAL_SECS);
        let count = (duration_secs / interval).ceil();
        // `count` is at most about 500; float rounding may push it one over.
        let tiles = if count >= f64::from(MAX_THUMBNAIL_TILES) {
            MAX_THUMBNAIL_TILES
        } else {
            (count as u32).max(1)
        };
        (interval, tiles)
    } else {
        (MIN_THUMBNAIL_INTERVAL_SECS, 1)
    };
    let (tile_width, tile_height) = tile_size(source_width, source_height);
    SpritePlan {
        interval_secs,
        tiles,
        tile_width,
        tile_height,
        sheets: tiles.div_ceil(TILES_PER_SHEET),
    }
}

fn tile_size(width: u32, height: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (THUMBNAIL_LONG_SIDE, 90);
    }
    let long = f64::from(THUMBNAIL_LONG_SIDE);
    let even = |x: f64| (((x / 2.0).round() * 2.0) as u32).max(2);
    if height > width {
        (
            even(long * f64::from(width) / f64::from(height)),
            THUMBNAIL_LONG_SIDE,
        )
    } else {
        (
            THUMBNAIL_LONG_SIDE,
            even(long * f64::from(height) / f64::from(width)),
        )
    }
}

/// Writes the WebVTT track that maps each stretch of the video to its sprite tile
/// (`sheet.jpg#xywh=x,y,w,h`), the format video.js, Vidstack and Plyr read.
///
/// Cue `k` covers `[k × interval, (k + 1) × interval)`, the last one ends at `duration_secs`,
/// and every cue lasts at least 1 ms (WebVTT requires end > start). Cues that would start at
/// or after the duration are left out, so a plan made for a longer duration still gives a
/// valid track. A zero, negative or non-finite duration is taken as `tiles × interval`.
///
/// `sheet_name(n)` gives the URL of sheet `n` (0-based), called once per sheet. Characters
/// that could break a cue (whitespace, line breaks, `#`, quotes, `<`, `>`) are
/// percent-encoded, which names the same file and makes injecting cues impossible.
pub fn thumbnails_vtt(
    plan: &SpritePlan,
    duration_secs: f64,
    sheet_name: impl Fn(u32) -> String,
) -> String {
    let mut out = String::from("WEBVTT\n\n");
    let tiles = plan.tiles.min(MAX_THUMBNAIL_TILES);
    if tiles == 0 {
        return out;
    }
    let interval = if plan.interval_secs.is_finite() && plan.interval_secs > 0.0 {
        plan.interval_secs
    } else {
        MIN_THUMBNAIL_INTERVAL_SECS
    };
    let duration = if duration_secs.is_finite() && duration_secs > 0.0 {
        duration_secs
    } else {
        interval * f64::from(tiles)
    };
    let (tile_w, tile_h) = (u64::from(plan.tile_width), u64::from(plan.tile_height));
    let mut sheet: Option<(u32, String)> = None;
    for k in 0..tiles {
        let start = f64::from(k) * interval;
        if k > 0 && start >= duration {
            break;
        }
        let next = f64::from(k + 1) * interval;
        let last = k + 1 == tiles || next >= duration;
        let start_ms = to_millis(start);
        let end_ms = to_millis(if last { duration } else { next }).max(start_ms + 1);

        let sheet_index = k / TILES_PER_SHEET;
        if sheet
            .as_ref()
            .is_none_or(|(index, _)| *index != sheet_index)
        {
            sheet = Some((sheet_index, vtt_safe_url(&sheet_name(sheet_index))));
        }
        let name = sheet.as_ref().map_or("", |(_, name)| name.as_str());
        let cell = k % TILES_PER_SHEET;
        let x = u64::from(cell % SPRITE_COLUMNS) * tile_w;
        let y = u64::from(cell / SPRITE_COLUMNS) * tile_h;
        let _ = write!(
            out,
            "{} --> {}\n{name}#xywh={x},{y},{tile_w},{tile_h}\n\n",
            timestamp(start_ms),
            timestamp(end_ms),
        );
        if last {
            break;
        }
    }
    out
}

fn to_millis(secs: f64) -> u64 {
    // Inputs are finite and non-negative here; `as` saturates for absurd durations.
    (secs * 1000.0).round() as u64
}

/// `HH:MM:SS.mmm`; hours grow past two digits if they must, as WebVTT allows.
fn timestamp(millis: u64) -> String {
    let (secs, ms) = (millis / 1000, millis % 1000);
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Percent-encodes the characters that could end the cue line, start a fragment, or form
/// `-->`; everything else (including `%` of an already-encoded URL) is left alone.
fn vtt_safe_url(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_whitespace() || c.is_control() || matches!(c, '#' | '"' | '\'' | '<' | '>') {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn variant(uri: &str, width: u32, height: u32, fps: f64, codecs: &str) -> Variant {
        Variant {
            uri: uri.to_owned(),
            bandwidth: 3_500_000,
            average_bandwidth: 3_200_000,
            width,
            height,
            frame_rate: fps,
            codecs: codecs.to_owned(),
        }
    }

    fn audio(uri: &str, codecs: &str) -> AudioOnlyVariant {
        AudioOnlyVariant {
            uri: uri.to_owned(),
            bandwidth: 140_000,
            codecs: codecs.to_owned(),
        }
    }

    #[test]
    fn master_playlist_lists_variants_in_order() {
        let mut low = variant("360p/index.m3u8", 640, 360, 29.97, "avc1.64001e,mp4a.40.2");
        low.bandwidth = 1_000_000;
        low.average_bandwidth = 900_000;
        let high = variant("720p/index.m3u8", 1280, 720, 30.0, "avc1.64001f,mp4a.40.2");
        let text = master_playlist(&[low, high], None).unwrap();
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=900000,RESOLUTION=640x360,\
             FRAME-RATE=29.970,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=3500000,AVERAGE-BANDWIDTH=3200000,RESOLUTION=1280x720,\
             FRAME-RATE=30.000,CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n"
        );
    }

    #[test]
    fn audio_only_variant_comes_last_with_bandwidth_and_codecs_only() {
        let video = variant(
            "720p/index.m3u8",
            1280,
            720,
            23.976,
            "avc1.64001f,mp4a.40.2",
        );
        let text =
            master_playlist(&[video], Some(&audio("audio/index.m3u8", "mp4a.40.2"))).unwrap();
        assert!(text.contains("FRAME-RATE=23.976,"));
        assert!(text.ends_with(
            "720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n"
        ));

        let only = master_playlist(&[], Some(&audio("audio/index.m3u8", "mp4a.40.2"))).unwrap();
        assert_eq!(
            only,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n"
        );
    }

    #[test]
    fn an_empty_master_is_refused() {
        assert_eq!(master_playlist(&[], None), Err(HlsError::NoVariants));
    }

    #[test]
    fn uri_injection_is_refused() {
        let attacks = [
            "a.m3u8\n#EXT-X-ENDLIST",
            "a.m3u8\r\n#EXT-X-KEY:METHOD=NONE",
            "a.m3u8\rx",
            "a b.m3u8",
            "a\tb.m3u8",
            "a\u{2028}b.m3u8",
            "a\u{85}b.m3u8",
            "a\u{0}b.m3u8",
            "a\"b.m3u8",
            "a'b.m3u8",
            "#EXT-X-ENDLIST",
            "",
        ];
        for uri in attacks {
            let v = variant(uri, 1280, 720, 30.0, "avc1.64001f");
            assert_eq!(
                master_playlist(&[v], None),
                Err(HlsError::UnsafeUri(uri.to_owned())),
                "{uri:?}"
            );
            let ok = variant("720p.m3u8", 1280, 720, 30.0, "avc1.64001f");
            assert_eq!(
                master_playlist(&[ok], Some(&audio(uri, "mp4a.40.2"))),
                Err(HlsError::UnsafeUri(uri.to_owned())),
                "{uri:?}"
            );
        }
        // Ordinary relative and absolute URIs pass, including query strings and encoded spaces.
        for uri in [
            "720p/index.m3u8",
            "https://cdn.example/v/1/720p.m3u8?token=a%20b&exp=1",
            "../é/index.m3u8",
        ] {
            let v = variant(uri, 1280, 720, 30.0, "avc1.64001f");
            assert!(master_playlist(&[v], None).is_ok(), "{uri:?}");
        }
    }

    #[test]
    fn codecs_injection_is_refused() {
        for codecs in [
            "avc1.64001f\",FOO=\"x",
            "avc1.64001f\n#EXT-X-ENDLIST",
            "avc1.64001f\r",
            "avc1.64001f, mp4a.40.2",
            "",
        ] {
            let v = variant("a.m3u8", 1280, 720, 30.0, codecs);
            assert_eq!(
                master_playlist(&[v], None),
                Err(HlsError::UnsafeCodecs(codecs.to_owned())),
                "{codecs:?}"
            );
            let ok = variant("a.m3u8", 1280, 720, 30.0, "avc1.64001f");
            assert_eq!(
                master_playlist(&[ok], Some(&audio("b.m3u8", codecs))),
                Err(HlsError::UnsafeCodecs(codecs.to_owned())),
                "{codecs:?}"
            );
        }
        for codecs in [
            "hvc1.1.6.L93.B0,mp4a.40.2",
            "av01.0.04M.08,Opus",
            "ec-3",
            "fLaC",
        ] {
            let v = variant("a.m3u8", 1280, 720, 30.0, codecs);
            assert!(master_playlist(&[v], None).is_ok(), "{codecs:?}");
        }
    }

    #[test]
    fn nonsense_numbers_are_refused() {
        for fps in [0.0, -30.0, f64::NAN, f64::INFINITY] {
            let v = variant("a.m3u8", 1280, 720, fps, "avc1.64001f");
            assert_eq!(
                master_playlist(&[v], None),
                Err(HlsError::InvalidFrameRate {
                    uri: "a.m3u8".into()
                })
            );
        }
        let v = variant("a.m3u8", 0, 720, 30.0, "avc1.64001f");
        assert_eq!(
            master_playlist(&[v], None),
            Err(HlsError::InvalidResolution {
                uri: "a.m3u8".into()
            })
        );
        let mut v = variant("a.m3u8", 1280, 720, 30.0, "avc1.64001f");
        v.bandwidth = 0;
        assert_eq!(
            master_playlist(&[v], None),
            Err(HlsError::ZeroBandwidth {
                uri: "a.m3u8".into()
            })
        );
        let mut a = audio("b.m3u8", "mp4a.40.2");
        a.bandwidth = 0;
        assert_eq!(
            master_playlist(&[], Some(&a)),
            Err(HlsError::ZeroBandwidth {
                uri: "b.m3u8".into()
            })
        );
    }

    #[test]
    fn error_messages_do_not_carry_raw_newlines() {
        let err = HlsError::UnsafeUri("a\n#EXT-X-ENDLIST".into()).to_string();
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn avc_codec_strings() {
        assert_eq!(avc_codec_string(100, 0, 31), "avc1.64001f");
        assert_eq!(avc_codec_string(0x42, 0xe0, 0x1e), "avc1.42e01e");
        assert_eq!(avc_codec_string(0x4d, 0x40, 0x28), "avc1.4d4028");
        assert_eq!(avc_codec_string(0, 0, 0), "avc1.000000");
        assert_eq!(avc_codec_string(255, 255, 255), "avc1.ffffff");
    }

    #[test]
    fn h264_levels_for_the_ladder() {
        assert_eq!(h264_level_for(640, 360, 30.0), 30);
        assert_eq!(h264_level_for(720, 480, 30.0), 30);
        // 854×480 is 1620 macroblocks, but 30 fps is 48 600 MB/s > 40 500.
        assert_eq!(h264_level_for(854, 480, 30.0), 31);
        assert_eq!(h264_level_for(854, 480, 25.0), 30);
        assert_eq!(h264_level_for(1280, 720, 30.0), 31);
        assert_eq!(h264_level_for(1280, 720, 60.0), 32);
        assert_eq!(h264_level_for(1920, 1080, 30.0), 40);
        assert_eq!(h264_level_for(1920, 1080, 29.97), 40);
        assert_eq!(h264_level_for(1920, 1080, 60.0), 42);
        assert_eq!(h264_level_for(3840, 2160, 30.0), 51);
        assert_eq!(h264_level_for(3840, 2160, 60.0), 52);
        // Beyond 5.2: the best available answer.
        assert_eq!(h264_level_for(7680, 4320, 60.0), 52);
        // Very wide: 480 macroblocks across needs √(8 × MaxFS) ≥ 480, i.e. level 5.1.
        assert_eq!(h264_level_for(7680, 16, 30.0), 51);
        assert_eq!(h264_level_for(16, 7680, 30.0), 51);
        // Unusable frame rates count as 30.
        assert_eq!(h264_level_for(1920, 1080, f64::NAN), 40);
        assert_eq!(h264_level_for(1920, 1080, -1.0), 40);
        assert_eq!(h264_level_for(0, 0, 30.0), 30);
    }

    #[test]
    fn two_hour_video_hits_the_tile_cap() {
        let plan = sprite_plan(7200.0, 1920, 1080);
        assert_eq!(
            plan,
            SpritePlan {
                interval_secs: 14.4,
                tiles: 500,
                tile_width: 160,
                tile_height: 90,
                sheets: 5,
            }
        );
        let vtt = thumbnails_vtt(&plan, 7200.0, |n| format!("sprites/{n}.jpg"));
        let cues = parse_cues(&vtt);
        assert_eq!(cues.len(), 500);
        assert_eq!(
            cues[0],
            (0, 14_400, "sprites/0.jpg#xywh=0,0,160,90".to_owned())
        );
        assert_eq!(cues[11].2, "sprites/0.jpg#xywh=160,90,160,90");
        assert_eq!(cues[100].2, "sprites/1.jpg#xywh=0,0,160,90");
        assert_eq!(cues[499].2, "sprites/4.jpg#xywh=1440,810,160,90");
        assert!(
            vtt.ends_with("01:59:45.600 --> 02:00:00.000\nsprites/4.jpg#xywh=1440,810,160,90\n\n")
        );
    }

    #[test]
    fn ten_second_video_gets_five_tiles() {
        let plan = sprite_plan(10.0, 1280, 720);
        assert_eq!(
            plan,
            SpritePlan {
                interval_secs: 2.0,
                tiles: 5,
                tile_width: 160,
                tile_height: 90,
                sheets: 1,
            }
        );
        let vtt = thumbnails_vtt(&plan, 10.0, |n| format!("sheet-{n}.jpg"));
        assert_eq!(
            vtt,
            "WEBVTT\n\n\
             00:00:00.000 --> 00:00:02.000\nsheet-0.jpg#xywh=0,0,160,90\n\n\
             00:00:02.000 --> 00:00:04.000\nsheet-0.jpg#xywh=160,0,160,90\n\n\
             00:00:04.000 --> 00:00:06.000\nsheet-0.jpg#xywh=320,0,160,90\n\n\
             00:00:06.000 --> 00:00:08.000\nsheet-0.jpg#xywh=480,0,160,90\n\n\
             00:00:08.000 --> 00:00:10.000\nsheet-0.jpg#xywh=640,0,160,90\n\n"
        );
    }

    #[test]
    fn the_last_cue_ends_at_the_duration() {
        let plan = sprite_plan(9.25, 1280, 720);
        assert_eq!(plan.tiles, 5);
        let vtt = thumbnails_vtt(&plan, 9.25, |_| "s.jpg".to_owned());
        assert!(vtt.ends_with("00:00:08.000 --> 00:00:09.250\ns.jpg#xywh=640,0,160,90\n\n"));
        // A sub-millisecond video still gets a cue that ends after it starts.
        let plan = sprite_plan(0.0004, 1280, 720);
        assert_eq!(plan.tiles, 1);
        let vtt = thumbnails_vtt(&plan, 0.0004, |_| "s.jpg".to_owned());
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.001\ns.jpg#xywh=0,0,160,90\n\n"
        );
    }

    #[test]
    fn the_cap_takes_over_after_a_thousand_seconds() {
        let plan = sprite_plan(1000.0, 1920, 1080);
        assert_eq!((plan.interval_secs, plan.tiles, plan.sheets), (2.0, 500, 5));
        let plan = sprite_plan(1001.0, 1920, 1080);
        assert_eq!(plan.tiles, 500);
        assert!(plan.interval_secs > 2.0);
        let plan = sprite_plan(201.0, 1920, 1080);
        assert_eq!((plan.tiles, plan.sheets), (101, 2));
    }

    #[test]
    fn unusable_durations_get_one_tile_over_two_seconds() {
        for bad in [0.0, -5.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let plan = sprite_plan(bad, 1920, 1080);
            assert_eq!(
                (plan.interval_secs, plan.tiles, plan.sheets),
                (2.0, 1, 1),
                "{bad}"
            );
            let vtt = thumbnails_vtt(&plan, bad, |_| "s.jpg".to_owned());
            assert_eq!(
                vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\ns.jpg#xywh=0,0,160,90\n\n",
                "{bad}"
            );
        }
    }

    #[test]
    fn tiles_follow_the_source_shape() {
        let size = |w, h| {
            let plan = sprite_plan(60.0, w, h);
            (plan.tile_width, plan.tile_height)
        };
        assert_eq!(size(1920, 1080), (160, 90));
        assert_eq!(size(640, 480), (160, 120));
        assert_eq!(size(1920, 804), (160, 68));
        assert_eq!(size(1080, 1920), (90, 160));
        assert_eq!(size(1000, 1000), (160, 160));
        assert_eq!(size(1920, 1), (160, 2));
        assert_eq!(size(1, 1920), (2, 160));
        assert_eq!(size(0, 0), (160, 90));
        assert_eq!(size(1920, 0), (160, 90));
    }

    #[test]
    fn portrait_tiles_are_laid_out_with_their_own_size() {
        let plan = sprite_plan(30.0, 1080, 1920);
        let vtt = thumbnails_vtt(&plan, 30.0, |_| "p.jpg".to_owned());
        let cues = parse_cues(&vtt);
        assert_eq!(cues.len(), 15);
        assert_eq!(cues[10].2, "p.jpg#xywh=0,160,90,160");
        assert_eq!(cues[14].2, "p.jpg#xywh=360,160,90,160");
    }

    #[test]
    fn sheet_names_cannot_inject_cues() {
        let plan = sprite_plan(4.0, 1920, 1080);
        let vtt = thumbnails_vtt(&plan, 4.0, |_| {
            "evil.jpg\n\n00:00:00.000 --> 99:00:00.000\nx.jpg#xywh=0,0,1,1 \"'<b>".to_owned()
        });
        let cues = parse_cues(&vtt);
        assert_eq!(cues.len(), 2);
        assert_eq!(
            cues[0].2,
            "evil.jpg%0A%0A00:00:00.000%20--%3E%2099:00:00.000%0Ax.jpg%23xywh=0,0,1,1%20%22%27%3Cb%3E\
             #xywh=0,0,160,90"
        );
        assert_eq!(vtt.matches("-->").count(), 2);
        // Non-ASCII whitespace is encoded as UTF-8 bytes; other text and `%` are kept.
        let vtt = thumbnails_vtt(&plan, 4.0, |_| "a\u{2028}é%20.jpg".to_owned());
        assert!(vtt.contains("a%E2%80%A8é%20.jpg#xywh"));
    }

    #[test]
    fn each_sheet_is_named_once() {
        let calls = std::cell::RefCell::new(Vec::new());
        let plan = sprite_plan(7200.0, 1920, 1080);
        thumbnails_vtt(&plan, 7200.0, |n| {
            calls.borrow_mut().push(n);
            format!("{n}.jpg")
        });
        assert_eq!(calls.into_inner(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn hand_made_plans_do_not_break_the_track() {
        let plan = SpritePlan {
            interval_secs: f64::NAN,
            tiles: u32::MAX,
            tile_width: 160,
            tile_height: 90,
            sheets: 0,
        };
        let cues = parse_cues(&thumbnails_vtt(&plan, 5.0, |_| "s.jpg".into()));
        assert_eq!(cues.len(), 3);
        assert_eq!(cues[2].1, 5000);
        let empty = SpritePlan { tiles: 0, ..plan };
        assert_eq!(
            thumbnails_vtt(&empty, 5.0, |_| "s.jpg".into()),
            "WEBVTT\n\n"
        );
        // A plan made for a longer video: cues past the end are dropped.
        let long = sprite_plan(10.0, 1920, 1080);
        let cues = parse_cues(&thumbnails_vtt(&long, 3.0, |_| "s.jpg".into()));
        assert_eq!(
            cues.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
            [(0, 2000), (2000, 3000)]
        );
    }

    #[test]
    fn long_videos_have_long_timestamps() {
        assert_eq!(timestamp(0), "00:00:00.000");
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
        assert_eq!(timestamp(360_000_000), "100:00:00.000");
    }

    /// Parses the cues back: (start ms, end ms, payload).
    fn parse_cues(vtt: &str) -> Vec<(u64, u64, String)> {
        let body = vtt.strip_prefix("WEBVTT\n\n").expect("header");
        let parse_ts = |ts: &str| -> u64 {
            let (hms, ms) = ts.split_once('.').expect("millis");
            let mut parts = hms.split(':').map(|p| p.parse::<u64>().expect("number"));
            let (h, m, s) = (
                parts.next().expect("h"),
                parts.next().expect("m"),
                parts.next().expect("s"),
            );
            ((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().expect("ms")
        };
        body.split_terminator("\n\n")
            .map(|cue| {
                let (times, payload) = cue.split_once('\n').expect("two lines");
                assert!(!payload.contains('\n'), "cue payload spans lines: {cue:?}");
                let (start, end) = times.split_once(" --> ").expect("arrow");
                (parse_ts(start), parse_ts(end), payload.to_owned())
            })
            .collect()
    }

    proptest! {
        #[test]
        fn vtt_cues_tile_the_whole_video(
            duration in 0.001f64..100_000.0,
            width in 0u32..8000,
            height in 0u32..8000,
        ) {
            let plan = sprite_plan(duration, width, height);
            prop_assert!(plan.tiles >= 1 && plan.tiles <= MAX_THUMBNAIL_TILES);
            prop_assert!(plan.interval_secs >= MIN_THUMBNAIL_INTERVAL_SECS);
            prop_assert!(plan.sheets * TILES_PER_SHEET >= plan.tiles);
            prop_assert!((plan.sheets - 1) * TILES_PER_SHEET < plan.tiles);
            prop_assert!(plan.tile_width.is_multiple_of(2) && plan.tile_height.is_multiple_of(2));
            prop_assert!(plan.tile_width.max(plan.tile_height) == THUMBNAIL_LONG_SIDE);
            prop_assert!(plan.tile_width.min(plan.tile_height) >= 2);

            let vtt = thumbnails_vtt(&plan, duration, |n| format!("{n}.jpg"));
            let cues = parse_cues(&vtt);
            prop_assert_eq!(cues.len() as u32, plan.tiles);
            prop_assert_eq!(cues[0].0, 0);
            for pair in cues.windows(2) {
                prop_assert_eq!(pair[0].1, pair[1].0);
            }
            for (start, end, _) in &cues {
                prop_assert!(end > start);
            }
            // The last cue ends at the duration, or 1 ms after its start if that is later.
            let (last_start, last_end, _) = cues.last().cloned().unwrap_or_default();
            prop_assert_eq!(last_end, ((duration * 1000.0).round() as u64).max(last_start + 1));
        }

        #[test]
        fn chosen_levels_hold_the_picture(
            width in 1u32..8000,
            height in 1u32..8000,
            fps in 1.0f64..120.0,
        ) {
            let level = h264_level_for(width, height, fps);
            let index = H264_LEVELS.iter().position(|l| l.0 == level).expect("a known level");
            let frame_mbs = u64::from(width.div_ceil(16)) * u64::from(height.div_ceil(16));
            let (_, max_fs, max_mbps) = H264_LEVELS[index];
            if level != 52 {
                prop_assert!(frame_mbs <= max_fs);
                prop_assert!(frame_mbs as f64 * fps <= max_mbps as f64);
            }
            // More frames per second never needs a lower level.
            prop_assert!(h264_level_for(width, height, fps * 2.0) >= level);
        }
    }
}
