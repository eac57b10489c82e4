//! Recording to VOD: every few seconds this server looks at the live session folders it holds
//! (`<data dir>/live/hls/<stream>/<session>`). A session no longer on air is finished: when
//! its stream records, the runs' copies of the push (`r{n}/recording.ts`, written by the live
//! transcoder as a second output) are joined without re-encoding into one file, a draft talk
//! titled after the stream is created for it, and the file takes the path every upload takes
//! (`worker::ingest`: probed, stored as the source, the single-decode ladder, thumbnails and
//! captions queued). Then the folder is removed. A session that was not recorded, or whose
//! stream was deleted, is removed too.
//!
//! Only the server whose transcoder wrote a folder sees it, so with several replicas each
//! finishes its own sessions; a folder survives restarts, so a recording is made even when
//! the server stopped mid-stream. `recording.json` in the folder names the talk and video once
//! they exist, so a retry after a failure reuses them instead of making a second talk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrotape_store::live::{self, RecordingTalk, SessionFate};
use tokio::sync::watch;
use uuid::Uuid;

use super::transcoder::{RECORDING_FILE, run_numbers};
use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(5);
const MARKER: &str = "recording.json";
const JOINED: &str = "recording.mp4";

pub async fn run(state: AppState, stop: watch::Receiver<bool>) {
    let Some(root) = state
        .live_transcoders
        .as_ref()
        .map(|t| t.settings().root.clone())
    else {
        return;
    };
    crate::periodic::every(EVERY, stop, || finish_sessions(&state, &root)).await;
}

/// Every `(stream, session, folder)` under `root`.
fn session_folders(root: &Path) -> Vec<(Uuid, Uuid, PathBuf)> {
    let mut found = Vec::new();
    for stream in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let Some(stream_id) = stream.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        for session in std::fs::read_dir(stream.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Some(session_id) = session.file_name().to_str().and_then(|n| n.parse().ok()) {
                found.push((stream_id, session_id, session.path()));
            }
        }
    }
    found
}

async fn finish_sessions(state: &AppState, root: &Path) {
    for (stream, session, folder) in session_folders(root) {
        let fate = match live::session_fate(&state.db, stream).await {
            Ok(fate) => fate,
            Err(err) => {
                tracing::warn!(%err, "cannot check the live sessions; trying again later");
                return;
            }
        };
        let writing = state
            .live_transcoders
            .as_ref()
            .is_some_and(|t| t.is_running(stream, session));
        if writing || fate.as_ref().is_some_and(|f| f.on_air == Some(session)) {
            continue;
        }
        let done = match fate {
            Some(fate) if fate.record => match record(state, stream, session, &folder, &fate).await
            {
                Ok(done) => done,
                Err(err) => {
                    tracing::error!(%stream, %session, err, "the live recording could not be finished; trying again later");
                    false
                }
            },
            _ => true,
        };
        if done {
            if let Err(err) = tokio::fs::remove_dir_all(&folder).await {
                tracing::warn!(%stream, %session, %err, "cannot remove a finished live session's folder");
            }
            // The stream's folder goes once its last session has.
            if let Some(parent) = folder.parent() {
                let _ = tokio::fs::remove_dir(parent).await;
            }
        }
    }
}

/// The session's recorded runs, in order (runs whose push brought no bytes are left out).
pub fn recorded_runs(session: &Path) -> Vec<PathBuf> {
    run_numbers(session)
        .into_iter()
        .map(|n| session.join(format!("r{n}")).join(RECORDING_FILE))
        .filter(|file| std::fs::metadata(file).is_ok_and(|m| m.len() > 0))
        .collect()
}

/// The concat demuxer's list of `files` (our own paths; quotes escaped as it documents).
pub fn concat_list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|file| {
            let path = file.display().to_string().replace('\'', "'\\''");
            format!("file '{path}'\n")
        })
        .collect()
}

/// Makes the session's recording a draft talk; `Ok(true)` when the folder may go.
async fn record(
    state: &AppState,
    stream: Uuid,
    session: Uuid,
    folder: &Path,
    fate: &SessionFate,
) -> Result<bool, String> {
    let runs = recorded_runs(folder);
    let marker = folder.join(MARKER);
    let existing: Option<RecordingTalk> = tokio::fs::read(&marker)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if runs.is_empty() && existing.is_none() {
        tracing::info!(%stream, %session, "the live session has nothing recorded");
        return Ok(true);
    }
    let joined = folder.join(JOINED);
    if !joined.exists() {
        join_runs(&state.tools.ffmpeg, folder, &runs, &joined).await?;
    }
    let recording = match existing {
        Some(recording) => recording,
        None => {
            let recording = live::create_recording_talk(&state.db, stream, session, fate)
                .await
                .map_err(|e| e.to_string())?;
            let json = serde_json::to_vec(&recording).map_err(|e| e.to_string())?;
            tokio::fs::write(&marker, json)
                .await
                .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
            recording
        }
    };
    let outcome = ferrotape_worker::ingest::ingest(
        &state.db,
        &*state.media,
        &state.tools,
        fate.tenant,
        recording.video,
        &joined,
        |_| Ok(()),
    )
    .await?;
    match outcome {
        ferrotape_worker::ingest::Ingested::Queued { job, .. } => {
            tracing::info!(%stream, %session, talk = %recording.talk, job, "the live recording became a draft talk; its transcode is queued");
        }
        ferrotape_worker::ingest::Ingested::NotPlayable(reason) => {
            tracing::warn!(%stream, %session, talk = %recording.talk, %reason, "the live recording is not playable");
        }
    }
    Ok(true)
}

/// Joins the runs' copies into `out` without re-encoding (the concat demuxer shifts each
/// run's timestamps after the previous one).
async fn join_runs(
    ffmpeg: &Path,
    folder: &Path,
    runs: &[PathBuf],
    out: &Path,
) -> Result<(), String> {
    let list = folder.join("recording.txt");
    tokio::fs::write(&list, concat_list(runs))
        .await
        .map_err(|e| format!("cannot write {}: {e}", list.display()))?;
    let partial = folder.join("recording.part.mp4");
    let mut command = tokio::process::Command::new(ffmpeg);
    command
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "concat", "-safe", "0", "-protocol_whitelist", "file"])
        .arg("-i")
        .arg(&list)
        .args([
            "-map",
            "0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ])
        .arg(&partial)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    ferrotape_worker::ffmpeg::die_with_worker(&mut command);
    let output = command
        .output()
        .await
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the recorded runs could not be joined: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    tokio::fs::rename(&partial, out)
        .await
        .map_err(|e| format!("cannot keep the joined recording: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_bytes_are_joined_in_order_and_quotes_are_escaped() {
        let dir = tempfile::tempdir().unwrap();
        for (run, bytes) in [(0, 10), (1, 0), (2, 5), (10, 3)] {
            let folder = dir.path().join(format!("r{run}"));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(RECORDING_FILE), vec![0u8; bytes]).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("r3")).unwrap();
        let runs = recorded_runs(dir.path());
        let names: Vec<String> = runs
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["r0", "r2", "r10"]);
        let list = concat_list(&[PathBuf::from("/d/it's/r0/recording.ts")]);
        assert_eq!(list, "file '/d/it'\\''s/r0/recording.ts'\n");
    }
}
