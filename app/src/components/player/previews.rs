//! Seek-preview thumbnails: the transcoder writes a WebVTT track whose cues name a tile of a
//! sprite sheet (`sprite_0.jpg#xywh=160,0,160,90`). The browser parses the track (a hidden
//! `<track kind="metadata">`); this reads one cue's payload.

/// One tile of a sprite sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    /// Absolute or site-relative URL of the sheet.
    pub image: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Parses `sheet.jpg#xywh=x,y,w,h`, resolving a relative sheet against the track's URL.
/// `None` for anything else (a hand-edited or foreign track must not break the seek bar).
pub fn parse_tile(payload: &str, track_url: &str) -> Option<Tile> {
    let (image, fragment) = payload.trim().split_once("#xywh=")?;
    let mut numbers = fragment.split(',').map(|n| n.trim().parse::<u32>().ok());
    let (x, y, width, height) = (
        numbers.next()??,
        numbers.next()??,
        numbers.next()??,
        numbers.next()??,
    );
    if numbers.next().is_some() || image.is_empty() || width == 0 || height == 0 {
        return None;
    }
    // Only plain relative names or same-site paths: a cue cannot point the page elsewhere.
    if image.contains("//") || image.contains(['"', '\'', '(', ')', '\\', ' ']) {
        return None;
    }
    let image = if image.starts_with('/') {
        image.to_owned()
    } else {
        let base = track_url.rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{base}/{image}")
    };
    Some(Tile {
        image,
        x,
        y,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_resolve_against_the_track() {
        let tile = parse_tile(
            "sprite_2.jpg#xywh=320,90,160,90",
            "/media/t/v/thumbs/thumbnails.vtt",
        );
        assert_eq!(
            tile,
            Some(Tile {
                image: "/media/t/v/thumbs/sprite_2.jpg".into(),
                x: 320,
                y: 90,
                width: 160,
                height: 90,
            })
        );
    }

    #[test]
    fn malformed_or_hostile_cues_are_ignored() {
        for payload in [
            "",
            "sprite.jpg",
            "sprite.jpg#xywh=1,2,3",
            "sprite.jpg#xywh=1,2,3,4,5",
            "sprite.jpg#xywh=a,b,c,d",
            "sprite.jpg#xywh=0,0,0,90",
            "#xywh=0,0,160,90",
            "//evil.example/x.jpg#xywh=0,0,160,90",
            "x.jpg)\"; background:url(evil#xywh=0,0,1,1",
        ] {
            assert_eq!(parse_tile(payload, "/media/a/b.vtt"), None, "{payload:?}");
        }
    }
}
