//! A real S3-compatible server for tests: moto's server mode (PyPI,
//! pinned) in a virtualenv under `target/`, created on first use, started
//! on a loopback port, stopped by process id when dropped. No silent skip:
//! if Python or PyPI is unavailable the test fails and says why.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MOTO: &str = "moto[server]==5.2.5";

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv");
        let server = dir.join("bin/moto_server");
        if !server.exists() {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&dir)
                .status()
                .expect("python3 runs (needed for the S3 test server)");
            assert!(status.success(), "python3 -m venv {}", dir.display());
            let status = Command::new(dir.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", MOTO])
                .status()
                .expect("pip runs");
            assert!(status.success(), "pip install {MOTO} failed");
        }
        let port = super::node::free_port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The `AWS_*` variables a client needs for this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
