//! The `ferrotape` binary as a newcomer runs it: embedded PostgreSQL under the data dir, a
//! restart after SIGKILL, a clean stop on SIGTERM, and clear errors for bad configuration.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrotape");

/// A data dir the `postgres` user can reach even when the tests run as root.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ferrotape-embedded-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ferrotape(data: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FERROTAPE_DATA_DIR", data)
        .env("FERROTAPE_LOG", "warn")
        .env("FERROTAPE_SITE_ROOT", data.join("no-site"))
        // Tests run servers side by side: only the ingest test runs one, on a port of its own.
        .env("FERROTAPE_LIVE_INGEST", "off");
    command
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response))
}

struct Server {
    child: Child,
    port: u16,
    /// Everything the server wrote to stderr so far, read by a thread of its own.
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut server = Server::spawn(data);
        server.wait_ready();
        server
    }

    fn spawn(data: &Path) -> Server {
        Server::spawn_with(data, &[])
    }

    fn spawn_with(data: &Path, envs: &[(&str, String)]) -> Server {
        let port = free_port();
        let mut child = ferrotape(data)
            .env("FERROTAPE_BIND", format!("127.0.0.1:{port}"))
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Server {
            child,
            port,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(self.port, "/readyz") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                panic!("server exited with {status}: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server not ready in time: {}", self.stderr());
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Live postgres processes serving the cluster under `data`.
fn postgres_processes_on(data: &Path) -> Vec<i32> {
    let cluster = std::fs::canonicalize(data).unwrap().join("postgres");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<PathBuf> = cmdline
                .split(|b| *b == 0)
                .map(|a| PathBuf::from(String::from_utf8_lossy(a).into_owned()))
                .collect();
            args.first().is_some_and(|a| a.ends_with("postgres")) && args.contains(&cluster)
        })
        .collect()
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn first_start_creates_the_cluster_and_a_killed_server_restarts_with_its_data() {
    let data = data_dir();
    let seeded = run(ferrotape(data.path()).arg("seed-demo"));
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(String::from_utf8_lossy(&seeded.stdout).contains("added 5 demo talks"));
    assert!(
        data.path().join("postgres/PG_VERSION").exists(),
        "cluster lives under the data dir"
    );
    assert!(
        postgres_processes_on(data.path()).is_empty(),
        "seed-demo stops its cluster"
    );

    let server = Server::start(data.path());
    assert!(
        data.path().join("media").is_dir(),
        "local media storage lives under the data dir"
    );
    let (status, catalog) = http_get(server.port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(catalog.contains("Postgres is a fine queue"));

    // SIGKILL: no chance to clean up. The database must not outlive it, and a restart works.
    server.signal(nix::sys::signal::Signal::SIGKILL);
    drop(server);
    wait_until("the orphaned cluster stops", || {
        postgres_processes_on(data.path()).is_empty()
    });

    let mut again = Server::start(data.path());
    let (_, catalog) = http_get(again.port, "/").unwrap();
    assert!(
        catalog.contains("Postgres is a fine queue"),
        "data survived the kill"
    );

    // Seeding again while the server runs attaches to its database, adds nothing, and leaves
    // the server's database running.
    let reseeded = run(ferrotape(data.path()).arg("seed-demo"));
    assert!(
        reseeded.status.success(),
        "{}",
        String::from_utf8_lossy(&reseeded.stderr)
    );
    assert!(String::from_utf8_lossy(&reseeded.stdout).contains("added 0 demo talks"));
    assert_eq!(http_get(again.port, "/readyz").unwrap().0, 200);

    // SIGTERM: graceful stop, exit 0, database stopped.
    again.signal(nix::sys::signal::Signal::SIGTERM);
    let status = again.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(postgres_processes_on(data.path()).is_empty());
}

#[test]
fn a_stale_pid_file_from_a_crashed_database_is_cleared() {
    let data = data_dir();
    let server = Server::start(data.path());
    // A child of the database that is still exiting when the server restarts keeps its shared
    // memory attached, and PostgreSQL refuses to start beside it. The test plays that child.
    let straggler = SharedMemoryHold::attach(&data.path().join("postgres/postmaster.pid"));
    // Kill the database itself hard, then the server: postmaster.pid stays behind.
    for pid in postgres_processes_on(data.path()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    server.signal(nix::sys::signal::Signal::SIGKILL);
    drop(server);
    wait_until("postgres is gone", || {
        postgres_processes_on(data.path()).is_empty()
    });
    assert!(data.path().join("postgres/postmaster.pid").exists());

    let mut again = Server::spawn(data.path());
    wait_until("the server waits for the straggler", || {
        assert!(
            again.child.try_wait().unwrap().is_none(),
            "the server gave up: {}",
            again.stderr()
        );
        again.stderr().contains("let go of its shared memory")
    });
    drop(straggler);
    again.wait_ready();
    assert_eq!(http_get(again.port, "/readyz").unwrap().0, 200);
}

/// The test attached to a PostgreSQL's System V shared memory segment, as one of its children is.
struct SharedMemoryHold(*mut libc::c_void);

impl SharedMemoryHold {
    fn attach(pid_file: &Path) -> SharedMemoryHold {
        let text = std::fs::read_to_string(pid_file).unwrap();
        // Line 7 of postmaster.pid: the segment's key and id.
        let shmid: i32 = text
            .lines()
            .nth(6)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        // SAFETY: attaches read-only at an address the kernel picks; nothing reads through it.
        let address = unsafe { libc::shmat(shmid, std::ptr::null(), libc::SHM_RDONLY) };
        assert_ne!(
            address as isize,
            -1,
            "shmat: {}",
            std::io::Error::last_os_error()
        );
        SharedMemoryHold(address)
    }
}

impl Drop for SharedMemoryHold {
    fn drop(&mut self) {
        // SAFETY: detaches the address `shmat` returned, once.
        unsafe { libc::shmdt(self.0) };
    }
}

/// `curl` with a cookie jar, as a signed-in browser on `port`; returns status and body.
fn curl(port: u16, jar: &Path, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    let mut command = Command::new("curl");
    command
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .arg("-c")
        .arg(jar)
        .arg("-b")
        .arg(jar)
        .arg("-H")
        .arg(format!("origin: http://127.0.0.1:{port}"));
    if let Some(json) = json {
        command.args(["-H", "content-type: application/json", "--data", json]);
    }
    let out = run(command.arg(format!("http://127.0.0.1:{port}{path}")));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.trim().parse().unwrap(), body.to_owned())
}

/// What a test push carries.
#[derive(Clone, Copy)]
enum Tracks {
    PictureAndTone,
    ToneOnly,
    PictureOnly,
}

/// ffmpeg pushing a test picture and tone over RTMP for `seconds`.
fn push(rtmp: u16, key: &str, seconds: u32) -> Child {
    push_tracks(rtmp, key, seconds, Tracks::PictureAndTone)
}

/// ffmpeg pushing `tracks` over RTMP for `seconds`.
fn push_tracks(rtmp: u16, key: &str, seconds: u32, tracks: Tracks) -> Child {
    let (picture, tone) = match tracks {
        Tracks::PictureAndTone => (true, true),
        Tracks::ToneOnly => (false, true),
        Tracks::PictureOnly => (true, false),
    };
    let mut command = Command::new("ffmpeg");
    command.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"]);
    if picture {
        command.args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"]);
    }
    if tone {
        command.args(["-f", "lavfi", "-i", "sine=frequency=440"]);
    }
    command.args(["-t", &seconds.to_string()]);
    if picture {
        command.args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "50"]);
    }
    if tone {
        command.args(["-c:a", "aac"]);
    }
    command
        .args(["-f", "flv", &format!("rtmp://127.0.0.1:{rtmp}/live/{key}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A server with its RTMP ingest on, listening on the returned RTMP port, whose sessions end
/// (and whose recordings become talks) 2 s after the last push; nginx runs under the returned
/// prefix.
fn live_server(data: &Path) -> (Server, u16, PathBuf) {
    let rtmp = free_port();
    let mut server = Server::spawn_with(
        data,
        &[
            ("FERROTAPE_LIVE_INGEST", "on".into()),
            ("FERROTAPE_RTMP_BIND", format!("127.0.0.1:{rtmp}")),
            ("FERROTAPE_LIVE_RECONNECT_SECS", "2".into()),
        ],
    );
    server.wait_ready();
    let prefix = std::fs::canonicalize(data).unwrap().join("live/nginx");
    wait_until("nginx listens", || {
        TcpStream::connect(("127.0.0.1", rtmp)).is_ok()
    });
    (server, rtmp, prefix)
}

/// Creates an editor and signs them in; returns their cookie jar.
fn signed_in_editor(server: &Server, data: &Path) -> PathBuf {
    let password = "a long enough password for the ingest test";
    let out = run(ferrotape(data)
        .args([
            "admin",
            "create-user",
            "--email",
            "live@example.com",
            "--name",
            "Live",
        ])
        .args(["--role", "editor"])
        .env("FERROTAPE_NEW_USER_PASSWORD", password));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jar = data.join("cookies");
    let login = format!(r#"{{"email":"live@example.com","password":"{password}"}}"#);
    assert_eq!(
        curl(
            server.port,
            &jar,
            "POST",
            "/api/v1/auth/login",
            Some(&login)
        )
        .0,
        200
    );
    jar
}

/// Creates a stream titled `title`; returns its id and stream key.
fn create_stream(port: u16, jar: &Path, title: &str) -> (String, String) {
    let (status, body) = curl(
        port,
        jar,
        "POST",
        "/api/v1/live/streams",
        Some(&serde_json::json!({ "title": title }).to_string()),
    );
    assert_eq!(status, 201, "{body}");
    let stream: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = stream["id"].as_str().unwrap().to_owned();
    let (_, body) = curl(
        port,
        jar,
        "GET",
        &format!("/api/v1/live/streams/{id}/key"),
        None,
    );
    let key = serde_json::from_str::<serde_json::Value>(&body).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, key)
}

/// The stream's state as its owner sees it.
fn stream_state(port: u16, jar: &Path, id: &str) -> String {
    let (_, body) = curl(
        port,
        jar,
        "GET",
        &format!("/api/v1/live/streams/{id}"),
        None,
    );
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The talk titled `title`, as its editor lists it.
fn talk_titled(port: u16, jar: &Path, title: &str) -> Option<serde_json::Value> {
    let (_, body) = curl(port, jar, "GET", "/api/v1/talks", None);
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    page["items"]
        .as_array()?
        .iter()
        .find(|talk| talk["title"] == title)
        .cloned()
}

/// Waits (a transcode on a loaded 2-core machine may take a while) until the talk titled
/// `title` has a ready video, and returns it.
fn ready_talk_titled(server: &Server, jar: &Path, title: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let talk = talk_titled(server.port, jar, title);
        if let Some(talk) = talk.filter(|talk| talk["video"]["state"] == "ready") {
            return talk;
        }
        assert!(
            Instant::now() < deadline,
            "the video of {title:?} is not ready: {:?}\n{}",
            talk_titled(server.port, jar, title),
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn nginx_processes_under(prefix: &Path) -> usize {
    let prefix = prefix.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.starts_with("nginx") && cmdline.contains(&prefix)
        })
        .count()
}

#[test]
fn the_server_runs_an_rtmp_ingest_that_lets_only_a_streams_key_push() {
    let data = data_dir();
    let (mut server, rtmp, prefix) = live_server(data.path());
    assert!(nginx_processes_under(&prefix) > 0);
    let jar = signed_in_editor(&server, data.path());
    let (id, key) = create_stream(server.port, &jar, "Ingest test");
    let state = |jar: &Path| stream_state(server.port, jar, &id);

    // A push with a key that is not the stream's is refused at once.
    let refused = push(rtmp, "live_notakeyofoursnotakeyofoursnotakeyofoursnot", 5)
        .wait_with_output()
        .unwrap();
    assert!(!refused.status.success(), "a bad key pushed");
    assert_eq!(state(&jar), "idle");

    // The stream's key goes live; regenerating it cuts the push long before its 30 s end.
    let mut good = push(rtmp, &key, 30);
    wait_until("the stream is live", || state(&jar) == "live");

    // Anyone watches it: the master names the session's rendition, whose playlist grows by
    // 1 s segments that are served.
    let viewer = data.path().join("viewer-cookies");
    let master_path = format!("/live/{id}/master.m3u8");
    wait_until("the live master is served", || {
        curl(server.port, &viewer, "GET", &master_path, None).0 == 200
    });
    let (_, master) = curl(server.port, &viewer, "GET", &master_path, None);
    let rendition = master
        .lines()
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or_else(|| panic!("no rendition in {master}"));
    assert!(rendition.ends_with("/180p/index.m3u8"), "{master}");
    let rendition_path = format!("/live/{id}/{rendition}");
    let playlist = || curl(server.port, &viewer, "GET", &rendition_path, None).1;
    wait_until("three segments are listed", || {
        playlist().matches("#EXTINF:").count() >= 3
    });
    let listed = playlist();
    assert!(listed.contains("#EXT-X-TARGETDURATION:1\n"), "{listed}");
    assert!(!listed.contains("#EXT-X-ENDLIST"), "{listed}");
    let segment = listed.lines().last().unwrap();
    let segment_path = format!(
        "/live/{id}/{}/{segment}",
        rendition.trim_end_matches("/index.m3u8")
    );
    assert_eq!(
        curl(server.port, &viewer, "GET", &segment_path, None).0,
        200,
        "{segment_path}"
    );
    for hostile in [
        format!(
            "/live/{id}/{}/..%2F..%2Fsession.json",
            rendition.trim_end_matches("/index.m3u8")
        ),
        format!("/live/{id}/not-a-session/180p/index.m3u8"),
        "/live/not-a-stream/master.m3u8".to_owned(),
    ] {
        assert_eq!(
            curl(server.port, &viewer, "GET", &hostile, None).0,
            404,
            "{hostile}"
        );
    }

    // The watch page, the catalog's live row and the studio page show the stream; a viewer
    // saying "still watching" twice counts once.
    let (status, page) = curl(server.port, &viewer, "GET", &format!("/live/{id}"), None);
    assert_eq!(status, 200);
    assert!(
        page.contains("Ingest test") && page.contains(r#"data-island="live-player""#),
        "{page}"
    );
    let (_, catalog) = curl(server.port, &viewer, "GET", "/", None);
    assert!(
        catalog.contains("Live now") && catalog.contains(&format!(r#"href="/live/{id}""#)),
        "{catalog}"
    );
    let watching = format!("/live/{id}/watching");
    for _ in 0..2 {
        let (status, body) = curl(server.port, &viewer, "POST", &watching, None);
        assert_eq!((status, body.as_str()), (200, r#"{"viewers":1}"#));
    }
    let (status, studio) = curl(
        server.port,
        &jar,
        "GET",
        &format!("/studio/live/{id}"),
        None,
    );
    assert_eq!(status, 200);
    assert!(
        studio.contains(&key) && studio.contains(&format!("rtmp://127.0.0.1:{rtmp}/live")),
        "{studio}"
    );

    let cut_from = Instant::now();
    let (status, _) = curl(
        server.port,
        &jar,
        "POST",
        &format!("/api/v1/live/streams/{id}/key"),
        None,
    );
    assert_eq!(status, 200);
    let mut cut = false;
    while cut_from.elapsed() < Duration::from_secs(15) {
        if good.try_wait().unwrap().is_some() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = good.kill();
    let _ = good.wait();
    assert!(cut, "the push with the regenerated key went on");
    assert_eq!(state(&jar), "reconnecting");

    // The streamer pushes again with the new key within the window: the same playlist goes
    // on, its numbers growing, the new run after a discontinuity.
    let sequence = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = sequence(&playlist());
    let (_, body) = curl(
        server.port,
        &jar,
        "GET",
        &format!("/api/v1/live/streams/{id}/key"),
        None,
    );
    let new_key = serde_json::from_str::<serde_json::Value>(&body).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut again = push(rtmp, &new_key, 30);
    wait_until("the second run is listed", || {
        let text = playlist();
        text.contains("#EXT-X-DISCONTINUITY\n") && text.contains("\nr1/seg_")
    });
    assert!(sequence(&playlist()) >= before);
    wait_until("the second run has three segments", || {
        playlist().matches("\nr1/seg_").count() >= 3
    });
    let _ = again.kill();
    let _ = again.wait();
    // What viewers could watch of both runs; the recording holds as much.
    let listed = playlist();
    let watchable: f64 = listed
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();

    // The push stops for good: the session ends, its playlist is closed, and both runs'
    // recording becomes a draft talk titled after the stream that the ladder transcodes.
    wait_until("the stream ended", || state(&jar) == "ended");
    assert_eq!(curl(server.port, &viewer, "GET", &master_path, None).0, 404);
    let talk = ready_talk_titled(&server, &jar, "Ingest test");
    assert_eq!(talk["state"], "draft", "{talk}");
    let recorded = talk["video"]["duration_ms"].as_f64().unwrap() / 1000.0;
    assert!(
        recorded >= watchable - 1.0,
        "the recording ({recorded} s) lacks some of the {watchable} s served live:\n{listed}"
    );
    let sessions = data.path().join("live/hls").join(&id);
    wait_until("the finished session's folder is removed", || {
        !sessions.exists()
    });

    // SIGTERM stops nginx with the server.
    server.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(server.child.wait().unwrap().success());
    wait_until("nginx stopped", || nginx_processes_under(&prefix) == 0);
}

#[test]
fn audio_only_and_video_only_pushes_go_live_at_once_and_are_recorded() {
    let data = data_dir();
    let (server, rtmp, _) = live_server(data.path());
    let jar = signed_in_editor(&server, data.path());
    let viewer = data.path().join("viewer-cookies");
    let pushes = [
        ("Radio hour", Tracks::ToneOnly, "audio", "audio"),
        ("Silent film", Tracks::PictureOnly, "180p", "video"),
    ];
    let mut streams = Vec::new();
    for (title, tracks, rendition, codec_type) in pushes {
        let (id, key) = create_stream(server.port, &jar, title);
        streams.push((
            id,
            push_tracks(rtmp, &key, 20, tracks),
            title,
            rendition,
            codec_type,
        ));
    }

    for (id, _, title, rendition, codec_type) in &streams {
        wait_until(&format!("{title} is live"), || {
            stream_state(server.port, &jar, id) == "live"
        });
        // The master names the one rendition the push's tracks make, whose playlist grows.
        let master_path = format!("/live/{id}/master.m3u8");
        wait_until(&format!("{title}'s master is served"), || {
            curl(server.port, &viewer, "GET", &master_path, None).0 == 200
        });
        let (_, master) = curl(server.port, &viewer, "GET", &master_path, None);
        let listed: Vec<&str> = master
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect();
        assert!(
            listed.len() == 1 && listed[0].ends_with(&format!("/{rendition}/index.m3u8")),
            "{title}: {master}"
        );
        let folder = format!("/live/{id}/{}", listed[0].trim_end_matches("/index.m3u8"));
        let playlist = || {
            curl(
                server.port,
                &viewer,
                "GET",
                &format!("{folder}/index.m3u8"),
                None,
            )
            .1
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while playlist().matches("#EXTINF:").count() < 2 {
            assert!(
                Instant::now() < deadline,
                "{title} lists fewer than two segments: {}\n{}",
                playlist(),
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }

        // Its init segment and a media segment hold the push's one kind of track.
        let listed = playlist();
        let init = listed
            .lines()
            .find_map(|line| line.strip_prefix("#EXT-X-MAP:URI=\""))
            .map(|rest| rest.trim_end_matches('"'))
            .unwrap_or_else(|| panic!("{title}: no init segment in {listed}"));
        let segment = listed.lines().last().unwrap();
        let mut bytes = Vec::new();
        for file in [init, segment] {
            let out = run(Command::new("curl")
                .args(["-sf", "-b"])
                .arg(&viewer)
                .arg(format!("http://127.0.0.1:{}{folder}/{file}", server.port)));
            assert!(out.status.success(), "{title}: {folder}/{file} not served");
            bytes.extend(out.stdout);
        }
        let sample = data.path().join(format!("{rendition}.mp4"));
        std::fs::write(&sample, &bytes).unwrap();
        let probe = run(Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type",
                "-of",
                "csv=p=0",
            ])
            .arg(&sample));
        let kinds = String::from_utf8_lossy(&probe.stdout).trim().to_owned();
        assert_eq!(kinds, *codec_type, "{title}'s segment holds {kinds:?}");
    }

    // Both pushes end: each session ends and its recording becomes a ready draft talk holding
    // the push.
    for (id, push, title, _, _) in &mut streams {
        let out = push.wait().unwrap();
        assert!(out.success(), "{title}'s push failed");
        wait_until(&format!("{title} ended"), || {
            stream_state(server.port, &jar, id) == "ended"
        });
    }
    for (_, _, title, _, _) in &streams {
        let talk = ready_talk_titled(&server, &jar, title);
        assert_eq!(talk["state"], "draft", "{talk}");
        let recorded = talk["video"]["duration_ms"].as_f64().unwrap() / 1000.0;
        assert!(
            recorded >= 5.0,
            "{title} recorded only {recorded} s: {talk}"
        );
    }
}

#[test]
fn help_lists_the_settings() {
    let out = run(Command::new(BIN).arg("--help"));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for setting in [
        "FERROTAPE_DATA_DIR",
        "DATABASE_URL",
        "FERROTAPE_BIND",
        "FERROTAPE_STORAGE",
        "FERROTAPE_IMPORT_ALLOW_HOSTS",
        "FERROTAPE_IMPORT_MAX_BYTES",
        "FERROTAPE_IMPORT_MAX_DURATION_SECS",
        "seed-demo",
    ] {
        assert!(help.contains(setting), "--help lacks {setting}:\n{help}");
    }
}

#[test]
fn bad_configuration_fails_fast_with_a_clear_message() {
    let data = data_dir();

    let out = run(ferrotape(data.path()).env("FERROTAPE_STORAGE", "ftp"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value 'ftp'") && stderr.contains("local"),
        "{stderr}"
    );

    let out = run(ferrotape(data.path()).env("FERROTAPE_BIND", "not-an-address"));
    assert_eq!(out.status.code(), Some(2));

    let file = data.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = run(ferrotape(&file).arg("migrate"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = run(ferrotape(data.path()).env("FERROTAPE_BIND", format!("127.0.0.1:{port}")));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );

    let config = data.path().join("ferrotape.toml");
    std::fs::write(&config, "bind = \"127.0.0.1:0\"\nstorrage = \"local\"\n").unwrap();
    let out = run(ferrotape(data.path()).arg("--config").arg(&config));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `storrage`"));

    let out = run(ferrotape(data.path()).env("DATABASE_URL", "mysql://nope"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL is not a valid PostgreSQL URL")
    );
}

#[test]
fn a_config_file_sets_values_and_the_environment_overrides_it() {
    let data = data_dir();
    let config = data.path().join("ferrotape.toml");
    let media_root = data.path().join("from-file");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\nlog = \"warn\"\n", media_root.display()),
    )
    .unwrap();
    let mut command = ferrotape(data.path());
    command
        .env_remove("FERROTAPE_DATA_DIR")
        .arg("--config")
        .arg(&config)
        .arg("migrate");
    let out = run(&mut command);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        media_root.join("postgres/PG_VERSION").exists(),
        "data_dir came from the file"
    );
}

/// A PostgreSQL cluster of the test's own on a fixed port, so that it can be stopped and
/// started again under a running server (which reconnects to the same address).
struct OwnCluster {
    _dir: tempfile::TempDir,
    cluster: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl OwnCluster {
    fn create() -> OwnCluster {
        let dir = data_dir();
        let cluster = dir.path().join("pg");
        std::fs::create_dir(&cluster).unwrap();
        if nix::unistd::geteuid().is_root() {
            let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
            nix::unistd::chown(&cluster, Some(postgres.uid), Some(postgres.gid)).unwrap();
        }
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("postgres").is_file())
            .max()
            .expect("a PostgreSQL under /usr/lib/postgresql");
        let own = OwnCluster {
            _dir: dir,
            cluster,
            port: free_port(),
            bin,
        };
        let initdb = own.bin.join("initdb");
        own.as_postgres(
            &initdb,
            &["-A", "trust", "-U", "postgres", "--no-sync", "-D"],
        );
        own.start();
        own
    }

    /// Runs a PostgreSQL tool as the `postgres` user (PostgreSQL refuses to run as root), with
    /// the cluster's directory as its last argument.
    fn as_postgres(&self, tool: &Path, args: &[&str]) {
        let mut command = if nix::unistd::geteuid().is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(tool);
            command
        } else {
            Command::new(tool)
        };
        let out = run(command.args(args).arg(&self.cluster));
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            tool.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let log = self.cluster.join("server.log");
        let log = log.to_str().unwrap();
        let mut all = vec!["-w", "-l", log];
        all.extend_from_slice(args);
        all.push("-D");
        self.as_postgres(&self.bin.join("pg_ctl"), &all);
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=''",
            self.port,
            self.cluster.display()
        );
        self.pg_ctl(&["-o", &options, "start"]);
    }

    fn restart(&self) {
        self.pg_ctl(&["-m", "fast", "restart"]);
    }

    fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost:{}/postgres?host={}",
            self.port,
            self.cluster.display()
        )
    }

    fn query(&self, sql: &str) -> String {
        let out = run(Command::new("psql")
            .args(["-X", "-A", "-t", "-U", "postgres", "-d", "postgres", "-h"])
            .arg(&self.cluster)
            .args(["-p", &self.port.to_string(), "-c", sql]));
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-m", "immediate", "stop", "-D"])
            .arg(&self.cluster)
            .output();
    }
}

/// One player's batch: a view that starts, shows its first frame and plays 10 s.
fn beacon_batch(talk: &str) -> (String, u64) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let view = uuid::Uuid::new_v4();
    let event = |at: i64, body: serde_json::Value| {
        let mut event = serde_json::json!({ "id": uuid::Uuid::new_v4(), "view": view, "at": at });
        event
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        event
    };
    let events = vec![
        event(
            now - 12_000,
            serde_json::json!({"type": "view_start", "position": 0.0}),
        ),
        event(
            now - 11_000,
            serde_json::json!({"type": "first_frame", "startup_ms": 900}),
        ),
        event(
            now - 1_000,
            serde_json::json!({"type": "heartbeat", "position": 10.0, "watched": [[0.0, 10.0]]}),
        ),
    ];
    let count = events.len() as u64;
    let batch = serde_json::json!({ "sent_at": now, "talk": talk, "events": events });
    (batch.to_string(), count)
}

/// Posts `batches` beacon batches; returns how many events the server accepted. Every answer
/// is an acceptance or the rate limit: nothing waits for, or fails on, the database.
fn post_beacons(port: u16, jar: &Path, talk: &str, batches: usize) -> u64 {
    let mut accepted = 0;
    for _ in 0..batches {
        let (body, count) = beacon_batch(talk);
        match curl(port, jar, "POST", "/api/v1/events", Some(&body)) {
            (202, _) => accepted += count,
            (429, _) => std::thread::sleep(Duration::from_millis(200)),
            (status, body) => panic!("a beacon got {status}: {body}"),
        }
    }
    accepted
}

#[test]
fn beacons_accepted_while_postgres_restarts_and_across_a_sigterm_are_all_stored() {
    let cluster = OwnCluster::create();
    let data = data_dir();
    let database = ("DATABASE_URL", cluster.url());
    let seeded = run(ferrotape(data.path())
        .env(database.0, &database.1)
        .args(["seed-demo", "--no-videos"]));
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let talk = cluster.query("SELECT id FROM talks ORDER BY slug LIMIT 1");
    let stored = || -> u64 {
        cluster
            .query("SELECT count(*) FROM analytics_events")
            .parse()
            .unwrap()
    };
    let jar = data.path().join("jar");

    let mut server = Server::spawn_with(data.path(), std::slice::from_ref(&database));
    server.wait_ready();
    let mut accepted = post_beacons(server.port, &jar, &talk, 10);
    // PostgreSQL restarts while players keep posting.
    std::thread::scope(|scope| {
        let restart = scope.spawn(|| cluster.restart());
        let mut during = 0;
        while !restart.is_finished() {
            accepted += post_beacons(server.port, &jar, &talk, 1);
            during += 1;
        }
        restart.join().unwrap();
        assert!(during > 1, "the restart took no time to post in");
    });
    accepted += post_beacons(server.port, &jar, &talk, 10);
    wait_until("every accepted event is stored", || stored() == accepted);

    // The database goes away, players go on posting, and the server is stopped before it
    // comes back: what was accepted waits on disk for the next start.
    cluster.stop();
    let waiting = post_beacons(server.port, &jar, &talk, 10);
    assert!(waiting > 0);
    accepted += waiting;
    server.signal(nix::sys::signal::Signal::SIGTERM);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}: {}", server.stderr());
    drop(server);

    cluster.start();
    let before = stored();
    assert!(
        before < accepted,
        "the last events were not written before the stop"
    );
    let mut again = Server::spawn_with(data.path(), std::slice::from_ref(&database));
    again.wait_ready();
    wait_until("the events kept on disk are stored", || {
        stored() == accepted
    });
    again.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(again.child.wait().unwrap().success());
}
