//! A real SMTP server for tests: aiosmtpd (PyPI, pinned) in a virtualenv
//! under `target/`, created on first use (idempotent), started on a loopback
//! port, stopped by process id when dropped. No silent skip: if Python or
//! PyPI is unavailable the test fails and says why.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const AIOSMTPD: &str = "aiosmtpd==1.4.6";
static VENV: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The virtualenv's python, with aiosmtpd installed.
pub fn python() -> PathBuf {
    let mut venv = VENV.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = &*venv {
        return p.clone();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv");
    let py = dir.join("bin/python");
    let ok = |py: &Path| {
        Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(&py) {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 runs (needed for the SMTP test server)");
        assert!(status.success(), "python3 -m venv {}", dir.display());
        let status = Command::new(dir.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                AIOSMTPD,
            ])
            .status()
            .expect("pip runs");
        assert!(status.success(), "pip install {AIOSMTPD} failed");
        assert!(ok(&py), "aiosmtpd importable after install");
    }
    *venv = Some(py.clone());
    py
}

/// What the server does with messages.
#[derive(Clone, Copy)]
pub enum Mode {
    Accept,
    /// 451 to every DATA.
    Reject4xx,
    /// 550 to every DATA.
    Reject5xx,
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    pub fn start(mode: Mode) -> SmtpServer {
        SmtpServer::start_on(mode, free_port())
    }

    pub fn start_on(mode: Mode, port: u16) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mode = match mode {
            Mode::Accept => "accept",
            Mode::Reject4xx => "reject4",
            Mode::Reject5xx => "reject5",
        };
        let mut child = Command::new(python())
            .arg(script)
            .arg(mode)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the SMTP server starts");
        use std::io::BufRead;
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server is listening");
        SmtpServer { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Messages received so far: (recipients, raw message).
    pub fn messages(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        for p in names {
            let rcpt = std::fs::read_to_string(p.with_extension("rcpt")).unwrap_or_default();
            out.push((rcpt, std::fs::read_to_string(&p).unwrap()));
        }
        out
    }

    /// Waits until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<(String, String)> {
        let deadline = Instant::now() + within;
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
