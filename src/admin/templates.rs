//! The pages' templates, compiled into the binary and parsed once.
//!
//! minijinja escapes every value for HTML (the names end in `.html`), so a
//! product title or a search query can never become markup.

use std::sync::LazyLock;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "error.html",
    "login.html",
    "overview.html",
    "pager.html",
    "orders.html",
    "order.html",
    "products.html",
    "product.html",
    "brands.html",
    "categories.html",
    "jobs.html",
    "search.html",
    "users.html",
);

static ENV: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    for (name, source) in TEMPLATES {
        // The templates are part of the binary; a syntax error fails the
        // unit test below, never a request.
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env.add_filter("money", |v: f64| format!("{v:.2}"));
    env
});

/// Renders `name` with `ctx`. A failure renders as a short plain message
/// (and is logged): it is a bug in a template, never in the input.
pub(crate) fn render(name: &str, ctx: minijinja::Value) -> String {
    match ENV.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(template = name, error = %e, "rendering an admin page failed");
            "<!doctype html><title>Error</title><p>This page could not be rendered.</p>".into()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        for (name, _) in super::TEMPLATES {
            assert!(super::ENV.get_template(name).is_ok(), "{name}");
        }
    }
}
