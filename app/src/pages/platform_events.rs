//! `/admin/events`: the tenant's latest platform events (uploads, transcodes, ready videos,
//! views, failures), filtered by kind with a plain GET form (`?kind=`). Hydrated, the list
//! follows `/api/v1/admin/events/stream` (EventSource) and reloads when an event arrives;
//! without JavaScript it is a plain list as of the request. Admins only.

use ferrotape_model::platform_events::{PlatformEvent, PlatformEventKind};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::platform_events::load_platform_events;
use crate::pages::studio::AccessRefused;

#[component]
pub fn AdminEventsPage() -> impl IntoView {
    let query = use_query_map();
    let refresh = RwSignal::new(0_u32);
    let events = Resource::new(
        move || (query.read().get("kind"), refresh.get()),
        |(kind, _)| load_platform_events(kind),
    );
    #[cfg(feature = "hydrate")]
    live_updates(refresh);
    view! {
        <Title text="Platform events"/>
        <section class="admin" aria-labelledby="events-heading">
            <h1 id="events-heading">"Platform events"</h1>
            <form method="get" action="/admin/events" class="inline-form filters">
                <label for="events-kind">"Kind"</label>
                <select id="events-kind" name="kind">
                    <option value="">"any"</option>
                    {PlatformEventKind::ALL.into_iter().map(|k| {
                        let selected = move || query.read().get("kind").as_deref() == Some(k.as_str());
                        view! { <option value=k.as_str() selected=selected>{k.as_str()}</option> }
                    }).collect_view()}
                </select>
                <button type="submit" class="button small">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty-state">"No events yet."</p> }.into_any(),
                        Ok(list) => view! { <EventTable list/> }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/admin/events"/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn EventTable(list: Vec<PlatformEvent>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="data-table platform-events" aria-live="polite">
                <caption class="visually-hidden">"Latest platform events, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Event"</th>
                    <th scope="col">"Time (UTC)"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Video"</th>
                    <th scope="col">"Detail"</th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|event| view! { <EventRow event/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn EventRow(event: PlatformEvent) -> impl IntoView {
    let at = event.occurred_at;
    let shown = format!(
        "{} {:02}:{:02}:{:02}",
        ferrotape_model::compute::format_date(at.date()),
        at.hour(),
        at.minute(),
        at.second()
    );
    let summary = event.summary();
    let video = event.video_id.map(|id| id.to_string()).unwrap_or_default();
    let talk = event.talk_id;
    let class = if event.kind.is_failure() {
        "event-failure"
    } else {
        ""
    };
    view! {
        <tr class=class data-event-id=event.id>
            <td>{format!("#{}", event.id)}</td>
            <td><time datetime=at.to_string()>{shown}</time></td>
            <td><span title=event.kind.label()>{event.kind.as_str()}</span></td>
            <td>
                {match talk {
                    Some(talk) => view! { <a href=format!("/studio/talks/{talk}")>{video.clone()}</a> }.into_any(),
                    None => view! { <span>{video.clone()}</span> }.into_any(),
                }}
            </td>
            <td>{summary}</td>
        </tr>
    }
}

/// Reloads the list (at most every 500 ms) while the page is open and events arrive.
#[cfg(feature = "hydrate")]
fn live_updates(refresh: RwSignal<u32>) {
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new("/api/v1/admin/events/stream") else {
        return;
    };
    let scheduled = Rc::new(Cell::new(false));
    let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        if scheduled.replace(true) {
            return;
        }
        let scheduled = scheduled.clone();
        set_timeout(
            move || {
                scheduled.set(false);
                refresh.update(|n| *n += 1);
            },
            std::time::Duration::from_millis(500),
        );
    });
    // `resync` too: a reader that fell behind reloads the list.
    for name in ["platform_event", "resync"] {
        let _ = source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
    }
    let alive = send_wrapper::SendWrapper::new((source, on_event));
    on_cleanup(move || alive.0.close());
}
