//! Live figures: the Prometheus registry and its scrape-time collector
//! ([`metrics`]) and the admin overview's ring buffers ([`live`]); the
//! middleware feeds both (`middleware::metrics`).

pub(crate) mod live;
pub(crate) mod metrics;
