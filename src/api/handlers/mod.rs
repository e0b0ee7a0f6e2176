//! The handlers, by area: each takes its inputs as extractors, calls one use
//! case of a service and wraps its answer in the envelope (`dto`). No
//! handler parses, authenticates or renders by hand.

pub mod accounts;
pub mod bench;
pub mod brands;
pub mod cart;
pub mod categories;
pub mod discounts;
pub mod docs;
pub mod jobs;
pub mod metrics;
pub mod orders;
pub mod probes;
pub mod products;
pub mod profile;
pub mod replication;
pub mod search;
