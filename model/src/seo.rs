//! What search engines read: `robots.txt`, `sitemap.xml` with Google's video extension, and a
//! talk page's JSON-LD `VideoObject`. Pure text builders; the server supplies the origin (never
//! taken from an untrusted Host header) and the published talks.

/// Google reads at most this many characters of a video description.
const MAX_DESCRIPTION_CHARS: usize = 2048;

/// One published talk in the sitemap; paths are site-relative (`/talks/…`, `/media/…`).
#[derive(Debug, Clone, PartialEq)]
pub struct SitemapTalk {
    pub slug: String,
    pub title: String,
    pub description: String,
    /// RFC 3339.
    pub updated_at: String,
    pub published_at: String,
    /// Present once the talk has a ready video.
    pub video: Option<SitemapVideo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SitemapVideo {
    /// `/media/…/poster.jpg`
    pub thumbnail_path: String,
    /// `/media/…/master.m3u8`
    pub content_path: String,
    pub duration_secs: u64,
}

/// Where a talk is watched, on `origin`.
pub fn watch_url(origin: &str, slug: &str) -> String {
    format!("{origin}/talks/{slug}")
}

/// Where a talk's embeddable player lives, on `origin` (by id: embeds outlive a renamed slug).
pub fn embed_url(origin: &str, talk_id: uuid::Uuid) -> String {
    format!("{origin}/embed/{talk_id}")
}

/// `robots.txt`: everything public may be crawled; accounts, the studio, admin pages and the
/// API may not.
pub fn robots_txt(origin: &str) -> String {
    format!(
        "User-agent: *\nAllow: /\nDisallow: /studio\nDisallow: /admin\nDisallow: /account\n\
         Disallow: /api/\nDisallow: /login\nDisallow: /signup\n\nSitemap: {origin}/sitemap.xml\n"
    )
}

/// `sitemap.xml` of the catalog and every published talk, with `<video:video>` for talks that
/// can be watched.
pub fn sitemap_xml(origin: &str, talks: &[SitemapTalk]) -> String {
    let page_of = |talk: &SitemapTalk| escape(&watch_url(origin, &talk.slug));
    let origin = escape(origin);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" \
         xmlns:video=\"http://www.google.com/schemas/sitemap-video/1.1\">\n",
    );
    xml.push_str(&format!("  <url><loc>{origin}/</loc></url>\n"));
    for talk in talks {
        xml.push_str("  <url>\n");
        xml.push_str(&format!(
            "    <loc>{}</loc>\n    <lastmod>{}</lastmod>\n",
            page_of(talk),
            escape(&talk.updated_at)
        ));
        if let Some(video) = &talk.video {
            let description: String = if talk.description.trim().is_empty() {
                talk.title.clone()
            } else {
                talk.description
                    .chars()
                    .take(MAX_DESCRIPTION_CHARS)
                    .collect()
            };
            xml.push_str("    <video:video>\n");
            xml.push_str(&format!(
                "      <video:thumbnail_loc>{origin}{}</video:thumbnail_loc>\n",
                escape(&video.thumbnail_path)
            ));
            xml.push_str(&format!(
                "      <video:title>{}</video:title>\n",
                escape(&talk.title)
            ));
            xml.push_str(&format!(
                "      <video:description>{}</video:description>\n",
                escape(&description)
            ));
            xml.push_str(&format!(
                "      <video:content_loc>{origin}{}</video:content_loc>\n",
                escape(&video.content_path)
            ));
            xml.push_str(&format!(
                "      <video:duration>{}</video:duration>\n",
                video.duration_secs.clamp(1, 28_800)
            ));
            xml.push_str(&format!(
                "      <video:publication_date>{}</video:publication_date>\n",
                escape(&talk.published_at)
            ));
            xml.push_str("    </video:video>\n");
        }
        xml.push_str("  </url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

/// What a talk page tells search engines about its video (schema.org `VideoObject`); URLs are
/// absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoObject {
    pub name: String,
    pub description: String,
    pub page_url: String,
    pub thumbnail_url: String,
    /// RFC 3339.
    pub upload_date: String,
    pub duration_secs: u64,
    pub content_url: String,
    pub embed_url: Option<String>,
    /// The talk's chapters, emitted as `hasPart` Clip entries (Google's key moments).
    pub chapters: Vec<crate::talk::Chapter>,
    /// What is said, as plain text (`transcript`); empty without captions.
    pub transcript: String,
}

/// The longest transcript JSON-LD carries: a 90-minute talk's words, with room to spare.
const MAX_TRANSCRIPT_CHARS: usize = 200_000;

/// JSON-LD for `<script type="application/ld+json">`. `<`, `>` and `&` are written as
/// `\u003c`, `\u003e`, `\u0026`, so no title or description can close the script element.
pub fn video_object_json_ld(video: &VideoObject) -> String {
    let description = if video.description.trim().is_empty() {
        video.name.clone()
    } else {
        video
            .description
            .chars()
            .take(MAX_DESCRIPTION_CHARS)
            .collect()
    };
    let mut object = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": video.name,
        "description": description,
        "url": video.page_url,
        "thumbnailUrl": [video.thumbnail_url],
        "uploadDate": video.upload_date,
        "duration": crate::time_format::iso8601_duration(video.duration_secs),
        "contentUrl": video.content_url,
    });
    if let Some(embed) = &video.embed_url {
        object["embedUrl"] = serde_json::Value::String(embed.clone());
    }
    if !video.chapters.is_empty() {
        object["hasPart"] = clips(video);
    }
    if !video.transcript.trim().is_empty() {
        object["transcript"] = serde_json::Value::String(
            video
                .transcript
                .chars()
                .take(MAX_TRANSCRIPT_CHARS)
                .collect(),
        );
    }
    object
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// One schema.org `Clip` per chapter: its name, start and end offsets in seconds (the next
/// chapter's start, or the video's end) and a URL starting the watch page there.
fn clips(video: &VideoObject) -> serde_json::Value {
    let starts: Vec<u64> = video.chapters.iter().map(|c| c.start_ms / 1000).collect();
    let separator = if video.page_url.contains('?') {
        '&'
    } else {
        '?'
    };
    video
        .chapters
        .iter()
        .enumerate()
        .map(|(i, chapter)| {
            let start = starts[i];
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(video.duration_secs)
                .max(start + 1);
            serde_json::json!({
                "@type": "Clip",
                "name": chapter.title,
                "startOffset": start,
                "endOffset": end,
                "url": format!("{}{separator}t={start}", video.page_url),
            })
        })
        .collect()
}

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The embed iframe's width when the consumer sets no limit.
pub const OEMBED_DEFAULT_WIDTH: u32 = 640;
/// Smallest iframe offered: the controls need room.
pub const OEMBED_MIN_WIDTH: u32 = 200;

/// The iframe size for an oEmbed answer: the default width, shrunk to honour `maxwidth` and
/// `maxheight` while keeping the video's aspect ratio (`None` if they cannot both be honoured
/// at a usable size; oEmbed then says 501 Not Implemented).
pub fn oembed_size(
    aspect: (u32, u32),
    maxwidth: Option<u32>,
    maxheight: Option<u32>,
) -> Option<(u32, u32)> {
    let (aw, ah) = (u64::from(aspect.0.max(1)), u64::from(aspect.1.max(1)));
    let mut width = u64::from(OEMBED_DEFAULT_WIDTH);
    if let Some(max) = maxwidth {
        width = width.min(u64::from(max));
    }
    if let Some(max) = maxheight {
        width = width.min(u64::from(max) * aw / ah);
    }
    let height = (width * ah).div_ceil(aw);
    let fits = maxheight.is_none_or(|max| height <= u64::from(max));
    (width >= u64::from(OEMBED_MIN_WIDTH) && fits).then_some((width as u32, height as u32))
}

/// What an oEmbed answer describes.
#[derive(Debug, Clone, PartialEq)]
pub struct OEmbedVideo {
    pub title: String,
    pub author_name: String,
    pub origin: String,
    pub embed_url: String,
    pub thumbnail_url: Option<String>,
    pub thumbnail_size: Option<(u32, u32)>,
}

/// The oEmbed 1.0 `video` response (<https://oembed.com/#section2.3.4>) for an iframe of
/// `width`×`height`. The title in the iframe's markup is attribute-escaped.
pub fn oembed_json(video: &OEmbedVideo, (width, height): (u32, u32)) -> serde_json::Value {
    let html = format!(
        r#"<iframe src="{}" width="{width}" height="{height}" title="{}" frameborder="0" allow="autoplay; fullscreen; picture-in-picture; encrypted-media" allowfullscreen></iframe>"#,
        escape(&video.embed_url),
        escape(&video.title),
    );
    let mut json = serde_json::json!({
        "version": "1.0",
        "type": "video",
        "title": video.title,
        "author_name": video.author_name,
        "provider_name": "Ferrotape",
        "provider_url": format!("{}/", video.origin),
        "html": html,
        "width": width,
        "height": height,
    });
    if let Some(thumbnail) = &video.thumbnail_url {
        json["thumbnail_url"] = serde_json::Value::String(thumbnail.clone());
        if let Some((w, h)) = video.thumbnail_size {
            json["thumbnail_width"] = w.into();
            json["thumbnail_height"] = h.into();
        }
    }
    json
}

/// Text for XML element content and attributes. Characters XML 1.0 cannot carry at all
/// (control characters other than tab and newlines) are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn talk(title: &str, description: &str, video: bool) -> SitemapTalk {
        SitemapTalk {
            slug: "rust-at-scale".into(),
            title: title.into(),
            description: description.into(),
            updated_at: "2026-11-20T10:00:00Z".into(),
            published_at: "2026-11-19T09:00:00Z".into(),
            video: video.then(|| SitemapVideo {
                thumbnail_path: "/media/t/v/thumbs/poster.jpg".into(),
                content_path: "/media/t/v/hls/master.m3u8".into(),
                duration_secs: 1834,
            }),
        }
    }

    #[test]
    fn a_talk_with_video_gets_the_video_extension() {
        let xml = sitemap_xml(
            "https://talks.example.org",
            &[talk("Rust at scale", "How.", true)],
        );
        assert!(xml.contains("<loc>https://talks.example.org/talks/rust-at-scale</loc>"));
        assert!(xml.contains(
            "<video:thumbnail_loc>https://talks.example.org/media/t/v/thumbs/poster.jpg</video:thumbnail_loc>"
        ));
        assert!(xml.contains(
            "<video:content_loc>https://talks.example.org/media/t/v/hls/master.m3u8</video:content_loc>"
        ));
        assert!(xml.contains("<video:duration>1834</video:duration>"));
        assert!(xml.contains("<video:description>How.</video:description>"));
        assert!(xml.contains("<loc>https://talks.example.org/</loc>"));
    }

    #[test]
    fn a_talk_without_video_is_a_plain_url() {
        let xml = sitemap_xml("http://127.0.0.1:3000", &[talk("Soon", "", false)]);
        assert!(xml.contains("<loc>http://127.0.0.1:3000/talks/rust-at-scale</loc>"));
        assert!(!xml.contains("<video:video>"));
    }

    #[test]
    fn hostile_text_cannot_break_the_xml() {
        let xml = sitemap_xml(
            "https://x.test",
            &[talk(
                "</video:title><script>alert(1)</script> & \"more\"",
                "a\u{0}b\u{1b}c <![CDATA[ x ]]>",
                true,
            )],
        );
        assert!(xml.contains(
            "<video:title>&lt;/video:title&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;</video:title>"
        ));
        assert!(xml.contains("<video:description>abc &lt;![CDATA[ x ]]&gt;</video:description>"));
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}'));
    }

    #[test]
    fn an_empty_description_falls_back_to_the_title_and_long_ones_are_cut() {
        let xml = sitemap_xml("https://x.test", &[talk("Title only", "  ", true)]);
        assert!(xml.contains("<video:description>Title only</video:description>"));
        let long = "é".repeat(5000);
        let xml = sitemap_xml("https://x.test", &[talk("T", &long, true)]);
        let start = xml.find("<video:description>").unwrap() + "<video:description>".len();
        let end = xml.find("</video:description>").unwrap();
        assert_eq!(xml[start..end].chars().count(), 2048);
    }

    fn video_object(name: &str, description: &str) -> VideoObject {
        VideoObject {
            name: name.into(),
            description: description.into(),
            page_url: "https://x.test/talks/a".into(),
            thumbnail_url: "https://x.test/media/t/v/thumbs/poster.jpg".into(),
            upload_date: "2026-11-19T09:00:00Z".into(),
            duration_secs: 3723,
            content_url: "https://x.test/media/t/v/hls/master.m3u8".into(),
            embed_url: Some("https://x.test/embed/a".into()),
            chapters: Vec::new(),
            transcript: String::new(),
        }
    }

    #[test]
    fn chapters_become_clips_with_ends() {
        let mut video = video_object("Rust at scale", "");
        video.chapters = vec![
            crate::talk::Chapter {
                start_ms: 0,
                title: "Intro".into(),
            },
            crate::talk::Chapter {
                start_ms: 90_500,
                title: "</script>Demo".into(),
            },
        ];
        let json = video_object_json_ld(&video);
        assert!(!json.contains('<'), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let parts = value["hasPart"].as_array().unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0]["@type"], "Clip");
        assert_eq!(parts[0]["startOffset"], 0);
        assert_eq!(parts[0]["endOffset"], 90);
        assert_eq!(parts[1]["name"], "</script>Demo");
        assert_eq!(parts[1]["endOffset"], 3723);
        assert_eq!(parts[1]["url"], "https://x.test/talks/a?t=90");
        let without = video_object_json_ld(&video_object("A", ""));
        assert!(!without.contains("hasPart"));
    }

    #[test]
    fn json_ld_carries_the_transcript_as_text_that_cannot_close_the_script() {
        let mut video = video_object("A", "");
        video.transcript = "Hello </script><b>world</b> & more".into();
        let json = video_object_json_ld(&video);
        assert!(
            !json.contains("</script>") && !json.contains("<b>"),
            "{json}"
        );
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["transcript"], "Hello </script><b>world</b> & more");
        assert!(!video_object_json_ld(&video_object("A", "")).contains("transcript"));
    }

    #[test]
    fn json_ld_describes_the_video() {
        let json = video_object_json_ld(&video_object("Rust at scale", "How we did it."));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["@type"], "VideoObject");
        assert_eq!(value["duration"], "PT1H2M3S");
        assert_eq!(value["uploadDate"], "2026-11-19T09:00:00Z");
        assert_eq!(
            value["thumbnailUrl"][0],
            "https://x.test/media/t/v/thumbs/poster.jpg"
        );
        assert_eq!(
            value["contentUrl"],
            "https://x.test/media/t/v/hls/master.m3u8"
        );
        assert_eq!(value["embedUrl"], "https://x.test/embed/a");
        assert_eq!(value["description"], "How we did it.");
    }

    #[test]
    fn json_ld_cannot_close_its_script_element() {
        let hostile = "</script><script>alert(1)</script> & <!--";
        let json = video_object_json_ld(&video_object(hostile, hostile));
        assert!(
            !json.contains('<') && !json.contains('>') && !json.contains('&'),
            "{json}"
        );
        // Still the same text for a JSON reader.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["name"], hostile);
    }

    #[test]
    fn robots_points_at_the_sitemap_and_keeps_private_pages_out() {
        let robots = robots_txt("https://talks.example.org");
        assert!(robots.contains("Sitemap: https://talks.example.org/sitemap.xml"));
        for private in ["/studio", "/admin", "/account", "/api/"] {
            assert!(
                robots.contains(&format!("Disallow: {private}\n")),
                "{private}"
            );
        }
    }

    #[test]
    fn oembed_sizes_keep_the_aspect_and_honour_limits() {
        assert_eq!(oembed_size((16, 9), None, None), Some((640, 360)));
        assert_eq!(oembed_size((16, 9), Some(480), None), Some((480, 270)));
        assert_eq!(oembed_size((16, 9), None, Some(180)), Some((320, 180)));
        assert_eq!(
            oembed_size((16, 9), Some(1000), Some(1000)),
            Some((640, 360))
        );
        assert_eq!(oembed_size((9, 16), None, Some(400)), Some((225, 400)));
        assert_eq!(oembed_size((16, 9), Some(100), None), None);
        assert_eq!(oembed_size((16, 9), None, Some(0)), None);
        assert_eq!(oembed_size((0, 0), None, None), Some((640, 640)));
    }

    #[test]
    fn oembed_html_escapes_the_title() {
        let video = OEmbedVideo {
            title: r#"a "quoted" <b>talk</b> & more"#.into(),
            author_name: "Ada".into(),
            origin: "https://talks.example".into(),
            embed_url: "https://talks.example/embed/00000000-0000-0000-0000-000000000001".into(),
            thumbnail_url: Some("https://talks.example/media/p.jpg".into()),
            thumbnail_size: Some((1280, 720)),
        };
        let json = oembed_json(&video, (640, 360));
        let html = json["html"].as_str().unwrap();
        assert!(
            html.contains(r#"title="a &quot;quoted&quot; &lt;b&gt;talk&lt;/b&gt; &amp; more""#),
            "{html}"
        );
        assert!(html.starts_with(r#"<iframe src="https://talks.example/embed/"#));
        assert_eq!(json["type"], "video");
        assert_eq!(json["version"], "1.0");
        assert_eq!(json["width"], 640);
        assert_eq!(json["thumbnail_width"], 1280);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_query_value("https://a.b/c?d=e f&g"),
            "https%3A%2F%2Fa.b%2Fc%3Fd%3De%20f%26g"
        );
        assert_eq!(encode_query_value("é-_.~"), "%C3%A9-_.~");
    }
}
