//! Sign up, log in, email confirmation and password reset. Every form is a plain HTML form
//! that works without JavaScript (the server redirects back with `?error=`), and is submitted
//! in place once the page has hydrated.

use ferrotape_model::account::{MAX_DISPLAY_NAME_CHARS, MAX_EMAIL_BYTES, MIN_PASSWORD_CHARS};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::accounts::{LogIn, RequestPasswordReset, ResetPassword, SignUp, VerifyEmail};
use crate::components::form::{FormMessage, query_value};
use crate::session::Session;

const PASSWORD_HINT: &str =
    "At least 12 characters. A few words make a strong, memorable password.";

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<LogIn>::new();
    let session = Session::get();
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            session.changed();
        }
    });
    let email = query_value("email");
    let next = query_value("next");
    view! {
        <Title text="Log in"/>
        <section class="auth-card" aria-labelledby="login-heading">
            <h1 id="login-heading">"Log in"</h1>
            <FormMessage result=Signal::derive(move || action.value().get())/>
            <ActionForm action attr:class="auth-form">
                <input type="hidden" name="next" value=next/>
                <label for="login-email">"Email address"</label>
                <input id="login-email" type="email" name="email" autocomplete="username" required
                    maxlength=MAX_EMAIL_BYTES value=email/>
                <label for="login-password">"Password"</label>
                <input id="login-password" type="password" name="password"
                    autocomplete="current-password" required/>
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Log in"
                </button>
            </ActionForm>
            <p class="auth-links">
                <A href="/forgot-password">"Forgot your password?"</A>
                " · "
                <A href="/signup">"Create an account"</A>
            </p>
        </section>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let email = query_value("email");
    let name = query_value("name");
    view! {
        <Title text="Create an account"/>
        <section class="auth-card" aria-labelledby="signup-heading">
            <h1 id="signup-heading">"Create an account"</h1>
            <FormMessage result=Signal::derive(move || action.value().get())/>
            <ActionForm action attr:class="auth-form">
                <label for="signup-name">"Your name"</label>
                <input id="signup-name" type="text" name="display_name" autocomplete="name" required
                    maxlength=MAX_DISPLAY_NAME_CHARS value=name/>
                <label for="signup-email">"Email address"</label>
                <input id="signup-email" type="email" name="email" autocomplete="email" required
                    maxlength=MAX_EMAIL_BYTES value=email/>
                <label for="signup-password">"Password"</label>
                <input id="signup-password" type="password" name="password" autocomplete="new-password"
                    required minlength=MIN_PASSWORD_CHARS aria-describedby="signup-password-hint"/>
                <p id="signup-password-hint" class="field-hint">{PASSWORD_HINT}</p>
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Create account"
                </button>
            </ActionForm>
            <p class="auth-links">"Already have an account? " <A href="/login">"Log in"</A></p>
        </section>
    }
}

/// The link in the confirmation mail opens this page; the address is confirmed only by the
/// button (a POST), so mail scanners that open links do not use up the token.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    let token = query_value("token");
    view! {
        <Title text="Confirm your email address"/>
        <section class="auth-card" aria-labelledby="verify-heading">
            <h1 id="verify-heading">"Confirm your email address"</h1>
            <FormMessage result=Signal::derive(move || action.value().get())/>
            <ActionForm action attr:class="auth-form">
                <input type="hidden" name="token" value=token/>
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Confirm my email address"
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let email = query_value("email");
    view! {
        <Title text="Reset your password"/>
        <section class="auth-card" aria-labelledby="forgot-heading">
            <h1 id="forgot-heading">"Reset your password"</h1>
            <p>"Enter your email address and we will send you a link to choose a new password."</p>
            <FormMessage result=Signal::derive(move || action.value().get())/>
            <ActionForm action attr:class="auth-form">
                <label for="forgot-email">"Email address"</label>
                <input id="forgot-email" type="email" name="email" autocomplete="email" required
                    maxlength=MAX_EMAIL_BYTES value=email/>
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Send the link"
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let token = query_value("token");
    view! {
        <Title text="Choose a new password"/>
        <section class="auth-card" aria-labelledby="reset-heading">
            <h1 id="reset-heading">"Choose a new password"</h1>
            <FormMessage result=Signal::derive(move || action.value().get())/>
            <ActionForm action attr:class="auth-form">
                <input type="hidden" name="token" value=token/>
                <label for="reset-password">"New password"</label>
                <input id="reset-password" type="password" name="password" autocomplete="new-password"
                    required minlength=MIN_PASSWORD_CHARS aria-describedby="reset-password-hint"/>
                <p id="reset-password-hint" class="field-hint">{PASSWORD_HINT}</p>
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Set the new password"
                </button>
            </ActionForm>
        </section>
    }
}
