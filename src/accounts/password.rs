//! Password hashing: argon2id with the OWASP Password Storage Cheat Sheet's
//! first recommended setting (m = 19 MiB, t = 2, p = 1), on a bounded pool.
//!
//! A hash costs tens of milliseconds of one core and 19 MiB of memory, so
//! hashing never runs on a request worker: it runs on `threads` dedicated
//! threads (default half the cores) at a lower CPU priority (nice 10). A
//! storm of logins waits in their queue (bounded: past
//! [`QUEUE_PER_THREAD`] waiting hashes per thread the answer is 503 `busy`
//! at once); catalogue reads keep their workers, and the scheduler gives
//! the request workers the cores first when both want them.
//!
//! Verifying against an unknown account still costs one hash (a fixed dummy
//! hash is verified instead), so a login's time does not tell whether the
//! email has an account.

use crate::domain::account::Password;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use std::sync::{Arc, Mutex, OnceLock};

/// The argon2id cost parameters (OWASP: m=19456 KiB, t=2, p=1).
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The queue is full: every hashing thread is busy and
    /// [`QUEUE_PER_THREAD`] requests per thread wait already.
    #[error("too many sign-ins at once; try again in a second")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Hashes that may wait per hashing thread (about 1.2 s of work each at
/// ~19 ms a hash); more are refused at once (503) instead of queueing
/// without bound.
pub(crate) const QUEUE_PER_THREAD: usize = 64;

fn argon2() -> Argon2<'static> {
    // Constant, valid parameters.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("the OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on the calling thread (the CLI; async code uses [`Hasher`]).
pub(crate) fn hash_blocking(password: &Password) -> Result<String, HashError> {
    argon2()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError::Failed(e.to_string()))
}

fn verify_blocking(password: &Password, hash: &str) -> bool {
    argon2()
        .verify_password(password.expose().as_bytes(), hash)
        .is_ok()
}

/// A hash nobody's password matches, verified for unknown accounts.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let p = Password::parse(&crate::accounts::tokens::random_secret())
            .expect("a random secret is a valid password");
        hash_blocking(&p).unwrap_or_default()
    })
}

type Work = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on a bounded pool (see the module docs).
#[derive(Clone)]
pub(crate) struct Hasher {
    queue: std::sync::mpsc::SyncSender<Work>,
}

/// Lowers the calling thread's CPU priority to nice 10 (Linux: a thread
/// id is a process id for setpriority). Best effort.
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread; no memory is shared.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

impl Hasher {
    /// Starts `threads` hashing threads; they end when the last handle is
    /// dropped.
    pub(crate) fn new(threads: usize) -> Hasher {
        Hasher::with_queue(threads, threads.max(1) * QUEUE_PER_THREAD)
    }

    /// [`Hasher::new`] with room for `queue` waiting hashes.
    pub(crate) fn with_queue(threads: usize, queue: usize) -> Hasher {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("shopd-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let next = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(work) => work(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-hashing thread");
            }
        }
        Hasher { queue: tx }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move || {
            let _ = tx.send(f());
        });
        self.queue.try_send(work).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => HashError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                HashError::Failed("the hashing pool has stopped".into())
            }
        })?;
        rx.await
            .map_err(|_| HashError::Failed("a hashing thread stopped".into()))
    }

    pub(crate) async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let p = password.clone();
        self.run(move || hash_blocking(&p)).await?
    }

    /// Whether `password` matches `hash`; with no hash (unknown account, or
    /// one without a password) a dummy hash is verified and the answer is
    /// `false`, in about the same time.
    pub(crate) async fn verify(
        &self,
        password: &Password,
        hash: Option<String>,
    ) -> Result<bool, HashError> {
        let p = password.clone();
        self.run(move || match hash {
            Some(h) => verify_blocking(&p, &h),
            None => {
                let _ = verify_blocking(&p, dummy_hash());
                false
            }
        })
        .await
    }

    /// Warms the dummy hash (so the first unknown-email login is not slower).
    pub(crate) async fn warm(&self) {
        let _ = self.run(|| dummy_hash().len()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_their_password_only() {
        let h = Hasher::new(1);
        let p = Password::parse("correct horse").unwrap();
        let hash = h.hash(&p).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(h.verify(&p, Some(hash.clone())).await.unwrap());
        let wrong = Password::parse("wrong horse").unwrap();
        assert!(!h.verify(&wrong, Some(hash)).await.unwrap());
        assert!(!h.verify(&p, None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_growing() {
        let h = Hasher::with_queue(1, 2);
        let p = Password::parse("correct horse").unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (h, p) = (h.clone(), p.clone());
                tokio::spawn(async move { h.hash(&p).await })
            })
            .collect();
        let mut busy = 0;
        let mut done = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => done += 1,
                Err(HashError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // One hashing, two waiting; the rest refused.
        assert!(done >= 2 && busy >= 1, "done {done}, busy {busy}");
        assert_eq!(done + busy, 8);
    }
}
