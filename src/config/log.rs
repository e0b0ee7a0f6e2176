//! The log section: format and filter of the tracing subscriber
//! (`telemetry`).

use super::layer::{Problems, raw_section};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format '{s}' (text or json)")),
        }
    }
}

raw_section! {
    /// Log settings as given (every command reads them).
    pub(crate) struct Raw {
        /// Log format: text or json.
        #[arg(long, global = true, env = "SHOPD_LOG_FORMAT")]
        pub log_format: Option<String>,
        /// Log filter, e.g. info or shopd=debug (RUST_LOG wins when set).
        #[arg(long, global = true, env = "SHOPD_LOG_LEVEL")]
        pub log_level: Option<String>,
    }
}

/// How shopd logs.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `shopd=debug`.
    pub level: String,
}

pub(super) fn resolve(raw: Raw, problems: &mut Problems) -> LogSettings {
    let format = match raw.log_format {
        Some(s) => s.parse().unwrap_or_else(|e: String| {
            problems.push(format!("log-format: {e}"));
            LogFormat::Text
        }),
        None => LogFormat::Text,
    };
    LogSettings {
        format,
        level: raw.log_level.unwrap_or_else(|| "info".into()),
    }
}
