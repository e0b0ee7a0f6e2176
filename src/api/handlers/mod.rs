//! The handlers, by area: each takes its inputs as extractors, calls one use
//! case of a service and wraps its answer in the envelope (`dto`). No
//! handler parses, authenticates or renders by hand.

pub(crate) mod accounts;
pub(crate) mod bench;
pub(crate) mod brands;
pub(crate) mod cart;
pub(crate) mod categories;
pub(crate) mod discounts;
pub(crate) mod docs;
pub(crate) mod jobs;
pub(crate) mod media;
pub(crate) mod metrics;
pub(crate) mod orders;
pub(crate) mod probes;
pub(crate) mod products;
pub(crate) mod profile;
pub(crate) mod replication;
pub(crate) mod search;
