//! The `ferrotape` server: configuration, the axum router (SSR pages, server functions, health),
//! and the embedded mode (a private PostgreSQL and an in-process worker).

pub mod cli;
pub mod database;
pub mod demo;
pub mod error;
pub mod health;
pub mod router;
pub mod serve;
pub mod state;
pub mod tenancy;
