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
            "    <loc>{origin}/talks/{}</loc>\n    <lastmod>{}</lastmod>\n",
            escape(&talk.slug),
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
}

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
    object
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
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
        }
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
}
