//! The one integration test binary: black-box tests over real HTTP against a
//! real server on a random loopback port, with a real redb file in a temp dir.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/smtp.rs"]
mod smtp;

mod accounts;
mod admin_pages;
mod admin_writes;
mod backups;
mod binary;
mod brands_categories;
mod cache;
mod contract;
mod corruption;
mod docs;
mod fuzz;
mod golden;
mod health;
mod helpers;
mod http_cache;
mod http_limits;
mod import_export;
mod jobs;
mod listing_property;
mod media;
mod orders;
mod persistence;
mod products;
mod races;
mod rate_limits;
mod reference;
mod role_matrix;
mod search;
mod security_headers;
mod storage_faults;
