//! Brands: who makes a product.

use super::fields::{Checked, Fields, Presence, free_text, link, text_line};
use super::{Id, InputMode, limits};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Brand {
    pub id: Id,
    pub title: String,
    pub description: String,
    pub logo: Option<String>,
}

/// The fields of a brand write; `None` means "not sent".
#[derive(Debug, Clone, Default)]
pub struct BrandDraft {
    pub id: Option<Id>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Outer `None`: not sent; inner `None`: explicitly cleared.
    pub logo: Option<Option<String>>,
}

impl BrandDraft {
    pub fn parse(map: &Map<String, Value>, mode: InputMode) -> Checked<BrandDraft> {
        let mut f = Fields::new(map);
        let (id, _) = mode.read_identity(&mut f, &[]);
        let draft = BrandDraft {
            id,
            title: f.get("title", mode.presence(), |v| text_line(v, limits::TITLE)),
            description: f.get("description", Presence::Optional, |v| {
                free_text(v, limits::DESCRIPTION)
            }),
            logo: f.nullable("logo", |v| link(v, limits::URL)),
        };
        Checked {
            value: draft,
            errors: f.finish(),
        }
    }

    /// A new brand from a draft that parsed without errors.
    pub fn into_brand(self, id: Id) -> Brand {
        Brand {
            id,
            // Present: `title` is required on create and import, and callers
            // only build from drafts without errors.
            title: self.title.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            logo: self.logo.flatten(),
        }
    }

    pub(crate) fn apply_to(self, b: &mut Brand) {
        if let Some(t) = self.title {
            b.title = t;
        }
        if let Some(d) = self.description {
            b.description = d;
        }
        if let Some(l) = self.logo {
            b.logo = l;
        }
    }
}
