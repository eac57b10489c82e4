//! Playback analytics shared by the player (which sends beacons) and the server (which checks,
//! stores and rolls them up): the wire format of a beacon batch and its rules (`event`), watched
//! ranges and the retention curve (`ranges`), the quality-of-experience formulas (`qoe`), and the
//! coarse dimensions a request is filed under (`dimensions`). No I/O.

pub mod dimensions;
pub mod event;
pub mod qoe;
pub mod ranges;
pub mod report;

pub use event::{BatchError, EventBatch, EventKind, PlayerEvent};
