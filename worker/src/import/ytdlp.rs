//! Running yt-dlp for an import: the metadata (`-J`), then the download of exactly what that
//! metadata describes (`--load-info-json`), with progress.
//!
//! yt-dlp runs with no configuration file, no cache, through the checking proxy, with one
//! format that needs no merging (`-f b`) and without ffmpeg (`--ffmpeg-location` names
//! nothing): ffmpeg would open what the download contains, unconfined, and some of its
//! protocols ignore the proxy. HLS is fetched by yt-dlp's own downloader instead
//! (`--hls-prefer-native`), segment by segment through the proxy.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Reading a page's metadata; far beyond any healthy answer.
const METADATA_TIMEOUT: Duration = Duration::from_secs(180);
/// A download that makes no progress for this long is given up.
const STALL_TIMEOUT: Duration = Duration::from_secs(300);

/// The prefix of the progress lines our template prints.
const PROGRESS_MARK: &str = "[ferrotape-progress]";

/// How yt-dlp failed.
#[derive(Debug)]
pub enum Failure {
    /// yt-dlp cannot be run at all (not installed): the job's error, retried.
    Missing(String),
    /// yt-dlp ran and gave up; its last error line.
    Said(String),
}

/// The options of every run.
fn common_args(proxy: &str, scratch: &Path) -> Vec<String> {
    [
        "--ignore-config",
        "--no-cache-dir",
        "--no-playlist",
        "--no-mtime",
        "--no-warnings",
        "--socket-timeout",
        "30",
        "--retries",
        "3",
        "--fragment-retries",
        "3",
        "--hls-prefer-native",
        "-f",
        "b",
        "--proxy",
        proxy,
        "--ffmpeg-location",
    ]
    .into_iter()
    .map(String::from)
    .chain([scratch.join("no-ffmpeg").display().to_string()])
    .collect()
}

fn command(yt_dlp: &Path, args: &[String]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(yt_dlp);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // yt-dlp's own proxy variables must not override ours.
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .kill_on_drop(true);
    crate::ffmpeg::die_with_worker(&mut command);
    command
}

fn missing(yt_dlp: &Path, err: std::io::Error) -> Failure {
    Failure::Missing(format!(
        "cannot run yt-dlp ({}: {err}); run scripts/setup.sh or set FERROTAPE_YT_DLP",
        yt_dlp.display()
    ))
}

/// The last `ERROR:` line yt-dlp printed, without its prefix.
fn error_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("ERROR: "))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("yt-dlp failed without saying why")
        .trim()
        .chars()
        .take(1000)
        .collect()
}

/// The metadata of `url` (`yt-dlp -J`).
pub async fn metadata(
    yt_dlp: &Path,
    proxy: &str,
    scratch: &Path,
    url: &str,
) -> Result<Value, Failure> {
    let mut args = common_args(proxy, scratch);
    args.extend(["-J".into(), "--".into(), url.into()]);
    let output = tokio::time::timeout(METADATA_TIMEOUT, command(yt_dlp, &args).output())
        .await
        .map_err(|_| Failure::Said("reading the page took too long".into()))?
        .map_err(|e| missing(yt_dlp, e))?;
    if !output.status.success() {
        return Err(Failure::Said(error_line(&String::from_utf8_lossy(
            &output.stderr,
        ))));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| Failure::Said(format!("yt-dlp's metadata is unreadable: {e}")))
}

/// Progress of a download: bytes so far, the total when known, seconds left when known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub downloaded: u64,
    pub total: Option<u64>,
    pub eta_secs: Option<f64>,
}

fn parse_progress(line: &str) -> Option<Progress> {
    let mut fields = line.strip_prefix(PROGRESS_MARK)?.split_whitespace();
    let number = |s: Option<&str>| s.and_then(|s| s.parse::<f64>().ok()).filter(|n| *n >= 0.0);
    let downloaded = number(fields.next())? as u64;
    let total = number(fields.next());
    let estimate = number(fields.next());
    let eta_secs = number(fields.next());
    Some(Progress {
        downloaded,
        total: total.or(estimate).map(|t| t as u64),
        eta_secs,
    })
}

/// What a download left in its folder.
#[derive(Debug)]
pub struct Downloaded {
    pub media: Option<PathBuf>,
    pub thumbnail: Option<PathBuf>,
    /// yt-dlp refused the file as larger than `--max-filesize`.
    pub over_max_filesize: bool,
}

/// Downloads what `info` (from [`metadata`]) describes into `dir` as `media.*`, and its
/// thumbnail, calling `progress` for each progress line. `max_filesize` is yt-dlp's own
/// limit, which it checks against the size a server announces.
pub async fn download<F, Fut>(
    yt_dlp: &Path,
    proxy: &str,
    scratch: &Path,
    info: &Path,
    dir: &Path,
    max_filesize: Option<u64>,
    mut progress: F,
) -> Result<Downloaded, Failure>
where
    F: FnMut(Progress) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut args = common_args(proxy, scratch);
    args.extend([
        "--load-info-json".into(),
        info.display().to_string(),
        "--write-thumbnail".into(),
        "--newline".into(),
        "--progress-template".into(),
        format!(
            "download:{PROGRESS_MARK} %(progress.downloaded_bytes)s %(progress.total_bytes)s \
             %(progress.total_bytes_estimate)s %(progress.eta)s"
        ),
        "-o".into(),
        dir.join("media.%(ext)s").display().to_string(),
    ]);
    if let Some(limit) = max_filesize {
        args.extend(["--max-filesize".into(), limit.to_string()]);
    }
    let mut child = command(yt_dlp, &args)
        .spawn()
        .map_err(|e| missing(yt_dlp, e))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if text.len() < 64 * 1024 {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    });
    let mut lines = BufReader::new(stdout).lines();
    let mut over_max_filesize = false;
    loop {
        match tokio::time::timeout(STALL_TIMEOUT, lines.next_line()).await {
            Err(_) => return Err(Failure::Said("the download stalled".into())),
            Ok(Ok(Some(line))) => {
                if let Some(p) = parse_progress(&line) {
                    progress(p).await;
                } else if line.contains("larger than max-filesize") {
                    over_max_filesize = true;
                }
            }
            Ok(_) => break,
        }
    }
    let status = child.wait().await.map_err(|e| missing(yt_dlp, e))?;
    let stderr = errors.await.unwrap_or_default();
    if !status.success() {
        return Err(Failure::Said(error_line(&stderr)));
    }
    let mut media = None;
    let mut thumbnail = None;
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(|e| Failure::Said(e.to_string()))?;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        match extension.as_str() {
            "part" | "ytdl" | "json" => {}
            "jpg" | "jpeg" | "png" | "webp" | "gif" | "bmp" => thumbnail = Some(path),
            _ => media = Some(path),
        }
    }
    Ok(Downloaded {
        media,
        thumbnail,
        over_max_filesize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_give_bytes_total_and_eta() {
        assert_eq!(
            parse_progress("[ferrotape-progress] 3072 258834 NA 4"),
            Some(Progress {
                downloaded: 3072,
                total: Some(258834),
                eta_secs: Some(4.0)
            })
        );
        assert_eq!(
            parse_progress("[ferrotape-progress] 31744 NA 288148.0 NA"),
            Some(Progress {
                downloaded: 31744,
                total: Some(288148),
                eta_secs: None
            })
        );
        assert_eq!(parse_progress("[download] 10%"), None);
    }

    #[test]
    fn the_last_error_line_is_what_went_wrong() {
        assert_eq!(
            error_line("WARNING: x\nERROR: Unsupported URL: http://a/\n"),
            "Unsupported URL: http://a/"
        );
    }
}
