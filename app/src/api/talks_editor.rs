//! Server functions of the studio's talks: the studio home (list, filters, bulk actions, the
//! uploads without a talk) and the talk editor (fields, speakers, publication, trash, video).
//! Each starts with `require_role(Role::Editor)`; `store::studio_talks` decides what the actor
//! may change (an editor their own talks, an admin every talk of the tenant).
//!
//! Called by `ActionForm`s: without JavaScript a post is answered with a redirect back to the
//! page (`?error=<code>` or `?notice=<code>`), hydrated the page shows the result in place.

use ferrotape_model::studio::StudioVideo;
use ferrotape_model::talk::{EditableTalk, StudioTalk};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppError;

/// Most talks the studio home lists at once.
pub const STUDIO_PAGE: i64 = 200;

/// What `/studio` lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioListing {
    pub talks: Vec<StudioTalk>,
    /// The caller's uploads that belong to no talk yet.
    pub orphans: Vec<StudioVideo>,
    /// The caller is an admin: `talks` holds every editor's talks, with their owners.
    pub all_editors: bool,
    /// The tenant's tag names (autocomplete of the bulk "add a tag").
    pub tags: Vec<String>,
    /// Each listed talk's views and watch time (ms) so far, from the analytics rollups.
    #[serde(default)]
    pub figures: Vec<(Uuid, u64, u64)>,
}

/// A speaker to pick in the editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerChoice {
    pub id: Uuid,
    pub name: String,
}

/// What the talk editor shows; media URLs signed for preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditorData {
    pub talk: EditableTalk,
    pub tag_names: Vec<String>,
    pub speakers: Vec<SpeakerChoice>,
}

/// The bulk actions of the studio home.
pub const BULK_ACTIONS: [(&str, &str); 3] = [
    ("publish", "Publish"),
    ("unpublish", "Unpublish"),
    ("tag", "Add the tag"),
];

/// A talk id from a form or a URL; anything else is a talk that does not exist.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
fn talk_id(text: &str) -> Result<Uuid, AppError> {
    text.trim().parse().map_err(|_| AppError::NotFound)
}

#[cfg(feature = "ssr")]
mod server {
    use ferrotape_model::Role;
    use ferrotape_store::studio_talks::Actor;

    use crate::AppError;

    /// The signed-in editor (or admin) and what they may act on.
    pub struct Editor {
        pub tenant: ferrotape_model::TenantId,
        pub actor: Actor,
        pub id: uuid::Uuid,
    }

    pub async fn editor() -> Result<Editor, AppError> {
        let user = crate::server_context::require_role(Role::Editor).await?;
        Ok(Editor {
            tenant: user.tenant,
            actor: Actor {
                user: user.id,
                admin: user.role == Role::Admin,
            },
            id: user.id,
        })
    }
}

/// The studio home: the caller's talks (an admin's: the tenant's), filtered, and their uploads
/// without a talk.
#[server(endpoint = "studio/talks")]
pub async fn studio_home(
    q: Option<String>,
    state: Option<String>,
    trash: Option<String>,
) -> Result<StudioListing, AppError> {
    use crate::server_context::{accounts, pool, with_status};
    use ferrotape_model::talk::{StudioTalkFilter, TalkState};
    with_status(
        async {
            let editor = server::editor().await?;
            let pool = pool()?;
            let filter = StudioTalkFilter {
                q: q.filter(|q| !q.trim().is_empty()),
                state: state.as_deref().and_then(TalkState::parse),
                trash: trash.is_some_and(|t| !t.is_empty() && t != "false"),
            };
            let signer = accounts()?;
            let now = time::OffsetDateTime::now_utc();
            let mut talks: Vec<StudioTalk> = ferrotape_store::studio_talks::list(
                &pool,
                editor.tenant,
                editor.actor,
                &filter,
                None,
                STUDIO_PAGE,
            )
            .await?
            .into_iter()
            .map(|(talk, _)| talk)
            .collect();
            for talk in &mut talks {
                if let Some(video) = talk.video.as_mut() {
                    signer.media_urls().sign_studio_video(video, now);
                }
            }
            let mut orphans = ferrotape_store::videos::orphans_for_uploader(
                &pool,
                editor.tenant,
                editor.id,
                STUDIO_PAGE,
            )
            .await?;
            for video in &mut orphans {
                signer.media_urls().sign_studio_video(video, now);
            }
            let tags = ferrotape_store::tags::list(&pool, editor.tenant, None, None, 200)
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect();
            let ids: Vec<Uuid> = talks.iter().map(|t| t.id).collect();
            let figures =
                ferrotape_store::analytics_reports::lifetime_figures(&pool, editor.tenant.0, &ids)
                    .await?;
            Ok(StudioListing {
                talks,
                orphans,
                all_editors: editor.actor.admin,
                tags,
                figures,
            })
        }
        .await,
    )
}

/// Creates a draft talk called `title`, from one of the caller's uploads without a talk
/// (`video_id`) or empty, and opens its editor.
#[server(endpoint = "studio/talks/create")]
pub async fn create_talk(title: String, video_id: Option<String>) -> Result<Uuid, AppError> {
    use crate::server_context::{finish_form, pool};
    use ferrotape_model::talk::TalkFields;
    let result = async {
        let editor = server::editor().await?;
        let video = match video_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) => Some(id.parse::<Uuid>().map_err(|_| AppError::NotFound)?),
        };
        let fields = TalkFields {
            title,
            ..TalkFields::default()
        };
        Ok(ferrotape_store::studio_talks::create(
            &pool()?,
            editor.tenant,
            editor.actor,
            fields,
            video,
        )
        .await?)
    }
    .await;
    let next = result
        .as_ref()
        .map(|id| format!("/studio/talks/{id}"))
        .unwrap_or_default();
    finish_form(result, "/studio", "", Some(&next))
}

/// What a bulk action did to each talk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkReport {
    pub done: Vec<Uuid>,
    /// Talks refused, with the error code (`AppError::code`) saying why.
    pub failed: Vec<(Uuid, String)>,
}

impl BulkReport {
    /// `done=2&failed=<id>:<code>,…`: the report in the studio's URL, so a post without
    /// JavaScript shows it too (codes only: a crafted link cannot put words on the page).
    pub fn query(&self) -> String {
        let failed: Vec<String> = self
            .failed
            .iter()
            .map(|(id, code)| format!("{id}:{code}"))
            .collect();
        format!("done={}&failed={}", self.done.len(), failed.join(","))
    }

    /// The failures named in `failed=` of [`BulkReport::query`].
    pub fn parse_failed(text: &str) -> Vec<(Uuid, String)> {
        text.split(',')
            .filter_map(|item| {
                let (id, code) = item.split_once(':')?;
                let code: String = code
                    .chars()
                    .filter(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                Some((id.parse().ok()?, code))
            })
            .take(STUDIO_PAGE as usize)
            .collect()
    }
}

/// Publishes, unpublishes or tags every chosen talk; each is done or refused on its own, and
/// the report says which (a talk without a playable video cannot be published, say).
#[server(endpoint = "studio/talks/bulk")]
pub async fn bulk_talks(
    ids: Option<Vec<String>>,
    action: String,
    tag: Option<String>,
    q: Option<String>,
    state: Option<String>,
    trash: Option<String>,
) -> Result<BulkReport, AppError> {
    use crate::server_context::{encode_query_value, finish_form, pool};
    use ferrotape_model::talk::{FieldError, Publication, TalkState};
    use ferrotape_store::studio_talks;
    let mut back = String::from("/studio?");
    for (name, value) in [("q", &q), ("state", &state), ("trash", &trash)] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            back.push_str(&format!("{name}={}&", encode_query_value(value)));
        }
    }
    let result = async {
        let editor = server::editor().await?;
        let pool = pool()?;
        let ids: Vec<Uuid> = ids
            .unwrap_or_default()
            .iter()
            .filter_map(|id| id.parse().ok())
            .take(STUDIO_PAGE as usize)
            .collect();
        if ids.is_empty() {
            return Err(AppError::Invalid("choose at least one talk".into()));
        }
        let tag = tag.unwrap_or_default().trim().to_owned();
        if action == "tag" && tag.is_empty() {
            return Err(AppError::Field(FieldError::new(
                "tags",
                "name the tag to add",
            )));
        }
        let mut report = BulkReport {
            done: Vec::new(),
            failed: Vec::new(),
        };
        for id in ids {
            let outcome: Result<(), AppError> = async {
                match action.as_str() {
                    "publish" | "unpublish" => {
                        let current =
                            studio_talks::find(&pool, editor.tenant, editor.actor, id).await?;
                        let state = if action == "publish" {
                            TalkState::Published
                        } else if current.state == TalkState::Draft {
                            // Never public: nothing to take down.
                            return Ok(());
                        } else {
                            TalkState::Unpublished
                        };
                        studio_talks::set_publication(
                            &pool,
                            editor.tenant,
                            editor.actor,
                            id,
                            None,
                            Publication {
                                state,
                                publish_at: None,
                            },
                        )
                        .await?;
                    }
                    "tag" => {
                        let talk =
                            studio_talks::editable(&pool, editor.tenant, editor.actor, id).await?;
                        let revision = talk.talk.revision;
                        let mut fields = fields_of(&talk);
                        fields.tags.push(tag.clone());
                        studio_talks::update(
                            &pool,
                            editor.tenant,
                            editor.actor,
                            id,
                            Some(revision),
                            fields,
                        )
                        .await?;
                    }
                    _ => return Err(AppError::Invalid("unknown action".into())),
                }
                Ok(())
            }
            .await;
            match outcome {
                Ok(()) => report.done.push(id),
                Err(AppError::Unavailable) => return Err(AppError::Unavailable),
                Err(err) => report.failed.push((id, err.code().to_owned())),
            }
        }
        Ok(report)
    }
    .await;
    let next = match &result {
        Ok(report) => format!("{back}notice=bulk&{}", report.query()),
        Err(_) => String::new(),
    };
    finish_form(result, back.trim_end_matches(['?', '&']), "", Some(&next))
}

/// The fields of a talk as stored, to write back with one change.
#[cfg(feature = "ssr")]
fn fields_of(talk: &EditableTalk) -> ferrotape_model::talk::TalkFields {
    ferrotape_model::talk::TalkFields {
        title: talk.talk.title.clone(),
        slug: None,
        description: talk.description.clone(),
        language: talk.language.clone(),
        recorded_on: talk.recorded_on,
        event: talk.event.clone(),
        tags: talk.talk.tags.iter().map(|t| t.name.clone()).collect(),
        speakers: talk.speakers.iter().map(|s| s.id).collect(),
        chapters: talk.chapters.clone(),
    }
}

/// Everything the talk editor shows.
#[server(endpoint = "studio/talk")]
pub async fn talk_editor(id: String) -> Result<EditorData, AppError> {
    use crate::server_context::{accounts, pool, with_status};
    with_status(
        async {
            let editor = server::editor().await?;
            let id = talk_id(&id)?;
            let pool = pool()?;
            let mut talk =
                ferrotape_store::studio_talks::editable(&pool, editor.tenant, editor.actor, id)
                    .await?;
            let signer = accounts()?;
            let now = time::OffsetDateTime::now_utc();
            let urls = signer.media_urls();
            for url in [
                &mut talk.poster_url,
                &mut talk.thumbnails_url,
                &mut talk.master_url,
            ]
            .into_iter()
            .flatten()
            {
                *url = urls.sign_media_path(url, now);
            }
            for speaker in &mut talk.speakers {
                if let Some(photo) = speaker.photo_url.as_mut() {
                    *photo = urls.sign_media_path(photo, now);
                }
            }
            if let Some(video) = talk.talk.video.as_mut() {
                urls.sign_studio_video(video, now);
            }
            let tag_names = ferrotape_store::tags::list(&pool, editor.tenant, None, None, 200)
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect();
            let speakers = ferrotape_store::speakers::list(&pool, editor.tenant, None, None, 200)
                .await?
                .into_iter()
                .map(|s| SpeakerChoice {
                    id: s.id,
                    name: s.name,
                })
                .collect();
            Ok(EditorData {
                talk,
                tag_names,
                speakers,
            })
        }
        .await,
    )
}

/// The editor's talk as the list shows it (state, video processing), refreshed live.
#[server(endpoint = "studio/talk/status")]
pub async fn talk_status(id: String) -> Result<StudioTalk, AppError> {
    use crate::server_context::{accounts, pool, with_status};
    with_status(
        async {
            let editor = server::editor().await?;
            let mut talk = ferrotape_store::studio_talks::find(
                &pool()?,
                editor.tenant,
                editor.actor,
                talk_id(&id)?,
            )
            .await?;
            if let Some(video) = talk.video.as_mut() {
                accounts()?
                    .media_urls()
                    .sign_studio_video(video, time::OffsetDateTime::now_utc());
                video.captions =
                    ferrotape_store::subtitles::statuses(&pool()?, editor.tenant, video.id).await?;
            }
            Ok(talk)
        }
        .await,
    )
}

/// A change to the speaker list the editor asked for with one of its buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakerOp {
    Up(Uuid),
    Down(Uuid),
    Remove(Uuid),
}

impl SpeakerOp {
    /// `up:<id>`, `down:<id>`, `remove:<id>` (the value of the button pressed).
    pub fn parse(text: &str) -> Option<SpeakerOp> {
        let (verb, id) = text.split_once(':')?;
        let id = id.parse().ok()?;
        Some(match verb {
            "up" => SpeakerOp::Up(id),
            "down" => SpeakerOp::Down(id),
            "remove" => SpeakerOp::Remove(id),
            _ => return None,
        })
    }

    pub fn apply(self, speakers: &mut Vec<Uuid>) {
        let find = |id: Uuid, list: &[Uuid]| list.iter().position(|s| *s == id);
        match self {
            SpeakerOp::Up(id) => {
                if let Some(at) = find(id, speakers).filter(|at| *at > 0) {
                    speakers.swap(at, at - 1);
                }
            }
            SpeakerOp::Down(id) => {
                if let Some(at) = find(id, speakers).filter(|at| at + 1 < speakers.len()) {
                    speakers.swap(at, at + 1);
                }
            }
            SpeakerOp::Remove(id) => speakers.retain(|s| *s != id),
        }
    }
}

/// Saves the talk form. `revision` is the one the form was loaded at: a talk changed since is
/// refused (`AppError::Stale`) and nothing is written. `op` is the button pressed besides Save
/// (a speaker moved or removed); `add_speaker` names an existing speaker to add;
/// `new_speaker_*` create a speaker profile and add it. Returns the new revision.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "studio/talk/save")]
pub async fn save_talk(
    id: String,
    revision: i64,
    title: String,
    slug: String,
    description: String,
    language: String,
    recorded_on: String,
    event: String,
    tags: String,
    speakers: Option<Vec<String>>,
    chapters: String,
    add_speaker: Option<String>,
    new_speaker_name: Option<String>,
    new_speaker_bio: Option<String>,
    new_speaker_links: Option<String>,
    op: Option<String>,
) -> Result<i64, AppError> {
    use crate::server_context::{finish_form, pool};
    use ferrotape_model::talk::{FieldError, SpeakerFields, TalkFields, parse_chapter_lines};
    use ferrotape_store::{speakers as speaker_store, studio_talks};
    let id_text = id.clone();
    let result = async {
        let editor = server::editor().await?;
        let id = talk_id(&id)?;
        let pool = pool()?;
        let invalid = |field: &str, message: &str| AppError::Field(FieldError::new(field, message));
        let chapters = parse_chapter_lines(&chapters).map_err(AppError::Field)?;
        let recorded_on = match recorded_on.trim() {
            "" => None,
            text => Some(
                time::Date::parse(
                    text,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| invalid("recorded_on", "a date such as 2026-05-14"))?,
            ),
        };
        let mut speaker_ids = Vec::new();
        for text in speakers.unwrap_or_default() {
            speaker_ids.push(
                text.parse::<Uuid>()
                    .map_err(|_| invalid("speakers", "a chosen speaker does not exist"))?,
            );
        }
        if let Some(op) = op.as_deref().and_then(SpeakerOp::parse) {
            op.apply(&mut speaker_ids);
        }
        if let Some(name) = add_speaker
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let found = speaker_store::list(&pool, editor.tenant, Some(name), None, 50)
                .await?
                .into_iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    invalid(
                        "add_speaker",
                        &format!("no speaker is called “{name}”: create them below"),
                    )
                })?;
            if !speaker_ids.contains(&found.id) {
                speaker_ids.push(found.id);
            }
        }
        // A new speaker is checked before anything is written, created, and removed again
        // should the talk refuse the save.
        let new_speaker = match new_speaker_name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(
                SpeakerFields {
                    name: name.to_owned(),
                    slug: None,
                    bio: new_speaker_bio.unwrap_or_default(),
                    links: new_speaker_links
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_owned)
                        .collect(),
                }
                .normalized()
                .map_err(|e| {
                    AppError::Field(FieldError::new(
                        &format!("new_speaker_{}", e.field),
                        e.message,
                    ))
                })?,
            ),
        };
        let fields = TalkFields {
            title,
            slug: Some(slug.trim().to_owned()).filter(|s| !s.is_empty()),
            description,
            language: Some(language),
            recorded_on,
            event,
            tags: tags.split(',').map(str::to_owned).collect(),
            speakers: speaker_ids,
            chapters,
        };
        // Everything the model checks is checked before a speaker is created.
        let mut fields = fields.normalized(None).map_err(AppError::Field)?;
        let created = match new_speaker {
            Some(profile) => {
                let speaker = speaker_store::create(&pool, editor.tenant, profile)
                    .await
                    .map_err(|e| match AppError::from(e) {
                        AppError::Field(f) => AppError::Field(FieldError::new(
                            &format!("new_speaker_{}", f.field),
                            f.message,
                        )),
                        other => other,
                    })?;
                fields.speakers.push(speaker.id);
                Some(speaker.id)
            }
            None => None,
        };
        let saved = studio_talks::update(
            &pool,
            editor.tenant,
            editor.actor,
            id,
            Some(revision),
            fields,
        )
        .await;
        match saved {
            Ok(revision) => Ok(revision),
            Err(err) => {
                if let Some(speaker) = created {
                    let _ = speaker_store::delete(&pool, editor.tenant, speaker, None).await;
                }
                Err(err.into())
            }
        }
    }
    .await;
    let page = format!("/studio/talks/{}", id_text.trim());
    let page = if talk_id(&id_text).is_ok() {
        page
    } else {
        "/studio".to_owned()
    };
    finish_form(result, &page, "", Some(&format!("{page}?notice=saved")))
}

/// Parses `<input type=datetime-local>` text (`2026-12-02T09:30`, seconds optional) as a
/// time `offset_minutes` behind UTC (JavaScript's `getTimezoneOffset`; 0 without JavaScript).
pub fn parse_local_datetime(text: &str, offset_minutes: i32) -> Option<time::OffsetDateTime> {
    use time::macros::format_description;
    let text = text.trim();
    let local = time::PrimitiveDateTime::parse(
        text,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    )
    .or_else(|_| {
        time::PrimitiveDateTime::parse(
            text,
            format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        )
    })
    .ok()?;
    if !(-16 * 60..=16 * 60).contains(&offset_minutes) {
        return None;
    }
    let offset = time::UtcOffset::from_whole_seconds(-offset_minutes * 60).ok()?;
    Some(local.assume_offset(offset).to_offset(time::UtcOffset::UTC))
}

/// Draft, unlisted, publish now, schedule at `publish_at` or unpublish. `tz_offset` is the
/// browser's offset from UTC in minutes (JavaScript fills it in; without it the time is UTC).
#[server(endpoint = "studio/talk/publish")]
pub async fn publish_talk(
    id: String,
    revision: i64,
    state: String,
    publish_at: Option<String>,
    tz_offset: Option<String>,
) -> Result<String, AppError> {
    use crate::server_context::{finish_form, pool};
    use ferrotape_model::talk::{FieldError, Publication, TalkState};
    let id_text = id.clone();
    let result = async {
        let editor = server::editor().await?;
        let id = talk_id(&id)?;
        let state = TalkState::parse(&state)
            .ok_or_else(|| AppError::Field(FieldError::new("state", "choose a state")))?;
        let offset = tz_offset
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<i32>().unwrap_or(i32::MAX))
            .unwrap_or(0);
        let publish_at = match publish_at.as_deref().map(str::trim) {
            // Only scheduling reads the time (publishing now back-dates nothing from the form).
            Some(text) if !text.is_empty() && state == TalkState::Scheduled => {
                Some(parse_local_datetime(text, offset).ok_or_else(|| {
                    AppError::Field(FieldError::new(
                        "publish_at",
                        "a date and time such as 2026-12-24 18:00",
                    ))
                })?)
            }
            _ => None,
        };
        let (now, _) = ferrotape_store::studio_talks::set_publication(
            &pool()?,
            editor.tenant,
            editor.actor,
            id,
            Some(revision),
            Publication { state, publish_at },
        )
        .await?;
        Ok(now.as_str().to_owned())
    }
    .await;
    let page = format!("/studio/talks/{}", id_text.trim());
    finish_form(
        result,
        &page,
        "",
        Some(&format!("{page}?notice=publication")),
    )
}

/// Moves the talk to the trash (restorable for `TRASH_DAYS` days).
#[server(endpoint = "studio/talk/trash")]
pub async fn trash_talk(id: String, revision: i64) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool};
    let id_text = id.clone();
    let result = async {
        let editor = server::editor().await?;
        ferrotape_store::studio_talks::trash(
            &pool()?,
            editor.tenant,
            editor.actor,
            talk_id(&id)?,
            Some(revision),
        )
        .await?;
        Ok(())
    }
    .await;
    let page = format!("/studio/talks/{}", id_text.trim());
    finish_form(result, &page, "", Some(&format!("{page}?notice=trashed")))
}

/// Takes the talk out of the trash.
#[server(endpoint = "studio/talk/restore")]
pub async fn restore_talk(id: String) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool};
    let id_text = id.clone();
    let result = async {
        let editor = server::editor().await?;
        ferrotape_store::studio_talks::restore(
            &pool()?,
            editor.tenant,
            editor.actor,
            talk_id(&id)?,
        )
        .await?;
        Ok(())
    }
    .await;
    let page = format!("/studio/talks/{}", id_text.trim());
    finish_form(result, &page, "", Some(&format!("{page}?notice=restored")))
}

/// Transcribes the talk's video again (its machine captions are replaced; a person's stay).
#[server(endpoint = "studio/talk/transcribe")]
pub async fn transcribe_talk(id: String) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool};
    let id_text = id.clone();
    let result = async {
        let editor = server::editor().await?;
        let pool = pool()?;
        let talk =
            ferrotape_store::studio_talks::find(&pool, editor.tenant, editor.actor, talk_id(&id)?)
                .await?;
        let video = talk
            .video
            .filter(|v| v.state == ferrotape_model::VideoState::Ready)
            .ok_or_else(|| {
                AppError::Invalid("The talk has no ready video to transcribe.".into())
            })?;
        ferrotape_store::subtitles::queue_transcription(&pool, editor.tenant, video.id).await?;
        Ok(())
    }
    .await;
    let page = format!("/studio/talks/{}", id_text.trim());
    finish_form(
        result,
        &page,
        "",
        Some(&format!("{page}?notice=transcribing")),
    )
}

/// Gives the talk a newly uploaded video (one of the caller's without a talk); the talk keeps
/// its address and serves its current video until the new one is ready.
#[server(endpoint = "studio/talk/video")]
pub async fn attach_talk_video(id: String, video_id: String) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool};
    let id_text = id.clone();
    let result = async {
        let editor = server::editor().await?;
        let video = video_id
            .trim()
            .parse::<Uuid>()
            .map_err(|_| AppError::NotFound)?;
        ferrotape_store::studio_talks::attach_video(
            &pool()?,
            editor.tenant,
            editor.actor,
            talk_id(&id)?,
            video,
        )
        .await?;
        Ok(())
    }
    .await;
    let page = format!("/studio/talks/{}", id_text.trim());
    finish_form(result, &page, "", Some(&format!("{page}?notice=video")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaker_ops_move_within_bounds_and_remove() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut list = vec![a, b, c];
        SpeakerOp::parse(&format!("up:{a}"))
            .unwrap()
            .apply(&mut list);
        assert_eq!(list, [a, b, c], "the first cannot move up");
        SpeakerOp::parse(&format!("down:{a}"))
            .unwrap()
            .apply(&mut list);
        assert_eq!(list, [b, a, c]);
        SpeakerOp::parse(&format!("remove:{c}"))
            .unwrap()
            .apply(&mut list);
        assert_eq!(list, [b, a]);
        assert_eq!(SpeakerOp::parse("sideways:x"), None);
    }

    #[test]
    fn local_times_follow_the_browser_offset_or_utc() {
        let utc = parse_local_datetime("2026-12-02T09:30", 0).unwrap();
        assert_eq!(utc.to_string(), "2026-12-02 9:30:00.0 +00:00:00");
        // Berlin in winter: getTimezoneOffset() is -60.
        let berlin = parse_local_datetime("2026-12-02T09:30:15", -60).unwrap();
        assert_eq!(berlin.to_string(), "2026-12-02 8:30:15.0 +00:00:00");
        assert_eq!(parse_local_datetime("tomorrow", 0), None);
        assert_eq!(parse_local_datetime("2026-12-02T09:30", 100_000), None);
    }

    #[test]
    fn bulk_reports_round_trip_through_the_url() {
        let report = BulkReport {
            done: vec![Uuid::from_u128(1)],
            failed: vec![(Uuid::from_u128(2), "invalid_state".into())],
        };
        let query = report.query();
        let failed = query.split("failed=").nth(1).unwrap();
        assert_eq!(BulkReport::parse_failed(failed), report.failed);
        assert_eq!(
            BulkReport::parse_failed("junk,<script>:x"),
            Vec::<(Uuid, String)>::new()
        );
    }
}
