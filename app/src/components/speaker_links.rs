//! "Ada, Grace and Alan", each name a link to the speaker's page.

use ferrotape_model::SpeakerRef;
use leptos::prelude::*;

/// The separator before the `index`-th of `count` names.
fn separator(index: usize, count: usize) -> &'static str {
    match index {
        0 => "",
        i if i + 1 == count => " and ",
        _ => ", ",
    }
}

#[component]
pub fn SpeakerLinks(speakers: Vec<SpeakerRef>) -> impl IntoView {
    let count = speakers.len();
    speakers
        .into_iter()
        .enumerate()
        .map(|(index, speaker)| {
            view! {
                {separator(index, count)}
                <a href=format!("/speakers/{}", speaker.slug)>{speaker.name}</a>
            }
        })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::separator;

    #[test]
    fn names_are_joined_like_prose() {
        let joined = |count| {
            (0..count)
                .map(|i| format!("{}{i}", separator(i, count)))
                .collect::<String>()
        };
        assert_eq!(joined(1), "0");
        assert_eq!(joined(2), "0 and 1");
        assert_eq!(joined(3), "0, 1 and 2");
    }
}
