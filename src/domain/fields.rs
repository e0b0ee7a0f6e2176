//! Reading a JSON object field by field while collecting *every* problem.
//!
//! The HTTP API and the JSONL importer both hand a `serde_json` object to the
//! entity parsers in this module's siblings. A parser asks for each field it
//! knows; [`Fields::finish`] then reports any field nobody asked for. Errors are
//! collected, never short-circuited, so a client sees all bad fields at once.

use serde::Serialize;
use serde_json::{Map, Value};

/// One rejected field: its JSON name and a human reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// Every rejected field of one input, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    pub(crate) fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    /// `Ok(value)` when nothing was rejected.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.reason)?;
        }
        Ok(())
    }
}

/// A parsed input together with what was wrong with it.
///
/// Parsers keep going after a bad field, so `value` holds every field that did
/// parse. Use cases add the errors only they can see (an unknown `brandId`) and
/// refuse the write when `errors` is not empty.
#[derive(Debug, Clone)]
pub struct Checked<T> {
    pub value: T,
    pub errors: FieldErrors,
}

/// Whether a field may be absent, and what an explicit `null` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// Absent is an error.
    Required,
    /// Absent is fine (a default applies or, in a patch, "leave unchanged").
    Optional,
}

/// Field-by-field reader over one JSON object.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    asked: Vec<&'static str>,
    pub errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            asked: Vec::new(),
            errors: FieldErrors::new(),
        }
    }

    /// Reads `name` with `parse`. Returns `None` when the field is absent or
    /// bad (the error is recorded). `null` counts as absent only for fields that
    /// allow it via [`Fields::nullable`]; here it is an error.
    pub(crate) fn get<T>(
        &mut self,
        name: &'static str,
        presence: Presence,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        self.asked.push(name);
        match self.map.get(name) {
            None => {
                if presence == Presence::Required {
                    self.errors.push(name, "is required");
                }
                None
            }
            Some(Value::Null) => {
                self.errors.push(name, "must not be null");
                None
            }
            Some(v) => match parse(v) {
                Ok(t) => Some(t),
                Err(reason) => {
                    self.errors.push(name, reason);
                    None
                }
            },
        }
    }

    /// Reads a field that may be `null`. Outer `None`: absent or bad; inner
    /// `None`: explicit `null`.
    pub(crate) fn nullable<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        self.asked.push(name);
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => match parse(v) {
                Ok(t) => Some(Some(t)),
                Err(reason) => {
                    self.errors.push(name, reason);
                    None
                }
            },
        }
    }

    /// Rejects a field that exists in the format but may not be sent here.
    pub(crate) fn forbid(&mut self, name: &'static str, reason: &str) {
        self.asked.push(name);
        if self.map.contains_key(name) {
            self.errors.push(name, reason);
        }
    }

    /// Reports every field no parser asked for, then hands back all errors.
    pub(crate) fn finish(mut self) -> FieldErrors {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.asked.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for k in unknown {
            self.errors.push(k.clone(), "unknown field");
        }
        self.errors
    }
}

/// Reads one JSON object with `read`, then reports unknown fields: the
/// parsed value when nothing was wrong, every problem otherwise.
pub(crate) fn read_object<T>(
    map: &Map<String, Value>,
    read: impl FnOnce(&mut Fields<'_>) -> Option<T>,
) -> Result<T, FieldErrors> {
    let mut f = Fields::new(map);
    let value = read(&mut f);
    let errors = f.finish();
    match value {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(errors),
    }
}

// ---- value parsers shared by the entity modules -------------------------------------------

/// A trimmed, non-empty single-line string of at most `max` characters.
pub(crate) fn text_line(v: &Value, max: usize) -> Result<String, String> {
    let s = v.as_str().ok_or("must be a string")?;
    let s = s.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_string())
}

/// A link to show in a page (an image, a logo): an `http:` or `https:`
/// URL, or a relative one (`/media/a.jpg`). Any other scheme —
/// `javascript:`, `data:`, `vbscript:`, `file:` — is refused: a link a
/// storefront renders must not run or embed anything.
pub(crate) fn link(v: &Value, max: usize) -> Result<String, String> {
    let s = text_line(v, max)?;
    // A scheme is what comes before the first ':' that precedes any '/',
    // '?' or '#'.
    let head = s.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((scheme, _)) = head.split_once(':')
        && !scheme.eq_ignore_ascii_case("http")
        && !scheme.eq_ignore_ascii_case("https")
    {
        return Err("must be an http(s) URL or a relative path".into());
    }
    if s.chars().any(char::is_whitespace) {
        return Err("must not contain spaces".into());
    }
    Ok(s)
}

/// Free text (may be empty, may span lines) of at most `max` characters.
pub(crate) fn free_text(v: &Value, max: usize) -> Result<String, String> {
    let s = v.as_str().ok_or("must be a string")?;
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err("must not contain control characters other than newlines and tabs".into());
    }
    Ok(s.to_string())
}

pub(crate) fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| "must be true or false".into())
}

/// A non-negative integer no larger than `max`. JSON does not tell `3`
/// from `3.0` (nor does JSON Schema's `integer`), so a number with no
/// fraction counts as whole however it is written.
pub(crate) fn uint(v: &Value, max: u64) -> Result<u64, String> {
    let whole = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|x| x.fract() == 0.0 && *x >= 0.0)
            // Saturates above u64::MAX, which is above every `max`.
            .map(|x| x as u64)
    });
    match whole {
        Some(n) if n <= max => Ok(n),
        Some(_) => Err(format!("must be at most {max}")),
        None if v.is_number() => Err("must be a whole number, 0 or more".into()),
        None => Err("must be a number".into()),
    }
}

/// An array of at most `max_items` elements, each parsed by `item`. The first
/// bad element is reported with its index.
pub(crate) fn array<T>(
    v: &Value,
    max_items: usize,
    mut item: impl FnMut(&Value) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let arr = v.as_array().ok_or("must be an array")?;
    if arr.len() > max_items {
        return Err(format!("must have at most {max_items} items"));
    }
    arr.iter()
        .enumerate()
        .map(|(i, x)| item(x).map_err(|e| format!("item {i} {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_whole_number_written_with_a_fraction_is_whole() {
        assert_eq!(uint(&json!(21.0), 99), Ok(21));
        assert_eq!(uint(&json!(-0.0), 99), Ok(0));
        assert_eq!(uint(&json!(21), 99), Ok(21));
        assert!(uint(&json!(21.5), 99).is_err());
        assert!(uint(&json!(-1.0), 99).is_err());
        assert!(uint(&json!(1e300), 99).is_err());
        assert!(uint(&json!("21"), 99).is_err());
    }

    #[test]
    fn collects_every_error_and_unknown_fields() {
        let v = json!({"title": "", "stock": -1, "extra": 1});
        let map = v.as_object().unwrap();
        let mut f = Fields::new(map);
        f.get("title", Presence::Required, |v| text_line(v, 10));
        f.get("stock", Presence::Required, |v| uint(v, 10));
        f.get("price", Presence::Required, |v| uint(v, 10));
        let errs = f.finish();
        let fields: Vec<_> = errs.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "stock", "price", "extra"]);
    }

    #[test]
    fn links_are_http_or_relative() {
        use serde_json::json;
        for ok in [
            "https://cdn.example.com/a.jpg",
            "HTTP://x.example/a",
            "/media/a.jpg",
            "media/a.jpg",
            "//cdn.example.com/a.jpg",
            "a.jpg?x=1:2",
        ] {
            assert_eq!(link(&json!(ok), 200).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            "file:///etc/passwd",
            "https://x.example/a b",
        ] {
            assert!(link(&json!(bad), 200).is_err(), "{bad}");
        }
    }
}
