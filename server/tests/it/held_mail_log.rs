//! Mail held for want of SMTP carries links that are logins (a reset link is a takeover):
//! only the embedded default, where the log is a newcomer's only inbox, writes them to the
//! log (issue 14.9). Anywhere else the log names the mail and points to /admin/outbox.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestApp;
use ferrotape_accounts::AccountsConfig;
use serde_json::json;

/// Everything logged at INFO while `body` runs (the test runtime is single-threaded, so the
/// request's tasks log through this thread's subscriber).
async fn logged_during<F: std::future::Future<Output = ()>>(body: F) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    body.await;
    String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
}

async fn sign_up_and_log(config: AccountsConfig) -> String {
    let app = TestApp::spawn_with(config, Vec::new()).await;
    let mut browser = app.client("198.51.100.90");
    logged_during(async {
        let response = browser
            .post_json(
                "/api/v1/auth/signup",
                json!({"email": "new@example.com", "display_name": "New", "password": common::PASSWORD}),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.body);
    })
    .await
}

#[tokio::test]
async fn held_mail_is_logged_without_its_links_outside_the_embedded_default() {
    let log = sign_up_and_log(AccountsConfig::default()).await;
    assert!(log.contains("mail kept in the outbox"), "{log}");
    assert!(
        !log.contains("token="),
        "a mailed link reached the log:\n{log}"
    );
}

#[tokio::test]
async fn the_embedded_default_logs_held_mail_whole_for_the_newcomer() {
    let log = sign_up_and_log(AccountsConfig {
        log_held_mail: true,
        ..AccountsConfig::default()
    })
    .await;
    assert!(log.contains("/verify-email?token="), "{log}");
}
