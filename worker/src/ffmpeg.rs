//! Running ffmpeg through ffmpeg-sidecar: [`command`] builds an `FfmpegCommand` for the
//! configured (system) binary, [`run`] runs it, turning sidecar's progress events into
//! seconds of output written and its error lines into the failure message.
//!
//! Sidecar's event iterator blocks, so it runs on a blocking thread; the child itself stays
//! reachable from the async side through a [`KillOnDrop`] guard. A cancelled or lease-lost
//! job drops its future, and with it the guard, which kills ffmpeg at once instead of leaving
//! an encoder running for nobody.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ffmpeg_sidecar::child::FfmpegChild;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use ffmpeg_sidecar::ffmpeg_time_duration::FfmpegTimeDuration;
use tokio::sync::watch;

/// An ffmpeg command for `ffmpeg` (never a downloaded build: sidecar's download feature is
/// off), with the banner and the interactive keys off. Sidecar adds `-loglevel level+info`,
/// which its parser needs.
pub fn command(ffmpeg: &Path) -> FfmpegCommand {
    let mut command = FfmpegCommand::new_with_path(ffmpeg);
    command.hide_banner().arg("-nostdin");
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec. A worker
    // that dies outright (SIGKILL, OOM) takes its ffmpeg with it instead of leaving an orphan
    // encoding for nobody while the job is redone elsewhere.
    unsafe {
        command.as_inner_mut().pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGKILL))
                .map_err(std::io::Error::from)
        });
    }
    command
}

/// Makes a child die with this process (`PR_SET_PDEATHSIG`), like [`command`]'s ffmpeg: a
/// worker that dies outright leaves no helper (espeak-ng, yt-dlp, a one-off ffmpeg) behind.
pub fn die_with_worker(command: &mut tokio::process::Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGKILL))
                .map_err(std::io::Error::from)
        });
    }
}

/// Kills the child when dropped, unless it was already reaped.
struct KillOnDrop(Arc<Mutex<FfmpegChild>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(mut child) = self.0.lock() {
            // std does not signal a child it already reaped, so a recycled pid is never hit.
            let _ = child.kill();
        }
    }
}

/// Runs `command` to its end. `progress` receives the seconds of output written so far each
/// time ffmpeg reports them (the newest value only, if the receiver is slow). `Err` carries the
/// last error line ffmpeg printed.
pub async fn run<F, Fut>(mut command: FfmpegCommand, mut progress: F) -> Result<(), String>
where
    F: FnMut(f64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    tracing::debug!(?command, "ffmpeg");
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run ffmpeg ({e}); install ffmpeg"))?;
    // Nothing is written to stdout; left unread it would only confuse the iterator.
    drop(child.take_stdout());
    let events = match child.iter() {
        Ok(events) => events,
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cannot read ffmpeg's output: {err}"));
        }
    };
    let pid = nix::unistd::Pid::from_raw(child.as_inner().id() as i32);
    let child = Arc::new(Mutex::new(child));
    let guard = KillOnDrop(child.clone());
    let (written, mut written_rx) = watch::channel(0.0f64);
    let finished = tokio::task::spawn_blocking(move || {
        let mut errors = Vec::new();
        for event in events {
            match event {
                FfmpegEvent::Progress(p) => {
                    if let Some(time) = FfmpegTimeDuration::from_str(&p.time) {
                        written.send_replace(time.as_seconds());
                    }
                }
                FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line) => errors.push(line),
                _ => {}
            }
        }
        // stderr is closed: ffmpeg is exiting. Wait for that without reaping (the pid stays
        // ours, so the guard can never signal another process), then reap.
        let _ = nix::sys::wait::waitid(
            nix::sys::wait::Id::Pid(pid),
            nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
        );
        let status = child.lock().map_err(|_| "poisoned".to_owned())?.wait();
        let status = status.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, errors))
    });
    while written_rx.changed().await.is_ok() {
        let seconds = *written_rx.borrow_and_update();
        progress(seconds).await;
    }
    let (status, errors) = finished.await.map_err(|e| e.to_string())??;
    drop(guard);
    if status.success() {
        return Ok(());
    }
    let last = errors
        .iter()
        .rev()
        .map(|line| line.trim())
        .find(|line| !line.is_empty())
        .unwrap_or("no message");
    Err(format!("ffmpeg failed ({status}): {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Needs ffmpeg on PATH (`make test` guarantees it).
    #[tokio::test]
    async fn progress_arrives_and_success_is_reported() {
        let mut command = command(Path::new("ffmpeg"));
        command.args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x64:rate=25:duration=3",
            "-f",
            "null",
            "-",
        ]);
        let mut seen = Vec::new();
        let result = run(command, |secs| {
            seen.push(secs);
            async {}
        })
        .await;
        assert_eq!(result, Ok(()));
        assert!(
            seen.last().is_some_and(|last| *last > 2.5),
            "progress: {seen:?}"
        );
    }

    #[tokio::test]
    async fn a_failure_carries_ffmpeg_error_line() {
        let mut command = command(Path::new("ffmpeg"));
        command.args(["-i", "file:/nonexistent/input.mp4", "-f", "null", "-"]);
        let err = run(command, |_| async {}).await.unwrap_err();
        assert!(err.contains("No such file or directory"), "{err}");
    }

    #[tokio::test]
    async fn dropping_the_run_kills_ffmpeg_at_once() {
        let mut command = command(Path::new("ffmpeg"));
        // Real-time reading of an endless source: it would run forever.
        command.args(["-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25"]);
        let marker = format!("ferrotape-kill-test-{}", std::process::id());
        command.args(["-metadata", &format!("comment={marker}"), "-f", "null", "-"]);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let mut started_tx = Some(started_tx);
        let run = tokio::spawn(run(command, move |_| {
            if let Some(tx) = started_tx.take() {
                let _ = tx.send(());
            }
            async {}
        }));
        started_rx.await.expect("ffmpeg reported progress");
        let pids = processes_with_arg(&marker);
        assert_eq!(pids.len(), 1, "{pids:?}");
        run.abort();
        let deadline = Instant::now() + Duration::from_secs(5);
        while is_running(pids[0]) {
            assert!(
                Instant::now() < deadline,
                "ffmpeg still runs after the drop"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Live processes with an argument containing `marker`.
    fn processes_with_arg(marker: &str) -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).contains(&format!("comment={marker}"))
                    && is_running(*pid)
            })
            .collect()
    }

    fn is_running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                !stat
                    .split_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z'))
            })
            .unwrap_or(false)
    }
}
