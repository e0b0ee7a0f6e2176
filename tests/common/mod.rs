//! Test code shared by the test binaries.

pub mod files;
pub mod fixture;
