//! `/studio/talks/{id}`: the talk editor. One form for the talk's fields (details, tags,
//! speakers, chapters) plus separate forms for publication, the poster, speakers' photos, the
//! video and the trash. Every form is a plain HTML form that works without JavaScript (the
//! server answers with a redirect back, `?error=<code>` or `?notice=<code>`); hydrated, the
//! forms post in place, a refused field shows its message next to it, and a save refused as
//! stale keeps what the editor typed.

use ferrotape_model::talk::{
    EditableTalk, MAX_BIO_CHARS, MAX_DESCRIPTION_CHARS, MAX_EVENT_CHARS, MAX_SPEAKER_NAME_CHARS,
    MAX_TITLE_CHARS, Speaker, TRASH_DAYS, TalkState, chapter_lines,
};
use ferrotape_model::{VideoState, time_format};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppError;
use crate::api::talks_editor::{
    AttachTalkVideo, EditorData, PublishTalk, RestoreTalk, SaveTalk, SpeakerChoice, TranscribeTalk,
    TrashTalk, talk_editor, talk_status,
};
use crate::components::form::FormMessage;
use crate::components::poster_frames::PosterFrames;
use crate::components::uploader::Uploader;
use crate::origin::site_origin;
use crate::pages::not_found::NotFound;
use crate::pages::studio::{AccessRefused, StateBadge, VideoStatus};

/// "2026-12-02 09:30 UTC".
pub fn utc_minutes(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}

/// `2026-12-02T09:30:00`, the value of a `datetime-local` input, in UTC.
fn utc_input_value(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}",
        at.date(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The field a `?error=` code names (a form posted without JavaScript comes back with one).
fn field_for_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_title" => "title",
        "invalid_slug" => "slug",
        "invalid_description" => "description",
        "invalid_language" => "language",
        "invalid_recorded_on" => "recorded_on",
        "invalid_event" => "event",
        "invalid_tags" => "tags",
        "invalid_speakers" => "speakers",
        "invalid_chapters" => "chapters",
        "invalid_state" => "state",
        "invalid_publish_at" => "publish_at",
        "invalid_name" => "new_speaker_name",
        "invalid_bio" => "new_speaker_bio",
        "invalid_links" => "new_speaker_links",
        _ => return None,
    })
}

/// The message for `field` from the last result of a form: the returned error (hydrated), else
/// the `?error=` code the page was sent back with.
fn field_error<T: Clone + Send + Sync + 'static>(
    result: Signal<Option<Result<T, AppError>>>,
    field: &'static str,
) -> Signal<Option<String>> {
    let query = use_query_map();
    Signal::derive(move || match result.get() {
        Some(Err(AppError::Field(f))) => (f.field == field
            || (field == "speakers" && f.field == "add_speaker"))
            .then_some(f.message),
        Some(_) => None,
        None => query.with(|q| {
            let code = q.get("error")?;
            (field_for_code(&code) == Some(field))
                .then(|| AppError::message_for_code(&code))
                .flatten()
        }),
    })
}

/// The message under a field, tied to it by `aria-describedby` (present even when empty, so
/// the reference always resolves).
#[component]
fn FieldMessage(id: String, error: Signal<Option<String>>) -> impl IntoView {
    view! { <p id=id class="field-error">{move || error.get()}</p> }
}

#[component]
pub fn TalkEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let save = ServerAction::<SaveTalk>::new();
    let publish = ServerAction::<PublishTalk>::new();
    let trash = ServerAction::<TrashTalk>::new();
    let restore = ServerAction::<RestoreTalk>::new();
    let attach = ServerAction::<AttachTalkVideo>::new();
    let transcribe = ServerAction::<TranscribeTalk>::new();
    // The form is reloaded only after a change went through: a refused save leaves it (and
    // what the editor typed) as it is.
    let saved = RwSignal::new(0u32);
    let last: RwSignal<Option<Result<(), AppError>>> = RwSignal::new(None);
    let watch = move |value: Option<Result<(), AppError>>| {
        if let Some(result) = value {
            if result.is_ok() {
                saved.update(|n| *n += 1);
            }
            last.set(Some(result));
        }
    };
    Effect::new(move |_| watch(save.value().get().map(|r| r.map(|_| ()))));
    Effect::new(move |_| watch(publish.value().get().map(|r| r.map(|_| ()))));
    Effect::new(move |_| watch(trash.value().get()));
    Effect::new(move |_| watch(restore.value().get()));
    Effect::new(move |_| watch(attach.value().get()));
    Effect::new(move |_| watch(transcribe.value().get()));

    let refresh = RwSignal::new(0u32);
    let status = Resource::new(
        move || (id(), refresh.get(), saved.get()),
        |(id, ..)| talk_status(id),
    );
    // The video's state, so the poster section (frames exist once it is ready) follows it.
    let video_state = Memo::new(move |_| {
        status
            .get()
            .and_then(Result::ok)
            .and_then(|t| t.video.map(|v| v.state))
    });
    let data = Resource::new(move || (id(), saved.get()), |(id, _)| talk_editor(id));
    let media = Resource::new(
        move || (id(), saved.get(), video_state.get()),
        |(id, ..)| talk_editor(id),
    );

    #[cfg(feature = "hydrate")]
    {
        use leptos::leptos_dom::helpers::set_interval_with_handle;
        crate::pages::studio::live_updates(refresh);
        let busy = move || {
            matches!(
                video_state.get_untracked(),
                Some(VideoState::Uploading | VideoState::Processing)
            )
        };
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if busy() {
                    refresh.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_millis(10_000),
        ) {
            on_cleanup(move || handle.clear());
        }
        // A refused field gets the focus, so keyboard and screen-reader users land on it.
        Effect::new(move |_| {
            if let Some(Err(AppError::Field(f))) = save.value().get() {
                let target = format!("talk-{}", f.field.replace('_', "-"));
                if let Some(el) = document().get_element_by_id(&target) {
                    use wasm_bindgen::JsCast;
                    if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                        let _ = el.focus();
                    }
                }
            }
        });
    }

    view! {
        <section class="talk-editor" aria-labelledby="editor-heading">
            <p class="breadcrumb"><A href="/studio">"← Studio"</A></p>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading the talk…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! {
                            <Title text=format!("Edit: {}", data.talk.talk.title)/>
                            <h1 id="editor-heading">
                                <span class="visually-hidden">"Edit talk: "</span>{data.talk.talk.title.clone()}
                            </h1>
                            <EditorStatus status/>
                            <FormMessage result=Signal::derive(move || last.get())/>
                            <div class="editor-layout">
                                <div class="editor-main">
                                    <TalkForm data=data.clone() save/>
                                </div>
                                <div class="editor-side">
                                    <PublishForm talk=data.talk.clone() publish/>
                                    <Transition fallback=|| ()>
                                        {move || Suspend::new(async move {
                                            media.await.ok().map(|media| view! {
                                                <PosterSection talk=media.talk/>
                                            })
                                        })}
                                    </Transition>
                                    <SpeakerPhotos talk=data.talk.clone()/>
                                    <VideoSection talk=data.talk.clone() video_state attach/>
                                    <CaptionsSection talk=data.talk.clone() video_state transcribe/>
                                    <TrashSection talk=data.talk.clone() trash restore/>
                                </div>
                            </div>
                        }.into_any(),
                        Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/studio"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The talk's state and its video's processing, kept current.
#[component]
fn EditorStatus(
    status: Resource<Result<ferrotape_model::talk::StudioTalk, AppError>>,
) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                status.await.ok().map(|talk| {
                    let origin = site_origin();
                    let url = ferrotape_model::seo::watch_url(&origin, &talk.slug);
                    let reachable = talk.state.reachable() && talk.deleted_at.is_none();
                    let scheduled = (talk.state == TalkState::Scheduled)
                        .then_some(talk.published_at)
                        .flatten()
                        .map(utc_minutes);
                    view! {
                        <dl class="editor-status" data-talk-state=talk.state.as_str()
                            data-video-state=talk.video.as_ref().map(|v| v.state.as_str())>
                            <div><dt>"State"</dt><dd>
                                <StateBadge state=talk.state/>
                                {scheduled.map(|at| view! { " " <span>{format!("goes public at {at}")}</span> })}
                                {talk.deleted_at.map(|_| view! { " " <span class="state-badge talk-state-trash">"In the trash"</span> })}
                            </dd></div>
                            <div><dt>"Video"</dt><dd><VideoStatus video=talk.video.clone()/></dd></div>
                            <div><dt>"Captions"</dt><dd class="caption-status">
                                {let captions = talk.video.as_ref().map(|v| v.captions.clone()).unwrap_or_default();
                                 if captions.is_empty() {
                                    view! { <span>"None yet: they are made once the video is ready."</span> }.into_any()
                                 } else {
                                    view! { <ul class="caption-list">{captions.into_iter().map(|c| view! {
                                        <li data-caption-state=c.state.clone()>{c.status_text()}</li>
                                    }).collect_view()}</ul> }.into_any()
                                 }}
                            </dd></div>
                            <div><dt>"Public address"</dt><dd>
                                {if reachable {
                                    view! { <a href=url.clone() class="public-url">{url.clone()}</a> }.into_any()
                                } else {
                                    view! { <span class="public-url">{url.clone()}</span> " " <span class="field-hint">"(opens once published or unlisted)"</span> }.into_any()
                                }}
                            </dd></div>
                        </dl>
                    }
                })
            })}
        </Transition>
    }
}

/// The talk's own fields: one form, saved at once.
#[component]
fn TalkForm(data: EditorData, save: ServerAction<SaveTalk>) -> impl IntoView {
    let EditorData {
        talk,
        tag_names,
        speakers: choices,
    } = data;
    let result = Signal::derive(move || save.value().get());
    let error = move |field: &'static str| field_error(result, field);
    let EditableTalk {
        talk: summary,
        description,
        language,
        recorded_on,
        event,
        speakers,
        chapters,
        duration_ms,
        ..
    } = talk;
    let origin = site_origin();
    let duration_hint = duration_ms
        .map(|ms| format!(" The video lasts {}.", time_format::clock(ms / 1000)))
        .unwrap_or_default();
    let title_error = error("title");
    let slug_error = error("slug");
    let description_error = error("description");
    let language_error = error("language");
    let recorded_error = error("recorded_on");
    let event_error = error("event");
    let chapters_error = error("chapters");
    let invalid = |e: Signal<Option<String>>| move || e.get().is_some().then_some("true");
    // After a save the page re-renders with the stored values as the fields' defaults, but a
    // field the editor typed in keeps its text (the new speaker's name would be created
    // twice): the form is reset to those defaults.
    let form_ref = NodeRef::<leptos::html::Form>::new();
    // Effects run only once this form is hydrated: the mark says its buttons now save
    // through the server function (tests wait for it; the page's own hydration mark can come
    // before the resource's suspense has hydrated the form).
    Effect::new(move |_| {
        if let Some(form) = form_ref.get() {
            let _ = form.set_attribute("data-interactive", "true");
        }
    });
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_)))
            && let Some(form) = form_ref.get_untracked()
        {
            form.reset();
        }
    });
    view! {
        <ActionForm action=save node_ref=form_ref attr:class="editor-form" attr:aria-label="Talk details">
            // Enter in a text field submits with the form's first button: this Save, not a
            // speaker's "Move up".
            <button type="submit" class="visually-hidden" tabindex="-1" aria-hidden="true">"Save"</button>
            <input type="hidden" name="id" value=summary.id.to_string()/>
            <input type="hidden" name="revision" value=summary.revision.to_string()/>
            <fieldset>
                <legend>"Details"</legend>
                <div class="field">
                    <label for="talk-title">"Title"</label>
                    <input id="talk-title" type="text" name="title" required maxlength=MAX_TITLE_CHARS
                        value=summary.title.clone() aria-describedby="talk-title-error"
                        aria-invalid=invalid(title_error)/>
                    <FieldMessage id="talk-title-error".into() error=title_error/>
                </div>
                <div class="field">
                    <label for="talk-slug">"Address (slug)"</label>
                    <input id="talk-slug" type="text" name="slug" required maxlength="80"
                        pattern="[a-z0-9]+(-[a-z0-9]+)*" value=summary.slug.clone()
                        aria-describedby="talk-slug-hint talk-slug-error" aria-invalid=invalid(slug_error)/>
                    <p id="talk-slug-hint" class="field-hint">
                        "The public page is " <code>{format!("{origin}/talks/{}", summary.slug)}</code>
                        ". Lower-case letters, digits and hyphens. After a change, the old address keeps "
                        "redirecting to the new one, so shared links never break."
                    </p>
                    <FieldMessage id="talk-slug-error".into() error=slug_error/>
                </div>
                <div class="field">
                    <label for="talk-description">"Description"</label>
                    <textarea id="talk-description" name="description" rows="8"
                        maxlength=MAX_DESCRIPTION_CHARS
                        aria-describedby="talk-description-hint talk-description-error"
                        aria-invalid=invalid(description_error)>{description}</textarea>
                    <p id="talk-description-hint" class="field-hint">
                        "Markdown: *emphasis*, **bold**, [links](https://example.com), lists, headings. "
                        "HTML is not allowed: tags are removed from the page."
                    </p>
                    <FieldMessage id="talk-description-error".into() error=description_error/>
                </div>
                <div class="field-row">
                    <div class="field">
                        <label for="talk-language">"Language"</label>
                        <input id="talk-language" type="text" name="language" maxlength="35"
                            value=language.unwrap_or_default() placeholder="en"
                            aria-describedby="talk-language-hint talk-language-error"
                            aria-invalid=invalid(language_error)/>
                        <p id="talk-language-hint" class="field-hint">"A tag such as en, de or pt-BR."</p>
                        <FieldMessage id="talk-language-error".into() error=language_error/>
                    </div>
                    <div class="field">
                        <label for="talk-recorded-on">"Recorded on"</label>
                        <input id="talk-recorded-on" type="date" name="recorded_on"
                            value=recorded_on.map(|d| d.to_string()).unwrap_or_default()
                            aria-describedby="talk-recorded-on-error" aria-invalid=invalid(recorded_error)/>
                        <FieldMessage id="talk-recorded-on-error".into() error=recorded_error/>
                    </div>
                </div>
                <div class="field">
                    <label for="talk-event">"Event or series"</label>
                    <input id="talk-event" type="text" name="event" maxlength=MAX_EVENT_CHARS value=event
                        aria-describedby="talk-event-error" aria-invalid=invalid(event_error)/>
                    <FieldMessage id="talk-event-error".into() error=event_error/>
                </div>
            </fieldset>
            <TagsField initial=summary.tags.iter().map(|t| t.name.clone()).collect() names=tag_names error=error("tags")/>
            <SpeakersField speakers choices error=error("speakers") result/>
            <fieldset>
                <legend>"Chapters"</legend>
                <div class="field">
                    <label for="talk-chapters">"Chapters, one per line"</label>
                    <textarea id="talk-chapters" name="chapters" rows="6" class="mono"
                        aria-describedby="talk-chapters-hint talk-chapters-error"
                        aria-invalid=invalid(chapters_error)>{chapter_lines(&chapters)}</textarea>
                    <p id="talk-chapters-hint" class="field-hint">
                        "A start time, then the title: " <code>"0:00 Introduction"</code> ", "
                        <code>"12:30 Questions"</code> ". In order of time, inside the video." {duration_hint}
                    </p>
                    <FieldMessage id="talk-chapters-error".into() error=chapters_error/>
                </div>
            </fieldset>
            <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save"</button>
        </ActionForm>
    }
}

/// Tags: a comma-separated text field with autocomplete; hydrated, chips with a remove button
/// each, added with Enter or a comma.
#[component]
fn TagsField(
    initial: Vec<String>,
    names: Vec<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let enhanced = RwSignal::new(false);
    Effect::new(move |_| enhanced.set(true));
    let chips = RwSignal::new(initial.clone());
    let entry = RwSignal::new(String::new());
    let joined = move || {
        let mut all = chips.get();
        let pending = entry.get();
        if !pending.trim().is_empty() {
            all.push(pending);
        }
        all.join(", ")
    };
    let add = move || {
        let text = entry.get_untracked();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            chips.update(|c| {
                if !c.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                    c.push(name.to_owned());
                }
            });
        }
        entry.set(String::new());
    };
    let initial_text = initial.join(", ");
    let invalid = move || error.get().is_some().then_some("true");
    view! {
        <fieldset>
            <legend>"Tags"</legend>
            <Show
                when=move || enhanced.get()
                fallback=move || view! {
                    <div class="field">
                        <label for="talk-tags">"Tags, separated by commas"</label>
                        <input id="talk-tags" type="text" name="tags" list="tag-names" value=initial_text.clone()
                            aria-describedby="talk-tags-hint talk-tags-error" aria-invalid=invalid/>
                    </div>
                }
            >
                <ul class="chips" aria-label="Tags of this talk">
                    <For each=move || chips.get() key=|name| name.clone() let:name>
                        {
                            let label = format!("Remove the tag {name}");
                            let gone = name.clone();
                            view! {
                                <li class="chip">
                                    <span>{name}</span>
                                    <button type="button" class="chip-remove" aria-label=label
                                        on:click=move |_| chips.update(|c| c.retain(|t| *t != gone))>"×"</button>
                                </li>
                            }
                        }
                    </For>
                </ul>
                <div class="field">
                    <label for="talk-tags">"Add a tag"</label>
                    <input id="talk-tags" type="text" list="tag-names" autocomplete="off"
                        aria-describedby="talk-tags-hint talk-tags-error" aria-invalid=invalid
                        prop:value=move || entry.get()
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            let picked = value.ends_with(',');
                            entry.set(value);
                            if picked { add(); }
                        }
                        on:change=move |_| add()
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" {
                                ev.prevent_default();
                                add();
                            }
                        }/>
                    <input type="hidden" name="tags" prop:value=joined/>
                </div>
            </Show>
            <datalist id="tag-names">
                {names.into_iter().map(|n| view! { <option value=n></option> }).collect_view()}
            </datalist>
            <p id="talk-tags-hint" class="field-hint">
                {move || if enhanced.get() {
                    "Press Enter or type a comma to add a tag. New names become new tags when you save."
                } else {
                    "Pick existing tags or type new ones: new names become new tags when you save."
                }}
            </p>
            <FieldMessage id="talk-tags-error".into() error/>
        </fieldset>
    }
}

/// The talk's speakers in order, with buttons to move and remove each (they save the form), a
/// field to add an existing speaker and one to create a new profile.
#[component]
fn SpeakersField(
    speakers: Vec<Speaker>,
    choices: Vec<SpeakerChoice>,
    error: Signal<Option<String>>,
    result: Signal<Option<Result<i64, AppError>>>,
) -> impl IntoView {
    let count = speakers.len();
    let name_error = field_error(result, "new_speaker_name");
    let bio_error = field_error(result, "new_speaker_bio");
    let links_error = field_error(result, "new_speaker_links");
    let invalid = |e: Signal<Option<String>>| move || e.get().is_some().then_some("true");
    view! {
        <fieldset>
            <legend>"Speakers"</legend>
            {if speakers.is_empty() {
                view! { <p class="field-hint">"No speakers yet."</p> }.into_any()
            } else {
                view! {
                    <ol class="speaker-list" aria-label="Speakers in the order they are shown">
                        {speakers.into_iter().enumerate().map(|(index, speaker)| {
                            let id = speaker.id;
                            let name = speaker.name.clone();
                            view! {
                                <li class="speaker-item" data-speaker-id=id.to_string()>
                                    <input type="hidden" name=format!("speakers[{index}]") value=id.to_string()/>
                                    <span class="speaker-name">{speaker.name.clone()}</span>
                                    <span class="speaker-actions">
                                        <button type="submit" name="op" value=format!("up:{id}") class="button small"
                                            disabled=index == 0>
                                            "↑" <span class="visually-hidden">{format!(" Move {name} up")}</span>
                                        </button>
                                        <button type="submit" name="op" value=format!("down:{id}") class="button small"
                                            disabled=index + 1 == count>
                                            "↓" <span class="visually-hidden">{format!(" Move {name} down")}</span>
                                        </button>
                                        <button type="submit" name="op" value=format!("remove:{id}") class="button small">
                                            "Remove" <span class="visually-hidden">{format!(" {name}")}</span>
                                        </button>
                                    </span>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
            <div class="field">
                <label for="talk-speakers">"Add an existing speaker"</label>
                <div class="field-inline">
                    <input id="talk-speakers" type="text" name="add_speaker" list="speaker-names"
                        autocomplete="off" aria-describedby="talk-speakers-hint talk-speakers-error"
                        aria-invalid=invalid(error)/>
                    <button type="submit" name="op" value="add" class="button small">"Add speaker"</button>
                </div>
                <datalist id="speaker-names">
                    {choices.into_iter().map(|s| view! { <option value=s.name></option> }).collect_view()}
                </datalist>
                <p id="talk-speakers-hint" class="field-hint">
                    "Type to search the speakers' names. Moving, adding or removing a speaker saves the whole form."
                </p>
                <FieldMessage id="talk-speakers-error".into() error/>
            </div>
            <fieldset class="new-speaker">
                <legend>"New speaker"</legend>
                <div class="field">
                    <label for="talk-new-speaker-name">"Name"</label>
                    <input id="talk-new-speaker-name" type="text" name="new_speaker_name"
                        maxlength=MAX_SPEAKER_NAME_CHARS autocomplete="off"
                        aria-describedby="talk-new-speaker-name-error" aria-invalid=invalid(name_error)/>
                    <FieldMessage id="talk-new-speaker-name-error".into() error=name_error/>
                </div>
                <div class="field">
                    <label for="talk-new-speaker-bio">"Bio"</label>
                    <textarea id="talk-new-speaker-bio" name="new_speaker_bio" rows="3" maxlength=MAX_BIO_CHARS
                        aria-describedby="talk-new-speaker-bio-error" aria-invalid=invalid(bio_error)></textarea>
                    <FieldMessage id="talk-new-speaker-bio-error".into() error=bio_error/>
                </div>
                <div class="field">
                    <label for="talk-new-speaker-links">"Links, one per line"</label>
                    <textarea id="talk-new-speaker-links" name="new_speaker_links" rows="2"
                        placeholder="https://example.com"
                        aria-describedby="talk-new-speaker-links-hint talk-new-speaker-links-error"
                        aria-invalid=invalid(links_error)></textarea>
                    <p id="talk-new-speaker-links-hint" class="field-hint">"http(s) addresses: a homepage, a profile."</p>
                    <FieldMessage id="talk-new-speaker-links-error".into() error=links_error/>
                </div>
                <button type="submit" name="op" value="new" class="button small">"Create and add speaker"</button>
                <p class="field-hint">"A photo can be added once the speaker is saved."</p>
            </fieldset>
        </fieldset>
    }
}

/// Draft, unlisted, publish now, schedule, unpublish.
#[component]
fn PublishForm(talk: EditableTalk, publish: ServerAction<PublishTalk>) -> impl IntoView {
    let summary = talk.talk;
    let result = Signal::derive(move || publish.value().get());
    let state_error = field_error(result, "state");
    let at_error = field_error(result, "publish_at");
    let current = summary.state;
    let initial_at = (current == TalkState::Scheduled)
        .then_some(summary.published_at)
        .flatten();
    let at_value = RwSignal::new(initial_at.map(utc_input_value).unwrap_or_default());
    // Without JavaScript the time is UTC; hydrated, the browser's own time zone (the value
    // shown is converted, and the offset for the chosen date travels with the form).
    let local = RwSignal::new(false);
    let offset = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            if let Some(at) = initial_at {
                at_value.set(browser_time::local_input_value(at));
            }
            local.set(true);
        });
        Effect::new(move |_| {
            let value = at_value.get();
            offset.set(browser_time::offset_minutes(&value).to_string());
        });
    }
    let zone = move || {
        if local.get() {
            #[cfg(feature = "hydrate")]
            {
                browser_time::zone_label(&at_value.get())
            }
            #[cfg(not(feature = "hydrate"))]
            {
                String::new()
            }
        } else {
            "UTC".to_owned()
        }
    };
    let options = [
        (TalkState::Draft, "Draft", "Only editors see it."),
        (
            TalkState::Unlisted,
            "Unlisted",
            "Anyone with the link can watch; no listing, search or sitemap shows it.",
        ),
        (
            TalkState::Published,
            "Publish now",
            "Listed and watchable at once.",
        ),
        (
            TalkState::Scheduled,
            "Schedule",
            "Goes public by itself at the time below.",
        ),
        (
            TalkState::Unpublished,
            "Unpublished",
            "Taken down; the page answers “not found”.",
        ),
    ];
    let disabled = summary.deleted_at.is_some();
    view! {
        <section class="editor-panel" aria-labelledby="publish-heading">
            <h2 id="publish-heading">"Publication"</h2>
            <ActionForm action=publish attr:class="publish-form">
                <input type="hidden" name="id" value=summary.id.to_string()/>
                <input type="hidden" name="revision" value=summary.revision.to_string()/>
                <input type="hidden" name="tz_offset" prop:value=move || offset.get()/>
                <fieldset aria-describedby="publish-state-error" disabled=disabled>
                    <legend>"State"</legend>
                    {options.into_iter().map(|(state, label, hint)| {
                        let input_id = format!("publish-{}", state.as_str());
                        let hint_id = format!("{input_id}-hint");
                        view! {
                            <div class="radio">
                                <input type="radio" id=input_id.clone() name="state" value=state.as_str()
                                    checked=state == current aria-describedby=hint_id.clone()/>
                                <label for=input_id>{label}</label>
                                <p id=hint_id class="field-hint">{hint}</p>
                            </div>
                        }
                    }).collect_view()}
                    <FieldMessage id="publish-state-error".into() error=state_error/>
                </fieldset>
                <div class="field">
                    <label for="publish-at">"Publish at (" {zone} ")"</label>
                    <input id="publish-at" type="datetime-local" name="publish_at" step="1"
                        value=at_value.get_untracked() prop:value=move || at_value.get()
                        on:input=move |ev| at_value.set(event_target_value(&ev))
                        aria-describedby="publish-at-hint publish-at-error"
                        aria-invalid=move || at_error.get().is_some().then_some("true")/>
                    <p id="publish-at-hint" class="field-hint">
                        "For “Schedule”. Read in your browser's time zone; without JavaScript, as UTC."
                    </p>
                    <FieldMessage id="publish-at-error".into() error=at_error/>
                </div>
                <button type="submit" class="button primary" disabled=move || disabled || publish.pending().get()>
                    "Apply"
                </button>
            </ActionForm>
        </section>
    }
}

/// The browser's time zone (hydrated only).
#[cfg(feature = "hydrate")]
mod browser_time {
    use time::OffsetDateTime;
    use wasm_bindgen::JsValue;

    fn date_for(value: &str) -> js_sys::Date {
        if value.trim().is_empty() {
            js_sys::Date::new_0()
        } else {
            // `YYYY-MM-DDTHH:MM[:SS]` without a zone is local time to JavaScript.
            js_sys::Date::new(&JsValue::from_str(value))
        }
    }

    /// `getTimezoneOffset()` at that local time (minutes behind UTC; daylight saving counts).
    pub fn offset_minutes(value: &str) -> i32 {
        let offset = date_for(value).get_timezone_offset();
        if offset.is_finite() {
            offset as i32
        } else {
            js_sys::Date::new_0().get_timezone_offset() as i32
        }
    }

    /// "UTC+01:00" for the offset at that time.
    pub fn zone_label(value: &str) -> String {
        let ahead = -offset_minutes(value);
        let sign = if ahead < 0 { '-' } else { '+' };
        let ahead = ahead.abs();
        format!(
            "your time zone, UTC{sign}{:02}:{:02}",
            ahead / 60,
            ahead % 60
        )
    }

    /// The local `datetime-local` value of a UTC time.
    pub fn local_input_value(at: OffsetDateTime) -> String {
        let date = js_sys::Date::new(&JsValue::from_f64(
            (at.unix_timestamp_nanos() / 1_000_000) as f64,
        ));
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date(),
            date.get_hours(),
            date.get_minutes(),
            date.get_seconds()
        )
    }
}

/// The poster: frames of the video to pick from, an image to upload, or the video's own.
/// The forms post to the image endpoint (`at_ms`, `file` or `remove`, with `return_to`),
/// which answers with a 303 back here and `?notice=`/`?error=`.
#[component]
fn PosterSection(talk: EditableTalk) -> impl IntoView {
    let id = talk.talk.id;
    let action = format!("/api/v1/talks/{id}/poster");
    let back = format!("/studio/talks/{id}");
    let disabled = talk.talk.deleted_at.is_some();
    view! {
        <section class="editor-panel" aria-labelledby="poster-heading">
            <h2 id="poster-heading">"Poster"</h2>
            {match talk.poster_url.clone() {
                Some(url) => view! {
                    <img class="poster-current" src=url width="320" height="180"
                        alt=if talk.custom_poster { "The poster you chose" } else { "The video's own poster" }/>
                    <p class="field-hint">{if talk.custom_poster { "Your chosen poster." } else { "The video's own poster." }}</p>
                }.into_any(),
                None => view! { <p class="field-hint">"The poster appears once the video is processed."</p> }.into_any(),
            }}
            <PosterFrames action=action.clone() back=back.clone() thumbnails_url=talk.thumbnails_url.clone()
                duration_ms=talk.duration_ms/>
            <form class="upload-form" method="post" action=action enctype="multipart/form-data">
                <input type="hidden" name="return_to" value=back/>
                <div class="field">
                    <label for="poster-image">"Or upload an image"</label>
                    <input id="poster-image" type="file" name="file" accept="image/jpeg,image/png,image/webp"
                        required aria-describedby="poster-image-hint" disabled=disabled/>
                    <p id="poster-image-hint" class="field-hint">"JPEG, PNG or WebP; it is resized to fit."</p>
                </div>
                <button type="submit" class="button small" disabled=disabled>"Upload poster"</button>
            </form>
            {talk.custom_poster.then(|| view! {
                <form class="inline-form" method="post" action=format!("/api/v1/talks/{id}/poster")>
                    <input type="hidden" name="return_to" value=format!("/studio/talks/{id}")/>
                    <button type="submit" name="remove" value="1" class="button small" disabled=disabled>
                        "Use the video's own poster"
                    </button>
                </form>
            })}
        </section>
    }
}

/// A photo upload per speaker (posted to the image endpoint, which redirects back).
#[component]
fn SpeakerPhotos(talk: EditableTalk) -> impl IntoView {
    let back = format!("/studio/talks/{}", talk.talk.id);
    (!talk.speakers.is_empty()).then(|| view! {
        <section class="editor-panel" aria-labelledby="photos-heading">
            <h2 id="photos-heading">"Speakers' photos"</h2>
            <ul class="photo-list" role="list">
                {talk.speakers.into_iter().map(|speaker| {
                    let input_id = format!("photo-{}", speaker.id);
                    view! {
                        <li class="photo-item" data-speaker-id=speaker.id.to_string()>
                            {match speaker.photo_url.clone() {
                                Some(url) => view! { <img src=url width="64" height="64" alt=format!("Photo of {}", speaker.name)/> }.into_any(),
                                None => view! { <span class="photo-placeholder" aria-hidden="true">{speaker.name.chars().next().unwrap_or('?').to_string()}</span> }.into_any(),
                            }}
                            <form method="post" action=format!("/api/v1/speakers/{}/photo", speaker.id)
                                enctype="multipart/form-data" class="upload-form">
                                <input type="hidden" name="return_to" value=back.clone()/>
                                <label for=input_id.clone()>{format!("Photo of {}", speaker.name)}</label>
                                <input id=input_id type="file" name="file" accept="image/jpeg,image/png,image/webp" required/>
                                <button type="submit" class="button small">
                                    "Upload photo" <span class="visually-hidden">{format!(" of {}", speaker.name)}</span>
                                </button>
                            </form>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    })
}

/// The talk's video: its processing and a replacement upload.
#[component]
fn VideoSection(
    talk: EditableTalk,
    // A memo, not the resource: a resource read here would put the whole editor (and what the
    // editor is typing) back into the page's Suspense fallback on every status refresh.
    video_state: Memo<Option<VideoState>>,
    attach: ServerAction<AttachTalkVideo>,
) -> impl IntoView {
    let id = talk.talk.id;
    let has_video = talk.talk.video.is_some();
    let on_finished = Callback::new(move |video: Option<Uuid>| {
        if let Some(video) = video {
            attach.dispatch(AttachTalkVideo {
                id: id.to_string(),
                video_id: video.to_string(),
            });
        }
    });
    let processing = move || video_state.get() == Some(VideoState::Processing);
    view! {
        <section class="editor-panel" aria-labelledby="upload-heading">
            <Uploader on_finished heading=if has_video { "Replace the video" } else { "Add a video" }>
                <p class="field-hint">
                    "The talk keeps its address; its current video goes on playing until the new one is ready."
                    {move || processing().then_some(" The newest upload is being processed now.")}
                </p>
            </Uploader>
        </section>
    }
}

/// Machine captions made again (after the video changed, or with a better model).
#[component]
fn CaptionsSection(
    talk: EditableTalk,
    video_state: Memo<Option<VideoState>>,
    transcribe: ServerAction<TranscribeTalk>,
) -> impl IntoView {
    let id = talk.talk.id.to_string();
    let ready = move || video_state.get() == Some(VideoState::Ready);
    view! {
        <section class="editor-panel" aria-labelledby="captions-heading">
            <h2 id="captions-heading">"Captions"</h2>
            <p class="field-hint">"Captions are made from the speech once the video is ready. Making them again replaces the machine's track; tracks a person edited stay."</p>
            // A full page load: the editor's own bundle is loaded by that page only.
            <p><a class="button" href=format!("/studio/talks/{id}/subtitles") rel="external">"Edit the subtitles"</a></p>
            <ActionForm action=transcribe attr:class="inline-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="button" disabled=move || !ready()>"Make the captions again"</button>
            </ActionForm>
        </section>
    }
}

/// Move to the trash, or restore.
#[component]
fn TrashSection(
    talk: EditableTalk,
    trash: ServerAction<TrashTalk>,
    restore: ServerAction<RestoreTalk>,
) -> impl IntoView {
    let id = talk.talk.id.to_string();
    view! {
        <section class="editor-panel danger-zone" aria-labelledby="trash-heading">
            <h2 id="trash-heading">"Trash"</h2>
            {match talk.talk.deleted_at {
                Some(at) => view! {
                    <p>{format!("In the trash since {}. It is deleted for good, with its video, {TRASH_DAYS} days after that.", utc_minutes(at))}</p>
                    <ActionForm action=restore attr:class="inline-form">
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="button">"Restore from the trash"</button>
                    </ActionForm>
                }.into_any(),
                None => view! {
                    <p class="field-hint">{format!("A talk in the trash is offline and can be restored for {TRASH_DAYS} days.")}</p>
                    <ActionForm action=trash attr:class="inline-form">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="revision" value=talk.talk.revision.to_string()/>
                        <button type="submit" class="button danger">"Move to the trash"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
    }
}
