//! The media section: where product images are kept, the limits an upload
//! must pass before any pixel is decoded, how many decode at once, how many
//! bytes of served variants stay in memory, and how long an image no
//! product uses is kept.
//!
//! # The limits' defaults
//! - 20 MiB: a 24-megapixel camera JPEG at high quality is 8–15 MB; PNG
//!   screenshots of a 5K screen stay under 20 MB.
//! - 50 megapixels: above every phone and most full-frame cameras (45 MP);
//!   decoding that as RGBA takes 200 MB, the most one decode may hold.
//! - Decodes at once: the cores (each uses one); a few more wait, the rest
//!   are told to come back (503 `busy`).

use super::backups::Target;
use super::data_dir::DataDir;
use super::layer::{Problems, raw_section};
use super::replication::duration;
use std::time::Duration;

raw_section! {
    #[command(next_help_heading = "Media (product images)")]
    /// The media settings as given.
    pub(crate) struct Raw {
        /// Where images are kept: a directory or s3://bucket/prefix
        /// (default DATA_DIR/media).
        #[arg(long, env = "SHOPD_MEDIA_STORE")]
        pub media_store: Option<String>,
        /// Largest upload in bytes (default 20 MiB).
        #[arg(long, env = "SHOPD_MEDIA_MAX_BYTES")]
        pub media_max_bytes: Option<u64>,
        /// Largest upload in pixels, width × height (default 50,000,000).
        #[arg(long, env = "SHOPD_MEDIA_MAX_PIXELS")]
        pub media_max_pixels: Option<u64>,
        /// Images decoded at once (default: the cores).
        #[arg(long, env = "SHOPD_MEDIA_DECODERS")]
        pub media_decoders: Option<usize>,
        /// Bytes of served variants kept in memory (default 64 MiB).
        #[arg(long, env = "SHOPD_MEDIA_CACHE_BYTES")]
        pub media_cache_bytes: Option<u64>,
        /// How long an image no product uses is kept (default 24h).
        #[arg(long, env = "SHOPD_MEDIA_GC_GRACE")]
        pub media_gc_grace: Option<String>,
    }
}

/// The media service's settings.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Where originals and variants are kept.
    pub store: Target,
    pub max_bytes: u64,
    pub max_pixels: u64,
    /// Decodes and encodes running at once.
    pub decoders: usize,
    /// Uploads waiting for a decoder beyond which the answer is 503.
    pub waiting: usize,
    pub cache_bytes: u64,
    pub gc_grace: Duration,
    /// How often garbage collection runs.
    pub gc_every: Duration,
    /// A follower's leader (the replication section's `follow`): where
    /// variants not kept here yet are fetched from.
    pub leader: Option<String>,
}

pub const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024;
pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;

impl MediaSettings {
    /// The defaults, keeping images in `data`'s `media` directory.
    pub fn in_data_dir(data: &DataDir) -> MediaSettings {
        let decoders = std::thread::available_parallelism().map_or(2, |n| n.get());
        MediaSettings {
            store: Target::Dir(data.media()),
            max_bytes: DEFAULT_MAX_BYTES,
            max_pixels: DEFAULT_MAX_PIXELS,
            decoders,
            waiting: decoders * 4,
            cache_bytes: 64 * 1024 * 1024,
            gc_grace: Duration::from_secs(24 * 3600),
            gc_every: Duration::from_secs(3600),
            leader: None,
        }
    }
}

pub(super) fn resolve(
    raw: Raw,
    data: &DataDir,
    leader: Option<&str>,
    problems: &mut Problems,
) -> MediaSettings {
    let mut s = MediaSettings::in_data_dir(data);
    s.leader = leader.map(str::to_string);
    if let Some(t) = raw.media_store {
        match Target::parse(&t) {
            Ok(t) => s.store = t,
            Err(e) => problems.push(format!("media-store: {e}")),
        }
    }
    if let Some(b) = raw.media_max_bytes {
        if !(1024..=1024 * 1024 * 1024).contains(&b) {
            problems.push(format!("media-max-bytes: {b} is not within 1 KiB..=1 GiB"));
        }
        s.max_bytes = b;
    }
    if let Some(p) = raw.media_max_pixels {
        if !(1..=1_000_000_000).contains(&p) {
            problems.push(format!(
                "media-max-pixels: {p} is not within 1..=1,000,000,000"
            ));
        }
        s.max_pixels = p;
    }
    if let Some(d) = raw.media_decoders {
        if !(1..=256).contains(&d) {
            problems.push(format!("media-decoders: {d} is not within 1..=256"));
        }
        s.decoders = d;
        s.waiting = d * 4;
    }
    if let Some(c) = raw.media_cache_bytes {
        if c > 64 * 1024 * 1024 * 1024 {
            problems.push(format!("media-cache-bytes: {c} is more than 64 GiB"));
        }
        s.cache_bytes = c;
    }
    s.gc_grace = duration("media-gc-grace", raw.media_gc_grace, s.gc_grace, problems);
    s
}
