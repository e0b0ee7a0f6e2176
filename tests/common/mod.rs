//! Test code shared by the test binaries.

pub mod fixture;
