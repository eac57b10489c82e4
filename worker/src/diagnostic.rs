//! Built-in job kinds for checking a fleet (and for the queue's own tests and benchmark):
//! `diagnostic.noop`, `diagnostic.sleep` and `diagnostic.gpu_sleep` (`{"ms": N}`).

use std::time::Duration;

use ferrotape_model::jobs::ResourceClass;

use crate::handler::{JobContext, JobFuture, JobHandler, Registry};

pub struct Noop;

impl JobHandler for Noop {
    fn kind(&self) -> &'static str {
        "diagnostic.noop"
    }

    fn concurrency(&self) -> usize {
        16
    }

    fn run(&self, _ctx: JobContext) -> JobFuture {
        Box::pin(async { Ok(()) })
    }
}

pub struct Sleep {
    kind: &'static str,
    class: ResourceClass,
}

impl JobHandler for Sleep {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn resource_class(&self) -> ResourceClass {
        self.class
    }

    fn concurrency(&self) -> usize {
        8
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        Box::pin(async move {
            let ms = ctx.job.payload["ms"]
                .as_u64()
                .ok_or("the payload needs {\"ms\": milliseconds}")?;
            tokio::time::sleep(Duration::from_millis(ms.min(3_600_000))).await;
            Ok(())
        })
    }
}

pub fn register(registry: Registry) -> Registry {
    registry
        .register(Noop)
        .register(Sleep {
            kind: "diagnostic.sleep",
            class: ResourceClass::Cpu,
        })
        .register(Sleep {
            kind: "diagnostic.gpu_sleep",
            class: ResourceClass::Gpu,
        })
}
