//! The `transcribe` job: a ready video's speech turned into an `auto` caption track by Whisper.
//!
//! A video reaching `ready` queues it in the same transaction (migration 20261203000001); the
//! studio queues it again to re-run. The source's audio is decoded once to 16 kHz mono
//! (`audio`), decoded by the model in overlapping windows (`whisper` in a child process of its
//! own, `decoder`; `stitch`) with progress
//! and an ETA on the track row, and grouped into cues (`captions`). The cues, with every word's
//! timing and probability, go into the track's row and its spoken lines into
//! `transcript_lines` for search; the published files (`publish`) are a whole WebVTT file for
//! the player's `<track>` and a segmented HLS subtitle rendition named in the master playlist
//! for every other HLS player. A silent or music-only video gives an empty track; one with no
//! audio stream at all gets none.
//!
//! The job has its own resource class and slots (`--transcribe-slots`), so captions never
//! take a transcode's place.

mod audio;
mod captions;
pub mod decoder;
pub mod publish;
mod stitch;
pub mod whisper;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_model::jobs::ResourceClass;
use ferrotape_model::subtitles::{Cue, Word};
use ferrotape_store::PgPool;
use ferrotape_store::media::MediaStore;
use ferrotape_store::subtitles::{self as tracks, TrackStart};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::MediaTools;
use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::probe;

pub use ferrotape_store::subtitles::TRANSCRIBE_JOB;

/// How transcriptions run on this worker.
#[derive(Debug, Clone)]
pub struct TranscribeSettings {
    /// The ggml model file.
    pub model: PathBuf,
    /// The executable started as `<decoder> whisper-decoder` to run Whisper
    /// (`ferrotape` and `ferrotape-worker` both are one; by default, this program).
    pub decoder: PathBuf,
    /// Transcriptions at once.
    pub slots: usize,
    /// CPU threads each one decodes with.
    pub threads: u32,
    /// Audio decoded per window, and how much two windows share.
    pub window: Duration,
    pub overlap: Duration,
}

impl Default for TranscribeSettings {
    fn default() -> Self {
        TranscribeSettings {
            model: whisper::default_model_path(std::path::Path::new("data")),
            decoder: decoder::this_program(),
            slots: 1,
            threads: default_threads(),
            window: Duration::from_secs(300),
            overlap: Duration::from_secs(10),
        }
    }
}

/// Every core up to four: whisper.cpp gains little past that on small models.
pub fn default_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get().min(4) as u32)
        .unwrap_or(2)
}

pub struct Transcribe {
    pub media: Arc<dyn MediaStore>,
    pub tools: MediaTools,
    pub settings: TranscribeSettings,
}

impl Transcribe {
    pub fn new(
        media: Arc<dyn MediaStore>,
        tools: MediaTools,
        settings: TranscribeSettings,
    ) -> Self {
        Transcribe {
            media,
            tools,
            settings,
        }
    }
}

impl JobHandler for Transcribe {
    fn kind(&self) -> &'static str {
        TRANSCRIBE_JOB
    }

    fn resource_class(&self) -> ResourceClass {
        ResourceClass::Speech
    }

    fn concurrency(&self) -> usize {
        self.settings.slots.max(1)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let media = self.media.clone();
        let tools = self.tools.clone();
        let settings = self.settings.clone();
        Box::pin(async move {
            let video: Uuid = ctx
                .job
                .payload
                .get("video_id")
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse().ok())
                .ok_or("the job has no video_id")?;
            let job = Job {
                pool: &ctx.pool,
                media: &*media,
                tools: &tools,
                settings: &settings,
                tenant: ctx.job.tenant,
                video,
            };
            job.run().await
        })
    }
}

struct Job<'a> {
    pool: &'a PgPool,
    media: &'a dyn MediaStore,
    tools: &'a MediaTools,
    settings: &'a TranscribeSettings,
    tenant: TenantId,
    video: Uuid,
}

/// Share of the progress bar the audio decode takes; Whisper takes the rest.
const DECODE_SHARE: f64 = 0.05;
/// How often progress is written while Whisper works.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

impl Job<'_> {
    async fn run(&self) -> Result<(), String> {
        let (pool, tenant, video) = (self.pool, self.tenant, self.video);
        let Some(source) = tracks::transcribable(pool, tenant, video)
            .await
            .map_err(|e| e.to_string())?
        else {
            tracing::info!(%video, "the video is gone or not ready; nothing to transcribe");
            return Ok(());
        };
        let probe = probe::parse(&serde_json::to_vec(&source.probe).unwrap_or_default())
            .map_err(|e| format!("the stored probe is unusable: {e}"))?;
        if probe.audio.is_none() {
            tracing::info!(%video, "the video has no audio; no captions to make");
            return Ok(());
        }
        // The model loads in the decoder child, once for all of this job's windows.
        let mut model = decoder::Decoder::start(
            &self.settings.decoder,
            &self.settings.model,
            self.settings.threads,
        )
        .await?;
        // English-only models know their language; a multilingual one tells it afterwards.
        let pinned = (!model.multilingual).then_some("en");
        let (track, revision) =
            match tracks::start(pool, tenant, video, pinned.unwrap_or("und"), &model.name)
                .await
                .map_err(|e| e.to_string())?
            {
                TrackStart::Started { track, revision } => (track, revision),
                TrackStart::EditedByAPerson => {
                    tracing::info!(%video, "a person's track exists for this language; it stays");
                    return Ok(());
                }
            };
        let started = Instant::now();
        let scratch = tempfile::Builder::new()
            .prefix("ferrotape-transcribe-")
            .tempdir()
            .map_err(|e| format!("no scratch space: {e}"))?;
        let source_path = self
            .media
            .readable_path(&source.source_key, scratch.path())
            .await
            .map_err(|e| e.to_string())?;
        let pcm = scratch.path().join("audio.f32");
        let duration = probe.duration_secs.max(0.001);
        audio::extract(
            self.tools,
            &source_path,
            probe.demuxer,
            &pcm,
            |secs| async move {
                let share = (secs / duration).clamp(0.0, 1.0) * DECODE_SHARE;
                self.progress(track, share, started).await;
            },
        )
        .await?;
        // Where the job's time goes, for the log line at the end (`bench/transcribe` reads it).
        let decoded_at = started.elapsed();
        let mut whisper_time = Duration::ZERO;
        let samples = audio::sample_count(&pcm).await?;
        let audio_ms = samples * 1000 / whisper::SAMPLE_RATE;

        let windows = stitch::plan(
            audio_ms,
            self.settings.window.as_millis() as u64,
            self.settings.overlap.as_millis() as u64,
        );
        let mut stitcher = stitch::Stitcher::default();
        let mut language = pinned.map(str::to_owned);
        for (i, window) in windows.iter().enumerate() {
            let samples = audio::read_window(&pcm, window.start_ms, window.end_ms).await?;
            if audio::peak(&samples) < audio::SILENCE_PEAK {
                stitcher.add(window, Vec::new());
                continue;
            }
            let window_started = Instant::now();
            let place = WindowPlace {
                track,
                started,
                index: i,
                count: windows.len(),
            };
            let heard = self
                .decode(&mut model, &pcm, window, language.as_deref(), place)
                .await?;
            whisper_time += window_started.elapsed();
            if language.is_none() {
                language = heard.language;
            }
            let shifted = heard
                .words
                .into_iter()
                .map(|w| Word {
                    start_ms: w.start_ms + window.start_ms,
                    end_ms: w.end_ms + window.start_ms,
                    ..w
                })
                .collect();
            stitcher.add(window, shifted);
        }
        let heard_at = started.elapsed();
        let cues: Vec<Cue> = captions::cues_from_words(&stitcher.finish());
        let peaks = audio::waveform(&pcm).await?;
        let language = language.unwrap_or_else(|| "und".to_owned());
        let published = publish::publish_track(
            self.media,
            scratch.path(),
            tenant,
            video,
            track,
            revision,
            &cues,
            source.duration_ms,
            Some(&peaks),
        )
        .await?;
        let finished = tracks::finish(pool, tenant, track, &language, &cues, &published)
            .await
            .map_err(|e| e.to_string())?;
        for prefix in finished.replaced_prefixes {
            if let Err(err) = self.media.delete_prefix(&prefix).await {
                tracing::warn!(%err, prefix, "cannot delete a replaced track's files");
            }
        }
        if finished.kept {
            publish::update_master(pool, self.media, scratch.path(), tenant, video).await?;
        }
        tracing::info!(
            %video, cues = cues.len(), language,
            audio_secs = audio_ms as f64 / 1000.0,
            secs = started.elapsed().as_secs_f64(),
            decode_secs = decoded_at.as_secs_f64(),
            whisper_secs = whisper_time.as_secs_f64(),
            publish_secs = (started.elapsed() - heard_at).as_secs_f64(),
            "transcribed"
        );
        Ok(())
    }

    /// Decodes one window in the decoder child, writing progress meanwhile. Dropping the
    /// future (cancel, lost lease) drops the decoder with the job, which kills the child.
    async fn decode(
        &self,
        model: &mut decoder::Decoder,
        pcm: &Path,
        window: &stitch::Window,
        language: Option<&str>,
        place: WindowPlace,
    ) -> Result<whisper::Heard, String> {
        let percent = AtomicU32::new(0);
        let heard = model.decode(pcm, window.start_ms, window.end_ms, language, &percent);
        tokio::pin!(heard);
        let mut ticker = tokio::time::interval(PROGRESS_EVERY);
        loop {
            tokio::select! {
                done = &mut heard => return done,
                _ = ticker.tick() => {
                    let within = f64::from(percent.load(Ordering::Relaxed)) / 100.0;
                    let share = DECODE_SHARE
                        + (1.0 - DECODE_SHARE) * (place.index as f64 + within) / place.count as f64;
                    self.progress(place.track, share, place.started).await;
                }
            }
        }
    }

    async fn progress(&self, track: Uuid, share: f64, started: Instant) {
        let share = share.clamp(0.0, 0.999);
        let eta = (share > 0.02).then(|| {
            let left = started.elapsed().as_secs_f64() * (1.0 - share) / share;
            OffsetDateTime::now_utc() + Duration::from_secs_f64(left.min(86_400.0))
        });
        if let Err(err) = tracks::progress(self.pool, self.tenant, track, share, eta).await {
            tracing::debug!(%err, "cannot record the transcription's progress");
        }
    }
}

/// Where a window stands in its job, for the progress bar.
struct WindowPlace {
    track: Uuid,
    started: Instant,
    index: usize,
    count: usize,
}
