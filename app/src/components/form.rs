//! Pieces shared by the account forms: the message area and labelled inputs.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::AppError;

/// Shows, in this order of preference: the error of the last submission (with JavaScript),
/// the error a form posted without JavaScript was sent back with (`?error=<code>`), or a
/// notice (`?notice=<code>`). Only known codes produce text.
#[component]
pub fn FormMessage<T>(result: Signal<Option<Result<T, AppError>>>) -> impl IntoView
where
    T: Send + Sync + Clone + 'static,
{
    let query = use_query_map();
    let error = move || match result.get() {
        Some(Err(err)) => Some(err.to_string()),
        Some(Ok(_)) => None,
        None => query
            .read()
            .get("error")
            .and_then(|code| AppError::message_for_code(&code)),
    };
    let notice = move || {
        query
            .read()
            .get("notice")
            .and_then(|code| notice_for_code(&code))
    };
    view! {
        <div class="form-messages" aria-live="polite">
            {move || error().map(|text| view! { <p class="error-banner" role="alert">{text}</p> })}
            {move || notice().map(|text| view! { <p class="notice-banner" role="status">{text}</p> })}
        </div>
    }
}

fn notice_for_code(code: &str) -> Option<String> {
    let text = match code {
        // The studio's talk editor.
        "saved" => "Saved.",
        "publication" => "The publication is updated.",
        "trashed" => "The talk is in the trash.",
        "restored" => "The talk is restored (as a draft, or unpublished).",
        "video" => "The new video is attached; the current one plays until it is ready.",
        "transcribing" => "The captions are being made again; their progress shows above.",
        "check_inbox" => {
            "Account created. We sent a confirmation link to your email address: open it, then log in."
        }
        "check_outbox" => {
            "Account created. This site has no mail server configured, so the confirmation link \
             was written to the server log (admins also find it under Admin → Outbox)."
        }
        "verified" => "Your email address is confirmed. You can log in now.",
        "reset_sent" => {
            "If an account uses this address, we sent it a link to choose a new password."
        }
        "password_changed" => {
            "Your password is changed and every session was ended. Log in with the new password."
        }
        "logged_out_everywhere" => "You are logged out on every device.",
        "poster_saved" => "The poster is saved.",
        "poster_removed" => "The talk shows its video's own poster again.",
        "photo_saved" => "The photo is saved.",
        "photo_removed" => "The photo is removed.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// The value of a query parameter when the page was rendered (to refill a form sent back).
pub fn query_value(name: &'static str) -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get(name).unwrap_or_default())
}
