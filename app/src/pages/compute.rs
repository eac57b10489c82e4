//! `/admin/compute`: the compute ledger — transcode and transcription seconds per UTC day, job
//! kind and resource class, with the range's totals — for a range of days picked with a plain
//! GET form (`?from=&to=`), and the same figures as CSV. Admins only.

use ferrotape_model::compute::{
    ComputeLedger, ComputeRow, ComputeTotal, duration_text, format_date,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::compute::load_compute;
use crate::pages::studio::AccessRefused;

#[component]
pub fn AdminComputePage() -> impl IntoView {
    let query = use_query_map();
    let ledger = Resource::new(
        move || {
            let q = query.read();
            (q.get("from"), q.get("to"))
        },
        |(from, to)| load_compute(from, to),
    );
    view! {
        <Title text="Compute"/>
        <section class="admin" aria-labelledby="compute-heading">
            <h1 id="compute-heading">"Compute"</h1>
            <p>
                "Seconds of transcoding and transcription per day (UTC), from each job attempt's "
                "start to its end; failed attempts count too."
            </p>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading the ledger…"</p> }>
                {move || Suspend::new(async move {
                    match ledger.await {
                        Ok(ledger) => view! { <Ledger ledger/> }.into_any(),
                        Err(err) => {
                            let q = query.read_untracked();
                            view! {
                                <RangeForm from=q.get("from").unwrap_or_default() to=q.get("to").unwrap_or_default()/>
                                <AccessRefused err next="/admin/compute"/>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RangeForm(from: String, to: String) -> impl IntoView {
    view! {
        <form method="get" action="/admin/compute" class="inline-form filters">
            <label for="compute-from">"From"</label>
            <input id="compute-from" name="from" type="date" value=from/>
            <label for="compute-to">"To"</label>
            <input id="compute-to" name="to" type="date" value=to/>
            <button type="submit" class="button small">"Show"</button>
        </form>
    }
}

#[component]
fn Ledger(ledger: ComputeLedger) -> impl IntoView {
    let ComputeLedger {
        range,
        rows,
        totals,
    } = ledger;
    let (from, to) = (format_date(range.from), format_date(range.to));
    let csv = format!("/api/v1/admin/compute.csv?from={from}&to={to}");
    let caption = format!("Compute per day and kind, {from} to {to}");
    let all_seconds: f64 = totals.iter().map(|t| t.seconds).sum();
    view! {
        <RangeForm from=from.clone() to=to.clone()/>
        <p><a href=csv download="" rel="external">"Download CSV"</a></p>
        {if rows.is_empty() {
            view! { <p class="empty-state">{format!("No compute was used from {from} to {to}.")}</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table class="data-table compute-ledger">
                        <caption>{caption}</caption>
                        <thead><tr>
                            <th scope="col">"Day"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Resource class"</th>
                            <th scope="col">"Jobs"</th>
                            <th scope="col">"Attempts"</th>
                            <th scope="col">"Seconds"</th>
                            <th scope="col">"Compute time"</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|row| view! { <DayRow row/> }).collect_view()}
                        </tbody>
                        <tfoot>
                            {totals.into_iter().map(|total| view! { <TotalRow total/> }).collect_view()}
                            <tr class="grand-total">
                                <th scope="row" colspan="5">"All compute"</th>
                                <td>{format!("{all_seconds:.1}")}</td>
                                <td>{duration_text(all_seconds)}</td>
                            </tr>
                        </tfoot>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn DayRow(row: ComputeRow) -> impl IntoView {
    let day = format_date(row.day);
    view! {
        <tr>
            <th scope="row"><time datetime=day.clone()>{day.clone()}</time></th>
            <td>{row.kind}</td>
            <td>{row.resource_class}</td>
            <td>{row.jobs}</td>
            <td>{row.attempts}</td>
            <td>{format!("{:.1}", row.seconds)}</td>
            <td>{duration_text(row.seconds)}</td>
        </tr>
    }
}

#[component]
fn TotalRow(total: ComputeTotal) -> impl IntoView {
    view! {
        <tr>
            <th scope="row">"Total"</th>
            <td>{total.kind}</td>
            <td>{total.resource_class}</td>
            <td>{total.jobs}</td>
            <td>{total.attempts}</td>
            <td>{format!("{:.1}", total.seconds)}</td>
            <td>{duration_text(total.seconds)}</td>
        </tr>
    }
}
