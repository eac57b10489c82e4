//! The HLS bitrate ladder chosen for a probed source.
//!
//! Pure planning: the worker probes the file, calls [`ladder`] and turns each [`Rung`] into
//! encoder arguments. Keeping the decision here means the rules are tested without ffmpeg and
//! the admin UI (wasm) can show what a video will be encoded to.

use serde::{Deserialize, Serialize};

/// HLS segment duration. Six seconds is Apple's recommendation: short enough for quick
/// quality switches, long enough to keep the segment count per hour low.
pub const SEGMENT_SECS: u32 = 6;

/// Fixed GOP length. It divides [`SEGMENT_SECS`] so every segment starts on a keyframe, and it is
/// the same for every rung so players can switch rungs at any segment boundary.
pub const KEYFRAME_INTERVAL_SECS: u32 = 2;

const _: () = assert!(SEGMENT_SECS.is_multiple_of(KEYFRAME_INTERVAL_SECS));

/// Frame rate assumed when the probe reports none (or nonsense): the common case for screen
/// recordings and talks, and a safe value for the encoder's GOP arithmetic.
const DEFAULT_FPS: f64 = 30.0;

/// Slack when comparing frame rates, so 30.005 fps is not halved to 15 by a 30 fps cap.
const FPS_TOLERANCE: f64 = 0.01;

/// Lower bound of a rung's video bitrate relative to its profile, in percent: small,
/// letterboxed pictures still need bits for motion, and going lower just looks broken.
const MIN_BITRATE_PERCENT: u64 = 40;

/// The probed source as the ladder needs it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SourceVideo {
    /// Display width: the caller has already applied rotation metadata.
    pub width: u32,
    /// Display height: the caller has already applied rotation metadata.
    pub height: u32,
    pub fps: f64,
}

/// One rendition to encode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    /// "1080p", "720p", … (or "240p" for the single rung of a tiny source).
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Target (average) video bitrate.
    pub video_kbps: u32,
    /// VBV peak: 7 % headroom over the target keeps segment sizes predictable.
    pub maxrate_kbps: u32,
    /// VBV buffer: 1.5 × target smooths scene changes without long stalls.
    pub bufsize_kbps: u32,
    pub audio_kbps: u32,
}

/// A ladder step as designed for a landscape 16:9 picture; the box is rotated for portrait
/// sources and the bitrate is scaled to the actual picture area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub video_kbps: u32,
    pub audio_kbps: u32,
    pub max_fps: f64,
}

/// The ladder, lowest first. High frame rates are kept only where the bitrate can carry them.
pub const PROFILES: [Profile; 5] = [
    Profile {
        name: "360p",
        width: 640,
        height: 360,
        video_kbps: 800,
        audio_kbps: 96,
        max_fps: 30.0,
    },
    Profile {
        name: "480p",
        width: 854,
        height: 480,
        video_kbps: 1500,
        audio_kbps: 128,
        max_fps: 30.0,
    },
    Profile {
        name: "720p",
        width: 1280,
        height: 720,
        video_kbps: 3000,
        audio_kbps: 128,
        max_fps: 30.0,
    },
    Profile {
        name: "1080p",
        width: 1920,
        height: 1080,
        video_kbps: 6000,
        audio_kbps: 192,
        max_fps: 60.0,
    },
    Profile {
        name: "2160p",
        width: 3840,
        height: 2160,
        video_kbps: 15000,
        audio_kbps: 256,
        max_fps: 60.0,
    },
];

impl Profile {
    /// The bounding box for a source of the given orientation: portrait sources get the box
    /// turned on its side, so a 1080x1920 phone video is "1080p" and not squeezed to 608x1080.
    fn oriented_box(&self, portrait: bool) -> (u32, u32) {
        if portrait {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Chooses the renditions for `source`, lowest (smallest picture) first.
///
/// A profile is used when the source fills its box in at least one dimension, so nothing is
/// ever upscaled; the picture keeps its aspect ratio and both dimensions are rounded to even
/// numbers (≥ 2) because 4:2:0 chroma needs them. A source smaller than the smallest box gets
/// a single rung at its own size. A zero dimension gives an empty ladder: there is nothing to
/// encode and the caller reports the probe as broken.
pub fn ladder(source: &SourceVideo) -> Vec<Rung> {
    if source.width == 0 || source.height == 0 {
        return Vec::new();
    }
    let portrait = source.height > source.width;
    let mut rungs: Vec<Rung> = Vec::with_capacity(PROFILES.len());
    for profile in &PROFILES {
        let (box_w, box_h) = profile.oriented_box(portrait);
        let fit = (f64::from(box_w) / f64::from(source.width))
            .min(f64::from(box_h) / f64::from(source.height));
        if fit > 1.0 {
            continue;
        }
        let width = scaled_even(source.width, fit);
        let height = scaled_even(source.height, fit);
        let rung = make_rung(
            profile,
            profile.name.to_owned(),
            (box_w, box_h),
            (width, height),
            source.fps,
        );
        push_distinct(&mut rungs, rung);
    }
    if rungs.is_empty() {
        // Smaller than the 360p box both ways: encode it as it is, with the 360p budget.
        let profile = &PROFILES[0];
        let width = floor_even(source.width);
        let height = floor_even(source.height);
        let name = format!("{}p", width.min(height));
        let boxed = profile.oriented_box(portrait);
        rungs.push(make_rung(profile, name, boxed, (width, height), source.fps));
    }
    rungs
}

/// The frame rate a rung with cap `max_fps` is encoded at.
///
/// At or under the cap (within 0.01 fps) the source rate is kept. Above it the rate is divided
/// by the smallest whole number that brings it under the cap, so frames are dropped evenly
/// (60 → 30, 50 → 25, 59.94 → 29.97, 120 → 30) instead of being resampled into judder.
/// A non-finite or non-positive source rate is treated as 30 fps (the probe found none); a cap
/// that is not a positive number means there is nothing to cap.
pub fn output_fps(source_fps: f64, max_fps: f64) -> f64 {
    let source = sane_fps(source_fps);
    if max_fps.is_nan() || max_fps <= 0.0 || source <= max_fps + FPS_TOLERANCE {
        return source;
    }
    let mut divisor = (source / max_fps).ceil().max(2.0);
    if !divisor.is_finite() {
        // Only reachable with an absurdly small cap; the cap itself is the best answer.
        return max_fps;
    }
    // `ceil` is exact; the tolerance may allow one step less (60.01 / 2 under a 30 cap).
    if divisor > 2.0 && source / (divisor - 1.0) <= max_fps + FPS_TOLERANCE {
        divisor -= 1.0;
    }
    source / divisor
}

/// The probed rate, or [`DEFAULT_FPS`] when the probe gave nothing usable.
pub(crate) fn sane_fps(fps: f64) -> f64 {
    if fps.is_finite() && fps > 0.0 {
        fps
    } else {
        DEFAULT_FPS
    }
}

fn make_rung(
    profile: &Profile,
    name: String,
    (box_w, box_h): (u32, u32),
    (width, height): (u32, u32),
    source_fps: f64,
) -> Rung {
    let video_kbps = scaled_kbps(
        profile.video_kbps,
        u64::from(width) * u64::from(height),
        u64::from(box_w) * u64::from(box_h),
    );
    let video = u64::from(video_kbps);
    Rung {
        name,
        width,
        height,
        fps: output_fps(source_fps, profile.max_fps),
        video_kbps,
        maxrate_kbps: u32::try_from(video * 107 / 100).unwrap_or(u32::MAX),
        bufsize_kbps: u32::try_from(video * 3 / 2).unwrap_or(u32::MAX),
        audio_kbps: profile.audio_kbps,
    }
}

/// The profile's bitrate scaled by picture area, kept between 40 % and 100 % of it.
fn scaled_kbps(profile_kbps: u32, area: u64, box_area: u64) -> u32 {
    let full = u64::from(profile_kbps);
    let floor = full * MIN_BITRATE_PERCENT / 100;
    let scaled = full.saturating_mul(area) / box_area.max(1);
    u32::try_from(scaled.clamp(floor, full)).unwrap_or(profile_kbps)
}

/// `dim × fit` rounded to the nearest even number, never above the source (an odd source
/// dimension would otherwise round up past itself) and never below 2.
fn scaled_even(dim: u32, fit: f64) -> u32 {
    let exact = f64::from(dim) * fit;
    // `fit ≤ 1`, so the value is within u32 range; `as` saturates anyway.
    let nearest = ((exact / 2.0).round() * 2.0) as u32;
    nearest.min(floor_even(dim)).max(2)
}

fn floor_even(dim: u32) -> u32 {
    (dim & !1).max(2)
}

/// Adds `rung` unless it would repeat a name or fail to be strictly larger than the previous
/// rung: two rungs of the same picture size only waste encoding time and storage.
fn push_distinct(rungs: &mut Vec<Rung>, rung: Rung) {
    let area = |r: &Rung| u64::from(r.width) * u64::from(r.height);
    let duplicate_name = rungs.iter().any(|r| r.name == rung.name);
    let not_larger = rungs.last().is_some_and(|last| area(last) >= area(&rung));
    if !duplicate_name && !not_larger {
        rungs.push(rung);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn source(width: u32, height: u32, fps: f64) -> SourceVideo {
        SourceVideo { width, height, fps }
    }

    fn sizes(rungs: &[Rung]) -> Vec<(&str, u32, u32)> {
        rungs
            .iter()
            .map(|r| (r.name.as_str(), r.width, r.height))
            .collect()
    }

    #[test]
    fn full_hd_gets_four_rungs_and_no_upscaled_4k() {
        let rungs = ladder(&source(1920, 1080, 30.0));
        assert_eq!(
            sizes(&rungs),
            [
                ("360p", 640, 360),
                ("480p", 854, 480),
                ("720p", 1280, 720),
                ("1080p", 1920, 1080),
            ]
        );
        let top = &rungs[3];
        assert_eq!(
            (
                top.video_kbps,
                top.maxrate_kbps,
                top.bufsize_kbps,
                top.audio_kbps
            ),
            (6000, 6420, 9000, 192)
        );
        assert_eq!(rungs[0].audio_kbps, 96);
        assert!(rungs.iter().all(|r| r.fps == 30.0));
    }

    #[test]
    fn four_k_gets_all_five_rungs() {
        let rungs = ladder(&source(3840, 2160, 60.0));
        assert_eq!(rungs.len(), 5);
        assert_eq!(sizes(&rungs)[4], ("2160p", 3840, 2160));
        let fps: Vec<f64> = rungs.iter().map(|r| r.fps).collect();
        assert_eq!(fps, [30.0, 30.0, 30.0, 60.0, 60.0]);
        assert_eq!(rungs[4].video_kbps, 15000);
    }

    #[test]
    fn cinemascope_keeps_its_aspect_ratio() {
        let rungs = ladder(&source(1920, 804, 24.0));
        assert_eq!(
            sizes(&rungs),
            [
                ("360p", 640, 268),
                ("480p", 854, 358),
                ("720p", 1280, 536),
                ("1080p", 1920, 804),
            ]
        );
        // 1920×804 is 74.4 % of the 1080p box's area.
        assert_eq!(rungs[3].video_kbps, 4466);
        assert!(rungs.iter().all(|r| r.fps == 24.0));
    }

    #[test]
    fn portrait_sources_use_the_rotated_box() {
        let rungs = ladder(&source(1080, 1920, 30.0));
        assert_eq!(
            sizes(&rungs),
            [
                ("360p", 360, 640),
                ("480p", 480, 854),
                ("720p", 720, 1280),
                ("1080p", 1080, 1920),
            ]
        );
        assert_eq!(rungs[3].video_kbps, 6000);
    }

    #[test]
    fn square_sources_use_the_landscape_box() {
        let rungs = ladder(&source(1080, 1080, 30.0));
        assert_eq!(
            sizes(&rungs),
            [
                ("360p", 360, 360),
                ("480p", 480, 480),
                ("720p", 720, 720),
                ("1080p", 1080, 1080),
            ]
        );
        // 1080² is 56.25 % of 1920×1080.
        assert_eq!(rungs[3].video_kbps, 3375);
        // 360² is 56.25 % of 640×360.
        assert_eq!(rungs[0].video_kbps, 450);
    }

    #[test]
    fn tiny_sources_get_one_rung_at_their_own_size() {
        let rungs = ladder(&source(320, 240, 25.0));
        assert_eq!(sizes(&rungs), [("240p", 320, 240)]);
        let rung = &rungs[0];
        // A third of the 360p area, so the 40 % floor of 800 kbit/s applies.
        assert_eq!(
            (
                rung.video_kbps,
                rung.maxrate_kbps,
                rung.bufsize_kbps,
                rung.audio_kbps
            ),
            (320, 342, 480, 96)
        );
        assert_eq!(rung.fps, 25.0);

        assert_eq!(
            sizes(&ladder(&source(256, 144, 60.0))),
            [("144p", 256, 144)]
        );
        assert_eq!(ladder(&source(256, 144, 60.0))[0].fps, 30.0);
        // Odd sizes are rounded down, never up.
        assert_eq!(
            sizes(&ladder(&source(321, 241, 30.0))),
            [("240p", 320, 240)]
        );
        // Portrait tiny source: named after the short side too.
        assert_eq!(
            sizes(&ladder(&source(144, 256, 30.0))),
            [("144p", 144, 256)]
        );
    }

    #[test]
    fn just_under_a_box_is_not_upscaled_into_it() {
        let rungs = ladder(&source(1279, 719, 30.0));
        assert_eq!(sizes(&rungs), [("360p", 640, 360), ("480p", 854, 480)]);
        // Odd source dimension exactly at a box edge: rounding must not pass the source.
        let rungs = ladder(&source(1281, 720, 30.0));
        assert_eq!(sizes(&rungs).last(), Some(&("720p", 1280, 720)));
        let rungs = ladder(&source(641, 361, 30.0));
        assert_eq!(sizes(&rungs), [("360p", 640, 360)]);
    }

    #[test]
    fn zero_dimensions_give_an_empty_ladder() {
        assert!(ladder(&source(0, 1080, 30.0)).is_empty());
        assert!(ladder(&source(1920, 0, 30.0)).is_empty());
        assert!(ladder(&source(0, 0, 30.0)).is_empty());
    }

    #[test]
    fn one_pixel_garbage_still_gives_even_encodable_sizes() {
        let rungs = ladder(&source(1920, 1, 30.0));
        assert_eq!(
            sizes(&rungs),
            [
                ("360p", 640, 2),
                ("480p", 854, 2),
                ("720p", 1280, 2),
                ("1080p", 1920, 2),
            ]
        );
        assert!(
            rungs
                .iter()
                .all(|r| r.video_kbps * 100 == 40 * profile(&r.name).video_kbps)
        );
        assert_eq!(sizes(&ladder(&source(1, 1, 30.0))), [("2p", 2, 2)]);
        assert_eq!(
            sizes(&ladder(&source(1, 1920, 30.0))).last(),
            Some(&("1080p", 2, 1920))
        );
        let huge = ladder(&source(u32::MAX, u32::MAX, f64::NAN));
        assert_eq!(sizes(&huge).last(), Some(&("2160p", 2160, 2160)));
        assert!(huge.iter().all(|r| r.fps == 30.0));
    }

    fn profile(name: &str) -> &'static Profile {
        PROFILES
            .iter()
            .find(|p| p.name == name)
            .expect("known profile")
    }

    #[test]
    fn frame_rates_are_divided_evenly() {
        assert_eq!(output_fps(60.0, 30.0), 30.0);
        assert_eq!(output_fps(50.0, 30.0), 25.0);
        assert!((output_fps(59.94, 30.0) - 29.97).abs() < 1e-9);
        assert_eq!(output_fps(120.0, 30.0), 30.0);
        assert_eq!(output_fps(48.0, 30.0), 24.0);
        assert_eq!(output_fps(90.0, 60.0), 45.0);
        assert_eq!(output_fps(144.0, 60.0), 48.0);
        // At the cap, or a hair over it, the source rate is kept.
        assert_eq!(output_fps(30.0, 30.0), 30.0);
        assert_eq!(output_fps(30.005, 30.0), 30.005);
        assert_eq!(output_fps(23.976, 30.0), 23.976);
        assert_eq!(output_fps(60.01, 30.0), 30.005);
    }

    #[test]
    fn unusable_frame_rates_are_treated_as_thirty() {
        for bad in [0.0, -25.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(output_fps(bad, 60.0), 30.0, "{bad}");
            assert_eq!(output_fps(bad, 24.0), 15.0, "{bad}");
        }
        assert_eq!(output_fps(60.0, f64::NAN), 60.0);
        assert_eq!(output_fps(60.0, 0.0), 60.0);
        assert_eq!(output_fps(60.0, f64::INFINITY), 60.0);
        assert_eq!(output_fps(1e300, 1e-300), 1e-300);
    }

    /// Checks the rules that hold for every source, sane or not.
    fn check_structure(src: &SourceVideo, rungs: &[Rung]) -> Result<(), TestCaseError> {
        let mut names: Vec<&str> = rungs.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        prop_assert_eq!(names.len(), rungs.len(), "duplicate names in {:?}", rungs);
        for pair in rungs.windows(2) {
            let a = u64::from(pair[0].width) * u64::from(pair[0].height);
            let b = u64::from(pair[1].width) * u64::from(pair[1].height);
            prop_assert!(a < b, "not ascending: {:?}", pair);
        }
        for r in rungs {
            prop_assert!(
                r.width.is_multiple_of(2) && r.height.is_multiple_of(2),
                "odd: {:?}",
                r
            );
            prop_assert!(r.width >= 2 && r.height >= 2);
            // No upscaling, apart from the 2-pixel floor encoders need.
            prop_assert!(r.width <= src.width.max(2) && r.height <= src.height.max(2));
            let cap = PROFILES
                .iter()
                .find(|p| p.name == r.name)
                .map_or(PROFILES[0].max_fps, |p| p.max_fps);
            prop_assert!(r.fps <= cap + FPS_TOLERANCE && r.fps > 0.0);
            prop_assert!(r.maxrate_kbps >= r.video_kbps && r.bufsize_kbps >= r.video_kbps);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn sane_sources_get_faithful_ladders(
            width in 2u32..8000,
            height in 2u32..8000,
            fps in 1.0f64..240.0,
        ) {
            let (long, short) = (width.max(height), width.min(height));
            prop_assume!(long <= short * 4);
            let src = source(width, height, fps);
            let rungs = ladder(&src);
            prop_assert!(!rungs.is_empty());
            check_structure(&src, &rungs)?;
            let source_aspect = f64::from(width) / f64::from(height);
            for r in &rungs {
                prop_assert!(r.fps <= fps);
                let aspect = f64::from(r.width) / f64::from(r.height);
                let relative = (aspect / source_aspect - 1.0).abs();
                // Short side implied by the long side, against the one chosen.
                let pixels = if height > width {
                    (f64::from(r.height) * source_aspect - f64::from(r.width)).abs()
                } else {
                    (f64::from(r.width) / source_aspect - f64::from(r.height)).abs()
                };
                prop_assert!(relative <= 0.01 || pixels <= 2.0, "{:?} from {}x{}", r, width, height);
            }
        }

        #[test]
        fn any_source_gives_a_well_formed_ladder(
            width in any::<u32>(),
            height in any::<u32>(),
            fps in any::<f64>(),
        ) {
            let src = source(width, height, fps);
            let rungs = ladder(&src);
            prop_assert_eq!(rungs.is_empty(), width == 0 || height == 0);
            check_structure(&src, &rungs)?;
        }

        #[test]
        fn output_fps_never_exceeds_the_cap_or_the_source(
            fps in 0.001f64..1000.0,
            cap in prop::sample::select(vec![24.0, 25.0, 30.0, 60.0]),
        ) {
            let out = output_fps(fps, cap);
            prop_assert!(out <= cap + FPS_TOLERANCE && out <= fps && out > 0.0);
            if fps > cap + FPS_TOLERANCE {
                // The divisor is the smallest that works: one less would exceed the cap.
                let divisor = (fps / out).round();
                prop_assert!(divisor == 2.0 || fps / (divisor - 1.0) > cap + FPS_TOLERANCE);
            } else {
                prop_assert_eq!(out, fps);
            }
        }
    }
}
