//! The load generator and data generator of `bench/analytics` (not part of the product).
//!
//! - `ingest URL TALK SECS CONNECTIONS BATCH`: keep-alive connections post batches of BATCH
//!   beacon events (one view per batch: start, first frame, heartbeats, exit) to
//!   `URL/api/v1/events` for SECS seconds; prints `accepted`, `refused_503`, `refused_other`
//!   and `ingest_p99_ms` (each request's latency).
//! - `generate DATABASE_URL TENANT EVENTS DAYS`: writes EVENTS events of views spread over the
//!   tenant's talks and the last DAYS days straight through `store::analytics::write_events`
//!   (the writer's own path), then brings the rollups up to date; prints `generated`.
//! - `timed URL COOKIE PATH N`: GETs PATH N times with the session cookie; prints `p50_ms`,
//!   `p99_ms`.

use std::time::{Duration, Instant};

use ferrotape_store::analytics::{EventRow, ViewContext, write_events};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use uuid::Uuid;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ingest") => ingest(&args[1..]).await,
        Some("generate") => generate(&args[1..]).await,
        Some("timed") => timed(&args[1..]).await,
        _ => {
            eprintln!("usage: analytics_bench ingest|generate|timed …");
            std::process::exit(2);
        }
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// One view's events: start, first frame, heartbeats, exit (`batch` events in all), from a
/// browser with its anonymous viewer id.
fn batch_body(talk: &str, batch: usize) -> String {
    let view = Uuid::new_v4();
    let t = now_ms() - 1000;
    let mut events = Vec::with_capacity(batch);
    for i in 0..batch {
        let id = Uuid::new_v4();
        let kind = match i {
            0 => r#""type":"view_start","position":0"#.to_owned(),
            1 => r#""type":"first_frame","startup_ms":700"#.to_owned(),
            _ if i + 1 == batch => format!(r#""type":"exit","position":{i}"#),
            _ => format!(
                r#""type":"heartbeat","position":{},"watched":[[{},{}]],"bitrate":1200000"#,
                i,
                i - 1,
                i
            ),
        };
        events.push(format!(
            r#"{{"id":"{id}","view":"{view}","at":{t},{kind}}}"#
        ));
    }
    // Each view from its own browser, as players send them: every write also keeps that
    // viewer's place in the talk (the library), the writer's dearest case.
    let viewer = Uuid::new_v4();
    format!(
        r#"{{"sent_at":{},"talk":"{talk}","viewer":"{viewer}","events":[{}]}}"#,
        now_ms(),
        events.join(",")
    )
}

/// Sends one request on a keep-alive connection; returns the status.
async fn send(
    reader: &mut BufReader<TcpStream>,
    host: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> std::io::Result<u16> {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    // Server functions read form bodies; the REST API JSON.
    let content_type = if path.starts_with("/api/v1/") {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36\r\nContent-Type: {content_type}\r\nAccept: application/json\r\n{cookie}Content-Length: {}\r\n\r\n{body}",
        body.len(),
    );
    reader.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
    }
    Ok(status)
}

async fn ingest(args: &[String]) {
    let host = host_port(&args[0]);
    let talk = args[1].clone();
    let secs: u64 = args[2].parse().unwrap();
    let connections: usize = args[3].parse().unwrap();
    let batch: usize = args[4].parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let host = host.clone();
        let talk = talk.clone();
        tasks.push(tokio::spawn(async move {
            let mut reader = BufReader::new(TcpStream::connect(&host).await.unwrap());
            let (mut accepted, mut busy, mut other) = (0u64, 0u64, 0u64);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let body = batch_body(&talk, batch);
                let started = Instant::now();
                match send(&mut reader, &host, "POST", "/api/v1/events", None, &body).await {
                    Ok(202) => accepted += batch as u64,
                    Ok(503) => {
                        busy += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Ok(_) => other += 1,
                    Err(_) => {
                        other += 1;
                        reader = BufReader::new(TcpStream::connect(&host).await.unwrap());
                    }
                }
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            (accepted, busy, other, latencies)
        }));
    }
    let (mut accepted, mut busy, mut other, mut latencies) = (0, 0, 0, Vec::new());
    for task in tasks {
        let (a, b, o, l) = task.await.unwrap();
        accepted += a;
        busy += b;
        other += o;
        latencies.extend(l);
    }
    latencies.sort_by(f64::total_cmp);
    let p99 = latencies
        .get(((latencies.len() as f64) * 0.99) as usize)
        .copied()
        .unwrap_or(0.0);
    println!("accepted = {accepted}");
    println!("refused_503 = {busy}");
    println!("refused_other = {other}");
    println!("ingest_p99_ms = {p99:.1}");
}

async fn generate(args: &[String]) {
    let pool = ferrotape_store::db::connect(args[0].parse().unwrap(), 4)
        .await
        .unwrap();
    let tenant: Uuid = args[1].parse().unwrap();
    let total: usize = args[2].parse().unwrap();
    let days: i64 = args[3].parse().unwrap();
    let talks: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM talks WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_all(&pool)
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let browsers = ["Chrome", "Firefox", "Safari", "Edge"];
    let countries = ["GB", "DE", "US", "FR", "CH"];
    let mut written = 0usize;
    let mut view_index = 0usize;
    while written < total {
        let mut rows = Vec::with_capacity(20_000);
        while rows.len() < 20_000 && written + rows.len() < total {
            view_index += 1;
            let talk = talks[view_index % talks.len()];
            let view = Uuid::new_v4();
            let started =
                now - time::Duration::seconds((view_index as i64 * 7919) % (days * 86_400).max(1));
            let context = ViewContext {
                viewer_hash: Some(*Uuid::new_v4().as_bytes()),
                browser: Some(browsers[view_index % browsers.len()]),
                os: Some("Linux"),
                device: Some("desktop"),
                country: Some(countries[view_index % countries.len()].to_owned()),
                ..ViewContext::default()
            };
            for i in 0..20usize {
                let (kind, value, watched) = match i {
                    0 => ("view_start", None, vec![]),
                    1 => (
                        "first_frame",
                        Some(300 + (view_index % 2000) as i64),
                        vec![],
                    ),
                    _ => (
                        "heartbeat",
                        Some(1_200_000),
                        vec![[(i - 2) as f64 * 10.0, (i - 1) as f64 * 10.0]],
                    ),
                };
                let at = started + time::Duration::seconds(i as i64 * 10);
                rows.push(EventRow {
                    day: at.date(),
                    id: Uuid::new_v4(),
                    tenant,
                    talk,
                    view,
                    at,
                    received_at: at,
                    kind,
                    position: Some(i as f64 * 10.0),
                    value,
                    height: None,
                    watched,
                    fatal: None,
                    detail: None,
                    context: context.clone(),
                });
            }
        }
        ferrotape_store::analytics::ensure_partitions(
            &pool,
            (now - time::Duration::days(days + 1)).date(),
            now.date() + time::Duration::days(1),
        )
        .await
        .unwrap();
        written += rows.len();
        write_events(&pool, &rows).await.unwrap();
    }
    ferrotape_store::analytics_rollups::refresh_all(&pool)
        .await
        .unwrap();
    println!("generated = {written}");
}

async fn timed(args: &[String]) {
    let host = host_port(&args[0]);
    let cookie = args[1].clone();
    // `PATH?a=b`: the query is sent as the form body (server functions read their
    // arguments from it).
    let (path, form) = args[2]
        .split_once('?')
        .map_or((args[2].clone(), String::new()), |(p, q)| {
            (p.to_owned(), q.to_owned())
        });
    let n: usize = args[3].parse().unwrap();
    let mut reader = BufReader::new(TcpStream::connect(&host).await.unwrap());
    let mut latencies = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let status = send(&mut reader, &host, "POST", &path, Some(&cookie), &form)
            .await
            .unwrap();
        assert_eq!(status, 200, "{path} answered {status}");
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!("p50_ms = {:.1}", at(0.5));
    println!("p99_ms = {:.1}", at(0.99));
}
