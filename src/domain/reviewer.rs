//! Review authors: the public identity shown on reviews (`user {id, name}`).
//!
//! Named `Reviewer`, not `User`: the accounts issue brings accounts (email
//! login, password hash, role, bans), which are a different record with
//! different rules (unique email, secrets). A reviewer is what a catalogue
//! import brings; the accounts issue gives each one an account with the same
//! id that its owner can claim through a password reset, and the reviewer
//! stays the display-only projection that reviews render. Imported from
//! `users.jsonl` (the public file name is unchanged).

use super::fields::{Checked, Fields, Presence, text_line};
use super::{Id, InputMode, Timestamp, limits};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reviewer {
    pub id: Id,
    pub email: String,
    pub name: String,
    pub created_at: Timestamp,
}

fn email(v: &Value) -> Result<String, String> {
    let s = text_line(v, limits::EMAIL)?;
    let ok = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if ok {
        Ok(s)
    } else {
        Err("must be an email address".into())
    }
}

impl Reviewer {
    /// Parses a full user record (users are only imported for now).
    pub fn parse(
        map: &Map<String, Value>,
        mode: InputMode,
        now: Timestamp,
    ) -> Checked<Option<Reviewer>> {
        let mut f = Fields::new(map);
        let (id, stamps) = mode.read_identity(&mut f, &["createdAt"]);
        let email = f.get("email", Presence::Required, email);
        let name = f.get("name", Presence::Required, |v| text_line(v, limits::NAME));
        let errors = f.finish();
        let user = match (id, email, name) {
            (Some(id), Some(email), Some(name)) if errors.is_empty() => Some(Reviewer {
                id,
                email,
                name,
                created_at: stamps[0].unwrap_or(now),
            }),
            _ => None,
        };
        Checked {
            value: user,
            errors,
        }
    }
}
