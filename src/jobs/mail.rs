//! Email: templates rendered with minijinja, sent by lettre over SMTP or
//! written as `.eml` files, behind a circuit breaker.
//!
//! - **Transport**: `smtp://user:pass@host:587` (STARTTLS required),
//!   `smtps://user:pass@host:465` (implicit TLS), `smtp://host:port?tls=none`
//!   (plain, for a server on loopback) or `?tls=opportunistic`. Without an
//!   SMTP URL every message is written to `DATA_DIR/outbox/<uuid>.eml`: the
//!   demo and a fresh install need no mail server.
//! - **Templates**: `<name>.subject.txt`, `<name>.txt` and `<name>.html` for
//!   each of [`TEMPLATES`], compiled in; a file of the same name in
//!   `DATA_DIR/templates/` replaces the built-in one. Values are HTML-escaped
//!   in the `.html` part (minijinja's auto-escaping by file extension).
//! - **Idempotency**: a message's `Message-ID` is `<job-ID@shopd>`, so a
//!   message sent twice (at-least-once delivery) is recognisable as one.
//! - **Secrets**: the SMTP URL (it holds the password) is never logged or
//!   shown; [`Mailer::describe`] names scheme, host and port only.

use super::{HandlerFuture, JobError};
use crate::breaker::{Breaker, BreakerState};
use crate::config::mail::MailSettings;
use crate::domain::job::Job;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The built-in templates, by name.
pub(crate) const TEMPLATES: [&str; 7] = [
    "welcome",
    "password_reset",
    "order_confirmation",
    "order_shipped",
    "order_cancelled",
    "payment_received",
    "notification",
];

macro_rules! builtin {
    ($($name:literal),*) => {
        /// The compiled-in template files.
        const BUILTIN: &[(&str, &str)] = &[
            $(
                (concat!($name, ".subject.txt"), include_str!(concat!("templates/", $name, ".subject.txt"))),
                (concat!($name, ".txt"), include_str!(concat!("templates/", $name, ".txt"))),
                (concat!($name, ".html"), include_str!(concat!("templates/", $name, ".html"))),
            )*
        ];
    };
}
builtin!(
    "welcome",
    "password_reset",
    "order_confirmation",
    "order_shipped",
    "order_cancelled",
    "payment_received",
    "notification"
);

/// The payload of an `email` job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmailJob {
    /// One of [`TEMPLATES`].
    pub template: String,
    pub to: String,
    /// Values the template shows (`shop` is added).
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Values the template shows that nobody else may see (links with
    /// single-use tokens). Never stored: [`Jobs::email`](super::Jobs::email)
    /// seals them into `sealed` (see `jobs::sealed`). (A job stored by an
    /// older version may still hold them here, in clear.)
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub secret: serde_json::Map<String, serde_json::Value>,
    /// `secret`, sealed with the shop's mail key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(
        "smtp-url: not a valid SMTP URL (smtp://user:pass@host:587, smtps://user:pass@host:465, smtp://host:port?tls=none)"
    )]
    BadUrl,
    #[error("mail-from: '{0}' is not a mailbox such as 'Shop <shop@example.com>'")]
    BadFrom(String),
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("creating the outbox {path}: {source}")]
    Outbox {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sealed(#[from] super::sealed::SealError),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

pub(crate) struct Mailer {
    transport: Transport,
    description: String,
    from: Mailbox,
    shop: String,
    templates: minijinja::Environment<'static>,
    breaker: Breaker,
    /// Seals and opens the mails' secret values.
    pub(crate) sealer: super::sealed::Sealer,
}

impl Mailer {
    pub(crate) fn new(s: &MailSettings) -> Result<Mailer, MailError> {
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|_| MailError::BadFrom(s.from.clone()))?;
        let (transport, description) = match &s.smtp_url {
            Some(url) => {
                let (url, description) = smtp_url(url.expose())?;
                let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|_| MailError::BadUrl)?
                    .timeout(Some(s.timeout))
                    .build();
                (Transport::Smtp(t), description)
            }
            None => {
                std::fs::create_dir_all(&s.outbox_dir).map_err(|source| MailError::Outbox {
                    path: s.outbox_dir.display().to_string(),
                    source,
                })?;
                (
                    Transport::Files(AsyncFileTransport::new(&s.outbox_dir)),
                    format!("files in {}", s.outbox_dir.display()),
                )
            }
        };
        let templates = templates(&s.templates_dir);
        let mailer = Mailer {
            transport,
            description,
            from,
            shop: s.shop_name.clone(),
            templates,
            breaker: Breaker::new("smtp", s.breaker_failures, s.breaker_open),
            sealer: super::sealed::Sealer::load_or_create(&s.key_file)?,
        };
        // Every template must compile (a broken override fails at startup,
        // not at the first order).
        for name in TEMPLATES {
            for part in ["subject.txt", "txt", "html"] {
                let file = format!("{name}.{part}");
                mailer
                    .templates
                    .get_template(&file)
                    .map_err(|e| MailError::Template {
                        name: file.clone(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(mailer)
    }

    /// Where mail goes, without credentials: `smtp host:587 (starttls)` or
    /// `files in DATA_DIR/outbox`.
    pub(crate) fn describe(&self) -> &str {
        &self.description
    }

    pub(crate) fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    pub(crate) fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Renders a message's three parts.
    pub(crate) fn render(&self, email: &EmailJob) -> Result<Rendered, MailError> {
        if !TEMPLATES.contains(&email.template.as_str()) {
            return Err(MailError::Template {
                name: email.template.clone(),
                message: format!("unknown template (one of {})", TEMPLATES.join(", ")),
            });
        }
        let mut vars = email.vars.clone();
        vars.extend(email.secret.clone());
        if let Some(sealed) = &email.sealed {
            vars.extend(self.sealer.open(sealed)?);
        }
        vars.insert("shop".into(), self.shop.clone().into());
        let render = |part: &str| {
            let file = format!("{}.{part}", email.template);
            self.templates
                .get_template(&file)
                .and_then(|t| t.render(&vars))
                .map_err(|e| MailError::Template {
                    name: file,
                    message: e.to_string(),
                })
        };
        Ok(Rendered {
            subject: render("subject.txt")?.trim().to_string(),
            text: render("txt")?,
            html: render("html")?,
        })
    }

    /// Builds the message of an `email` job.
    pub(crate) fn message(&self, job: &Job, email: &EmailJob) -> Result<Message, JobError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| JobError::Permanent(format!("'{}' is not an email address", email.to)))?;
        let r = self
            .render(email)
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        Message::builder()
            .message_id(Some(format!("<{}@shopd>", job.idempotency_key())))
            .from(self.from.clone())
            .to(to)
            .subject(r.subject)
            .multipart(MultiPart::alternative_plain_html(r.text, r.html))
            .map_err(|e| JobError::Permanent(format!("building the message: {e}")))
    }

    /// Sends the message of an `email` job through the breaker: while the
    /// circuit is open the job is postponed (no attempt spent).
    pub(crate) async fn send(&self, job: &Job) -> Result<(), JobError> {
        let email: EmailJob = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Permanent(format!("not an email job: {e}")))?;
        let message = self.message(job, &email)?;
        let permit = match self.breaker.acquire() {
            Ok(p) => p,
            Err(until) => {
                return Err(JobError::Postpone {
                    after: until.saturating_duration_since(Instant::now()),
                    reason: "the mail transport's circuit is open".into(),
                });
            }
        };
        let sent = match &self.transport {
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| {
                let kind = if e.is_permanent() {
                    "permanent"
                } else if e.is_transient() {
                    "transient"
                } else {
                    "connection"
                };
                format!("SMTP {kind} error: {e}")
            }),
            Transport::Files(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| format!("writing the message file: {e}")),
        };
        match sent {
            Ok(()) => {
                permit.success();
                Ok(())
            }
            Err(e) => {
                permit.failure();
                Err(JobError::Failed(e))
            }
        }
    }

    /// The `email` job handler.
    pub(crate) fn handler(self: &Arc<Self>) -> Arc<dyn super::Handler> {
        Arc::new(MailHandler(self.clone()))
    }
}

struct MailHandler(Arc<Mailer>);

impl super::Handler for MailHandler {
    fn run(&self, job: Job) -> HandlerFuture {
        let mailer = self.0.clone();
        Box::pin(async move { mailer.send(&job).await })
    }
}

/// lettre's URL for ours (`smtp://` without `tls` means STARTTLS required;
/// `tls=none` is lettre's plain default), and a description without
/// credentials.
fn smtp_url(url: &str) -> Result<(String, String), MailError> {
    let (scheme, rest) = url.split_once("://").ok_or(MailError::BadUrl)?;
    if scheme != "smtp" && scheme != "smtps" {
        return Err(MailError::BadUrl);
    }
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let tls = params
        .iter()
        .find_map(|p| p.strip_prefix("tls="))
        .map(str::to_string);
    let mode = match (scheme, tls.as_deref()) {
        ("smtps", None) => "implicit tls",
        ("smtps", Some(_)) => return Err(MailError::BadUrl),
        ("smtp", None) => {
            params.push("tls=required");
            "starttls"
        }
        ("smtp", Some("required")) => "starttls",
        ("smtp", Some("opportunistic")) => "opportunistic starttls",
        ("smtp", Some("none")) => {
            params.retain(|p| *p != "tls=none");
            "plain"
        }
        _ => return Err(MailError::BadUrl),
    };
    let host = base.rsplit_once('@').map_or(base, |(_, h)| h);
    let host = host.split('/').next().unwrap_or(host);
    if host.is_empty() {
        return Err(MailError::BadUrl);
    }
    let mut out = format!("{scheme}://{base}");
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    Ok((out, format!("smtp {host} ({mode})")))
}

/// The template environment: overrides in `dir` first, then the built-ins.
fn templates(dir: &Path) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    let dir = dir.to_path_buf();
    env.set_loader(move |name| {
        // Only plain file names: never a path out of the directory.
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Ok(None);
        }
        match std::fs::read_to_string(dir.join(name)) {
            Ok(s) => return Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("reading {name}: {e}"),
                ));
            }
        }
        Ok(BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.to_string()))
    });
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings(dir: &Path) -> MailSettings {
        MailSettings {
            from: "Shop <shop@example.com>".into(),
            shop_name: "Test Shop".into(),
            ..MailSettings::local(dir)
        }
    }

    #[test]
    fn html_part_escapes_values_text_part_keeps_them_and_overrides_win() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&settings(dir.path())).unwrap();
        let mut vars = serde_json::Map::new();
        vars.insert("subject".into(), "Hi & bye".into());
        vars.insert("message".into(), "<script>alert(1)</script>".into());
        let email = EmailJob {
            template: "notification".into(),
            to: "a@example.com".into(),
            vars,
            secret: Default::default(),
            sealed: None,
        };
        let r = mailer.render(&email).unwrap();
        assert_eq!(r.subject, "Hi & bye");
        assert!(r.text.contains("<script>alert(1)</script>"), "{}", r.text);
        assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.text.contains("Test Shop"));

        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/notification.txt"),
            "Custom: {{ message }}",
        )
        .unwrap();
        let mailer = Mailer::new(&settings(dir.path())).unwrap();
        assert!(mailer.render(&email).unwrap().text.starts_with("Custom: "));

        std::fs::write(dir.path().join("templates/welcome.html"), "{% if %}").unwrap();
        assert!(matches!(
            Mailer::new(&settings(dir.path())),
            Err(MailError::Template { .. })
        ));
    }

    #[test]
    fn smtp_urls_map_to_lettre_and_never_show_credentials() {
        let (u, d) = smtp_url("smtp://user:secret@mail.example.com:587").unwrap();
        assert_eq!(u, "smtp://user:secret@mail.example.com:587?tls=required");
        assert_eq!(d, "smtp mail.example.com:587 (starttls)");
        let (u, d) = smtp_url("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(u, "smtp://127.0.0.1:2525");
        assert_eq!(d, "smtp 127.0.0.1:2525 (plain)");
        let (_, d) = smtp_url("smtps://u:p@h:465").unwrap();
        assert!(!d.contains('p') || !d.contains("u:p"));
        assert_eq!(d, "smtp h:465 (implicit tls)");
        assert!(smtp_url("http://x").is_err());
        assert!(smtp_url("smtp://h?tls=maybe").is_err());
        let e = Mailer::new(&MailSettings {
            smtp_url: Some(Secret::new("smtp://user:hunter2@?tls=x")),
            ..settings(std::path::Path::new("/nonexistent"))
        })
        .err()
        .unwrap();
        assert!(!e.to_string().contains("hunter2"));
    }
}
