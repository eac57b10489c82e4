//! The RTMP ingest the server runs itself: nginx with the RTMP module, its own prefix under
//! the data dir (`live/nginx/`: the generated `conf/nginx.conf`, `logs/`), listening on
//! `FERROTAPE_RTMP_BIND`, calling this server's webhooks with a secret made for this run
//! (`api::live_hooks`), restarted with back-off when it dies, stopped with the server.
//!
//! Every (re)start first moves the streams its previous run had live to `reconnecting`: a dead
//! nginx sends no `on_publish_done`, and its connection ids start again at 1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ferrotape_store::PgPool;
use nix::sys::signal::Signal;
use tokio::sync::watch;

/// Where nginx-rtmp keeps its module on Debian (`libnginx-mod-rtmp`).
pub const DEBIAN_RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// How the supervised ingest runs.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub nginx: PathBuf,
    pub module: PathBuf,
    /// The prefix directory (config, logs, pid).
    pub prefix: PathBuf,
    pub rtmp_bind: SocketAddr,
    /// `http://127.0.0.1:3000`: how nginx reaches this server.
    pub hooks_origin: String,
    /// The secret its webhook calls carry.
    pub hook_secret: String,
    pub app: String,
}

/// Why the ingest cannot run here.
pub fn missing_parts(nginx: &Path, module: &Path) -> Option<String> {
    let nginx_found = if nginx.components().count() > 1 {
        nginx.is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(nginx).is_file()))
    };
    if !nginx_found {
        return Some(format!("{} is not installed", nginx.display()));
    }
    (!module.is_file()).then(|| format!("the RTMP module {} is missing", module.display()))
}

/// The nginx configuration of the ingest.
pub fn config(settings: &IngestSettings) -> String {
    let prefix = settings.prefix.display();
    let hook = |name: &str| {
        format!(
            "{}/api/v1/live/hooks/nginx/{name}?secret={}",
            settings.hooks_origin, settings.hook_secret
        )
    };
    format!(
        "# Written by ferrotape at each start; changes here are overwritten.
load_module {module};
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/logs/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
    server {{
        listen {bind};
        chunk_size 4096;
        application {app} {{
            live on;
            # Viewers watch the platform's HLS; only this machine (the live transcoder) plays.
            allow play 127.0.0.1;
            deny play all;
            drop_idle_publisher 10s;
            notify_method post;
            on_publish {publish};
            on_update {update};
            on_publish_done {done};
            # A regenerated key's push is cut at its next update.
            notify_update_timeout 2s;
        }}
    }}
}}
",
        module = settings.module.display(),
        bind = settings.rtmp_bind,
        app = settings.app,
        publish = hook("publish"),
        update = hook("update"),
        done = hook("publish_done"),
    )
}

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long counts as healthy: the next failure starts the back-off again.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the ingest until `stop` turns true.
pub async fn run(pool: PgPool, settings: IngestSettings, mut stop: watch::Receiver<bool>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if let Err(err) = prepare(&settings) {
            tracing::error!(%err, "cannot write the live ingest's configuration");
            return;
        }
        match ferrotape_store::live::ingest_restarted(&pool, "nginx-rtmp:").await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                streams = n,
                "streams of the previous ingest run wait for their publishers"
            ),
            Err(err) => tracing::warn!(%err, "cannot reset the streams of the previous ingest run"),
        }
        let started = Instant::now();
        let mut child = match spawn(&settings) {
            Ok(child) => child,
            Err(err) => {
                tracing::error!(%err, nginx = %settings.nginx.display(), "cannot start the live ingest");
                return;
            }
        };
        tracing::info!(rtmp = %settings.rtmp_bind, app = settings.app, "live ingest (nginx-rtmp) started");
        let exited = tokio::select! {
            status = child.wait() => Some(status),
            _ = stop.wait_for(|stopped| *stopped) => None,
        };
        let Some(exited) = exited else {
            stop_child(&mut child).await;
            return;
        };
        let status = exited
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        tracing::error!(
            status,
            log = %tail(&settings.prefix.join("logs/error.log")),
            "the live ingest stopped; starting it again in {backoff:?}"
        );
        if started.elapsed() > HEALTHY_AFTER {
            backoff = FIRST_BACKOFF;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn prepare(settings: &IngestSettings) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(settings.prefix.join("conf"))?;
    std::fs::create_dir_all(settings.prefix.join("logs"))?;
    let path = settings.prefix.join("conf/nginx.conf");
    // It holds the webhook secret: only we read it.
    std::fs::write(&path, config(settings))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
}

fn spawn(settings: &IngestSettings) -> std::io::Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(&settings.nginx);
    command
        .arg("-p")
        .arg(&settings.prefix)
        .arg("-c")
        .arg(settings.prefix.join("conf/nginx.conf"))
        .arg("-e")
        .arg(settings.prefix.join("logs/error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        // Own process group: a Ctrl-C reaches the server, which stops nginx itself.
        .process_group(0);
    let parent = nix::unistd::getpid();
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // A SIGKILLed server leaves no ingest behind (SIGTERM: nginx's fast stop).
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGTERM)).map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other(
                    "the server exited while starting nginx",
                ));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// SIGQUIT (nginx's graceful stop), then SIGKILL after a few seconds.
async fn stop_child(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGQUIT);
    }
    if tokio::time::timeout(STOP_TIMEOUT, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    tracing::info!("live ingest stopped");
}

/// The end of nginx's error log, for a line saying why it stopped.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_calls_our_hooks_with_the_secret_and_plays_only_locally() {
        let settings = IngestSettings {
            nginx: "nginx".into(),
            module: DEBIAN_RTMP_MODULE.into(),
            prefix: "/data/live/nginx".into(),
            rtmp_bind: "127.0.0.1:1935".parse().unwrap(),
            hooks_origin: "http://127.0.0.1:3000".into(),
            hook_secret: "s3cret".into(),
            app: "live".into(),
        };
        let config = config(&settings);
        assert!(config.contains("listen 127.0.0.1:1935;"));
        assert!(config.contains(
            "on_publish http://127.0.0.1:3000/api/v1/live/hooks/nginx/publish?secret=s3cret;"
        ));
        assert!(config.contains(
            "on_update http://127.0.0.1:3000/api/v1/live/hooks/nginx/update?secret=s3cret;"
        ));
        assert!(config.contains("application live {"));
        assert!(config.contains("deny play all;"));
        assert!(config.contains("pid /data/live/nginx/logs/nginx.pid;"));
    }

    #[test]
    fn missing_binaries_are_named() {
        assert!(
            missing_parts(Path::new("/no/such/nginx"), Path::new(DEBIAN_RTMP_MODULE))
                .unwrap()
                .contains("/no/such/nginx")
        );
        assert!(
            missing_parts(Path::new("sh"), Path::new("/no/module.so"))
                .unwrap()
                .contains("/no/module.so")
        );
    }
}
