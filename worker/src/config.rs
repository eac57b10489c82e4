//! Worker settings, shared by `ferrotape-worker` and the server's in-process worker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrotape_store::import_policy::{self, AllowEntry, ImportPolicy};

use crate::retry::RetryPolicy;
use crate::transcribe::TranscribeSettings;

#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// GPU jobs (transcodes) this worker runs at once.
    #[arg(long, env = "FERROTAPE_GPU_SLOTS", value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=64))]
    pub gpu_slots: u32,

    /// GPU jobs running at once across every worker sharing the database.
    #[arg(long, env = "FERROTAPE_GPU_FLEET_CAP", value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(0..=10000))]
    pub gpu_fleet_cap: u32,

    /// Seconds a claimed job stays ours without a heartbeat; a crashed worker's jobs return
    /// to the queue this long after its last heartbeat.
    #[arg(long, env = "FERROTAPE_JOB_LEASE_SECS", value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub job_lease_secs: u64,

    /// How often the queue is polled when no notification arrives.
    #[arg(long, env = "FERROTAPE_POLL_INTERVAL_MS", value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=60000))]
    pub poll_interval_ms: u64,

    /// Never LISTEN, only poll (for PgBouncer in transaction mode, which drops LISTEN).
    #[arg(long, env = "FERROTAPE_POLL_ONLY", default_value_t = false)]
    pub poll_only: bool,

    /// Seconds the first retry waits (doubling with each failed attempt, up to an hour).
    #[arg(
        long,
        env = "FERROTAPE_RETRY_BASE_SECS",
        value_name = "SECS",
        default_value_t = 5.0
    )]
    pub retry_base_secs: f64,

    /// The ffmpeg binary transcodes run (the system's, never a downloaded one).
    #[arg(
        long,
        env = "FERROTAPE_FFMPEG",
        value_name = "PATH",
        default_value = "ffmpeg"
    )]
    pub ffmpeg: PathBuf,

    /// The ffprobe binary that inspects uploads.
    #[arg(
        long,
        env = "FERROTAPE_FFPROBE",
        value_name = "PATH",
        default_value = "ffprobe"
    )]
    pub ffprobe: PathBuf,

    /// Days completed, cancelled and discarded jobs are kept (shown at /admin/jobs) before the
    /// hourly retention job deletes them.
    #[arg(long, env = "FERROTAPE_RETAIN_FINISHED_JOBS_DAYS", value_name = "DAYS",
          default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retain_finished_jobs_days: u32,

    /// Days expired or revoked refresh tokens and used or expired mailed links are kept.
    #[arg(long, env = "FERROTAPE_RETAIN_SPENT_TOKENS_DAYS", value_name = "DAYS",
          default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retain_spent_tokens_days: u32,

    /// Days sent mail stays in the outbox (its body is erased on sending already).
    #[arg(long, env = "FERROTAPE_RETAIN_SENT_MAIL_DAYS", value_name = "DAYS",
          default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retain_sent_mail_days: u32,

    /// Days the player's raw analytics events are kept (whole daily partitions are dropped);
    /// views and the hourly/daily rollups the dashboards read stay.
    #[arg(long, env = "FERROTAPE_RETAIN_ANALYTICS_EVENTS_DAYS", value_name = "DAYS",
          default_value_t = 90, value_parser = clap::value_parser!(u32).range(3..=3650))]
    pub retain_analytics_events_days: u32,

    /// Days platform events (VID_UPLOAD, VID_READY, VID_VIEW, …) stay in the admins' log.
    #[arg(long, env = "FERROTAPE_RETAIN_PLATFORM_EVENTS_DAYS", value_name = "DAYS",
          default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retain_platform_events_days: u32,

    /// yt-dlp, which URL imports download with. Default: the one scripts/setup.sh installs
    /// ($FERROTAPE_VENV or ~/.cache/ferrotape/venv, bin/yt-dlp), else `yt-dlp` on PATH.
    #[arg(long, env = "FERROTAPE_YT_DLP", value_name = "PATH")]
    pub yt_dlp: Option<PathBuf>,

    /// Private destinations URL imports may reach nevertheless (comma-separated `host`,
    /// `host:port` or CIDR ranges, e.g. `media.internal,127.0.0.1:8080,10.1.0.0/16`).
    /// Loopback, private, link-local, unique-local, CGNAT, multicast and reserved addresses
    /// are refused otherwise, at every redirect. The server's API checks pasted URLs with it
    /// too: give servers and workers the same list.
    #[arg(long, env = "FERROTAPE_IMPORT_ALLOW_HOSTS", value_name = "LIST", value_delimiter = ',',
          value_parser = AllowEntry::parse)]
    pub import_allow_hosts: Vec<AllowEntry>,

    /// The largest file a URL import may download, in bytes (yt-dlp's --max-filesize, and
    /// counted on the wire).
    #[arg(long, env = "FERROTAPE_IMPORT_MAX_BYTES", value_name = "BYTES",
          default_value_t = import_policy::DEFAULT_MAX_BYTES)]
    pub import_max_bytes: u64,

    /// The longest video a URL import accepts, in seconds (from the metadata before the
    /// download when known, and from the probe after it).
    #[arg(long, env = "FERROTAPE_IMPORT_MAX_DURATION_SECS", value_name = "SECS",
          default_value_t = import_policy::DEFAULT_MAX_DURATION_SECS)]
    pub import_max_duration_secs: u64,

    /// URL imports this worker downloads at once (network-bound; they never take a GPU slot).
    #[arg(long, env = "FERROTAPE_IMPORT_SLOTS", value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub import_slots: u32,

    /// The Whisper model (whisper.cpp's ggml format) captions are made with. Default:
    /// models/ggml-tiny.en.bin in the data dir (the server's --data-dir; ./data for a
    /// separate worker), which scripts/whisper-model.sh provisions.
    #[arg(long, env = "FERROTAPE_WHISPER_MODEL", value_name = "FILE")]
    pub whisper_model: Option<PathBuf>,

    /// Transcriptions this worker runs at once (their own slots: never a transcode's).
    #[arg(long, env = "FERROTAPE_TRANSCRIBE_SLOTS", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub transcribe_slots: u32,

    /// CPU threads each transcription decodes with. Default: the cores, at most 4.
    #[arg(long, env = "FERROTAPE_TRANSCRIBE_THREADS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub transcribe_threads: Option<u32>,

    /// Seconds of audio decoded per window (long talks are decoded window by window, with
    /// progress after each one).
    #[arg(long, env = "FERROTAPE_TRANSCRIBE_WINDOW_SECS", value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(10..=3600))]
    pub transcribe_window_secs: u64,
}

/// How URL imports run.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub yt_dlp: PathBuf,
    pub policy: ImportPolicy,
    pub slots: usize,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            yt_dlp: default_yt_dlp(),
            policy: ImportPolicy::default(),
            slots: 2,
        }
    }
}

/// The yt-dlp scripts/setup.sh installs into the project's venv, else the one on PATH.
pub fn default_yt_dlp() -> PathBuf {
    let venv = std::env::var_os("FERROTAPE_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/ferrotape/venv"))
        });
    venv.map(|v| v.join("bin/yt-dlp"))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("yt-dlp"))
}

/// The media tools jobs and upload checks run.
#[derive(Debug, Clone)]
pub struct MediaTools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Default for MediaTools {
    fn default() -> Self {
        MediaTools {
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub gpu_slots: usize,
    pub gpu_fleet_cap: i64,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub poll_only: bool,
    pub retry: RetryPolicy,
    /// How long running jobs may finish after shutdown before they are released.
    pub shutdown_grace: Duration,
    pub tools: MediaTools,
    pub retention: crate::retention::RetentionPolicy,
    pub import: ImportSettings,
    pub transcribe: TranscribeSettings,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            gpu_slots: 2,
            gpu_fleet_cap: 16,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            poll_only: false,
            retry: RetryPolicy::default(),
            shutdown_grace: Duration::from_secs(10),
            tools: MediaTools::default(),
            retention: crate::retention::RetentionPolicy::default(),
            import: ImportSettings::default(),
            transcribe: TranscribeSettings::default(),
        }
    }
}

impl From<&WorkerArgs> for WorkerConfig {
    fn from(args: &WorkerArgs) -> Self {
        WorkerConfig {
            gpu_slots: args.gpu_slots as usize,
            gpu_fleet_cap: i64::from(args.gpu_fleet_cap),
            lease: Duration::from_secs(args.job_lease_secs),
            poll_interval: Duration::from_millis(args.poll_interval_ms),
            poll_only: args.poll_only,
            retry: RetryPolicy {
                base: Duration::from_secs_f64(args.retry_base_secs.clamp(0.01, 3600.0)),
                ..RetryPolicy::default()
            },
            tools: MediaTools {
                ffmpeg: args.ffmpeg.clone(),
                ffprobe: args.ffprobe.clone(),
            },
            retention: crate::retention::RetentionPolicy {
                finished_jobs: days(args.retain_finished_jobs_days),
                spent_tokens: days(args.retain_spent_tokens_days),
                sent_mail: days(args.retain_sent_mail_days),
                analytics_events: days(args.retain_analytics_events_days),
                platform_events: days(args.retain_platform_events_days),
            },
            import: ImportSettings {
                yt_dlp: args.yt_dlp.clone().unwrap_or_else(default_yt_dlp),
                policy: ImportPolicy {
                    allow: args.import_allow_hosts.clone(),
                    max_bytes: args.import_max_bytes.max(1),
                    max_duration_secs: args.import_max_duration_secs.max(1),
                },
                slots: args.import_slots as usize,
            },
            transcribe: TranscribeSettings {
                model: args.whisper_model.clone().unwrap_or_else(|| {
                    crate::transcribe::whisper::default_model_path(Path::new("data"))
                }),
                decoder: crate::transcribe::decoder::this_program(),
                slots: args.transcribe_slots as usize,
                threads: args
                    .transcribe_threads
                    .unwrap_or_else(crate::transcribe::default_threads),
                window: Duration::from_secs(args.transcribe_window_secs),
                // Long enough for several words of context on each side of the cut.
                overlap: Duration::from_secs(args.transcribe_window_secs.min(100) / 10),
            },
            ..WorkerConfig::default()
        }
    }
}

fn days(n: u32) -> Duration {
    Duration::from_secs(u64::from(n) * 24 * 3600)
}
