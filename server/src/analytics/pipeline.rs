//! Between an accepted beacon and PostgreSQL: a bounded buffer the request hands its events to
//! (never waiting for the database), and one writer task that empties it with COPY, retrying
//! while the database is away. The bound is in events: when it is full, requests are refused
//! with 503 + Retry-After (back-pressure), so nothing accepted is ever dropped for lack of room.
//! On shutdown the writer drains the buffer; what it cannot write before the deadline goes to
//! the spool (`spool.rs`) and is written by the next start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrotape_store::PgPool;
use ferrotape_store::analytics as store;
use time::OffsetDateTime;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::spool::Spool;

/// Events rendered for COPY, holding their room in the buffer until written.
struct Chunk {
    text: String,
    events: u32,
    _room: OwnedSemaphorePermit,
}

/// The buffer is full (or shutting down): try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Counters for /metrics and the tests (monotonic, per process).
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    pub written: AtomicU64,
    pub duplicates: AtomicU64,
    pub spooled: AtomicU64,
    pub replayed: AtomicU64,
    pub write_failures: AtomicU64,
}

pub struct Pipeline {
    sender: Mutex<Option<mpsc::UnboundedSender<Chunk>>>,
    room: Arc<Semaphore>,
    capacity: u32,
    writer: Mutex<Option<JoinHandle<()>>>,
    deadline: Arc<Deadline>,
    pub counters: Arc<Counters>,
}

/// The most events one write carries: large enough to amortise a transaction, small enough
/// that a retry after a failure repeats little.
const MAX_EVENTS_PER_WRITE: u32 = 20_000;

/// A write that takes longer than this (a database that accepts connections but does not
/// answer) is abandoned and tried again.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Pipeline {
    /// Starts the writer, which first writes what an earlier run spooled. `capacity` is the
    /// most events held in memory at once.
    pub fn start(pool: PgPool, capacity: u32, spool: Spool) -> Arc<Pipeline> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let deadline = Arc::new(Deadline::default());
        let writer = Writer {
            pool,
            spool,
            counters: counters.clone(),
            deadline: deadline.clone(),
        };
        let writer = tokio::spawn(writer.run(receiver));
        Arc::new(Pipeline {
            sender: Mutex::new(Some(sender)),
            room: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            writer: Mutex::new(Some(writer)),
            deadline,
            counters,
        })
    }

    /// Takes `events` events (COPY text) into the buffer, or refuses them all when there is no
    /// room for them or the pipeline is shutting down.
    pub async fn offer(&self, text: String, events: u32) -> Result<(), Full> {
        if events > self.capacity {
            return Err(Full);
        }
        let room = self
            .room
            .clone()
            .try_acquire_many_owned(events)
            .map_err(|_| Full)?;
        let sender = self.sender.lock().await;
        let sender = sender.as_ref().ok_or(Full)?;
        sender
            .send(Chunk {
                text,
                events,
                _room: room,
            })
            .map_err(|_| Full)?;
        self.counters
            .accepted
            .fetch_add(u64::from(events), Ordering::Relaxed);
        Ok(())
    }

    /// Events accepted and not yet written.
    pub fn buffered(&self) -> u32 {
        self.capacity - self.room.available_permits() as u32
    }

    /// Stops taking events and waits until the writer has written (or spooled) every accepted
    /// one; the database has `grace` to take them.
    pub async fn shut_down(&self, grace: Duration) {
        self.deadline.set(grace);
        // Without a sender the writer's loop ends once the channel is empty.
        self.sender.lock().await.take();
        let Some(writer) = self.writer.lock().await.take() else {
            return;
        };
        if let Err(err) = writer.await {
            tracing::error!(%err, "the analytics writer failed");
        }
    }
}

/// When the writer must stop waiting for the database and spool instead (set on shutdown).
#[derive(Default)]
struct Deadline(std::sync::Mutex<Option<tokio::time::Instant>>);

impl Deadline {
    fn set(&self, after: Duration) {
        *self.0.lock().expect("deadline lock") = Some(tokio::time::Instant::now() + after);
    }

    fn passed(&self) -> bool {
        self.0
            .lock()
            .expect("deadline lock")
            .is_some_and(|at| tokio::time::Instant::now() >= at)
    }
}

struct Writer {
    pool: PgPool,
    spool: Spool,
    counters: Arc<Counters>,
    deadline: Arc<Deadline>,
}

impl Writer {
    async fn run(self, mut receiver: mpsc::UnboundedReceiver<Chunk>) {
        self.replay_spool().await;
        while let Some(first) = receiver.recv().await {
            let mut chunks = vec![first];
            let mut events = chunks[0].events;
            while events < MAX_EVENTS_PER_WRITE {
                match receiver.try_recv() {
                    Ok(chunk) => {
                        events += chunk.events;
                        chunks.push(chunk);
                    }
                    Err(_) => break,
                }
            }
            let text: String = chunks.iter().map(|c| c.text.as_str()).collect();
            if !self.write(&text, events).await {
                self.spool_text(&text, events).await;
            }
            // Dropping the chunks gives their room back.
        }
    }

    /// Writes what earlier runs spooled (each file once it is in the database).
    async fn replay_spool(&self) {
        for (path, text) in self.spool.pending().await {
            let events = text.lines().count() as u32;
            if self.write(&text, events).await {
                self.counters
                    .replayed
                    .fetch_add(u64::from(events), Ordering::Relaxed);
                self.spool.remove(&path).await;
                tracing::info!(events, path = %path.display(), "spooled analytics events written");
            } else {
                return;
            }
        }
    }

    /// Writes the events, retrying with back-off until the database takes them (true) or the
    /// shutdown deadline passes (false).
    async fn write(&self, text: &str, events: u32) -> bool {
        let mut backoff = Duration::from_millis(100);
        while !self.deadline.passed() {
            let attempt =
                tokio::time::timeout(WRITE_TIMEOUT, store::write_copy_text(&self.pool, text)).await;
            match attempt {
                Ok(Ok(new)) => {
                    self.counters.written.fetch_add(new, Ordering::Relaxed);
                    self.counters
                        .duplicates
                        .fetch_add(u64::from(events).saturating_sub(new), Ordering::Relaxed);
                    return true;
                }
                Ok(Err(err)) => {
                    tracing::warn!(%err, events, "cannot write analytics events yet; retrying");
                }
                Err(_) => tracing::warn!(events, "an analytics write timed out; retrying"),
            }
            self.counters.write_failures.fetch_add(1, Ordering::Relaxed);
            // A day the partitions do not reach yet (no worker has run lately) is made here;
            // any other failure is waited out.
            ensure_partitions(&self.pool).await;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        false
    }

    async fn spool_text(&self, text: &str, events: u32) {
        match self.spool.write(text).await {
            Ok(path) => {
                self.counters
                    .spooled
                    .fetch_add(u64::from(events), Ordering::Relaxed);
                tracing::warn!(events, path = %path.display(),
                    "analytics events spooled to disk; the next start writes them");
            }
            Err(err) => {
                tracing::error!(%err, events, "cannot spool analytics events; they are lost")
            }
        }
    }
}

/// Makes the partitions from two days ago to two days ahead (see the migration).
pub async fn ensure_partitions(pool: &PgPool) {
    let today = OffsetDateTime::now_utc().date();
    let first = today - time::Duration::days(2);
    let last = today + time::Duration::days(2);
    let made =
        tokio::time::timeout(WRITE_TIMEOUT, store::ensure_partitions(pool, first, last)).await;
    if let Ok(Err(err)) = made {
        tracing::debug!(%err, "cannot make analytics partitions");
    }
}
