//! The audio Whisper hears: the source's first audio stream decoded once by ffmpeg to 16 kHz
//! mono 32-bit float samples in a scratch file, read back one window at a time; and the
//! waveform the subtitle editor draws, computed from the same samples in the same pass.

use std::io::SeekFrom;
use std::path::Path;

use tokio::io::AsyncReadExt;

use super::whisper::SAMPLE_RATE;
use crate::config::MediaTools;
use crate::probe;

/// Waveform peaks per second: 10 ms each, enough to see syllables at the editor's closest zoom
/// (a second across the timeline) while a 90-minute talk stays ~540 KB.
pub const PEAKS_PER_SECOND: u64 = 100;

/// Decodes the source's audio into `out` (raw f32le samples). `progress` gets the seconds
/// decoded so far.
pub async fn extract<F, Fut>(
    tools: &MediaTools,
    source: &Path,
    demuxer: &str,
    out: &Path,
    progress: F,
) -> Result<(), String>
where
    F: FnMut(f64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut command = crate::ffmpeg::command(&tools.ffmpeg);
    command.args(probe::confined_input_args(demuxer));
    command.args(["-f", demuxer, "-i"]);
    command.arg(probe::file_url(source));
    command.args([
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-ar",
        "16000",
        "-c:a",
        "pcm_f32le",
        "-f",
        "f32le",
        "-y",
    ]);
    command.arg(probe::file_url(out));
    crate::ffmpeg::run(command, progress)
        .await
        .map_err(|e| format!("cannot decode the audio: {e}"))
}

/// Samples in an extracted file.
pub async fn sample_count(file: &Path) -> Result<u64, String> {
    let len = tokio::fs::metadata(file)
        .await
        .map_err(|e| format!("the decoded audio is missing: {e}"))?
        .len();
    Ok(len / 4)
}

/// Reads the samples of `start_ms..end_ms`.
pub async fn read_window(file: &Path, start_ms: u64, end_ms: u64) -> Result<Vec<f32>, String> {
    let file = file.to_owned();
    tokio::task::spawn_blocking(move || read_window_blocking(&file, start_ms, end_ms))
        .await
        .map_err(|e| e.to_string())?
}

/// [`read_window`] for a caller without a runtime (the decoder child).
pub fn read_window_blocking(file: &Path, start_ms: u64, end_ms: u64) -> Result<Vec<f32>, String> {
    use std::io::{Read, Seek};
    let first = start_ms * SAMPLE_RATE / 1000;
    let last = end_ms * SAMPLE_RATE / 1000;
    let fail = |e: std::io::Error| format!("cannot read the decoded audio: {e}");
    let mut reader = std::fs::File::open(file).map_err(fail)?;
    reader.seek(SeekFrom::Start(first * 4)).map_err(fail)?;
    let mut bytes = Vec::with_capacity(((last - first) * 4) as usize);
    reader
        .take((last - first) * 4)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    Ok(samples(&bytes))
}

fn samples(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The loudest sample of `audio`, 0 to 1: a window that never rises above a whisper of noise
/// is not sent to the model at all (it would only make up words for silence).
pub fn peak(audio: &[f32]) -> f32 {
    audio
        .iter()
        .fold(
            0.0f32,
            |m, s| if s.is_finite() { m.max(s.abs()) } else { m },
        )
        .min(1.0)
}

/// Below this peak a window counts as silence (about −54 dBFS).
pub const SILENCE_PEAK: f32 = 0.002;

/// The waveform of the whole file: one byte per 10 ms, the loudest sample in it scaled to 0–255.
pub async fn waveform(file: &Path) -> Result<Vec<u8>, String> {
    let per_peak = (SAMPLE_RATE / PEAKS_PER_SECOND) as usize;
    let mut reader = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("cannot read the decoded audio: {e}"))?;
    let mut peaks = Vec::new();
    // A multiple of one peak's bytes, so no peak straddles two reads.
    let mut buf = vec![0u8; per_peak * 4 * 1024];
    let mut filled = 0;
    loop {
        let n = reader
            .read(&mut buf[filled..])
            .await
            .map_err(|e| format!("cannot read the decoded audio: {e}"))?;
        filled += n;
        if filled == buf.len() || (n == 0 && filled > 0) {
            let whole = filled / 4 * 4;
            for chunk in samples(&buf[..whole]).chunks(per_peak) {
                peaks.push((peak(chunk) * 255.0).round() as u8);
            }
            filled = 0;
        }
        if n == 0 {
            return Ok(peaks);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn file_of(samples: &[f32]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        tokio::fs::write(file.path(), bytes).await.unwrap();
        file
    }

    #[tokio::test]
    async fn windows_read_the_samples_of_their_time() {
        // 2 s: the first second at 0.25, the second at -0.5.
        let mut audio = vec![0.25f32; 16_000];
        audio.extend(vec![-0.5f32; 16_000]);
        let file = file_of(&audio).await;
        assert_eq!(sample_count(file.path()).await.unwrap(), 32_000);
        let window = read_window(file.path(), 900, 1_100).await.unwrap();
        assert_eq!(window.len(), 3_200);
        assert_eq!(window[0], 0.25);
        assert_eq!(window[3_199], -0.5);
        // Past the end: only what is there.
        assert_eq!(
            read_window(file.path(), 1_500, 5_000).await.unwrap().len(),
            8_000
        );
    }

    #[tokio::test]
    async fn the_waveform_has_a_peak_per_10_ms() {
        let mut audio = vec![0.0f32; 1_600];
        audio.extend(vec![1.0f32; 160]);
        audio.extend(vec![-0.5f32; 100]); // a last, partial peak
        let file = file_of(&audio).await;
        let peaks = waveform(file.path()).await.unwrap();
        assert_eq!(peaks.len(), 12);
        assert!(peaks[..10].iter().all(|&p| p == 0));
        assert_eq!(peaks[10], 255);
        assert_eq!(peaks[11], 128);
    }

    #[test]
    fn silence_and_nonsense_samples_have_no_peak() {
        assert_eq!(peak(&[0.0, f32::NAN, -0.001]), 0.001);
        assert!(peak(&[0.0; 100]) < SILENCE_PEAK);
    }
}
