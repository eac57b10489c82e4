//! The `import` job: a video from a URL an editor pasted (a page yt-dlp understands, a media
//! file, an HLS playlist) into the draft talk the server created with it.
//!
//! 1. yt-dlp reads the metadata through the checking proxy (`proxy`): every connection it
//!    makes, redirects included, goes to an address the import policy allows.
//! 2. A duration or size the metadata announces beyond the limits fails the import before
//!    anything is downloaded; the title and description go to the draft talk.
//! 3. yt-dlp downloads what that metadata describes (`ytdlp`), with progress in
//!    `videos.progress`/`eta_at` (the video stays `uploading`); the proxy cuts the download
//!    past the size limit whatever the server announced.
//! 4. The file, untrusted, takes the upload path (`ingest`: the confined probe, stored,
//!    transcode queued); its thumbnail, re-encoded by the confined ffmpeg, becomes the talk's
//!    poster.
//!
//! An unsupported URL, a refused destination, a file too large or too long, or something that
//! is not a video fails the video with a reason the studio shows (the job itself completes:
//! retrying cannot help); network trouble is retried, and the last attempt's error fails the
//! video (trigger `jobs_source_moves_video`). A video no longer `uploading` is left alone.

pub mod proxy;
pub mod ytdlp;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_store::PgPool;
use ferrotape_store::import_policy::{self, ImportPolicy};
use ferrotape_store::imports::{self, IMPORT_JOB};
use ferrotape_store::media::MediaStore;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::{ImportSettings, MediaTools};
use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::ingest::{self, Ingested};
use proxy::CheckingProxy;
use ytdlp::Failure;

/// What the proxy lets through beyond the file itself: pages, playlists, the thumbnail.
const WIRE_ALLOWANCE: u64 = 32 * 1024 * 1024;

/// How the thumbnail is re-encoded: the confined ffmpeg reads only these image demuxers.
const THUMBNAIL_DEMUXERS: &str = "image2,png_pipe,jpeg_pipe,webp_pipe,gif,bmp_pipe";

pub struct Import {
    pub media: Arc<dyn MediaStore>,
    pub tools: MediaTools,
    pub settings: ImportSettings,
}

impl JobHandler for Import {
    fn kind(&self) -> &'static str {
        IMPORT_JOB
    }

    /// Network-bound: a CPU-class kind of its own, never a GPU slot, so imports and
    /// transcodes never wait for each other's slots.
    fn concurrency(&self) -> usize {
        self.settings.slots.max(1)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let media = self.media.clone();
        let tools = self.tools.clone();
        let settings = self.settings.clone();
        Box::pin(async move {
            let video: Uuid = ctx.job.payload["video_id"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .ok_or("the job has no video_id")?;
            let url = ctx.job.payload["url"]
                .as_str()
                .ok_or("the job has no url")?
                .to_owned();
            let job = Job {
                pool: &ctx.pool,
                media: &*media,
                tools: &tools,
                settings: &settings,
                tenant: ctx.job.tenant,
                video,
                last_attempt: ctx.job.attempt >= ctx.job.max_attempts,
            };
            match job.state().await? {
                Some(state) if state == "uploading" => {}
                state => {
                    tracing::info!(%video, ?state, "the import is done or gone; nothing to do");
                    return Ok(());
                }
            }
            match job.run(&url).await {
                Ok(()) => Ok(()),
                Err(Outcome::Refused(reason)) => {
                    tracing::info!(%video, %reason, "import refused");
                    ingest::fail(&ctx.pool, ctx.job.tenant, video, &reason).await
                }
                Err(Outcome::Retry(error)) => Err(error),
            }
        })
    }
}

/// Why an import stopped.
enum Outcome {
    /// For good: the video fails with this reason.
    Refused(String),
    /// Perhaps passing: the attempt fails and the job is retried.
    Retry(String),
}

struct Job<'a> {
    pool: &'a PgPool,
    media: &'a dyn MediaStore,
    tools: &'a MediaTools,
    settings: &'a ImportSettings,
    tenant: TenantId,
    video: Uuid,
    last_attempt: bool,
}

impl Job<'_> {
    async fn state(&self) -> Result<Option<String>, String> {
        imports::video_state(self.pool, self.tenant, self.video)
            .await
            .map_err(|e| e.to_string())
    }

    fn policy(&self) -> &ImportPolicy {
        &self.settings.policy
    }

    async fn run(&self, url: &str) -> Result<(), Outcome> {
        // The policy may have changed since the server accepted the URL.
        let url = import_policy::parse_url(url).map_err(|e| Outcome::Refused(e.to_string()))?;
        let scratch = tempfile::Builder::new()
            .prefix("ferrotape-import-")
            .tempdir()
            .map_err(|e| Outcome::Retry(format!("no scratch space: {e}")))?;
        let limit = self.policy().max_bytes.saturating_add(WIRE_ALLOWANCE);
        let proxy = CheckingProxy::start(self.policy().clone(), limit)
            .await
            .map_err(|e| Outcome::Retry(format!("cannot start the import proxy: {e}")))?;
        let yt_dlp = &self.settings.yt_dlp;

        let info = ytdlp::metadata(yt_dlp, &proxy.url(), scratch.path(), url.as_str())
            .await
            .map_err(|f| self.explain(f, &proxy))?;
        self.check_metadata(&info)?;
        let title = info["title"].as_str().unwrap_or_default();
        let description = info["description"].as_str().unwrap_or_default();
        imports::record_metadata(self.pool, self.tenant, self.video, title, description)
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?;

        let info_file = scratch.path().join("info.json");
        tokio::fs::write(&info_file, info.to_string())
            .await
            .map_err(|e| Outcome::Retry(format!("no scratch space: {e}")))?;
        let download_dir = scratch.path().join("download");
        tokio::fs::create_dir(&download_dir)
            .await
            .map_err(|e| Outcome::Retry(format!("no scratch space: {e}")))?;
        let mut reporter = ProgressReporter::new(self.pool, self.tenant, self.video);
        let downloaded = ytdlp::download(
            yt_dlp,
            &proxy.url(),
            scratch.path(),
            &info_file,
            &download_dir,
            // yt-dlp applies --max-filesize to each fragment of a segmented stream (skipping
            // a large segment, keeping a large total): for those the proxy's count and the
            // size check below are the limit.
            (!segmented(&info)).then_some(self.policy().max_bytes),
            |p| reporter.report(p),
        )
        .await
        .map_err(|f| self.explain(f, &proxy))?;
        if downloaded.over_max_filesize || proxy.over_limit() {
            return Err(self.too_large());
        }
        let Some(file) = downloaded.media else {
            return Err(Outcome::Refused(
                "yt-dlp found no video file to download at this address".into(),
            ));
        };
        let size = tokio::fs::metadata(&file)
            .await
            .map(|m| m.len())
            .map_err(|e| Outcome::Retry(e.to_string()))?;
        if size > self.policy().max_bytes {
            return Err(self.too_large());
        }
        let name = file_name(title, &file);
        imports::record_source_file(self.pool, self.tenant, self.video, &name, size)
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?;
        let max_secs = self.policy().max_duration_secs;
        let ingested = ingest::ingest(
            self.pool,
            self.media,
            self.tools,
            self.tenant,
            self.video,
            &file,
            |probe| {
                if probe.duration_secs > max_secs as f64 {
                    Err(too_long(probe.duration_secs, max_secs))
                } else {
                    Ok(())
                }
            },
        )
        .await
        .map_err(Outcome::Retry)?;
        match ingested {
            Ingested::Queued { job, .. } => {
                tracing::info!(video = %self.video, job, size, "imported; transcode queued");
                if let Some(thumbnail) = downloaded.thumbnail {
                    self.store_thumbnail(&thumbnail, scratch.path()).await;
                }
            }
            // The video failed with the probe's reason; nothing was stored.
            Ingested::NotPlayable(reason) => {
                tracing::info!(video = %self.video, %reason, "the import is not playable");
            }
        }
        Ok(())
    }

    /// Refuses what the metadata already says cannot be imported.
    fn check_metadata(&self, info: &Value) -> Result<(), Outcome> {
        if info["_type"].as_str() == Some("playlist") {
            return Err(Outcome::Refused(
                "this address is a playlist or channel: import one video at a time".into(),
            ));
        }
        if info["is_live"].as_bool() == Some(true) {
            return Err(Outcome::Refused(
                "this is a live stream: import its recording once it has ended".into(),
            ));
        }
        let max_secs = self.policy().max_duration_secs;
        if let Some(duration) = info["duration"].as_f64()
            && duration > max_secs as f64
        {
            return Err(Outcome::Refused(too_long(duration, max_secs)));
        }
        let announced = info["filesize"]
            .as_u64()
            .or_else(|| info["filesize_approx"].as_f64().map(|n| n as u64));
        if announced.is_some_and(|size| size > self.policy().max_bytes) {
            return Err(self.too_large());
        }
        Ok(())
    }

    fn too_large(&self) -> Outcome {
        Outcome::Refused(format!(
            "the video is larger than the import limit of {} (FERROTAPE_IMPORT_MAX_BYTES)",
            human_bytes(self.policy().max_bytes)
        ))
    }

    /// The reason a yt-dlp failure gives the editor, or a retry when it may pass.
    fn explain(&self, failure: Failure, proxy: &CheckingProxy) -> Outcome {
        if let Some(refused) = proxy.refused() {
            return Outcome::Refused(format!("refused: {refused}"));
        }
        if proxy.over_limit() {
            return self.too_large();
        }
        let said = match failure {
            Failure::Missing(error) => {
                return if self.last_attempt {
                    Outcome::Refused(error)
                } else {
                    Outcome::Retry(error)
                };
            }
            Failure::Said(said) => said,
        };
        if said.contains("Unsupported URL") {
            return Outcome::Refused(
                "no video found at this address: it is not a page yt-dlp understands, a video \
                 file or an HLS playlist"
                    .into(),
            );
        }
        if let Some(code) = http_status(&said) {
            let reason = format!("the address answered HTTP {code} ({said})");
            // A server error or rate limit may pass; a 404 or 403 will not.
            return if (code >= 500 || code == 429) && !self.last_attempt {
                Outcome::Retry(reason)
            } else {
                Outcome::Refused(reason)
            };
        }
        let transient = [
            "timed out",
            "Connection reset",
            "stalled",
            "Temporary failure",
        ]
        .iter()
        .any(|t| said.contains(t));
        if transient && !self.last_attempt {
            Outcome::Retry(said)
        } else {
            Outcome::Refused(format!("yt-dlp could not import it: {said}"))
        }
    }

    /// Re-encodes the thumbnail with the confined ffmpeg (it came from the network) into a
    /// JPEG poster of at most 1280 px wide. A thumbnail that fails is only logged.
    async fn store_thumbnail(&self, thumbnail: &Path, scratch: &Path) {
        let poster = scratch.join("poster.jpg");
        let mut command = tokio::process::Command::new(&self.tools.ffmpeg);
        command
            .args(["-nostdin", "-v", "error", "-y"])
            .args(crate::probe::confined_input_args(THUMBNAIL_DEMUXERS))
            .arg("-i")
            .arg(crate::probe::file_url(thumbnail))
            .args([
                "-frames:v",
                "1",
                "-vf",
                "scale='min(1280,iw)':-2",
                "-q:v",
                "3",
            ])
            .arg(crate::probe::file_url(&poster))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        crate::ffmpeg::die_with_worker(&mut command);
        let converted = tokio::time::timeout(Duration::from_secs(60), command.output()).await;
        if !matches!(&converted, Ok(Ok(out)) if out.status.success()) {
            tracing::info!(video = %self.video, "the imported thumbnail is not a usable image");
            return;
        }
        let key = imports::imported_poster_key(self.tenant, self.video);
        if let Err(err) = self.media.put_file(&key, &poster).await {
            tracing::warn!(%err, "cannot store the imported thumbnail");
            return;
        }
        if let Err(err) = imports::set_imported_poster(self.pool, self.tenant, self.video).await {
            tracing::warn!(%err, "cannot record the imported thumbnail");
        }
    }
}

/// Writes download progress at most once a second.
struct ProgressReporter<'a> {
    pool: &'a PgPool,
    tenant: TenantId,
    video: Uuid,
    last: Option<Instant>,
}

impl<'a> ProgressReporter<'a> {
    fn new(pool: &'a PgPool, tenant: TenantId, video: Uuid) -> Self {
        ProgressReporter {
            pool,
            tenant,
            video,
            last: None,
        }
    }

    fn report(
        &mut self,
        progress: ytdlp::Progress,
    ) -> impl std::future::Future<Output = ()> + use<'a> {
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due {
            self.last = Some(Instant::now());
        }
        let (pool, tenant, video) = (self.pool, self.tenant, self.video);
        async move {
            let Some(total) = progress.total.filter(|t| *t > 0 && due) else {
                return;
            };
            // Below 1 until the file is in: the transcode's progress follows.
            let done = (progress.downloaded as f64 / total as f64).clamp(0.0, 0.99) as f32;
            let eta = progress
                .eta_secs
                .map(|s| OffsetDateTime::now_utc() + Duration::from_secs_f64(s.min(86_400.0)));
            let _ = imports::set_download_progress(pool, tenant, video, done, eta).await;
        }
    }
}

/// Whether yt-dlp downloads this format in fragments (HLS, DASH, …).
fn segmented(info: &Value) -> bool {
    let protocol = info["protocol"].as_str().unwrap_or_default();
    protocol.starts_with("m3u8")
        || ["dash", "f4m", "ism"].iter().any(|p| protocol.contains(p))
        || info["fragments"].is_array()
}

/// The HTTP status in a yt-dlp error (`HTTP Error 404: Not Found`).
fn http_status(said: &str) -> Option<u16> {
    let rest = said.split("HTTP Error ").nth(1)?;
    rest.get(..3)?.parse().ok()
}

fn too_long(duration: f64, max_secs: u64) -> String {
    format!(
        "the video lasts {}, longer than the import limit of {} (FERROTAPE_IMPORT_MAX_DURATION_SECS)",
        ferrotape_model::time_format::clock(duration as u64),
        ferrotape_model::time_format::clock(max_secs)
    )
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What the studio calls the imported file: its title with the downloaded extension.
fn file_name(title: &str, file: &Path) -> String {
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("mp4");
    let stem = ferrotape_model::upload::clean_file_name(title);
    let stem: String = stem.chars().take(200).collect();
    format!("{stem}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_http_status() {
        assert_eq!(
            http_status(
                "[generic] nope: Unable to download webpage: HTTP Error 404: File not found"
            ),
            Some(404)
        );
        assert_eq!(http_status("Unsupported URL: http://a/"), None);
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(100), "100 bytes");
        assert_eq!(human_bytes(20 * 1024 * 1024 * 1024), "20.0 GiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
