//! The studio's resumable uploader: pick or drop a file; it is sent in chunks (three at a time,
//! each with its SHA-256, retried with back-off), with a progress bar showing bytes, speed and
//! time left; pause, resume and cancel; and after a page reload, choosing the same file again
//! continues where it stopped (the upload id is remembered per file in `localStorage`).
//!
//! Server-rendered as a plain form control; everything it does needs the hydrated app.

use leptos::prelude::*;

/// What the uploader shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UploadProgress {
    pub file_name: String,
    pub sent: u64,
    pub total: u64,
    /// Bytes per second over the last few seconds.
    pub speed: f64,
    pub phase: Phase,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Idle,
    Sending,
    Paused,
    Checking,
    Done,
    Failed,
}

impl UploadProgress {
    pub fn summary(&self) -> String {
        let mb = |b: u64| b as f64 / 1_048_576.0;
        match self.phase {
            Phase::Idle => String::new(),
            Phase::Sending | Phase::Paused => {
                let mut text = format!(
                    "{}: {:.1} of {:.1} MB",
                    self.file_name,
                    mb(self.sent),
                    mb(self.total)
                );
                if self.phase == Phase::Paused {
                    text.push_str(" — paused");
                } else if self.speed > 0.0 {
                    let left = (self.total.saturating_sub(self.sent)) as f64 / self.speed;
                    text.push_str(&format!(
                        " at {:.1} MB/s, {} left",
                        self.speed / 1_048_576.0,
                        ferrotape_model::studio::human_secs(left.ceil() as u32)
                    ));
                }
                text
            }
            Phase::Checking | Phase::Done | Phase::Failed => self.message.clone(),
        }
    }
}

#[component]
pub fn Uploader(
    /// Called when an upload finished (or failed) so the list can refresh; with the new
    /// video's id when the file was accepted.
    #[prop(into)]
    on_finished: Callback<Option<uuid::Uuid>>,
    /// The section's heading.
    #[prop(default = "Upload a recording")]
    heading: &'static str,
    /// Fields shown above the file input (the studio asks for a title first).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let progress = RwSignal::new(UploadProgress::default());
    // Browser-side state is thread-local; on the server it would be dropped on another worker
    // thread and panic, so the server's stand-in is plain data.
    #[cfg(feature = "hydrate")]
    let control = StoredValue::new_local(None::<client::Control>);
    #[cfg(not(feature = "hydrate"))]
    let control = StoredValue::new(None::<client::Control>);

    let start = move |file: Option<client::PickedFile>| {
        #[cfg(feature = "hydrate")]
        if let Some(file) = file {
            control.set_value(Some(client::start(file, progress, on_finished)));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file, control, on_finished);
    };
    let phase = move || progress.with(|p| p.phase);
    let busy = move || matches!(phase(), Phase::Sending | Phase::Paused | Phase::Checking);

    view! {
        <section class="uploader" aria-labelledby="upload-heading">
            <h2 id="upload-heading">{heading}</h2>
            {children.map(|c| c())}
            <label
                class="dropzone"
                on:dragover=|ev| ev.prevent_default()
                on:drop=move |ev| {
                    ev.prevent_default();
                    start(client::dropped_file(&ev));
                }
            >
                <span>"Drop a video or audio file here, or choose one: "</span>
                <input
                    type="file"
                    name="file"
                    accept="video/*,audio/*,.mkv,.mov,.mp4,.webm"
                    disabled=busy
                    on:change=move |ev| start(client::picked_file(&ev))
                />
            </label>
            <Show when=move || phase() != Phase::Idle>
                <progress
                    max=move || progress.with(|p| p.total.max(1))
                    value=move || progress.with(|p| p.sent)
                    aria-label="Upload progress"
                ></progress>
            </Show>
            <p class="upload-status" role="status" aria-live="polite">
                {move || progress.with(UploadProgress::summary)}
            </p>
            <Show when=busy>
                <div class="upload-actions">
                    <button
                        type="button"
                        on:click=move |_| control.with_value(|c| if let Some(c) = c { c.toggle_pause() })
                    >
                        {move || if phase() == Phase::Paused { "Resume" } else { "Pause" }}
                    </button>
                    <button
                        type="button"
                        class="danger"
                        on:click=move |_| control.with_value(|c| if let Some(c) = c { c.cancel() })
                    >
                        "Cancel upload"
                    </button>
                </div>
            </Show>
        </section>
    }
}

#[cfg(not(feature = "hydrate"))]
mod client {
    /// Nothing to pick on the server.
    pub struct PickedFile;
    pub struct Control;
    impl Control {
        pub fn toggle_pause(&self) {}
        pub fn cancel(&self) {}
    }
    pub fn picked_file(_: &leptos::ev::Event) -> Option<PickedFile> {
        None
    }
    pub fn dropped_file(_: &leptos::ev::DragEvent) -> Option<PickedFile> {
        None
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use std::cell::{Cell, RefCell};
    use std::collections::{HashMap, VecDeque};
    use std::rc::Rc;

    use js_sys::{Promise, Uint8Array};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{File, XmlHttpRequest};

    use super::{Phase, UploadProgress};

    /// Chunks in flight at once: enough to fill a link, few enough to resume cheaply.
    const PARALLEL: usize = 3;
    /// Attempts per chunk before the upload stops (with back-off 1, 2, 4, 8, 16 s).
    const ATTEMPTS: u32 = 6;

    pub type PickedFile = File;

    pub fn picked_file(ev: &leptos::ev::Event) -> Option<File> {
        let input: web_sys::HtmlInputElement = event_target(ev);
        input.files()?.get(0)
    }

    pub fn dropped_file(ev: &leptos::ev::DragEvent) -> Option<File> {
        ev.data_transfer()?.files()?.get(0)
    }

    /// Pause/resume/cancel handles of a running upload.
    pub struct Control {
        shared: Rc<Shared>,
    }

    impl Control {
        pub fn toggle_pause(&self) {
            let paused = !self.shared.paused.get();
            self.shared.paused.set(paused);
            if paused {
                self.shared.abort_in_flight();
                self.shared.progress.update(|p| p.phase = Phase::Paused);
            } else {
                self.shared.progress.update(|p| p.phase = Phase::Sending);
            }
        }

        pub fn cancel(&self) {
            self.shared.cancelled.set(true);
            self.shared.abort_in_flight();
        }
    }

    struct Shared {
        progress: RwSignal<UploadProgress>,
        paused: Cell<bool>,
        cancelled: Cell<bool>,
        in_flight: RefCell<HashMap<u32, (XmlHttpRequest, f64)>>,
        /// Chunks go straight to object storage (S3) rather than through the server.
        direct: Cell<bool>,
        done_bytes: Cell<f64>,
        /// (time ms, bytes) samples for the speed.
        samples: RefCell<VecDeque<(f64, f64)>>,
    }

    impl Shared {
        fn abort_in_flight(&self) {
            for (xhr, _) in self.in_flight.borrow().values() {
                let _ = xhr.abort();
            }
        }

        fn report(&self) {
            let in_flight: f64 = self.in_flight.borrow().values().map(|(_, b)| b).sum();
            let sent = self.done_bytes.get() + in_flight;
            let now = js_sys::Date::now();
            let mut samples = self.samples.borrow_mut();
            samples.push_back((now, sent));
            while samples.len() > 2 && now - samples[0].0 > 5000.0 {
                samples.pop_front();
            }
            let speed = match (samples.front(), samples.back()) {
                (Some(a), Some(b)) if b.0 - a.0 > 500.0 => (b.1 - a.1) / ((b.0 - a.0) / 1000.0),
                _ => 0.0,
            };
            self.progress.update(|p| {
                p.sent = sent as u64;
                p.speed = speed.max(0.0);
            });
        }
    }

    pub fn start(
        file: File,
        progress: RwSignal<UploadProgress>,
        on_finished: Callback<Option<uuid::Uuid>>,
    ) -> Control {
        let shared = Rc::new(Shared {
            progress,
            paused: Cell::new(false),
            cancelled: Cell::new(false),
            in_flight: RefCell::new(HashMap::new()),
            direct: Cell::new(false),
            done_bytes: Cell::new(0.0),
            samples: RefCell::new(VecDeque::new()),
        });
        progress.set(UploadProgress {
            file_name: file.name(),
            total: file.size() as u64,
            phase: Phase::Sending,
            ..UploadProgress::default()
        });
        let task = shared.clone();
        leptos::task::spawn_local(async move {
            let result = run(&task, &file).await;
            let (phase, message, video) = match result {
                Ok((message, video)) => (Phase::Done, message, video),
                Err(message) => (Phase::Failed, message, None),
            };
            progress.update(|p| {
                p.phase = phase;
                p.message = message;
            });
            on_finished.run(video);
        });
        Control { shared }
    }

    fn storage_key(file: &File) -> String {
        format!(
            "ferrotape.upload:{}:{}:{}",
            file.name(),
            file.size(),
            file.last_modified()
        )
    }

    fn storage() -> Option<web_sys::Storage> {
        window().local_storage().ok().flatten()
    }

    /// The outcome's message and, when the file was accepted, the new video's id.
    async fn run(shared: &Rc<Shared>, file: &File) -> Result<(String, Option<uuid::Uuid>), String> {
        let key = storage_key(file);
        // Resume: the same file (name, size, modification time) reuses its upload. A completed
        // one (the answer to `complete` was lost) lists every chunk, so only `complete` is
        // asked again, and answers as the first time.
        let mut status = None;
        if let Some(id) = storage().and_then(|s| s.get_item(&key).ok().flatten())
            && let Ok((200, body)) = request("GET", &format!("/api/v1/uploads/{id}"), None).await
            && (body["state"] == "open" || body["state"] == "completed")
        {
            status = Some(body);
        }
        let status = match status {
            Some(status) => status,
            None => {
                let body = serde_json::json!({
                    "file_name": file.name(),
                    "size_bytes": file.size() as u64,
                    "content_type": file.type_(),
                });
                let (code, body) =
                    request("POST", "/api/v1/uploads", Some(body.to_string())).await?;
                if code != 201 {
                    return Err(error_text(&body));
                }
                if let (Some(s), Some(id)) = (storage(), body["id"].as_str()) {
                    let _ = s.set_item(&key, id);
                }
                body
            }
        };
        let id = status["id"].as_str().unwrap_or_default().to_owned();
        let chunk_size = status["chunk_size"].as_f64().unwrap_or(8.0 * 1_048_576.0);
        let count = status["chunk_count"].as_u64().unwrap_or(0) as u32;
        let received: Vec<u32> = status["received"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_u64())
                    .map(|n| n as u32)
                    .collect()
            })
            .unwrap_or_default();
        shared
            .direct
            .set(status["direct"].as_bool().unwrap_or(false));
        shared
            .done_bytes
            .set(status["received_bytes"].as_f64().unwrap_or(0.0));
        shared.report();
        let queue: Rc<RefCell<VecDeque<u32>>> = Rc::new(RefCell::new(
            (0..count).filter(|n| !received.contains(n)).collect(),
        ));
        let failure: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
        let workers = (0..PARALLEL).map(|_| {
            let (shared, queue, failure, file, id) = (
                shared.clone(),
                queue.clone(),
                failure.clone(),
                file.clone(),
                id.clone(),
            );
            async move {
                loop {
                    if shared.cancelled.get() || failure.borrow().is_some() {
                        return;
                    }
                    if shared.paused.get() {
                        sleep(200).await;
                        continue;
                    }
                    let Some(n) = queue.borrow_mut().pop_front() else {
                        return;
                    };
                    let start = f64::from(n) * chunk_size;
                    let end = (start + chunk_size).min(file.size());
                    match send_chunk(&shared, &file, &id, n, start, end).await {
                        Ok(()) => {
                            shared
                                .done_bytes
                                .set(shared.done_bytes.get() + (end - start));
                            shared.report();
                        }
                        // Paused or cancelled: the chunk goes back in line.
                        Err(None) => queue.borrow_mut().push_front(n),
                        Err(Some(message)) => {
                            failure.borrow_mut().get_or_insert(message);
                        }
                    }
                }
            }
        });
        futures::future::join_all(workers).await;

        if shared.cancelled.get() {
            let _ = request("DELETE", &format!("/api/v1/uploads/{id}"), None).await;
            if let Some(s) = storage() {
                let _ = s.remove_item(&key);
            }
            return Ok(("Upload cancelled.".to_owned(), None));
        }
        if let Some(message) = failure.borrow_mut().take() {
            return Err(format!(
                "{message} Choose the same file again to continue where it stopped."
            ));
        }
        shared.progress.update(|p| {
            p.phase = Phase::Checking;
            p.message = "Upload complete; checking the file…".to_owned();
        });
        let (code, body) = request("POST", &format!("/api/v1/uploads/{id}/complete"), None).await?;
        if code == 200 || code == 422 {
            // Finished either way: a new choice of this file starts afresh.
            if let Some(s) = storage() {
                let _ = s.remove_item(&key);
            }
        }
        if code == 200 {
            let video = body["video_id"].as_str().and_then(|id| id.parse().ok());
            Ok((
                format!(
                    "{} uploaded; it is being processed and appears below.",
                    file.name()
                ),
                video,
            ))
        } else {
            Err(error_text(&body))
        }
    }

    /// Sends chunk `n`, retrying with back-off. `Err(None)`: stopped by pause or cancel.
    async fn send_chunk(
        shared: &Rc<Shared>,
        file: &File,
        id: &str,
        n: u32,
        start: f64,
        end: f64,
    ) -> Result<(), Option<String>> {
        let blob = file
            .slice_with_f64_and_f64(start, end)
            .map_err(|_| Some("The file could not be read.".to_owned()))?;
        let buffer = JsFuture::from(blob.array_buffer()).await.map_err(|_| {
            Some("The file could not be read (was it moved or deleted?).".to_owned())
        })?;
        let sha = sha256_hex(&buffer).await.map_err(Some)?;
        let bytes = Uint8Array::new(&buffer);
        let mut delay = 1000;
        let mut attempt = 0;
        while attempt < ATTEMPTS {
            attempt += 1;
            if shared.paused.get() || shared.cancelled.get() {
                return Err(None);
            }
            let (xhr, direct) = match open_chunk_request(shared, id, n, &sha).await {
                Ok(opened) => opened,
                Err(message) if attempt == ATTEMPTS => return Err(Some(message)),
                Err(_) => {
                    sleep(delay).await;
                    delay = (delay * 2).min(16_000);
                    continue;
                }
            };
            shared.in_flight.borrow_mut().insert(n, (xhr.clone(), 0.0));
            let on_progress = {
                let shared = shared.clone();
                Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
                    move |ev: web_sys::ProgressEvent| {
                        if let Some(entry) = shared.in_flight.borrow_mut().get_mut(&n) {
                            entry.1 = ev.loaded();
                        }
                        shared.report();
                    },
                )
            };
            if let Ok(upload) = xhr.upload() {
                upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            }
            let outcome = send(&xhr, Some(&bytes)).await;
            shared.in_flight.borrow_mut().remove(&n);
            drop(on_progress);
            match outcome {
                Ok((200, _)) => return Ok(()),
                // The server's refusals are final; storage's (an expired URL, a damaged
                // body) are worth another presigned try.
                Ok((code, body))
                    if !direct && (400..500).contains(&code) && code != 408 && code != 429 =>
                {
                    return Err(Some(error_text(&body)));
                }
                Err(Aborted) if shared.paused.get() || shared.cancelled.get() => return Err(None),
                // The browser cannot reach the bucket (network, CORS): the server takes the
                // chunks instead, starting with this one.
                Err(Aborted) if direct => {
                    shared.direct.set(false);
                    attempt -= 1;
                }
                _ if attempt == ATTEMPTS => {
                    return Err(Some(format!(
                        "Chunk {n} could not be sent after {ATTEMPTS} tries (is the network down?)."
                    )));
                }
                _ => {
                    sleep(delay).await;
                    delay = (delay * 2).min(16_000);
                }
            }
        }
        Err(Some(format!(
            "Chunk {n} could not be sent after {ATTEMPTS} tries (is the network down?)."
        )))
    }

    /// An opened (not yet sent) request for chunk `n`: straight to object storage through a
    /// presigned URL when the upload allows it (`true`), else to the server.
    async fn open_chunk_request(
        shared: &Shared,
        id: &str,
        n: u32,
        sha: &str,
    ) -> Result<(XmlHttpRequest, bool), String> {
        let xhr = XmlHttpRequest::new().map_err(|_| "No XMLHttpRequest.".to_owned())?;
        if shared.direct.get() {
            let body = serde_json::json!({ "sha256": sha }).to_string();
            let (code, presigned) = request(
                "POST",
                &format!("/api/v1/uploads/{id}/chunks/{n}/url"),
                Some(body),
            )
            .await?;
            match (code, presigned["url"].as_str()) {
                (200, Some(url)) => {
                    xhr.open("PUT", url)
                        .map_err(|_| "Bad upload URL.".to_owned())?;
                    if let Some(headers) = presigned["headers"].as_object() {
                        for (name, value) in headers {
                            // The browser sets these itself and refuses to be told.
                            if matches!(name.as_str(), "host" | "content-length") {
                                continue;
                            }
                            let _ = xhr.set_request_header(name, value.as_str().unwrap_or(""));
                        }
                    }
                    return Ok((xhr, true));
                }
                (409, _) => shared.direct.set(false),
                _ => return Err(error_text(&presigned)),
            }
        }
        xhr.open("PUT", &format!("/api/v1/uploads/{id}/chunks/{n}"))
            .map_err(|_| "Bad upload URL.".to_owned())?;
        let _ = xhr.set_request_header("X-Chunk-Sha256", sha);
        let _ = xhr.set_request_header("Content-Type", "application/octet-stream");
        Ok((xhr, false))
    }

    struct Aborted;

    /// Sends an XHR and waits for it: `(status, JSON body)`, or `Aborted` on abort, network
    /// error or timeout.
    async fn send(
        xhr: &XmlHttpRequest,
        body: Option<&Uint8Array>,
    ) -> Result<(u16, serde_json::Value), Aborted> {
        let done = Promise::new(&mut |resolve, _reject| {
            let ok = resolve.clone();
            let on_load = Closure::once_into_js(move || {
                let _ = ok.call1(&JsValue::NULL, &JsValue::TRUE);
            });
            let on_fail = Closure::once_into_js(move || {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::FALSE);
            });
            xhr.set_onload(Some(on_load.unchecked_ref()));
            xhr.set_onerror(Some(on_fail.unchecked_ref()));
            xhr.set_onabort(Some(on_fail.unchecked_ref()));
            xhr.set_ontimeout(Some(on_fail.unchecked_ref()));
        });
        let sent = match body {
            Some(bytes) => xhr.send_with_opt_buffer_source(Some(bytes)),
            None => xhr.send(),
        };
        if sent.is_err() {
            return Err(Aborted);
        }
        let loaded = JsFuture::from(done).await.map_err(|_| Aborted)?;
        if loaded != JsValue::TRUE {
            return Err(Aborted);
        }
        let text = xhr.response_text().ok().flatten().unwrap_or_default();
        Ok((
            xhr.status().unwrap_or(0),
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        ))
    }

    async fn request(
        method: &str,
        url: &str,
        json: Option<String>,
    ) -> Result<(u16, serde_json::Value), String> {
        let network = || "The server could not be reached; check your connection.".to_owned();
        let xhr = XmlHttpRequest::new().map_err(|_| network())?;
        xhr.open(method, url).map_err(|_| network())?;
        let body = json.map(|text| {
            let _ = xhr.set_request_header("Content-Type", "application/json");
            Uint8Array::from(text.as_bytes())
        });
        send(&xhr, body.as_ref()).await.map_err(|_| network())
    }

    fn error_text(body: &serde_json::Value) -> String {
        body["error"]
            .as_str()
            .map(|e| {
                let mut e = e.to_owned();
                if let Some(first) = e.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                if !e.ends_with('.') {
                    e.push('.');
                }
                e
            })
            .unwrap_or_else(|| "The upload failed.".to_owned())
    }

    async fn sha256_hex(buffer: &JsValue) -> Result<String, String> {
        let subtle = window()
            .crypto()
            .map_err(|_| "This browser cannot check files (no Web Crypto).".to_owned())?
            .subtle();
        let object: &js_sys::Object = buffer.unchecked_ref();
        let digest = subtle
            .digest_with_str_and_buffer_source("SHA-256", object)
            .map_err(|_| "Uploads need a secure (HTTPS) connection.".to_owned())?;
        let digest = JsFuture::from(digest)
            .await
            .map_err(|_| "Hashing the file failed.".to_owned())?;
        Ok(Uint8Array::new(&digest)
            .to_vec()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    async fn sleep(ms: i32) {
        let promise = Promise::new(&mut |resolve, _| {
            let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        });
        let _ = JsFuture::from(promise).await;
    }
}
