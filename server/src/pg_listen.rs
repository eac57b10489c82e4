//! One loop for every PostgreSQL LISTENer of the server: listens on some channels until
//! `shutdown` turns true, handing each notification to a callback and reconnecting after errors.

use std::time::Duration;

use ferrotape_store::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

pub async fn listen(
    pool: &PgPool,
    channels: &[&str],
    mut shutdown: watch::Receiver<bool>,
    mut handle: impl FnMut(&str, &str),
) {
    loop {
        let listening = async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen_all(channels.iter().copied()).await?;
            loop {
                let notification = listener.recv().await?;
                handle(notification.channel(), notification.payload());
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            result = listening => {
                if let Err(err) = result {
                    tracing::warn!(%err, ?channels, "database listener failed; reconnecting");
                }
            }
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
