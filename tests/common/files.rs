//! What the tests check of files shopd wrote.

/// Every file and directory under `dir` is its owner's alone (no group or
/// other permission bits), whatever the test's own umask.
#[allow(dead_code)] // not every test binary checks modes
pub fn assert_owner_only(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", e.path().display());
            seen += 1;
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert!(seen > 3, "only {seen} entries under {}", dir.display());
}
