//! `/admin/users` (roles, disabling) and `/admin/outbox` (mail kept or sent). Admins only; the
//! server functions check, the pages say so.

use ferrotape_model::admin::{Outbox, OutboxMail, UserSummary};
use ferrotape_model::{Role, time_format};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::{ChangeUserRole, SetUserDisabled, list_outbox, list_users};
use crate::components::form::FormMessage;
use crate::pages::studio::AccessRefused;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let change_role = ServerAction::<ChangeUserRole>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let users = Resource::new(
        move || (change_role.version().get(), set_disabled.version().get()),
        |_| list_users(),
    );
    view! {
        <Title text="Users"/>
        <section class="admin" aria-labelledby="users-heading">
            <h1 id="users-heading">"Users"</h1>
            <FormMessage result=Signal::derive(move || change_role.value().get())/>
            <FormMessage result=Signal::derive(move || set_disabled.value().get())/>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! {
                            <div class="table-scroll">
                                <table class="data-table">
                                    <caption class="visually-hidden">"Users of this site"</caption>
                                    <thead><tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Email"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"Role"</th>
                                        <th scope="col">"Access"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|user| view! {
                                            <UserRow user change_role set_disabled/>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/admin/users"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn UserRow(
    user: UserSummary,
    change_role: ServerAction<ChangeUserRole>,
    set_disabled: ServerAction<SetUserDisabled>,
) -> impl IntoView {
    let id = user.id.to_string();
    let id_for_role = id.clone();
    let status = match (user.disabled, user.email_verified) {
        (true, _) => "Disabled",
        (false, true) => "Active",
        (false, false) => "Email not confirmed",
    };
    let role_label = format!("Role of {}", user.display_name);
    let access_label = if user.disabled { "Enable" } else { "Disable" };
    view! {
        <tr>
            <td>{user.display_name.clone()}</td>
            <td>{user.email.clone()}</td>
            <td>{status}</td>
            <td>
                <ActionForm action=change_role attr:class="inline-form">
                    <input type="hidden" name="user_id" value=id_for_role/>
                    <select name="role" aria-label=role_label>
                        {Role::ALL.into_iter().map(|role| view! {
                            <option value=role.as_str() selected=role == user.role>{role.as_str()}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="button small">"Change"</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=set_disabled attr:class="inline-form">
                    <input type="hidden" name="user_id" value=id/>
                    <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                    <button type="submit" class="button small">
                        {access_label}
                        <span class="visually-hidden">" " {user.display_name.clone()}</span>
                    </button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
pub fn AdminOutboxPage() -> impl IntoView {
    let outbox = Resource::new(|| (), |_| list_outbox());
    view! {
        <Title text="Outbox"/>
        <section class="admin" aria-labelledby="outbox-heading">
            <h1 id="outbox-heading">"Outbox"</h1>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading mail…"</p> }>
                {move || Suspend::new(async move {
                    match outbox.await {
                        Ok(outbox) => view! { <OutboxList outbox/> }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/admin/outbox"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn OutboxList(outbox: Outbox) -> impl IntoView {
    let intro = if outbox.holds_mail {
        "No mail server is configured (FERROTAPE_SMTP_URL), so account mail is kept here \
         instead of being sent. Pass a link on to its recipient to let them finish."
    } else {
        "Mail this site sent or is trying to send. Bodies are erased once delivered."
    };
    view! {
        <p>{intro}</p>
        {if outbox.mails.is_empty() {
            view! { <p class="empty-state">"No mail yet."</p> }.into_any()
        } else {
            view! {
                <ul class="outbox" role="list">
                    {outbox.mails.into_iter().map(|mail| view! { <OutboxItem mail/> }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

#[component]
fn OutboxItem(mail: OutboxMail) -> impl IntoView {
    let state = match (&mail.sent_at, &mail.last_error) {
        (Some(_), _) => "sent".to_owned(),
        (None, Some(error)) => format!("not sent after {} attempts: {error}", mail.attempts),
        (None, None) => "waiting".to_owned(),
    };
    view! {
        <li class="outbox-mail">
            <h2>{mail.subject}</h2>
            <p class="talk-meta">
                "To " {mail.recipient} " · "
                <time datetime=mail.created_at.to_string()>{time_format::date(mail.created_at.date())}</time>
                " · " {state}
            </p>
            {(!mail.body.is_empty()).then(|| view! { <pre class="mail-body">{mail.body}</pre> })}
        </li>
    }
}
