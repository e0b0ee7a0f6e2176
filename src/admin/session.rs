//! Browser sessions of the admin pages.
//!
//! Signing in goes through the accounts service (password check, ban,
//! sign-in metrics, a durable session record); the browser then holds only
//! an opaque random token in the `shopd_admin` cookie (HttpOnly,
//! SameSite=Strict, `Secure` when the request came over HTTPS, path
//! `/admin`). This process keeps the SHA-256 of each token with the account
//! and durable session it stands for, the session's CSRF token and a
//! one-shot flash message.
//!
//! Invariants: every request re-checks the durable session and the account
//! ([`crate::accounts::Accounts::session_principal`]), so a sign-out, a
//! role change or a ban ends a browser session at its next request; a
//! session idle for [`IDLE`] or older than [`ABSOLUTE`] is gone; tokens and
//! CSRF tokens are compared in constant time and never logged. Sessions
//! live in memory: a restart signs every admin out.

use crate::accounts::{Principal, tokens};
use crate::domain::Id;
use crate::domain::account::Role;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie.
pub(crate) const COOKIE: &str = "shopd_admin";
/// The sign-in form's CSRF cookie (before there is a session).
pub(crate) const LOGIN_COOKIE: &str = "shopd_admin_login";
/// Idle time after which a session ends.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// Age after which a session ends, however busy.
pub(crate) const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest go first).
const MAX_SESSIONS: usize = 10_000;

/// A message shown once on the next page.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Flash {
    /// `ok` or `error`.
    pub kind: &'static str,
    pub text: String,
}

struct Entry {
    email: String,
    durable: Id,
    csrf: String,
    created: Instant,
    seen: Instant,
    flash: Option<Flash>,
}

/// A signed-in admin page request: who, with what role, and the CSRF
/// token its forms carry.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub account: Id,
    pub email: String,
    pub role: Role,
    pub csrf: String,
    /// How writes are recorded (`staff a_…`), as the API records them.
    pub actor: String,
    key: [u8; 32],
}

impl Signed {
    pub(crate) fn is_admin(&self) -> bool {
        self.role >= Role::Admin
    }
}

/// Why a request has no usable session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoSession {
    /// No cookie, an unknown or expired token, a revoked session.
    SignIn,
    /// Signed in, but as a customer.
    NotStaff,
}

/// The sessions of this process.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Entry>>,
}

impl Sessions {
    /// Starts a session for a staff or admin account signed in as durable
    /// session `durable`; returns the cookie's token.
    pub(crate) fn start(&self, email: String, durable: Id) -> String {
        let token = tokens::random_secret();
        let now = Instant::now();
        let entry = Entry {
            email,
            durable,
            csrf: tokens::random_secret(),
            created: now,
            seen: now,
            flash: None,
        };
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, e| live(e, now));
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.seen).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
            map.insert(tokens::sha256(&token), entry);
        }
        token
    }

    /// The session of cookie `token`, checked against the accounts
    /// service by `principal` (the durable session's current account).
    pub(crate) fn check(
        &self,
        token: &str,
        principal: impl FnOnce(&Id) -> Option<Principal>,
    ) -> Result<Signed, NoSession> {
        let key = tokens::sha256(token);
        let now = Instant::now();
        let (durable, email, csrf) = {
            let mut map = self.map.lock().map_err(|_| NoSession::SignIn)?;
            let Some(e) = map.get_mut(&key) else {
                return Err(NoSession::SignIn);
            };
            if !live(e, now) {
                map.remove(&key);
                return Err(NoSession::SignIn);
            }
            e.seen = now;
            (e.durable.clone(), e.email.clone(), e.csrf.clone())
        };
        match principal(&durable) {
            Some(Principal::Account { id, role, .. }) if role >= Role::Staff => Ok(Signed {
                actor: format!("{role} {id}"),
                account: id,
                email,
                role,
                csrf,
                key,
            }),
            Some(_) => {
                self.end_key(&key);
                Err(NoSession::NotStaff)
            }
            None => {
                self.end_key(&key);
                Err(NoSession::SignIn)
            }
        }
    }

    /// Ends a session; returns its durable session to revoke.
    pub(crate) fn end(&self, s: &Signed) -> Option<Id> {
        self.end_key(&s.key)
    }

    fn end_key(&self, key: &[u8; 32]) -> Option<Id> {
        self.map.lock().ok()?.remove(key).map(|e| e.durable)
    }

    /// Sets the message the session's next page shows.
    pub(crate) fn flash(&self, s: &Signed, kind: &'static str, text: impl Into<String>) {
        if let Ok(mut map) = self.map.lock()
            && let Some(e) = map.get_mut(&s.key)
        {
            e.flash = Some(Flash {
                kind,
                text: text.into(),
            });
        }
    }

    /// Takes the pending message, if any.
    pub(crate) fn take_flash(&self, s: &Signed) -> Option<Flash> {
        self.map.lock().ok()?.get_mut(&s.key)?.flash.take()
    }

    #[cfg(test)]
    fn age(&self, s: &Signed, by: Duration) {
        if let Ok(mut map) = self.map.lock()
            && let Some(e) = map.get_mut(&s.key)
        {
            e.seen -= by;
        }
    }
}

fn live(e: &Entry, now: Instant) -> bool {
    now.duration_since(e.seen) < IDLE && now.duration_since(e.created) < ABSOLUTE
}

/// Whether a form's CSRF token is the session's (constant time).
pub(crate) fn csrf_matches(expected: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| bool::from(expected.as_bytes().ct_eq(p.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> impl FnOnce(&Id) -> Option<Principal> {
        move |sid| {
            Some(Principal::Account {
                id: Id::parse("a_1").unwrap(),
                role,
                session: sid.clone(),
            })
        }
    }

    #[test]
    fn a_session_is_found_by_its_token_only_and_ends_when_idle_or_revoked() {
        let sessions = Sessions::default();
        let token = sessions.start("a@example.com".into(), Id::parse("s_1").unwrap());
        let s = sessions.check(&token, principal(Role::Staff)).unwrap();
        assert_eq!(s.role, Role::Staff);
        assert!(csrf_matches(&s.csrf, Some(&s.csrf)));
        assert!(!csrf_matches(&s.csrf, Some("x")));
        assert!(!csrf_matches(&s.csrf, None));
        assert_eq!(
            sessions
                .check("not-the-token", principal(Role::Staff))
                .err(),
            Some(NoSession::SignIn)
        );
        // Demoted to customer: refused, and the session is gone.
        assert_eq!(
            sessions.check(&token, principal(Role::Customer)).err(),
            Some(NoSession::NotStaff)
        );
        assert_eq!(
            sessions.check(&token, principal(Role::Admin)).err(),
            Some(NoSession::SignIn)
        );

        let token = sessions.start("a@example.com".into(), Id::parse("s_2").unwrap());
        let s = sessions.check(&token, principal(Role::Admin)).unwrap();
        sessions.flash(&s, "ok", "saved");
        assert_eq!(sessions.take_flash(&s).unwrap().text, "saved");
        assert!(sessions.take_flash(&s).is_none());
        sessions.age(&s, IDLE);
        assert_eq!(
            sessions.check(&token, principal(Role::Admin)).err(),
            Some(NoSession::SignIn)
        );
        // A revoked durable session (the accounts service says no).
        let token = sessions.start("a@example.com".into(), Id::parse("s_3").unwrap());
        assert_eq!(
            sessions.check(&token, |_| None).err(),
            Some(NoSession::SignIn)
        );
    }
}
