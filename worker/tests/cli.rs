//! The `ferrotape-worker` binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrotape-worker");

#[test]
fn help_explains_how_a_worker_finds_the_database() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("DATABASE_URL"), "{help}");
    assert!(help.contains("FERROTAPE_LOG_FORMAT"), "{help}");
}

#[test]
fn without_a_database_url_it_refuses_clearly() {
    let out = Command::new(BIN)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DATABASE_URL is not set"), "{stderr}");
}

#[test]
fn it_connects_logs_json_and_stops_on_sigterm() {
    let Ok(url) = std::env::var("FERROTAPE_TEST_DATABASE_URL") else {
        panic!("FERROTAPE_TEST_DATABASE_URL is not set: run the tests with `make test`");
    };
    let mut child = Command::new(BIN)
        .env("DATABASE_URL", url)
        .env("FERROTAPE_LOG_FORMAT", "json")
        .env(
            "FERROTAPE_DATA_DIR",
            std::env::temp_dir().join("ferrotape-cli-test"),
        )
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let started = loop {
        assert!(Instant::now() < deadline, "no start-up line");
        let line = lines.next().expect("stderr closed early").unwrap();
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if event["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("worker started"))
        {
            break event;
        }
    };
    assert_eq!(started["level"], "INFO");
    assert!(
        started["worker"].as_str().is_some_and(|w| w.contains(':')),
        "worker id is host:pid: {started}"
    );

    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("worker stopped")),
        "{rest:?}"
    );
}
