//! The property-based fuzz targets' settings, shared by every layer's
//! `fuzz` tests (test builds only): `PROPTEST_CASES` sets the cases per
//! target (`benches/fuzz.sh` runs them for longer), else each target's own
//! default; failures are shrunk and printed, not persisted.

use proptest::prelude::ProptestConfig;

pub(crate) fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
