//! Search insights: the top and zero-hit queries (as
//! `/api/v1/search/analytics`), an "add synonym" action on each zero-hit
//! query, and the synonym groups editor (one group per line). Both save
//! through the same parser and use case as `PUT /api/v1/search/synonyms`.

use super::{AdminResult, Page, Posted, json_value, reasons, view};
use crate::domain::search::Synonyms;
use serde_json::{Value, json};

/// Queries shown in each list.
const SHOWN: usize = 50;

/// The current groups.
fn groups(page: &Page) -> Vec<Vec<String>> {
    let v: Value =
        serde_json::from_slice(&page.services().catalog.synonyms_json()).unwrap_or(Value::Null);
    serde_json::from_value(v["data"]["groups"].clone()).unwrap_or_default()
}

/// `GET /admin/search`.
pub(crate) async fn page(page: Page) -> AdminResult {
    let analytics = page.services().catalog.search_analytics(SHOWN).await?;
    let groups = groups(&page);
    let text: Vec<String> = groups.iter().map(|g| g.join(", ")).collect();
    page.render(
        "search.html",
        minijinja::context! {
            analytics => view(json_value(&analytics)?["data"].clone()),
            groups => groups,
            groups_text => text.join("\n"),
        },
    )
}

async fn save(posted: &Posted, groups: Vec<Vec<String>>, done: String) -> AdminResult {
    let page = &posted.page;
    match Synonyms::parse(&json!({ "groups": groups })) {
        Ok(s) => match page.services().catalog.set_synonyms(s).await {
            Ok(_) => page.done("/admin/search", done),
            Err(e) => page.failed("/admin/search", e),
        },
        Err(e) => page.failed(
            "/admin/search",
            format!("The synonyms were not saved: {}", reasons(&e)),
        ),
    }
}

/// `POST /admin/search/synonym` (`query`, `synonym`): `query` means the
/// same as `synonym`; joins the group of either, or starts one.
pub(crate) async fn add_synonym(posted: Posted) -> AdminResult {
    let query = posted.get("query").unwrap_or("").to_lowercase();
    let synonym = posted.get("synonym").unwrap_or("").to_lowercase();
    let mut all = groups(&posted.page);
    let has = |g: &Vec<String>, w: &str| g.iter().any(|x| x == w);
    match all.iter_mut().find(|g| has(g, &query) || has(g, &synonym)) {
        Some(g) => {
            for w in [&query, &synonym] {
                if !has(g, w) {
                    g.push(w.clone());
                }
            }
        }
        None => all.push(vec![query.clone(), synonym.clone()]),
    }
    let done = format!("Searches for “{query}” now also find “{synonym}”.");
    save(&posted, all, done).await
}

/// `POST /admin/search/synonyms` (`groups`: one group per line, words
/// separated by commas): replaces every group.
pub(crate) async fn save_synonyms(posted: Posted) -> AdminResult {
    let text = posted.fields.get("groups").cloned().unwrap_or_default();
    let all: Vec<Vec<String>> = text
        .lines()
        .map(|l| {
            l.split(',')
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect();
    let n = all.len();
    save(&posted, all, format!("{n} synonym groups saved.")).await
}
