//! The JSON API under `/api/v1`, one file per resource, each exporting its `routes()`.
//! The request pipeline (request context, CSRF, session, page cache, errors, state) sits beside
//! it in the crate root.

pub mod accounts;
pub mod images;
pub mod imports;
pub mod studio;
pub mod uploads;
