//! Talk descriptions: the editor's Markdown rendered to HTML on the server, then sanitised, so
//! what reaches the page is a fixed set of harmless elements whatever was typed. Raw HTML in the
//! Markdown is shown as text, not passed through; links may only be http(s), mailto or
//! relative, open without the page's referrer power (`rel="noopener noreferrer nofollow ugc"`),
//! and images are not allowed at all (a description must not make viewers' browsers fetch
//! third-party URLs).

use std::collections::HashSet;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

/// Renders `markdown` to sanitised HTML.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    // Raw HTML becomes text: the sanitiser would strip it anyway, but escaping keeps what the
    // editor wrote visible instead of silently dropping it.
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        // The talk title is the page's only h1: headings move one level down.
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demoted(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demoted(level))),
        Event::Start(Tag::Image { .. }) => Event::Text("[image: ".into()),
        Event::End(TagEnd::Image) => Event::Text("]".into()),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    sanitizer().clean(&unsafe_html).to_string()
}

/// The words of `markdown` without its formatting, for meta descriptions, JSON-LD and the
/// sitemap (where markup would show as symbols): paragraphs become blank-line separated, raw
/// HTML is dropped, link targets are left out.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    ) {
        match event {
            Event::Text(text) | Event::Code(text) => out.push_str(&text),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock,
            ) => out.push_str("\n\n"),
            _ => {}
        }
    }
    out.trim().to_owned()
}

fn demoted(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

fn sanitizer() -> ammonia::Builder<'static> {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "hr",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
    .into_iter()
    .collect();
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(tags)
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("ol", ["start"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow ugc"))
        .strip_comments(true);
    builder
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_becomes_plain_safe_html() {
        let html = render("Hello *world*\n\n- one\n- [two](https://example.com/x)");
        assert!(html.contains("<em>world</em>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(
            html.contains(
                r#"<a href="https://example.com/x" rel="noopener noreferrer nofollow ugc">two</a>"#
            ),
            "{html}"
        );
    }

    #[test]
    fn no_script_iframe_handler_or_javascript_link_survives() {
        let hostile = r#"<script>alert(1)</script>
<iframe src="https://evil.example"></iframe>
<img src=x onerror=alert(1)>
<a href="javascript:alert(1)">raw</a>
[md](javascript:alert(1)) [data](data:text/html,<script>alert(1)</script>)
[vb](vbscript:msgbox) ![pic](https://tracker.example/p.gif)
<div onclick="alert(1)" style="x">div</div>
<svg onload=alert(1)>"#;
        let html = render(hostile);
        // Every element left is one of the harmless few, with no attribute but a safe href.
        for tag in html.split('<').skip(1) {
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                ["p", "a", "br", "em", "strong", "code"].contains(&name.as_str()),
                "<{name}> survived in {html}"
            );
            let attrs = tag.split('>').next().unwrap_or("");
            if let Some(href) = attrs.split("href=\"").nth(1) {
                assert!(href.starts_with("http"), "href {href} in {html}");
                assert!(!href.starts_with("https://tracker"), "{html}");
            }
            for bad in ["onerror", "onclick", "onload", "style", "src"] {
                assert!(!attrs.contains(bad), "{bad} in <{attrs}>");
            }
        }
        // Raw HTML is shown as text, not dropped without a trace.
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn plain_text_keeps_the_words_only() {
        let text = super::plain_text(
            "# Title\n\nRead **this** [link](https://x.example) <b>bold</b>\n\n- one",
        );
        assert_eq!(text, "Title\n\nRead this link bold\n\none");
    }

    #[test]
    fn headings_start_below_the_page_title() {
        // The talk title is the page's h1; a description's "# Heading" must not compete.
        let html = render("# Big\n\n## Smaller");
        assert!(html.contains("<h2>Big</h2>"), "{html}");
        assert!(html.contains("<h3>Smaller</h3>"), "{html}");
    }
}
