//! Auto-captions: a talk with espeak-ng speech is transcribed by the real Whisper model
//! (`FERROTAPE_TEST_WHISPER_MODEL`, provisioned by `make test`) in the worker, in several
//! windows; its track, master playlist, watch page and transcript lines show the words. A
//! silent video gets an empty track, one with no audio none, and a missing model a clear
//! failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::TestApp;
use ferrotape_model::TenantId;
use ferrotape_model::subtitles::Cue;
use ferrotape_worker::transcribe::TranscribeSettings;

const T: TenantId = TenantId::DEFAULT;

fn model() -> PathBuf {
    let path = std::env::var_os("FERROTAPE_TEST_WHISPER_MODEL")
        .map(PathBuf::from)
        .expect(
            "FERROTAPE_TEST_WHISPER_MODEL must name the ggml model (make test provisions it with \
         scripts/whisper-model.sh)",
        );
    assert!(path.is_file(), "no model at {}", path.display());
    path
}

fn run(command: &mut Command) {
    let output = command.output().expect("the tool runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A 320x180 clip whose sound is `audio` (a file, or a lavfi source when `lavfi`).
fn clip(dir: &Path, name: &str, audio: Option<(&str, bool)>) -> PathBuf {
    let out = dir.join(name);
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg.args([
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "color=c=navy:size=320x180:rate=25",
    ]);
    match audio {
        Some((source, true)) => {
            ffmpeg.args(["-f", "lavfi", "-i", source, "-t", "6"]);
        }
        Some((file, false)) => {
            ffmpeg.args(["-i", file, "-shortest"]);
        }
        None => {
            ffmpeg.args(["-t", "3"]);
        }
    }
    ffmpeg.args([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    ]);
    if audio.is_some() {
        ffmpeg.args(["-c:a", "aac"]);
    }
    run(ffmpeg.arg(&out));
    out
}

fn speech(dir: &Path, text: &str) -> PathBuf {
    let wav = dir.join("speech.wav");
    run(Command::new("espeak-ng")
        .args(["-s", "140", "-w"])
        .arg(&wav)
        .arg(text));
    wav
}

/// Imports `file` into a new published talk and runs the worker until its transcription is
/// over (or none was queued). Returns the talk's slug and the video's id.
async fn transcribe(
    app: &TestApp,
    slug: &str,
    file: &Path,
    settings: TranscribeSettings,
) -> uuid::Uuid {
    common::insert_talk(
        &app.pool,
        T,
        slug,
        slug,
        Some(time::OffsetDateTime::now_utc()),
        &[],
    )
    .await;
    let tools = ferrotape_worker::MediaTools::default();
    let imported =
        ferrotape_server::import::import_video(&app.pool, &*app.media, &tools, T, slug, file)
            .await
            .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: Duration::from_millis(100),
        retry: ferrotape_worker::retry::RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_millis(200),
        },
        transcribe: settings,
        ..ferrotape_worker::WorkerConfig::default()
    };
    let worker = tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        config,
        stopped,
    ));
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (video_state, job_state): (String, Option<String>) = sqlx::query_as(
            "SELECT v.state::text, (SELECT j.state::text FROM jobs j WHERE j.kind = 'transcribe'
                                     AND j.payload ->> 'video_id' = v.id::text
                                     ORDER BY j.id DESC LIMIT 1)
             FROM videos v WHERE v.id = $1",
        )
        .bind(imported.video)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_ne!(video_state, "failed", "the transcode failed");
        if matches!(
            job_state.as_deref(),
            Some("completed" | "discarded" | "cancelled")
        ) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {video_state}, transcription {job_state:?}"
        );

        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    worker.await.unwrap();
    imported.video
}

fn settings(window_secs: u64, overlap_secs: u64) -> TranscribeSettings {
    TranscribeSettings {
        model: model(),
        decoder: env!("CARGO_BIN_EXE_ferrotape").into(),
        slots: 1,
        threads: 2,
        window: Duration::from_secs(window_secs),
        overlap: Duration::from_secs(overlap_secs),
    }
}

type TrackRow = (
    String,
    String,
    String,
    Option<String>,
    serde_json::Value,
    Option<String>,
    Option<String>,
);

async fn tracks(app: &TestApp, video: uuid::Uuid) -> Vec<TrackRow> {
    sqlx::query_as(
        "SELECT language, origin::text, state::text, failure_reason, cues, vtt_key, playlist_key
         FROM subtitle_tracks WHERE video_id = $1",
    )
    .bind(video)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[tokio::test]
async fn spoken_words_become_an_auto_track_in_the_master_the_page_and_the_transcript() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let wav = speech(
        dir.path(),
        "Hello everyone. Welcome to the conference. Today we talk about video streaming. \
         First we look at the encoder. Then we measure the network. \
         Thank you very much for listening.",
    );
    let file = clip(dir.path(), "talk.mp4", Some((wav.to_str().unwrap(), false)));
    // 8 s windows with 3 s of overlap: a ~15 s talk is decoded in three windows and stitched.
    let video = transcribe(&app, "speech", &file, settings(8, 3)).await;

    let tracks = tracks(&app, video).await;
    assert_eq!(tracks.len(), 1, "{tracks:?}");
    let (language, origin, state, failure, cues, vtt_key, playlist_key) = &tracks[0];
    assert_eq!(
        (language.as_str(), origin.as_str(), state.as_str()),
        ("en", "auto", "ready"),
        "{failure:?}"
    );
    let cues: Vec<Cue> = serde_json::from_value(cues.clone()).unwrap();
    assert!(!cues.is_empty());
    let said: Vec<String> = cues.iter().flat_map(|c| words_of(&c.text)).collect();
    for expected in [
        "welcome",
        "conference",
        "video",
        "encoder",
        "network",
        "listening",
    ] {
        assert_eq!(
            said.iter().filter(|w| *w == expected).count(),
            1,
            "{expected:?} once in {said:?} (nothing lost or doubled at the window cuts)"
        );
    }
    for cue in &cues {
        assert!(cue.start_ms < cue.end_ms && cue.end_ms <= 20_000, "{cue:?}");
        assert!(!cue.words.is_empty());
        for word in &cue.words {
            assert!((0.0..=1.0).contains(&word.probability), "{word:?}");
            assert!(
                word.start_ms >= cue.start_ms && word.end_ms <= cue.end_ms,
                "{word:?} in {cue:?}"
            );
        }
    }
    for pair in cues.windows(2) {
        assert!(
            pair[0].end_ms <= pair[1].start_ms,
            "cues in order without overlap: {pair:?}"
        );
    }

    // The whole-file track and the HLS rendition are stored, and the master names it.
    let media = app.media_dir.path();
    let vtt = std::fs::read_to_string(media.join(vtt_key.as_ref().unwrap())).unwrap();
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    assert!(vtt.to_lowercase().contains("welcome"), "{vtt}");
    let playlist = std::fs::read_to_string(media.join(playlist_key.as_ref().unwrap())).unwrap();
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    let segment = playlist
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    let folder = Path::new(playlist_key.as_ref().unwrap()).parent().unwrap();
    let segment = std::fs::read_to_string(media.join(folder).join(segment)).unwrap();
    assert!(
        segment.starts_with("WEBVTT") && segment.contains("X-TIMESTAMP-MAP"),
        "{segment}"
    );
    let (master_key,): (String,) = sqlx::query_as("SELECT master_key FROM videos WHERE id = $1")
        .bind(video)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let master = std::fs::read_to_string(media.join(&master_key)).unwrap();
    assert!(master.contains("TYPE=SUBTITLES"), "{master}");
    assert!(
        master.contains("LANGUAGE=\"en\"") && master.contains("English (auto)"),
        "{master}"
    );
    let uri = master
        .lines()
        .find(|l| l.contains("TYPE=SUBTITLES"))
        .and_then(|l| l.split("URI=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let resolved = media
        .join(Path::new(&master_key).parent().unwrap())
        .join(uri);
    assert_eq!(
        std::fs::canonicalize(resolved).unwrap(),
        std::fs::canonicalize(media.join(playlist_key.as_ref().unwrap())).unwrap()
    );
    for variant in master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
    {
        assert!(variant.contains("SUBTITLES=\"subs\""), "{variant}");
    }
    // The player's <track> is served by /media as text/vtt.
    let page = app.get("/talks/speech").await;
    let track_url = format!("/media/{}", vtt_key.as_ref().unwrap());
    assert!(
        page.body.contains(&format!("src=\"{track_url}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("kind=\"subtitles\""));
    let served = app.get(&track_url).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "text/vtt; charset=utf-8");
    assert_eq!(served.body, vtt);

    // The spoken lines are stored for search.
    let lines: Vec<(i64, String)> = sqlx::query_as(
        "SELECT start_ms, text FROM transcript_lines WHERE video_id = $1 ORDER BY start_ms",
    )
    .bind(video)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(lines.len(), cues.len());
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM transcript_lines WHERE video_id = $1
           AND search @@ websearch_to_tsquery('english', 'conference')",
    )
    .bind(video)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(found, 1);

    // The watch page lists the transcript, each line linked to its moment, and its JSON-LD
    // carries it.
    assert!(
        page.body.contains("class=\"transcript-list\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"?t=") && page.body.contains("\"transcript\":\"Hello"),
        "{}",
        page.body
    );
    // The catalog finds the talk by a word only said in it, with the line and its moment.
    let search = app.get("/?q=streaming").await;
    assert!(search.body.contains("talk-card-spoken"), "{}", search.body);
    let line = lines
        .iter()
        .find(|(_, text)| text.to_lowercase().contains("streaming"))
        .unwrap();
    let at = format!(
        "href=\"/talks/speech?t={}\"",
        ferrotape_model::time_format::share_time(line.0 as u64 / 1000)
    );
    assert!(search.body.contains(&at), "{at} in {}", search.body);
    assert!(
        search
            .body
            .to_lowercase()
            .contains("<mark>streaming</mark>"),
        "{}",
        search.body
    );
}

#[tokio::test]
async fn silence_gives_an_empty_track_and_no_audio_no_track() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let silent = clip(
        dir.path(),
        "silent.mp4",
        Some(("anullsrc=r=48000:cl=stereo", true)),
    );
    let video = transcribe(&app, "silent", &silent, settings(300, 10)).await;
    let tracks_of_silence = tracks(&app, video).await;
    assert_eq!(tracks_of_silence.len(), 1, "{tracks_of_silence:?}");
    let (_, _, state, failure, cues, ..) = &tracks_of_silence[0];
    assert_eq!(state, "ready", "{failure:?}");
    assert_eq!(cues, &serde_json::json!([]));
    // An empty track is not offered to viewers.
    let page = app.get("/talks/silent").await;
    assert!(!page.body.contains("kind=\"subtitles\""), "{}", page.body);

    let mute = clip(dir.path(), "mute.mp4", None);
    let video = transcribe(&app, "mute", &mute, settings(300, 10)).await;
    assert!(tracks(&app, video).await.is_empty());
}

#[tokio::test]
async fn a_missing_model_fails_the_job_with_a_clear_error_and_the_video_stays_ready() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = clip(dir.path(), "tone.mp4", Some(("sine=frequency=300", true)));
    let settings = TranscribeSettings {
        model: dir.path().join("no-such-model.bin"),
        ..settings(300, 10)
    };
    let video = transcribe(&app, "no-model", &file, settings).await;
    let (state, error) = transcription_outcome(&app, video).await;
    assert_eq!(state, "discarded");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("no Whisper model at"),
        "{error}"
    );
    let (video_state,): (String,) = sqlx::query_as("SELECT state::text FROM videos WHERE id = $1")
        .bind(video)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(video_state, "ready");
}

/// The transcribe job's state and its last attempt's error.
async fn transcription_outcome(app: &TestApp, video: uuid::Uuid) -> (String, serde_json::Value) {
    sqlx::query_as(
        "SELECT state::text, errors[cardinality(errors)] FROM jobs
         WHERE kind = 'transcribe' AND payload ->> 'video_id' = $1",
    )
    .bind(video.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// 16 kHz mono samples of `seconds` of espeak-ng speech (the job's audio format).
fn speech_samples(dir: &Path, seconds: u32) -> Vec<f32> {
    let once = speech(
        dir,
        "We keep talking about encoders, networks and players for a long while.",
    );
    let raw = dir.join("speech.f32");
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-stream_loop", "-1", "-i"])
        .arg(&once)
        .args([
            "-t",
            &seconds.to_string(),
            "-ac",
            "1",
            "-ar",
            "16000",
            "-f",
            "f32le",
        ])
        .arg(&raw));
    std::fs::read(raw)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[tokio::test]
async fn a_stopped_decode_ends_at_once_and_a_cancelled_job_fails_its_track() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let dir = tempfile::tempdir().unwrap();
    // Whisper itself: 90 s of speech take it many seconds; stopped after its first percent, it
    // returns within a moment.
    let samples = speech_samples(dir.path(), 90);
    let model = Arc::new(ferrotape_worker::transcribe::whisper::Model::load(&model()).unwrap());
    let (percent, stop) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let decode = std::thread::spawn({
        let (model, percent, stop) = (model.clone(), percent.clone(), stop.clone());
        move || {
            let report = move |now| percent.store(now, Ordering::Relaxed);
            model.words(&samples, None, 2, report, stop)
        }
    });
    let started = Instant::now();
    while percent.load(Ordering::Relaxed) == 0 {
        assert!(!decode.is_finished(), "the decode ended before it started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The first progress report comes after the first of three 30 s passes: the rest would
    // take about twice as long again. Stopped, it ends within the pass it is in.
    let (stopped_at, before_stop) = (Instant::now(), started.elapsed());
    let reached = percent.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let result = decode.join().unwrap();
    let took = stopped_at.elapsed();
    assert!(result.is_err(), "a stopped decode is no result");
    assert!(
        took < before_stop,
        "the decode went on for {took:?} after the stop ({before_stop:?} to reach {reached} %)"
    );
    assert!(percent.load(Ordering::Relaxed) < 60, "it stopped early");

    // The job: cancelled while Whisper works, it ends cancelled and its track failed.
    let app = TestApp::spawn().await;
    let long = dir.path().join("long.wav");
    run(Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "f32le", "-ar", "16000", "-ac", "1", "-i",
        ])
        .arg(dir.path().join("speech.f32"))
        .arg(&long));
    let file = clip(
        dir.path(),
        "long.mp4",
        Some((long.to_str().unwrap(), false)),
    );
    common::insert_talk(
        &app.pool,
        T,
        "long",
        "long",
        Some(time::OffsetDateTime::now_utc()),
        &[],
    )
    .await;
    let tools = ferrotape_worker::MediaTools::default();
    let imported =
        ferrotape_server::import::import_video(&app.pool, &*app.media, &tools, T, "long", &file)
            .await
            .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: Duration::from_millis(100),
        lease: Duration::from_secs(3),
        transcribe: settings(300, 10),
        ..ferrotape_worker::WorkerConfig::default()
    };
    let worker = tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        config,
        stopped,
    ));
    let deadline = Instant::now() + Duration::from_secs(120);
    let job: i64 = loop {
        let row: Option<(i64, f32)> = sqlx::query_as(
            "SELECT j.id, t.progress FROM jobs j JOIN subtitle_tracks t ON t.video_id = $1
             WHERE j.kind = 'transcribe' AND j.state = 'running' AND j.payload ->> 'video_id' = $1::text",
        )
        .bind(imported.video)
        .fetch_optional(&app.pool)
        .await
        .unwrap();
        if let Some((id, progress)) = row
            && progress > 0.06
        {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "the transcription never got going"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ferrotape_store::jobs::cancel(&app.pool, T, job)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (state,): (String,) = sqlx::query_as("SELECT state::text FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if state == "cancelled" {
            break;
        }
        assert!(Instant::now() < deadline, "the job is still {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (state, reason): (String, Option<String>) = sqlx::query_as(
        "SELECT state::text, failure_reason FROM subtitle_tracks WHERE video_id = $1",
    )
    .bind(imported.video)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (state.as_str(), reason.as_deref()),
        ("failed", Some("the transcription was cancelled"))
    );
    // Whisper's process is gone with the job: no core stays busy for nobody.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !decoder_children().is_empty() {
        assert!(Instant::now() < deadline, "the decoder still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    worker.await.unwrap();
}

/// This test process's children running as Whisper decoders.
fn decoder_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned));
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            parent.as_deref() == Some(me.as_str())
                && String::from_utf8_lossy(&cmdline).contains("whisper-decoder")
        })
        .collect()
}

#[tokio::test]
async fn a_crashing_whisper_fails_its_job_with_its_last_words_and_the_worker_goes_on() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = clip(dir.path(), "tone.mp4", Some(("sine=frequency=300", true)));
    // A decoder that loads, takes a window and dies as whisper.cpp does on a failed assertion.
    let decoder = dir.path().join("crashing-decoder");
    std::fs::write(
        &decoder,
        "#!/bin/sh\n\
         read setup\n\
         echo '{\"ready\":{\"name\":\"ggml-fake.bin\",\"multilingual\":false}}'\n\
         read request\n\
         echo 'GGML_ASSERT: the tensor shapes differ' >&2\n\
         kill -ABRT $$\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &decoder,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let settings = TranscribeSettings {
        decoder,
        ..settings(300, 10)
    };
    let video = transcribe(&app, "crash", &file, settings).await;
    let (state, error) = transcription_outcome(&app, video).await;
    assert_eq!(state, "discarded");
    let error = error["error"].as_str().unwrap();
    assert!(
        error.contains("signal: 6") && error.contains("GGML_ASSERT: the tensor shapes differ"),
        "{error}"
    );
    let (track_state, video_state): (String, String) = sqlx::query_as(
        "SELECT t.state::text, v.state::text FROM subtitle_tracks t JOIN videos v ON v.id = t.video_id
         WHERE v.id = $1",
    )
    .bind(video)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (track_state.as_str(), video_state.as_str()),
        ("failed", "ready")
    );
}
