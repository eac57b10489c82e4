//! The `<head>` of a watch page: canonical URL, OpenGraph and Twitter player cards, oEmbed
//! discovery and schema.org JSON-LD, all with absolute URLs on the request's trusted origin.

use ferrotape_model::TalkDetail;
use ferrotape_model::seo::{self, VideoObject, embed_url, watch_url};
use leptos::prelude::*;
use leptos_meta::{Link, Meta, Script};
use time::format_description::well_known::Rfc3339;

use crate::components::player::PreloadPlayerEngine;

#[component]
pub fn WatchHead(talk: TalkDetail, origin: String) -> impl IntoView {
    let page = watch_url(&origin, &talk.summary.slug);
    let embed = embed_url(&origin, talk.summary.id);
    let description: String = talk.description.chars().take(200).collect();
    let description = if description.trim().is_empty() {
        format!(
            "{} — a talk by {}",
            talk.summary.title,
            talk.summary.speaker_names()
        )
    } else {
        description
    };
    let oembed = format!(
        "{origin}/oembed?url={}&format=json",
        seo::encode_query_value(&page)
    );
    let video = talk.video.clone();
    let poster = video
        .as_ref()
        .and_then(|v| v.poster_url.as_ref())
        .map(|path| format!("{origin}{path}"));
    let (width, height) = video.as_ref().map_or((16, 9), |v| v.aspect_ratio());
    let (player_width, player_height) =
        seo::oembed_size((width, height), None, None).unwrap_or((640, 360));
    let json_ld = video
        .as_ref()
        .zip(poster.clone())
        .map(|(video, thumbnail)| {
            seo::video_object_json_ld(&VideoObject {
                name: talk.summary.title.clone(),
                description: talk.description.clone(),
                page_url: page.clone(),
                thumbnail_url: thumbnail,
                upload_date: talk
                    .summary
                    .published_at
                    .format(&Rfc3339)
                    .unwrap_or_default(),
                duration_secs: talk.summary.duration_seconds.unwrap_or(0),
                content_url: format!("{origin}{}", video.master_url),
                embed_url: Some(embed.clone()),
                chapters: talk.chapters.clone(),
                transcript: talk
                    .transcript
                    .iter()
                    .map(|line| line.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            })
        });
    let has_video = video.is_some();
    let listed = talk.listed;
    view! {
        // An unlisted talk is for those who have the link: search engines leave it out.
        {(!listed).then(|| view! { <Meta name="robots" content="noindex"/> })}
        <Meta name="description" content=description.clone()/>
        <Link rel="canonical" href=page.clone()/>
        <Link rel="alternate" type_="application/json+oembed" href=oembed title=talk.summary.title.clone()/>
        <Meta property="og:site_name" content=crate::SITE_NAME/>
        <Meta property="og:type" content=if has_video { "video.other" } else { "article" }/>
        <Meta property="og:title" content=talk.summary.title.clone()/>
        <Meta property="og:description" content=description.clone()/>
        <Meta property="og:url" content=page.clone()/>
        {poster.clone().map(|image| view! {
            <Meta property="og:image" content=image.clone()/>
            <Meta name="twitter:image" content=image/>
        })}
        {talk.summary.duration_seconds.map(|secs| view! {
            <Meta property="video:duration" content=secs.to_string()/>
        })}
        {has_video.then(|| view! {
            <PreloadPlayerEngine/>
            <Meta property="og:video" content=embed.clone()/>
            <Meta property="og:video:secure_url" content=embed.clone()/>
            <Meta property="og:video:type" content="text/html"/>
            <Meta property="og:video:width" content=player_width.to_string()/>
            <Meta property="og:video:height" content=player_height.to_string()/>
            <Meta name="twitter:card" content="player"/>
            <Meta name="twitter:player" content=embed.clone()/>
            <Meta name="twitter:player:width" content=player_width.to_string()/>
            <Meta name="twitter:player:height" content=player_height.to_string()/>
        })}
        {(!has_video).then(|| view! { <Meta name="twitter:card" content="summary"/> })}
        <Meta name="twitter:title" content=talk.summary.title.clone()/>
        <Meta name="twitter:description" content=description/>
        {json_ld.map(|json| view! { <Script type_="application/ld+json">{json}</Script> })}
    }
}
