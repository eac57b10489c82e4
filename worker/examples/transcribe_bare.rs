//! Whisper alone: the same model and threads as the `transcribe` job, decoding a whole file of
//! 16 kHz mono f32 samples (what the job's ffmpeg step writes) in one `full` call, with no
//! windows, database, cue building or storage. `bench/transcribe` compares the job with it.
//!
//!   transcribe_bare MODEL SAMPLES.f32 THREADS   prints `bare_s = …` and `bare_words = …`

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use ferrotape_worker::transcribe::whisper::Model;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, samples, threads] = &args[..] else {
        eprintln!("usage: transcribe_bare MODEL SAMPLES.f32 THREADS");
        std::process::exit(2);
    };
    let bytes = std::fs::read(samples).expect("the samples file is readable");
    let audio: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let threads: u32 = threads.parse().expect("THREADS is a number");
    let started = Instant::now();
    let model = Model::load(model.as_ref()).expect("the model loads");
    let heard = model
        .words(
            &audio,
            None,
            threads,
            |_| {},
            Arc::new(AtomicBool::new(false)),
        )
        .expect("Whisper decodes");
    println!("bare_s = {:.3}", started.elapsed().as_secs_f64());
    println!("bare_words = {}", heard.words.len());
}
