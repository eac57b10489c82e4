//! `/studio/api-keys`: an editor's API keys for scripts (`Authorization: Bearer ft_…`): create
//! one with a name and scopes (its secret is shown once), see when each was last used,
//! revoke. Both forms work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::api_keys::{CreateApiKey, RevokeApiKey, api_keys};
use crate::components::form::FormMessage;
use crate::pages::studio::AccessRefused;

fn when(at: Option<time::OffsetDateTime>) -> String {
    at.map(|at| {
        at.format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
    })
    .unwrap_or_else(|| "never".to_owned())
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| api_keys(),
    );
    let created = Signal::derive(move || create.value().get());
    view! {
        <Title text="API keys"/>
        <section class="studio api-keys" aria-labelledby="keys-heading">
            <p><A href="/studio">"← Studio"</A></p>
            <h1 id="keys-heading">"API keys"</h1>
            <p>
                "Scripts use a key as " <code>"Authorization: Bearer ft_…"</code>
                " with the " <a href="/api/v1/docs" rel="external">"REST API"</a>
                ". A read key may only fetch; a write key may change whatever you may."
            </p>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(view) => {
                            let secret = created.get().and_then(Result::ok).map(|c| c.secret)
                                .or(view.new_secret.clone());
                            view! {
                                {secret.map(|secret| view! {
                                    <div class="notice-banner" role="status">
                                        <p>"Your new key — copy it now, it is not shown again:"</p>
                                        <p><code class="secret">{secret}</code></p>
                                    </div>
                                })}
                                <h2 id="create-heading">"Create a key"</h2>
                                <ActionForm action=create attr:class="inline-form" attr:aria-labelledby="create-heading">
                                    <label for="key-name">"Name"</label>
                                    <input id="key-name" name="name" required maxlength="100"
                                        placeholder="CI upload script" autocomplete="off"/>
                                    <fieldset>
                                        <legend>"Scopes"</legend>
                                        <label><input type="checkbox" name="read" value="on" checked/>" read"</label>
                                        <label><input type="checkbox" name="write" value="on"/>" write"</label>
                                    </fieldset>
                                    <button type="submit" class="button">"Create key"</button>
                                </ActionForm>
                                <FormMessage result=created/>
                                <h2 id="list-heading">"Your keys"</h2>
                                {if view.keys.is_empty() {
                                    view! { <p>"No keys yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table aria-labelledby="list-heading">
                                            <thead><tr>
                                                <th scope="col">"Name"</th><th scope="col">"Key"</th>
                                                <th scope="col">"Scopes"</th><th scope="col">"Created"</th>
                                                <th scope="col">"Last used"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                            </tr></thead>
                                            <tbody>
                                                {view.keys.into_iter().map(|key| {
                                                    let scopes = key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                                                    let label = format!("Revoke {}", key.name);
                                                    view! {
                                                        <tr>
                                                            <td>{key.name.clone()}</td>
                                                            <td><code>{format!("{}…", key.prefix)}</code></td>
                                                            <td>{scopes}</td>
                                                            <td>{when(Some(key.created_at))}</td>
                                                            <td>{when(key.last_used_at)}</td>
                                                            <td>
                                                                <ActionForm action=revoke>
                                                                    <input type="hidden" name="id" value=key.id.to_string()/>
                                                                    <button type="submit" class="button danger" aria-label=label>"Revoke"</button>
                                                                </ActionForm>
                                                            </td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                        Err(err) => view! { <AccessRefused err next="/studio/api-keys"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
