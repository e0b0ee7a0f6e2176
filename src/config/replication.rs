//! The replication section: a leader's token and log of recent commits, a
//! follower's leader, interval, lag bound and what it answers to writes.

use super::layer::{Problems, raw_section};
use super::secret::Secret;
use std::time::Duration;

raw_section! {
    #[command(next_help_heading = "Replication")]
    /// The replication settings as given.
    pub(crate) struct Raw {
        /// Turns on the leader side of replication: followers (and `backup
        /// create --from`) must present this token. Without it replication is
        /// off.
        #[arg(long, env = "SHOPD_REPLICATION_TOKEN", hide_env_values = true)]
        pub replication_token: Option<Secret>,
        /// Run as a read-only follower of the leader at this URL
        /// (http://leader:8080); needs --replication-token.
        #[arg(long, env = "SHOPD_FOLLOW")]
        pub follow: Option<String>,
        /// How often a follower asks its leader for new commits (default 1s).
        #[arg(long, env = "SHOPD_FOLLOW_INTERVAL")]
        pub follow_interval: Option<String>,
        /// A follower further behind than this answers 503 on /ready
        /// (default 10s).
        #[arg(long, env = "SHOPD_FOLLOW_MAX_LAG")]
        pub follow_max_lag: Option<String>,
        /// What a follower answers to a write: redirect (307 to the leader,
        /// default) or reject (503 read_only).
        #[arg(long, env = "SHOPD_FOLLOWER_WRITES")]
        pub follower_writes: Option<String>,
        /// Bytes of recent commits a leader keeps for its followers (default
        /// 64 MiB); a follower further behind bootstraps again.
        #[arg(long, env = "SHOPD_REPLICATION_LOG_BYTES")]
        pub replication_log_bytes: Option<u64>,
        /// Age of the oldest commit a leader keeps for its followers (default
        /// 10m).
        #[arg(long, env = "SHOPD_REPLICATION_LOG_AGE")]
        pub replication_log_age: Option<String>,
    }
}

/// What a follower answers to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowerWrites {
    /// `307 Temporary Redirect` to the same path on the leader.
    #[default]
    Redirect,
    /// `503 read_only`.
    Reject,
}

/// Replication settings.
#[derive(Debug, Clone)]
pub struct ReplicationSettings {
    /// Followers present it; `None`: a leader serves no replication.
    pub token: Option<Secret>,
    /// The leader's base URL: this process is a follower.
    pub follow: Option<String>,
    pub follow_interval: Duration,
    /// Further behind than this, a follower is not ready.
    pub follow_max_lag: Duration,
    pub follower_writes: FollowerWrites,
    /// Bounds of the leader's log of recent commits.
    pub log_bytes: u64,
    pub log_age: Duration,
}

impl Default for ReplicationSettings {
    fn default() -> Self {
        ReplicationSettings {
            token: None,
            follow: None,
            follow_interval: Duration::from_secs(1),
            follow_max_lag: Duration::from_secs(10),
            follower_writes: FollowerWrites::Redirect,
            log_bytes: 64 << 20,
            log_age: Duration::from_secs(600),
        }
    }
}

/// A duration as `250ms`, `1s`, `10m`, `2h` or `1d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 500ms, 1s, 10m, 1h or 1d"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "'{text}' is not a duration like 500ms, 1s, 10m, 1h or 1d"
            ));
        }
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

/// `given` parsed as a duration, or `default` (a problem when unreadable).
pub(super) fn duration(
    name: &str,
    given: Option<String>,
    default: Duration,
    problems: &mut Problems,
) -> Duration {
    match given {
        None => default,
        Some(t) => parse_duration(&t).unwrap_or_else(|e| {
            problems.push(format!("{name}: {e}"));
            default
        }),
    }
}

pub(super) fn resolve(raw: Raw, problems: &mut Problems) -> ReplicationSettings {
    let d = ReplicationSettings::default();
    let follow_interval = duration(
        "follow-interval",
        raw.follow_interval,
        d.follow_interval,
        problems,
    );
    let follow_max_lag = duration(
        "follow-max-lag",
        raw.follow_max_lag,
        d.follow_max_lag,
        problems,
    );
    let log_age = duration(
        "replication-log-age",
        raw.replication_log_age,
        d.log_age,
        problems,
    );
    if follow_interval < Duration::from_millis(50) {
        problems.push("follow-interval: must be at least 50ms");
    }
    let writes = match raw.follower_writes.as_deref() {
        None | Some("redirect") => FollowerWrites::Redirect,
        Some("reject") => FollowerWrites::Reject,
        Some(other) => {
            problems.push(format!(
                "follower-writes: '{other}' is not redirect or reject"
            ));
            FollowerWrites::Redirect
        }
    };
    let follow = raw.follow;
    if let Some(u) = &follow
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        problems.push(format!(
            "follow: '{u}' must be the leader's base URL, http://host:port"
        ));
    }
    let token = raw.replication_token.filter(|s| !s.expose().is_empty());
    // It hands out snapshots, signing keys included: an admin credential.
    if let Some(problem) = token
        .as_ref()
        .and_then(|t| t.token_problem("replication-token"))
    {
        problems.push(problem);
    }
    if follow.is_some() && token.is_none() {
        problems.push("follow: a follower needs the leader's --replication-token");
    }
    ReplicationSettings {
        token,
        follow: follow.map(|u| u.trim_end_matches('/').to_string()),
        follow_interval,
        follow_max_lag,
        follower_writes: writes,
        log_bytes: raw.replication_log_bytes.unwrap_or(d.log_bytes),
        log_age,
    }
}
