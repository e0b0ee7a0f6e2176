//! Categories: a forest; every category has at most one parent.
//!
//! Invariant (kept by the catalog use case, which sees the whole tree): a
//! category is never its own ancestor.

use super::fields::{Checked, Fields, Presence, free_text, text_line};
use super::{Id, InputMode, limits};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub id: Id,
    pub title: String,
    pub description: String,
    pub parent_id: Option<Id>,
}

#[derive(Debug, Clone, Default)]
pub struct CategoryDraft {
    pub id: Option<Id>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub parent_id: Option<Option<Id>>,
}

impl CategoryDraft {
    pub fn parse(map: &Map<String, Value>, mode: InputMode) -> Checked<CategoryDraft> {
        let mut f = Fields::new(map);
        let (id, _) = mode.read_identity(&mut f, &[]);
        let draft = CategoryDraft {
            id,
            title: f.get("title", mode.presence(), |v| text_line(v, limits::TITLE)),
            description: f.get("description", Presence::Optional, |v| {
                free_text(v, limits::DESCRIPTION)
            }),
            parent_id: f.nullable("parentId", Id::from_json),
        };
        let mut errors = f.finish();
        if let (Some(id), Some(Some(parent))) = (&draft.id, &draft.parent_id)
            && id == parent
        {
            errors.push("parentId", "a category cannot be its own parent");
        }
        Checked {
            value: draft,
            errors,
        }
    }

    pub fn into_category(self, id: Id) -> Category {
        Category {
            id,
            // Present: required on create and import; callers build only from
            // drafts without errors.
            title: self.title.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            parent_id: self.parent_id.flatten(),
        }
    }

    pub(crate) fn apply_to(self, c: &mut Category) {
        if let Some(t) = self.title {
            c.title = t;
        }
        if let Some(d) = self.description {
            c.description = d;
        }
        if let Some(p) = self.parent_id {
            c.parent_id = p;
        }
    }
}
