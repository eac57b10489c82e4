pub mod account;
pub mod admin;
pub mod auth;
pub mod catalog;
pub mod jobs;
pub mod not_found;
pub mod studio;
pub mod talk;
