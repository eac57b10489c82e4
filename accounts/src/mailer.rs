//! Mail delivery: SMTP through lettre, or holding mail in the outbox table when no SMTP server
//! is configured (the embedded default; admins read it at /admin/outbox).

use std::sync::Arc;
use std::time::Duration;

use ferrotape_store::{PgPool, StoreError, mail};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{Notify, watch};

/// How often undelivered mail is retried even when nothing new was queued.
const RETRY_EVERY: Duration = Duration::from_secs(30);
const SEND_TIMEOUT: Duration = Duration::from_secs(20);
const BATCH: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error(
        "FERROTAPE_SMTP_URL is not a valid SMTP URL ({0}); use for example smtp://user:pass@mail.example.com:587?tls=required or smtps://…"
    )]
    BadUrl(String),
    #[error(
        "FERROTAPE_MAIL_FROM is not a valid address ({0}); use for example \"Ferrotape <talks@example.com>\""
    )]
    BadFrom(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No SMTP server: mail stays in the outbox table.
    Hold,
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    wake: Notify,
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Mailer, MailerError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailerError::BadFrom(e.to_string()))?;
        let transport = match smtp_url.map(str::trim).filter(|url| !url.is_empty()) {
            None => Transport::Hold,
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailerError::BadUrl(e.to_string()))?
                    .timeout(Some(SEND_TIMEOUT))
                    .build(),
            ),
        };
        Ok(Mailer {
            transport,
            from,
            wake: Notify::new(),
        })
    }

    /// True when mail is kept in the outbox instead of being sent.
    pub fn holds_mail(&self) -> bool {
        matches!(self.transport, Transport::Hold)
    }

    /// Asks the delivery loop to look at the outbox now (called after a commit that queued mail).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends what is waiting until the outbox has nothing due; returns how many were sent.
    /// Several servers may run this at once: each mail is locked by one of them.
    pub async fn deliver_pending(&self, pool: &PgPool) -> Result<usize, StoreError> {
        let Transport::Smtp(smtp) = &self.transport else {
            return Ok(0);
        };
        let mut sent = 0;
        loop {
            let mut tx = pool.begin().await?;
            let batch = mail::lock_pending(&mut tx, BATCH).await?;
            let batch_len = batch.len();
            for pending in batch {
                match self.send(smtp, &pending).await {
                    Ok(()) => {
                        mail::mark_sent(&mut *tx, pending.id).await?;
                        sent += 1;
                        tracing::info!(mail = %pending.id, subject = %pending.subject, "mail sent");
                    }
                    Err(error) => {
                        tracing::warn!(mail = %pending.id, %error, attempt = pending.attempts + 1, "mail not sent; will retry");
                        mail::mark_failed(&mut *tx, pending.id, &error).await?;
                    }
                }
            }
            tx.commit().await?;
            if batch_len < BATCH as usize {
                return Ok(sent);
            }
        }
    }

    async fn send(
        &self,
        smtp: &AsyncSmtpTransport<Tokio1Executor>,
        pending: &mail::MailRecord,
    ) -> Result<(), String> {
        let to: Mailbox = pending
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(pending.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(crlf(&pending.body))
            .map_err(|e| e.to_string())?;
        smtp.send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Delivers until `shutdown` turns true: right away when woken, and every 30 s for retries.
    pub async fn run(self: Arc<Self>, pool: PgPool, mut shutdown: watch::Receiver<bool>) {
        if self.holds_mail() {
            return;
        }
        loop {
            if let Err(err) = self.deliver_pending(&pool).await {
                tracing::error!(%err, "mail delivery failed; retrying later");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(RETRY_EVERY) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// Mail lines end in CRLF (RFC 5322); lettre would otherwise encode each bare LF as `=0A`.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let err = Mailer::new(Some("http://example.com"), "a@example.com")
            .err()
            .unwrap();
        assert!(err.to_string().contains("FERROTAPE_SMTP_URL"), "{err}");
        let err = Mailer::new(None, "not an address").err().unwrap();
        assert!(err.to_string().contains("FERROTAPE_MAIL_FROM"), "{err}");
        assert!(
            Mailer::new(None, "Ferrotape <talks@example.com>")
                .unwrap()
                .holds_mail()
        );
        assert!(
            !Mailer::new(Some("smtp://127.0.0.1:2525"), "a@example.com")
                .unwrap()
                .holds_mail()
        );
    }
}
