//! Shop users. Accounts and passwords arrive in a later issue; for now users
//! are imported and shown as review authors.

use super::fields::{Checked, Fields, Presence, text_line};
use super::{Id, InputMode, Timestamp, limits};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
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

impl User {
    /// Parses a full user record (users are only imported for now).
    pub fn parse(
        map: &Map<String, Value>,
        mode: InputMode,
        now: Timestamp,
    ) -> Checked<Option<User>> {
        let mut f = Fields::new(map);
        let (id, stamps) = mode.read_identity(&mut f, &["createdAt"]);
        let email = f.get("email", Presence::Required, email);
        let name = f.get("name", Presence::Required, |v| text_line(v, limits::NAME));
        let errors = f.finish();
        let user = match (id, email, name) {
            (Some(id), Some(email), Some(name)) if errors.is_empty() => Some(User {
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
