//! The plans' Redis cache helper (`packages/shared/src/lib/cache.ts`):
//! [`Cache::get_or_set`] is `getCached(key, fetcher, {ttl, tags})` and
//! [`Cache::invalidate_by_tag`] is `invalidateByTag(tag)`.
//!
//! A miss runs the fetcher (PostgreSQL), then one pipeline stores the JSON
//! body under `key` with `SETEX` and adds `key` to the set `tag:<tag>` of each
//! tag. Invalidation reads the set and deletes its keys and the set. A Redis
//! failure is logged and the request falls back to PostgreSQL, as the plans'
//! `catch` does. Errors (404, …) are never cached.
//!
//! One deliberate difference: the plans refresh a tag set's TTL with the TTL
//! of whichever key was added last, so a 10-minute list key can shorten the
//! set's life below a 30-minute detail key in it, and a later write then
//! misses that key (stale for up to 30 minutes). Here a tag set's expiry only
//! ever grows (`EXPIRE … NX` then `EXPIRE … GT`, Redis 7).
//!
//! The TTLs are the plans': lists and search 600 s, product detail and
//! reviews 1800 s, brands and categories 3600 s.

use crate::metrics::{Kind, Metrics};
use redis::aio::ConnectionManager;
use shopd::api::error::ApiError;
use std::future::Future;
use std::sync::Arc;

impl Kind {
    pub fn ttl_secs(self) -> u64 {
        match self {
            Kind::List | Kind::Search => 600,
            Kind::Detail | Kind::Reviews => 1800,
            Kind::Brands | Kind::Categories => 3600,
        }
    }
}

/// Where an answer came from, for the `X-Cache` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
    /// The cache is switched off (`--cache off`) or Redis failed.
    Bypass,
}

impl Outcome {
    pub fn header(self) -> &'static str {
        match self {
            Outcome::Hit => "HIT",
            Outcome::Miss => "MISS",
            Outcome::Bypass => "BYPASS",
        }
    }
}

#[derive(Clone)]
pub struct Cache {
    /// `None`: caching is off and every answer comes from PostgreSQL.
    redis: Option<ConnectionManager>,
    metrics: Arc<Metrics>,
}

impl Cache {
    /// Connects to `url` (`None`: no cache). The connection manager
    /// reconnects by itself, like the plans' ioredis `retryStrategy`.
    pub async fn connect(url: Option<&str>, metrics: Arc<Metrics>) -> anyhow::Result<Cache> {
        let redis = match url {
            None => None,
            Some(url) => {
                let client = redis::Client::open(url)
                    .map_err(|e| anyhow::anyhow!("parsing the Redis URL {url}: {e}"))?;
                let manager = ConnectionManager::new(client)
                    .await
                    .map_err(|e| anyhow::anyhow!("connecting to Redis at {url}: {e}"))?;
                Some(manager)
            }
        };
        Ok(Cache { redis, metrics })
    }

    pub fn enabled(&self) -> bool {
        self.redis.is_some()
    }

    /// Answers `PING` (readiness).
    pub async fn ping(&self) -> Result<(), String> {
        let Some(redis) = &self.redis else {
            return Ok(());
        };
        let mut con = redis.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut con)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// The cached body under `key`, or `fetch()`'s, stored for `kind`'s TTL
    /// and remembered under every tag.
    pub async fn get_or_set<F, Fut>(
        &self,
        kind: Kind,
        key: &str,
        tags: &[&str],
        fetch: F,
    ) -> Result<(Vec<u8>, Outcome), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, ApiError>>,
    {
        let Some(redis) = &self.redis else {
            return Ok((fetch().await?, Outcome::Bypass));
        };
        let mut con = redis.clone();
        match redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(&mut con)
            .await
        {
            Ok(Some(body)) => {
                self.metrics.cache_hit(kind);
                return Ok((body, Outcome::Hit));
            }
            Ok(None) => {}
            Err(e) => {
                self.metrics.cache_error();
                tracing::warn!(error = %e, key, "cache read failed; answering from PostgreSQL");
                return Ok((fetch().await?, Outcome::Bypass));
            }
        }
        self.metrics.cache_miss(kind);
        let body = fetch().await?;
        let ttl = kind.ttl_secs();
        let mut pipe = redis::pipe();
        pipe.cmd("SETEX").arg(key).arg(ttl).arg(&body).ignore();
        for tag in tags {
            let set = format!("tag:{tag}");
            pipe.cmd("SADD").arg(&set).arg(key).ignore();
            pipe.cmd("EXPIRE").arg(&set).arg(ttl).arg("NX").ignore();
            pipe.cmd("EXPIRE").arg(&set).arg(ttl).arg("GT").ignore();
        }
        if let Err(e) = pipe.query_async::<()>(&mut con).await {
            self.metrics.cache_error();
            tracing::warn!(error = %e, key, "cache write failed");
        }
        Ok((body, Outcome::Miss))
    }

    /// Deletes every key stored under `tag`; returns how many.
    pub async fn invalidate_by_tag(&self, tag: &str) -> usize {
        let Some(redis) = &self.redis else {
            return 0;
        };
        let mut con = redis.clone();
        let set = format!("tag:{tag}");
        let keys: Vec<String> = match redis::cmd("SMEMBERS").arg(&set).query_async(&mut con).await {
            Ok(k) => k,
            Err(e) => {
                self.metrics.cache_error();
                tracing::warn!(error = %e, tag, "tag invalidation failed");
                return 0;
            }
        };
        if keys.is_empty() {
            return 0;
        }
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("DEL").arg(k).ignore();
        }
        pipe.cmd("DEL").arg(&set).ignore();
        if let Err(e) = pipe.query_async::<()>(&mut con).await {
            self.metrics.cache_error();
            tracing::warn!(error = %e, tag, "tag invalidation failed");
            return 0;
        }
        tracing::debug!(tag, keys = keys.len(), "cache invalidated");
        keys.len()
    }
}
