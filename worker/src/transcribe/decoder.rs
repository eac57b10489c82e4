//! Whisper in a process of its own: the worker starts `<program> whisper-decoder` (the running
//! executable itself, by default) once per job and hands it windows of the decoded audio.
//!
//! Why a child process rather than a thread:
//! - whisper.cpp aborts its whole process on an internal assertion; in the embedded default the
//!   worker shares the web server's process, which must survive that. A dead child is one
//!   failed job with its last stderr lines, and the server keeps serving.
//! - Cancelling is killing the child, at once, and the model's memory (up to gigabytes for the
//!   larger models) goes back with it instead of staying in the server between jobs.
//!
//! The protocol is one JSON object per line. The parent first sends `{"model":…,"threads":…}`
//! (on stdin rather than as arguments, so no program mistakes them for arguments of its own:
//! a test binary reads extra arguments as test filters). The child answers `{"ready":{…}}` (the
//! model's name and whether it is multilingual) or `{"failed":"…"}`. For each window the parent sends
//! `{"audio":…,"start_ms":…,"end_ms":…,"language":…}`; the child answers with any number of
//! `{"progress":N}` lines, then `{"heard":{…}}` or `{"failed":"…"}`. It exits when its stdin
//! closes.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use ferrotape_model::subtitles::Word;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::whisper::{self, Heard};

/// The first argument that makes `ferrotape` or `ferrotape-worker` a decoder child.
pub const DECODER_ARG: &str = "whisper-decoder";

/// The executable to start as the decoder when none is configured: this very program, by
/// its name (so `ps` shows it), or `/proc/self/exe` once an upgrade replaced the file.
pub fn this_program() -> PathBuf {
    match std::env::current_exe() {
        Ok(path) if path.is_file() => path,
        _ => PathBuf::from("/proc/self/exe"),
    }
}

#[derive(Serialize, Deserialize)]
struct Setup {
    model: PathBuf,
    threads: u32,
}

#[derive(Serialize, Deserialize)]
struct Request {
    audio: PathBuf,
    start_ms: u64,
    end_ms: u64,
    language: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Ready {
    name: String,
    multilingual: bool,
}

#[derive(Serialize, Deserialize)]
struct HeardMessage {
    words: Vec<Word>,
    language: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Message {
    Ready(Ready),
    Progress(u32),
    Heard(HeardMessage),
    Failed(String),
}

/// Runs this process as a decoder child when its first argument asks for it (both binaries
/// call this before parsing their flags); `None` otherwise.
pub fn child_main_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != DECODER_ARG || args.next().is_some() {
        return None;
    }
    Some(serve())
}

fn say(message: &Message) {
    let mut line = serde_json::to_string(message).expect("messages serialise");
    line.push('\n');
    let mut out = std::io::stdout().lock();
    // A parent that went away reads nothing more; the next read of stdin ends the child.
    let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
}

fn serve() -> ExitCode {
    let mut lines = std::io::stdin().lock().lines();
    let setup = match lines.next() {
        Some(Ok(line)) => serde_json::from_str::<Setup>(&line),
        _ => return ExitCode::SUCCESS,
    };
    let Setup { model, threads } = match setup {
        Ok(setup) => setup,
        Err(err) => {
            say(&Message::Failed(format!(
                "a setup the decoder cannot read: {err}"
            )));
            return ExitCode::from(2);
        }
    };
    let model = match whisper::Model::load(&model) {
        Ok(model) => model,
        Err(err) => {
            say(&Message::Failed(err));
            return ExitCode::FAILURE;
        }
    };
    say(&Message::Ready(Ready {
        name: model.name.clone(),
        multilingual: model.multilingual,
    }));
    for line in lines {
        let Ok(line) = line else { break };
        let answer = match serde_json::from_str::<Request>(&line) {
            Ok(request) => decode_request(&model, threads, request),
            Err(err) => Message::Failed(format!("a request the decoder cannot read: {err}")),
        };
        say(&answer);
    }
    ExitCode::SUCCESS
}

fn decode_request(model: &whisper::Model, threads: u32, request: Request) -> Message {
    let samples = match super::audio::read_window_blocking(
        &request.audio,
        request.start_ms,
        request.end_ms,
    ) {
        Ok(samples) => samples,
        Err(err) => return Message::Failed(err),
    };
    let percent = Arc::new(AtomicU32::new(0));
    let reporter = {
        let percent = percent.clone();
        move |now: u32| {
            if percent.swap(now, Ordering::Relaxed) != now {
                say(&Message::Progress(now));
            }
        }
    };
    match model.words(
        &samples,
        request.language.as_deref(),
        threads,
        reporter,
        Arc::new(AtomicBool::new(false)),
    ) {
        Ok(heard) => Message::Heard(HeardMessage {
            words: heard.words,
            language: heard.language,
        }),
        Err(err) => Message::Failed(err),
    }
}

/// The parent's handle on a running decoder child. Dropping it kills the child.
pub struct Decoder {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    /// The model's file name, recorded with each track it makes.
    pub name: String,
    /// English-only models (`.en`) cannot detect a language; multilingual ones can.
    pub multilingual: bool,
}

/// What the child last wrote to stderr, kept for an error message.
const STDERR_TAIL: usize = 2_000;

impl Decoder {
    /// Starts the child and waits until its model is loaded.
    pub async fn start(program: &Path, model: &Path, threads: u32) -> Result<Decoder, String> {
        let mut child = Command::new(program)
            .arg(DECODER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start the Whisper decoder {}: {e}",
                    program.display()
                )
            })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut setup = serde_json::to_string(&Setup {
            model: model.to_owned(),
            threads,
        })
        .expect("the setup serialises");
        setup.push('\n');
        // A child that died at once says why below, in the error for its missing answer.
        let _ = stdin.write_all(setup.as_bytes()).await;
        let lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = tokio::spawn(async move {
            let mut text = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                text.extend_from_slice(&buf[..n]);
                if text.len() > 2 * STDERR_TAIL {
                    text.drain(..text.len() - STDERR_TAIL);
                }
            }
            let start = text.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&text[start..]).trim().to_owned()
        });
        let mut decoder = Decoder {
            child,
            stdin,
            lines,
            stderr,
            name: String::new(),
            multilingual: false,
        };
        match decoder.next_message().await? {
            Message::Ready(ready) => {
                decoder.name = ready.name;
                decoder.multilingual = ready.multilingual;
                Ok(decoder)
            }
            Message::Failed(err) => Err(err),
            _ => Err(decoder
                .broken("an answer before its model was loaded")
                .await),
        }
    }

    /// Decodes `start_ms..end_ms` of the raw f32le samples in `audio`. `progress` gets
    /// whisper.cpp's percentage for the window as it moves.
    pub async fn decode(
        &mut self,
        audio: &Path,
        start_ms: u64,
        end_ms: u64,
        language: Option<&str>,
        progress: &AtomicU32,
    ) -> Result<Heard, String> {
        let mut line = serde_json::to_string(&Request {
            audio: audio.to_owned(),
            start_ms,
            end_ms,
            language: language.map(str::to_owned),
        })
        .expect("requests serialise");
        line.push('\n');
        if self.stdin.write_all(line.as_bytes()).await.is_err() {
            return Err(self.broken("its input closed").await);
        }
        loop {
            match self.next_message().await? {
                Message::Progress(now) => progress.store(now.min(100), Ordering::Relaxed),
                Message::Heard(heard) => {
                    return Ok(Heard {
                        words: heard.words,
                        language: heard.language,
                    });
                }
                Message::Failed(err) => return Err(err),
                Message::Ready(_) => return Err(self.broken("a second ready").await),
            }
        }
    }

    async fn next_message(&mut self) -> Result<Message, String> {
        match self.lines.next_line().await {
            Ok(Some(line)) => match serde_json::from_str(&line) {
                Ok(message) => Ok(message),
                Err(_) => Err(self.broken("output that is not its protocol").await),
            },
            Ok(None) | Err(_) => Err(self.broken("no answer").await),
        }
    }

    /// The error for a child that stopped keeping to the protocol: how it ended and the last
    /// thing it wrote to stderr (whisper.cpp's assertion, for one).
    async fn broken(&mut self, what: &str) -> String {
        let _ = self.child.start_kill();
        let status = match self.child.wait().await {
            Ok(status) => status.to_string(),
            Err(err) => err.to_string(),
        };
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        let mut message = format!("the Whisper decoder stopped ({status}) after {what}");
        if !stderr.is_empty() {
            message.push_str(": ");
            message.push_str(&stderr);
        }
        message
    }
}
