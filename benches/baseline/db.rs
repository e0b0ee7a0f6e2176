//! PostgreSQL access: the connection pool and the one way statements are run.
//!
//! Every statement goes through [`Sql`], which prepares it once per
//! connection (deadpool's statement cache, like an ORM's prepared queries)
//! and counts it for `baseline_storage_lookups_total`. Statements of one
//! request that do not depend on each other are awaited together
//! (`tokio::try_join!`) on the same connection: tokio-postgres pipelines
//! them, the way the plans' `Promise.all([findMany, count])` overlaps them.

use crate::metrics::{Metrics, PoolGauges};
use anyhow::Context;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use shopd::api::error::ApiError;
use shopd::domain::Timestamp;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

/// A statement parameter.
pub type Param<'a> = &'a (dyn ToSql + Sync);

/// The pool and the counters every statement bumps; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    metrics: Arc<Metrics>,
}

impl Db {
    /// A pool of at most `size` connections to `url`; opens one connection
    /// now so a wrong URL or a stopped server fails at startup.
    pub async fn connect(url: &str, size: usize, metrics: Arc<Metrics>) -> anyhow::Result<Db> {
        let config: tokio_postgres::Config = url
            .parse()
            .with_context(|| format!("parsing the PostgreSQL URL {url}"))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Fast: a returned connection is reused without a test query.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .build()
            .context("building the connection pool")?;
        let db = Db { pool, metrics };
        let client = db
            .pool
            .get()
            .await
            .with_context(|| format!("connecting to PostgreSQL at {url}"))?;
        drop(client);
        Ok(db)
    }

    /// A pooled connection; waits while all are in use.
    pub async fn conn(&self) -> Result<deadpool_postgres::Object, ApiError> {
        self.pool
            .get()
            .await
            .map_err(|e| internal(e, "getting a pooled connection"))
    }

    pub fn sql<'c, C: GenericClient + Sync>(&'c self, client: &'c C) -> Sql<'c, C> {
        Sql {
            client,
            metrics: &self.metrics,
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn gauges(&self) -> PoolGauges {
        let s = self.pool.status();
        PoolGauges {
            size: s.size,
            idle: s.available,
            max: s.max_size,
        }
    }
}

/// Runs counted, prepared statements on one client or transaction.
pub struct Sql<'c, C> {
    client: &'c C,
    metrics: &'c Metrics,
}

impl<C: GenericClient + Sync> Sql<'_, C> {
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, ApiError> {
        let statement = self.prepare(sql).await?;
        self.metrics.statement();
        self.client
            .query(&statement, params)
            .await
            .map_err(|e| internal(e, sql))
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, ApiError> {
        let statement = self.prepare(sql).await?;
        self.metrics.statement();
        self.client
            .query_opt(&statement, params)
            .await
            .map_err(|e| internal(e, sql))
    }

    pub async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, ApiError> {
        let statement = self.prepare(sql).await?;
        self.metrics.statement();
        self.client
            .query_one(&statement, params)
            .await
            .map_err(|e| internal(e, sql))
    }

    pub async fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, ApiError> {
        let statement = self.prepare(sql).await?;
        self.metrics.statement();
        self.client
            .execute(&statement, params)
            .await
            .map_err(|e| internal(e, sql))
    }

    async fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement, ApiError> {
        self.client
            .prepare_cached(sql)
            .await
            .map_err(|e| internal(e, sql))
    }
}

/// An unexpected failure: logged with its cause by the API error, answered
/// with an opaque 500.
pub fn internal<E>(e: E, context: &str) -> ApiError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let context: String = context.split_whitespace().collect::<Vec<_>>().join(" ");
    ApiError::Internal(anyhow::Error::new(e).context(context))
}

/// [`internal`] for a plain message.
pub fn internal_msg(message: impl std::fmt::Display, context: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("{context}: {message}"))
}

/// A `timestamptz` as shopd's millisecond timestamp.
pub fn timestamp(t: OffsetDateTime) -> Result<Timestamp, ApiError> {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms)
        .map_err(|_| "is out of range".to_string())
        .and_then(Timestamp::from_millis)
        .map_err(|e| internal_msg(e, "reading a timestamp"))
}

/// shopd's millisecond timestamp as a `timestamptz` value.
pub fn to_offset(t: Timestamp) -> OffsetDateTime {
    // Timestamp's invariant (years 1–9999) is inside OffsetDateTime's range.
    OffsetDateTime::from_unix_timestamp_nanos(t.millis() as i128 * 1_000_000)
        .expect("shopd timestamps are within years 1-9999")
}
