//! Jobs as the UI and the queue both see them: states and resource classes.

use serde::{Deserialize, Serialize};

/// The state machine of a job (`job_state` in SQL has the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Available,
    Scheduled,
    Running,
    Retryable,
    Completed,
    Discarded,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Available,
        JobState::Scheduled,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Discarded,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Completed, discarded and cancelled jobs never run again on their own.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Discarded | JobState::Cancelled
        )
    }
}

/// What a job needs from the machine running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceClass {
    Cpu,
    /// Takes a slot of the worker's GPU semaphore and counts against the fleet-wide cap.
    Gpu,
    /// Speech recognition (Whisper): its own slots on each worker, so captions never hold a
    /// transcode's slot and transcodes never wait behind captions.
    Speech,
}

impl ResourceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceClass::Cpu => "cpu",
            ResourceClass::Gpu => "gpu",
            ResourceClass::Speech => "speech",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_know_which_are_final() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        let finals: Vec<_> = JobState::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            [
                JobState::Completed,
                JobState::Discarded,
                JobState::Cancelled
            ]
        );
        assert_eq!(JobState::parse("done"), None);
    }
}

/// How many jobs of a kind are in a state (the admin overview and /metrics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCount {
    pub kind: String,
    pub state: JobState,
    pub count: i64,
}

/// One job as the admin page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: i64,
    pub kind: String,
    pub state: JobState,
    pub attempt: i32,
    pub max_attempts: i32,
    /// `host:pid:worker` of the latest attempt.
    pub last_worker: Option<String>,
    /// Every failed attempt, oldest first: "attempt N at TIME: message".
    pub errors: Vec<String>,
    pub created_at: time::OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsOverview {
    pub counts: Vec<JobCount>,
    pub jobs: Vec<JobSummary>,
}
