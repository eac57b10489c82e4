//! The share dialog: the talk's link (optionally starting at the current position, `?t=1m23s`),
//! copy to clipboard, the system share sheet where the browser has one, and the embed code.

use ferrotape_model::time_format;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["navigator", "clipboard"], js_name = writeText, catch)]
    fn clipboard_write_text(text: &str) -> Result<js_sys::Promise, JsValue>;
}

/// The link to share: the page, with `?t=` when a start time is wanted.
pub fn share_link(page_url: &str, start: Option<u64>) -> String {
    match start {
        Some(seconds) if seconds > 0 => {
            format!("{page_url}?t={}", time_format::share_time(seconds))
        }
        _ => page_url.to_owned(),
    }
}

/// `<iframe>` markup for embedding the talk.
pub fn embed_code(embed_url: &str, title: &str) -> String {
    format!(
        r#"<iframe src="{}" width="640" height="360" title="{}" frameborder="0" allow="autoplay; fullscreen; picture-in-picture; encrypted-media" allowfullscreen></iframe>"#,
        ferrotape_model::seo::escape(embed_url),
        ferrotape_model::seo::escape(title)
    )
}

#[component]
pub fn ShareButton(
    page_url: String,
    embed_url: String,
    title: String,
    /// The player's position, for "start at".
    position: RwSignal<f64>,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let start_at_current = RwSignal::new(false);
    let frozen_position = RwSignal::new(0_u64);
    let status = RwSignal::new(String::new());
    let can_share = RwSignal::new(false);
    let link = {
        let page_url = page_url.clone();
        move || {
            share_link(
                &page_url,
                start_at_current.get().then(|| frozen_position.get()),
            )
        }
    };
    let code = embed_code(&embed_url, &title);

    let open = move |_| {
        frozen_position.set(position.get_untracked().max(0.0) as u64);
        status.set(String::new());
        can_share
            .set(js_sys::Reflect::has(&window().navigator(), &"share".into()).unwrap_or(false));
        if let Some(dialog) = dialog.get_untracked() {
            let _ = dialog.show_modal();
        }
    };
    let close = move |_| {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    let copy = move |text: String, what: &'static str| {
        let done = match clipboard_write_text(&text) {
            Ok(promise) => {
                leptos::task::spawn_local(async move {
                    let message = match wasm_bindgen_futures::JsFuture::from(promise).await {
                        Ok(_) => format!("{what} copied."),
                        Err(_) => format!(
                            "The {} could not be copied; select it and copy it yourself.",
                            what.to_lowercase()
                        ),
                    };
                    status.set(message);
                });
                true
            }
            Err(_) => false,
        };
        if !done {
            status.set(format!(
                "The {} could not be copied; select it and copy it yourself.",
                what.to_lowercase()
            ));
        }
    };
    let copy_link = {
        let link = link.clone();
        move |_| copy(link(), "Link")
    };
    let copy_code = {
        let code = code.clone();
        move |_| copy(code.clone(), "Embed code")
    };
    let native_share = {
        let link = link.clone();
        let title = title.clone();
        move |_| {
            let data = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&data, &"title".into(), &title.clone().into());
            let _ = js_sys::Reflect::set(&data, &"url".into(), &link().into());
            let navigator = window().navigator();
            if let Ok(share) = js_sys::Reflect::get(&navigator, &"share".into())
                && let Some(share) = share.dyn_ref::<js_sys::Function>()
            {
                // A dismissed share sheet rejects; there is nothing to report.
                let _ = share.call1(&navigator, &data);
            }
        }
    };
    let start_label = move || format!("Start at {}", time_format::clock(frozen_position.get()));

    view! {
        <button type="button" class="button share-button" on:click=open aria-haspopup="dialog">
            "Share"
        </button>
        <dialog node_ref=dialog class="share-dialog" aria-labelledby="share-title">
            <h2 id="share-title">"Share this talk"</h2>
            <label class="share-field">
                <span>"Link"</span>
                <input type="text" readonly=true prop:value=link.clone() class="share-link"
                    on:focus=move |event| {
                        if let Some(input) = event.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            input.select();
                        }
                    }/>
            </label>
            <label class="share-start">
                <input type="checkbox" prop:checked=move || start_at_current.get()
                    on:change=move |event| start_at_current.set(event_target_checked(&event))/>
                {start_label}
            </label>
            <div class="share-actions">
                <button type="button" class="button primary" on:click=copy_link>"Copy link"</button>
                <Show when=move || can_share.get()>
                    <button type="button" class="button" on:click=native_share.clone()>"Share…"</button>
                </Show>
            </div>
            <label class="share-field">
                <span>"Embed"</span>
                <textarea readonly=true rows="3" class="share-embed">{code.clone()}</textarea>
            </label>
            <div class="share-actions">
                <button type="button" class="button" on:click=copy_code>"Copy embed code"</button>
                <button type="button" class="button" on:click=close>"Close"</button>
            </div>
            <p class="share-status" role="status" aria-live="polite">{move || status.get()}</p>
        </dialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_links_carry_a_readable_start_time() {
        assert_eq!(
            share_link("https://t.example/talks/a", None),
            "https://t.example/talks/a"
        );
        assert_eq!(
            share_link("https://t.example/talks/a", Some(0)),
            "https://t.example/talks/a"
        );
        assert_eq!(
            share_link("https://t.example/talks/a", Some(83)),
            "https://t.example/talks/a?t=1m23s"
        );
    }

    #[test]
    fn embed_code_escapes_the_title() {
        let code = embed_code("https://t.example/embed/1", "\"><script>");
        assert!(
            code.contains(r#"title="&quot;&gt;&lt;script&gt;""#),
            "{code}"
        );
    }
}
