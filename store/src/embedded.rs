//! A private PostgreSQL cluster for the embedded mode.
//!
//! The server runs `postgres` as its own child process: `initdb` on first start, a Unix socket
//! inside the cluster directory (no TCP listener), a port chosen free at each start (it names the
//! socket), and the `postgres` system user when started as root (PostgreSQL refuses to run as
//! root). The child asks the kernel for SIGINT (a "fast" clean shutdown) when the thread that
//! started it dies, so even a SIGKILLed server leaves no orphan cluster behind; a leftover
//! `postmaster.pid` from a crashed run is checked and cleared before starting, once the crashed
//! server's children have let go of its shared memory.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};
use sqlx::postgres::PgConnectOptions;
use thiserror::Error;

/// The database the application uses inside the cluster.
pub const DATABASE_NAME: &str = "ferrotape";
/// The superuser `initdb` creates; local socket connections are trusted.
const SUPERUSER: &str = "postgres";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found under /usr/lib/postgresql. \
         Install the `postgresql` package (`make run` does), set FERROTAPE_PG_BIN_DIR, or set \
         DATABASE_URL to use an external server"
    )]
    BinariesNotFound,
    #[error(
        "the embedded PostgreSQL must run as the `postgres` system user when Ferrotape runs as \
         root, and that user does not exist; install the `postgresql` package or run as a normal user"
    )]
    NoPostgresUser,
    #[error(
        "the embedded PostgreSQL runs as the `{user}` user, which cannot enter {blocked}. \
         Choose a data directory it can reach (FERROTAPE_DATA_DIR=/var/lib/ferrotape, for example) \
         or allow traversal with `chmod o+x {blocked}`"
    )]
    Unreachable { user: String, blocked: PathBuf },
    #[error(
        "the embedded PostgreSQL's socket would live at {dir}/.s.PGSQL.<port>, longer than the \
         {MAX_SOCKET_PATH} bytes Unix sockets allow; set FERROTAPE_DATA_DIR to a shorter path"
    )]
    SocketPathTooLong { dir: PathBuf },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{step} failed (exit status {status}); its output:\n{output}")]
    CommandFailed {
        step: &'static str,
        status: String,
        output: String,
    },
    #[error(
        "PostgreSQL did not become ready within {seconds} s; the end of its log ({log}):\n{tail}"
    )]
    StartTimeout {
        seconds: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("PostgreSQL exited during start-up ({status}); the end of its log ({log}):\n{tail}")]
    ExitedEarly {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("another PostgreSQL (pid {pid}) still runs on {dir} and did not stop")]
    StillRunning { pid: i32, dir: PathBuf },
    #[error(
        "{attached} process(es) of a PostgreSQL that crashed on {dir} still hold its shared memory \
         (segment {shmid}) after {seconds} s; stop them (`ipcs -mp` lists their pids) and start again"
    )]
    SharedMemoryHeld {
        attached: u32,
        shmid: i32,
        dir: PathBuf,
        seconds: u64,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let what = what.into();
    move |source| EmbeddedError::Io { what, source }
}

/// A running embedded cluster. Stop it with [`EmbeddedPostgres::stop`]; dropping it stops it too.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    cluster_dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// The system user that owns and runs the cluster.
struct ClusterOwner {
    name: String,
    uid: u32,
    gid: u32,
    /// True when we are root and must switch to this user for initdb and postgres.
    switch_user: bool,
}

impl EmbeddedPostgres {
    /// Creates (first time) and starts the cluster, then waits until it accepts connections.
    ///
    /// Blocking. Call it from a thread that lives as long as the cluster should (the main
    /// thread): the kernel signals the child when the thread that spawned it exits.
    pub fn start(
        cluster_dir: &Path,
        pg_bin_dir: Option<&Path>,
    ) -> Result<EmbeddedPostgres, EmbeddedError> {
        EmbeddedPostgres::start_on_port(cluster_dir, pg_bin_dir, None)
    }

    /// `start`, listening on `port` when given instead of a free one (a test restarting the
    /// cluster under a connection pool needs the same address again).
    pub fn start_on_port(
        cluster_dir: &Path,
        pg_bin_dir: Option<&Path>,
        port: Option<u16>,
    ) -> Result<EmbeddedPostgres, EmbeddedError> {
        let cluster_dir = absolute(cluster_dir)?;
        check_socket_path(&cluster_dir)?;
        let bin_dir = match pg_bin_dir {
            Some(dir) => dir.to_owned(),
            None => find_bin_dir().ok_or(EmbeddedError::BinariesNotFound)?,
        };
        let owner = cluster_owner()?;
        prepare_cluster_dir(&cluster_dir, &owner)?;

        if !cluster_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %cluster_dir.display(), "creating the embedded PostgreSQL cluster");
            run_initdb(&bin_dir, &cluster_dir, &owner)?;
        }
        match clear_stale_server(&cluster_dir)? {
            Leftover::None => {}
            Leftover::InUse { port, owner_pid } => {
                // Another ferrotape process (the server, while we run `seed-demo`) owns the
                // cluster: use it without taking it over; it stays theirs to stop.
                tracing::info!(
                    owner_pid,
                    port,
                    "attaching to the embedded PostgreSQL of a running ferrotape"
                );
                return Ok(EmbeddedPostgres {
                    cluster_dir,
                    port,
                    child: None,
                });
            }
        }

        let port = match port {
            Some(port) => port,
            None => free_port()?,
        };
        let log_path = log_path(&cluster_dir);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(format!("cannot open {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io("cannot duplicate the log handle"))?;

        let mut command = Command::new(bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(&cluster_dir)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&cluster_dir)
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "unix_socket_permissions=0700",
            ])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Own process group: a Ctrl-C in the terminal reaches the server, which drains its
            // requests before stopping the database, instead of both at once.
            .process_group(0);
        owner.apply(&mut command);
        let parent = nix::unistd::getpid();
        // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Some(Signal::SIGINT))
                    .map_err(std::io::Error::from)?;
                // Had we died between fork and prctl, no signal would ever come: give up now.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other(
                        "the server exited while starting postgres",
                    ));
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(io("cannot start postgres"))?;
        let mut cluster = EmbeddedPostgres {
            cluster_dir,
            port,
            child: Some(child),
        };
        cluster.wait_until_ready(&log_path)?;
        tracing::info!(dir = %cluster.cluster_dir.display(), port, "embedded PostgreSQL is ready");
        Ok(cluster)
    }

    /// Connection options for a database of this cluster, over its Unix socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.cluster_dir)
            .port(self.port)
            .username(SUPERUSER)
            .database(database)
    }

    /// The same as a URL, for tools and child processes (`DATABASE_URL`).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{}/{database}?host={}",
            self.port,
            percent_encode(&self.cluster_dir.to_string_lossy())
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates the application database on first start.
    pub async fn ensure_database(&self, database: &str) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            // Identifiers cannot be bound; `database` is our own constant or a test name.
            sqlx::query(&format!(
                "CREATE DATABASE \"{}\"",
                database.replace('"', "\"\"")
            ))
            .execute(&mut conn)
            .await?;
        }
        conn.close().await
    }

    /// Fast shutdown: open sessions are disconnected, the cluster checkpoints and exits.
    pub fn stop(mut self) -> Result<(), EmbeddedError> {
        self.stop_child()
    }

    fn stop_child(&mut self) -> Result<(), EmbeddedError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => {
                    tracing::info!("embedded PostgreSQL stopped");
                    return Ok(());
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    tracing::warn!("embedded PostgreSQL did not stop in time; sending SIGQUIT");
                    let _ = kill(pid, Signal::SIGQUIT);
                    let _ = child.wait();
                    return Ok(());
                }
            }
        }
    }

    fn wait_until_ready(&mut self, log_path: &Path) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pid_file = self.cluster_dir.join("postmaster.pid");
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(EmbeddedError::ExitedEarly {
                    status: status.to_string(),
                    log: log_path.to_owned(),
                    tail: tail(log_path, 20),
                });
            }
            // Line 8 of postmaster.pid is the server status; "ready" once it accepts connections.
            if let Ok(text) = fs::read_to_string(&pid_file)
                && text.lines().nth(7).map(str::trim) == Some("ready")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop_child()?;
                return Err(EmbeddedError::StartTimeout {
                    seconds: START_TIMEOUT.as_secs(),
                    log: log_path.to_owned(),
                    tail: tail(log_path, 20),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        let _ = self.stop_child();
    }
}

impl ClusterOwner {
    fn apply(&self, command: &mut Command) {
        if self.switch_user {
            command.uid(self.uid).gid(self.gid);
        }
    }
}

fn cluster_owner() -> Result<ClusterOwner, EmbeddedError> {
    if Uid::effective().is_root() {
        let user = User::from_name(SUPERUSER)
            .ok()
            .flatten()
            .ok_or(EmbeddedError::NoPostgresUser)?;
        Ok(ClusterOwner {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            switch_user: true,
        })
    } else {
        let uid = Uid::effective();
        let name = User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| uid.to_string());
        Ok(ClusterOwner {
            name,
            uid: uid.as_raw(),
            gid: nix::unistd::Gid::effective().as_raw(),
            switch_user: false,
        })
    }
}

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// The socket lives in the cluster directory, so a deep data dir can exceed the kernel's limit;
/// PostgreSQL would only say so in its log after initdb.
fn check_socket_path(cluster_dir: &Path) -> Result<(), EmbeddedError> {
    let longest_socket = cluster_dir.as_os_str().len() + "/.s.PGSQL.65535".len();
    if longest_socket > MAX_SOCKET_PATH {
        return Err(EmbeddedError::SocketPathTooLong {
            dir: cluster_dir.to_owned(),
        });
    }
    Ok(())
}

/// The newest `/usr/lib/postgresql/<major>/bin` that holds a `postgres` binary.
fn find_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((major, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

fn absolute(path: &Path) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(path).map_err(io(format!("cannot resolve {}", path.display())))
}

/// Creates the cluster directory owned by the cluster's user with mode 0700 (PostgreSQL insists),
/// after checking that user can reach it at all.
fn prepare_cluster_dir(dir: &Path, owner: &ClusterOwner) -> Result<(), EmbeddedError> {
    fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    if owner.switch_user {
        if let Some(blocked) = first_untraversable_ancestor(dir, owner) {
            return Err(EmbeddedError::Unreachable {
                user: owner.name.clone(),
                blocked,
            });
        }
        let meta = fs::metadata(dir).map_err(io(format!("cannot read {}", dir.display())))?;
        if meta.uid() != owner.uid {
            chown_recursive(dir, owner.uid, owner.gid)?;
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(io(format!("cannot set permissions on {}", dir.display())))
}

/// The first ancestor directory the user lacks search (x) permission on, judged from mode bits.
fn first_untraversable_ancestor(dir: &Path, owner: &ClusterOwner) -> Option<PathBuf> {
    dir.ancestors().skip(1).find_map(|ancestor| {
        let meta = fs::metadata(ancestor).ok()?;
        let mode = meta.mode();
        let allowed = if meta.uid() == owner.uid {
            mode & 0o100 != 0
        } else if meta.gid() == owner.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        (!allowed).then(|| ancestor.to_owned())
    })
}

fn chown_recursive(dir: &Path, uid: u32, gid: u32) -> Result<(), EmbeddedError> {
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .map_err(io(format!("cannot chown {}", dir.display())))?;
    for entry in fs::read_dir(dir).map_err(io(format!("cannot list {}", dir.display())))? {
        let path = entry
            .map_err(io("cannot list the cluster directory"))?
            .path();
        if path.is_dir() && !path.is_symlink() {
            chown_recursive(&path, uid, gid)?;
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                .map_err(io(format!("cannot chown {}", path.display())))?;
        }
    }
    Ok(())
}

fn run_initdb(bin_dir: &Path, dir: &Path, owner: &ClusterOwner) -> Result<(), EmbeddedError> {
    let mut command = Command::new(bin_dir.join("initdb"));
    command
        .arg("-D")
        .arg(dir)
        .args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth-local=trust",
            "--auth-host=reject",
        ])
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    owner.apply(&mut command);
    let output = command.output().map_err(io(format!(
        "cannot run {}",
        bin_dir.join("initdb").display()
    )))?;
    if !output.status.success() {
        return Err(EmbeddedError::CommandFailed {
            step: "initdb",
            status: output.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    Ok(())
}

/// What an earlier run left on the cluster directory.
enum Leftover {
    /// Nothing running; any stale lock files were removed.
    None,
    /// A live ferrotape process runs postgres on this directory right now.
    InUse { port: u16, owner_pid: i32 },
}

/// Handles what a killed run may leave behind.
///
/// - A `postmaster.pid` whose process is gone, or whose PID now belongs to some other program,
///   is removed (PostgreSQL would refuse to start if the PID was reused by a process of its user).
/// - A postgres whose parent is a live `ferrotape` is in use: the caller attaches to it.
/// - A postgres with no ferrotape parent (its server was killed before the kernel delivered the
///   parent-death signal, or someone started it by hand) is asked to shut down fast.
fn clear_stale_server(dir: &Path) -> Result<Leftover, EmbeddedError> {
    let pid_file = dir.join("postmaster.pid");
    let Ok(text) = fs::read_to_string(&pid_file) else {
        return Ok(Leftover::None);
    };
    let pid = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok());
    // Line 4 of postmaster.pid is the port.
    let port = text
        .lines()
        .nth(3)
        .and_then(|l| l.trim().parse::<u16>().ok());
    if let Some(pid) = pid.filter(|pid| *pid > 0 && is_postgres_on(*pid, dir)) {
        let parent = parent_pid(pid);
        if let (Some(parent), Some(port)) = (parent, port)
            && process_name(parent).is_some_and(|name| name.starts_with("ferrotape"))
        {
            return Ok(Leftover::InUse {
                port,
                owner_pid: parent,
            });
        }
        tracing::warn!(
            pid,
            "a PostgreSQL from an earlier run still serves this cluster; stopping it"
        );
        let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while is_postgres_on(pid, dir) {
            if Instant::now() > deadline {
                return Err(EmbeddedError::StillRunning {
                    pid,
                    dir: dir.to_owned(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        return Ok(Leftover::None);
    }
    // Line 7 holds the shared memory key and id.
    let shmid = text
        .lines()
        .nth(6)
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<i32>().ok());
    if let Some(shmid) = shmid {
        wait_until_detached(shmid, dir)?;
    }
    tracing::info!("removing a stale postmaster.pid left by a killed run");
    fs::remove_file(&pid_file).map_err(io(format!("cannot remove {}", pid_file.display())))?;
    // Socket lock files of the dead server would block a reuse of its port.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(Leftover::None)
}

/// Waits until no process holds the shared memory segment of a killed postmaster.
///
/// Its children (backends, checkpointer, …) notice the postmaster's death and exit on their
/// own, but a busy one may take a moment; PostgreSQL refuses to start while any of them is
/// still attached ("pre-existing shared memory block is still in use").
fn wait_until_detached(shmid: i32, dir: &Path) -> Result<(), EmbeddedError> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    let mut logged = false;
    loop {
        let table = fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
        let attached = attached_processes(&table, shmid).unwrap_or(0);
        if attached == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(EmbeddedError::SharedMemoryHeld {
                attached,
                shmid,
                dir: dir.to_owned(),
                seconds: STOP_TIMEOUT.as_secs(),
            });
        }
        if !logged {
            tracing::warn!(
                attached,
                shmid,
                "waiting for the processes of a crashed PostgreSQL to let go of its shared memory"
            );
            logged = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many processes are attached to System V shared memory segment `shmid`, read from the
/// text of `/proc/sysvipc/shm` (columns found by their header names); `None` when it is gone.
fn attached_processes(table: &str, shmid: i32) -> Option<u32> {
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let id_column = header.iter().position(|name| *name == "shmid")?;
    let attached_column = header.iter().position(|name| *name == "nattch")?;
    lines
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(id_column).and_then(|id| id.parse().ok()) == Some(shmid))
        .and_then(|fields| fields.get(attached_column)?.parse().ok())
}

fn parent_pid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state, ppid, …
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn process_name(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Whether `pid` is a live postgres process whose data directory is `dir`.
fn is_postgres_on(pid: i32, dir: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let is_postgres = args
        .first()
        .is_some_and(|a| a.ends_with("postgres") || a.starts_with("postgres:"));
    let on_dir = args.iter().any(|a| Path::new(a) == dir)
        || fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir);
    is_postgres && on_dir
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io("cannot pick a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("cannot pick a free port"))?
        .port())
}

fn log_path(cluster_dir: &Path) -> PathBuf {
    let mut name = cluster_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".log");
    cluster_dir.with_file_name(name)
}

fn tail(path: &Path, lines: usize) -> String {
    let Ok(file) = fs::File::open(path) else {
        return String::new();
    };
    let all: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_processes_are_read_by_column_name() {
        let table = "       key      shmid perms       size  cpid  lpid nattch   uid\n\
                     \x20 11280405     131083   600         56 30500 30548      2   101\n\
                     \x20 10035205          4   600         56 12606 12612      0   101\n";
        assert_eq!(attached_processes(table, 131083), Some(2));
        assert_eq!(attached_processes(table, 4), Some(0));
        assert_eq!(attached_processes(table, 5), None);
        assert_eq!(attached_processes("", 4), None);
    }

    #[test]
    fn the_log_sits_next_to_the_cluster() {
        assert_eq!(
            log_path(Path::new("/d/postgres")),
            PathBuf::from("/d/postgres.log")
        );
    }

    #[test]
    fn a_data_dir_too_deep_for_a_unix_socket_is_refused_before_anything_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("d".repeat(100)).join("postgres");
        let err = EmbeddedPostgres::start(&deep, None).unwrap_err();
        assert!(
            matches!(err, EmbeddedError::SocketPathTooLong { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("FERROTAPE_DATA_DIR"));
        assert!(!deep.exists(), "nothing was created");
        assert!(check_socket_path(Path::new("/var/lib/ferrotape/postgres")).is_ok());
    }

    #[test]
    fn socket_paths_are_encoded_for_urls() {
        assert_eq!(percent_encode("/tmp/a b/pg"), "%2Ftmp%2Fa%20b%2Fpg");
    }

    #[test]
    fn a_locked_ancestor_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let locked = tmp.path().join("locked");
        let inner = locked.join("inner");
        fs::create_dir_all(&inner).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
        // A user that owns nothing here: only the "other" bits apply to it.
        let stranger = ClusterOwner {
            name: "stranger".into(),
            uid: 4_000_000,
            gid: 4_000_000,
            switch_user: true,
        };
        assert_eq!(
            first_untraversable_ancestor(&inner.join("pg"), &stranger),
            Some(locked.clone())
        );
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o711)).unwrap();
        let blocked = first_untraversable_ancestor(&inner.join("pg"), &stranger);
        assert!(
            blocked.as_ref().is_none_or(|b| !b.starts_with(tmp.path())),
            "{blocked:?}"
        );
    }
}
