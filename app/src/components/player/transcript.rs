//! The transcript under the player: every line a link to its moment (`?t=`, so it works
//! without JavaScript and can be shared), and once hydrated a click seeks, the line being said
//! is marked and kept in view inside the panel, and a search box narrows the lines to those
//! with the words typed. A `<details>` panel, open at first, that viewers (on phones above all)
//! fold away.

use ferrotape_model::catalog::TranscriptLine;
use ferrotape_model::time_format;
use leptos::prelude::*;

/// The index of the line being said at `seconds`: the last one started by then.
fn line_at(lines: &[TranscriptLine], seconds: f64) -> Option<usize> {
    let ms = (seconds.max(0.0) * 1000.0) as u64;
    let after = lines.partition_point(|l| l.start_ms <= ms);
    after.checked_sub(1)
}

/// Whether `line` holds every word of `query` (case-insensitive).
fn matches(line: &str, query: &str) -> bool {
    let line = line.to_lowercase();
    query
        .split_whitespace()
        .all(|word| line.contains(&word.to_lowercase()))
}

#[component]
pub fn Transcript(
    lines: Vec<TranscriptLine>,
    /// The playback position, in seconds.
    current: RwSignal<f64>,
    seek: Callback<f64>,
) -> impl IntoView {
    let lines = StoredValue::new(lines);
    let query = RwSignal::new(String::new());
    let now = Memo::new(move |_| lines.with_value(|l| line_at(l, current.get())));
    let list_ref = NodeRef::<leptos::html::Ol>::new();
    // Keep the line being said in view inside the panel, without moving the page.
    Effect::new(move |_| {
        let Some(index) = now.get() else { return };
        let Some(list) = list_ref.get() else { return };
        if let Ok(Some(item)) = list.query_selector(&format!("li[data-line=\"{index}\"]")) {
            use wasm_bindgen::JsCast;
            if let Ok(item) = item.dyn_into::<web_sys::HtmlElement>() {
                let top = item.offset_top() - list.offset_top();
                let (view_top, height) = (list.scroll_top(), list.client_height());
                if top < view_top || top + item.offset_height() > view_top + height {
                    list.set_scroll_top(top - height / 3);
                }
            }
        }
    });
    let items = lines.with_value(|list| {
        list.iter()
            .enumerate()
            .map(|(index, line)| {
                let secs = line.start_ms / 1000;
                let start = line.start_ms as f64 / 1000.0;
                let text = line.text.clone();
                let shown = {
                    let text = text.clone();
                    move || query.with(|q| q.trim().is_empty() || matches(&text, q))
                };
                view! {
                    <li data-line=index hidden=move || !shown()>
                        <a
                            href=format!("?t={}", time_format::share_time(secs))
                            aria-current=move || (now.get() == Some(index)).then_some("true")
                            on:click=move |event| {
                                event.prevent_default();
                                seek.run(start);
                            }
                        >
                            <time class="transcript-time">{time_format::clock(secs)}</time>
                            <span class="transcript-text">{text}</span>
                        </a>
                    </li>
                }
            })
            .collect_view()
    });
    let found = move || {
        query.with(|q| {
            (!q.trim().is_empty()).then(|| {
                let n = lines.with_value(|l| l.iter().filter(|l| matches(&l.text, q)).count());
                match n {
                    0 => "No line has these words.".to_owned(),
                    1 => "1 line".to_owned(),
                    n => format!("{n} lines"),
                }
            })
        })
    };
    view! {
        <details class="transcript" open>
            <summary class="transcript-heading">"Transcript"</summary>
            <div class="transcript-search">
                <label for="transcript-query" class="visually-hidden">"Search the transcript"</label>
                <input id="transcript-query" type="search" placeholder="Search the transcript"
                    autocomplete="off"
                    prop:value=move || query.get()
                    on:input=move |event| query.set(event_target_value(&event))/>
                <p class="transcript-found" role="status" aria-live="polite">{found}</p>
            </div>
            <ol class="transcript-list" node_ref=list_ref>{items}</ol>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(start_ms: u64, text: &str) -> TranscriptLine {
        TranscriptLine {
            start_ms,
            end_ms: start_ms + 900,
            text: text.to_owned(),
        }
    }

    #[test]
    fn the_current_line_is_the_last_one_started() {
        let lines = [line(1_000, "a"), line(3_000, "b"), line(7_000, "c")];
        assert_eq!(line_at(&lines, 0.5), None);
        assert_eq!(line_at(&lines, 1.0), Some(0));
        assert_eq!(line_at(&lines, 6.9), Some(1));
        assert_eq!(line_at(&lines, 100.0), Some(2));
    }

    #[test]
    fn a_search_needs_every_word_in_any_case() {
        assert!(matches("Welcome to the Conference", "conference welcome"));
        assert!(!matches("Welcome to the Conference", "welcome video"));
        assert!(matches("anything", "  "));
    }
}
