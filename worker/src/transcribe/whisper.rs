//! whisper.cpp through whisper-rs: a ggml model loaded once per worker, and one window of 16 kHz
//! mono audio decoded into timed words with their probabilities.
//!
//! Decoding is CPU-bound and blocking. The `transcribe` job runs it in a decoder child process
//! (`decoder`); `cancelled` lets a caller in the same process stop it early (whisper.cpp checks
//! it between decoder steps).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrotape_model::subtitles::Word;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Audio samples per second whisper.cpp expects.
pub const SAMPLE_RATE: u64 = 16_000;

/// A loaded model.
pub struct Model {
    context: WhisperContext,
    /// The file name, recorded with each track it makes ("ggml-tiny.en.bin").
    pub name: String,
    /// English-only models (`.en`) cannot detect a language; multilingual ones can.
    pub multilingual: bool,
}

/// What one window heard.
pub struct Heard {
    /// Times relative to the start of the window.
    pub words: Vec<Word>,
    /// The language the model detected, when it can detect one.
    pub language: Option<String>,
}

impl Model {
    /// Loads a ggml model file. whisper.cpp's own log lines go to tracing.
    pub fn load(path: &Path) -> Result<Model, String> {
        whisper_rs::install_logging_hooks();
        if !path.is_file() {
            return Err(format!(
                "no Whisper model at {} (scripts/whisper-model.sh makes one; \
                 FERROTAPE_WHISPER_MODEL names another)",
                path.display()
            ));
        }
        let context = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .map_err(|e| format!("cannot load the Whisper model {}: {e}", path.display()))?;
        Ok(Model {
            multilingual: context.is_multilingual(),
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            context,
        })
    }

    /// Decodes `audio` (16 kHz mono samples). `language` pins the language (English-only
    /// models are always `en`); `None` lets a multilingual model detect it. `progress` is
    /// called with whisper.cpp's percentage for this window as it moves.
    pub fn words(
        &self,
        audio: &[f32],
        language: Option<&str>,
        threads: u32,
        mut progress: impl FnMut(u32) + 'static,
        cancelled: Arc<AtomicBool>,
    ) -> Result<Heard, String> {
        let mut state = self
            .context
            .create_state()
            .map_err(|e| format!("cannot start Whisper: {e}"))?;
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(threads.max(1) as i32);
        let language = if self.multilingual {
            language.unwrap_or("auto")
        } else {
            "en"
        };
        params.set_language(Some(language));
        params.set_token_timestamps(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        params.set_progress_callback_safe(move |percent: i32| {
            progress(percent.clamp(0, 100) as u32);
        });
        // whisper-rs 0.16's `set_abort_callback_safe` calls its trampoline with the wrong type
        // (a boxed `dyn FnMut` read as the closure), so whisper.cpp aborts at random: the raw
        // callback reads our flag directly. whisper.cpp asks it after each encoder pass and
        // each decoder step, so a stop takes effect within one of those.
        // SAFETY: the pointer is to the AtomicBool inside `cancelled`, alive for this call.
        unsafe {
            params.set_abort_callback(Some(abort_when_set));
            params.set_abort_callback_user_data(Arc::as_ptr(&cancelled) as *mut std::ffi::c_void);
        }
        state
            .full(params, audio)
            .map_err(|e| format!("Whisper failed: {e}"))?;
        if cancelled.load(Ordering::Relaxed) {
            return Err("the transcription was stopped".into());
        }
        let detected = (self.multilingual && language == "auto")
            .then(|| whisper_rs::get_lang_str(state.full_lang_id_from_state()))
            .flatten()
            .map(str::to_owned);

        let eot = self.context.token_eot();
        let mut words = Vec::new();
        for segment in state.as_iter() {
            // Whisper fills silence and music with made-up text; a segment it itself judges
            // most likely not speech is dropped.
            if segment.no_speech_probability() > NO_SPEECH_THRESHOLD {
                continue;
            }
            let mut current: Option<Pending> = None;
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else {
                    continue;
                };
                // Timestamps, end of text and the other special tokens are not speech.
                if token.token_id() >= eot {
                    continue;
                }
                let Ok(bytes) = token.to_bytes() else {
                    continue;
                };
                let data = token.token_data();
                // Token times are in 10 ms steps from the window's start.
                let (t0, t1) = (data.t0.max(0) as u64 * 10, data.t1.max(0) as u64 * 10);
                if bytes.first() == Some(&b' ') || current.is_none() {
                    if let Some(done) = current.take() {
                        push_word(&mut words, done);
                    }
                    current = Some(Pending {
                        bytes: bytes.to_vec(),
                        start_ms: t0,
                        end_ms: t1.max(t0),
                        probability: data.p,
                    });
                } else if let Some(word) = current.as_mut() {
                    // A continuation of the word (or its punctuation, or the rest of a
                    // character split between tokens).
                    word.bytes.extend_from_slice(bytes);
                    word.end_ms = word.end_ms.max(t1);
                    word.probability = word.probability.min(data.p);
                }
            }
            if let Some(done) = current.take() {
                push_word(&mut words, done);
            }
        }
        Ok(Heard {
            words,
            language: detected,
        })
    }
}

/// whisper.cpp's abort callback: stop once the flag behind `data` is set.
unsafe extern "C" fn abort_when_set(data: *mut std::ffi::c_void) -> bool {
    // SAFETY: `data` is the `AtomicBool` `words` passes, alive while `full` runs.
    let flag = unsafe { &*(data as *const AtomicBool) };
    flag.load(Ordering::Relaxed)
}

/// whisper.cpp's own default for skipping a no-speech window.
const NO_SPEECH_THRESHOLD: f32 = 0.6;

struct Pending {
    bytes: Vec<u8>,
    start_ms: u64,
    end_ms: u64,
    probability: f32,
}

/// Keeps a finished word unless it is one of Whisper's non-speech annotations (`[BLANK_AUDIO]`,
/// `[Music]`, `(upbeat music)`, `♪`), which are not words anyone said.
fn push_word(words: &mut Vec<Word>, word: Pending) {
    let text = String::from_utf8_lossy(&word.bytes).trim().to_owned();
    if text.is_empty() || is_annotation(&text) {
        return;
    }
    words.push(Word {
        start_ms: word.start_ms,
        end_ms: word.end_ms.max(word.start_ms + 1),
        text,
        probability: word.probability.clamp(0.0, 1.0),
    });
}

fn is_annotation(text: &str) -> bool {
    let bracketed = |open: char, close: char| text.starts_with(open) || text.ends_with(close);
    bracketed('[', ']')
        || bracketed('(', ')')
        || bracketed('*', '*')
        || !text.chars().any(char::is_alphanumeric) && text.chars().any(|c| "♪♫".contains(c))
}

/// Where a worker finds its model: `FERROTAPE_WHISPER_MODEL`, else the one scripts/setup
/// provisions under the data dir.
pub fn default_model_path(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join("ggml-tiny.en.bin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_not_words() {
        for text in [
            "[BLANK_AUDIO]",
            "[Music]",
            "(upbeat",
            "music)",
            "*laughs*",
            "♪",
        ] {
            assert!(is_annotation(text), "{text}");
        }
        for text in ["hello", "world.", "'cause", "5", "C++"] {
            assert!(!is_annotation(text), "{text}");
        }
    }
}
