//! What a job kind provides to the runtime: its name, resource class, concurrency and the code
//! that runs one job.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ferrotape_model::jobs::ResourceClass;
use ferrotape_store::PgPool;
use ferrotape_store::jobs::ClaimedJob;

/// A job's outcome: `Err` carries the message recorded as this attempt's error.
pub type JobResult = Result<(), String>;
pub type JobFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;

/// Everything a handler gets for one attempt.
pub struct JobContext {
    pub job: ClaimedJob,
    pub pool: PgPool,
    /// This worker's id as `jobs.attempted_by` records it: with the job id and attempt, what
    /// a handler checks to prove its attempt still owns the job.
    pub worker: String,
}

pub trait JobHandler: Send + Sync + 'static {
    /// The `jobs.kind` this handler runs.
    fn kind(&self) -> &'static str;

    fn resource_class(&self) -> ResourceClass {
        ResourceClass::Cpu
    }

    /// How many jobs of this kind one worker runs at once.
    fn concurrency(&self) -> usize {
        4
    }

    /// Runs one attempt. Dropping the future cancels it (on cancellation or a lost lease), so
    /// child processes should die with it (`kill_on_drop`, or `crate::ffmpeg::run`). Jobs must be idempotent: a
    /// retried attempt may follow a crashed one.
    fn run(&self, ctx: JobContext) -> JobFuture;
}

/// The handlers a worker runs, by kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<&'static str, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn register(mut self, handler: impl JobHandler) -> Registry {
        let kind = handler.kind();
        assert!(
            self.handlers.insert(kind, Arc::new(handler)).is_none(),
            "two handlers for the job kind {kind}"
        );
        self
    }

    pub fn handlers(&self) -> impl Iterator<Item = &Arc<dyn JobHandler>> {
        self.handlers.values()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }
}
