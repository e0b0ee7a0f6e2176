//! The index schema, its analyzers, and how a [`SearchDoc`] becomes a
//! tantivy document.
//!
//! Text is analyzed by `shop_stem` (split on non-alphanumerics, lowercase,
//! ASCII folding so "café" ≡ "cafe", English stemming) for the weighted
//! per-field matches and fuzzy matching, and by `shop_raw` (the same without
//! stemming) for prefix matching, where a stem would cut a typed prefix short.

use crate::domain::search::SearchDoc;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
};
use tantivy::{Index, TantivyDocument};

pub(crate) const STEM: &str = "shop_stem";
pub(crate) const RAW: &str = "shop_raw";

pub(crate) fn stem_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

pub(crate) fn raw_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Registers the analyzers on an index (required before use).
pub(crate) fn register(index: &Index) {
    index.tokenizers().register(STEM, stem_analyzer());
    index.tokenizers().register(RAW, raw_analyzer());
}

/// Handles to every field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub title: Field,
    pub keywords: Field,
    pub brand_title: Field,
    pub category_titles: Field,
    pub description: Field,
    /// Every text field again, stemmed: target of fuzzy matches.
    pub all_stem: Field,
    /// Every text field again, unstemmed: target of prefix matches.
    pub all_raw: Field,
    pub brand_id: Field,
    pub category_ids: Field,
    pub price: Field,
    pub created_at: Field,
    pub available: Field,
    pub featured: Field,
    pub rating_count: Field,
    pub rating_sum: Field,
}

fn text(tokenizer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record),
    )
}

pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let freqs = IndexRecordOption::WithFreqs;
    let fields = Fields {
        id: b.add_text_field("id", STRING | FAST),
        title: b.add_text_field("title", text(STEM, freqs)),
        keywords: b.add_text_field("keywords", text(STEM, freqs)),
        brand_title: b.add_text_field("brand_title", text(STEM, freqs)),
        category_titles: b.add_text_field("category_titles", text(STEM, freqs)),
        description: b.add_text_field("description", text(STEM, freqs)),
        all_stem: b.add_text_field("all_stem", text(STEM, IndexRecordOption::Basic)),
        all_raw: b.add_text_field("all_raw", text(RAW, IndexRecordOption::Basic)),
        brand_id: b.add_text_field("brand_id", STRING | FAST),
        category_ids: b.add_text_field("category_ids", STRING | FAST),
        price: b.add_u64_field("price", INDEXED | FAST),
        created_at: b.add_i64_field("created_at", FAST),
        available: b.add_u64_field("available", INDEXED | FAST),
        featured: b.add_u64_field("featured", FAST),
        rating_count: b.add_u64_field("rating_count", FAST),
        rating_sum: b.add_u64_field("rating_sum", FAST),
    };
    (b.build(), fields)
}

impl Fields {
    /// The text fields queries read: the five weighted ones, `all_stem`, `all_raw`.
    pub(crate) fn text(&self) -> [Field; 7] {
        [
            self.title,
            self.keywords,
            self.brand_title,
            self.category_titles,
            self.description,
            self.all_stem,
            self.all_raw,
        ]
    }

    pub(crate) fn from_schema(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            id: f("id")?,
            title: f("title")?,
            keywords: f("keywords")?,
            brand_title: f("brand_title")?,
            category_titles: f("category_titles")?,
            description: f("description")?,
            all_stem: f("all_stem")?,
            all_raw: f("all_raw")?,
            brand_id: f("brand_id")?,
            category_ids: f("category_ids")?,
            price: f("price")?,
            created_at: f("created_at")?,
            available: f("available")?,
            featured: f("featured")?,
            rating_count: f("rating_count")?,
            rating_sum: f("rating_sum")?,
        })
    }

    pub(crate) fn document(&self, d: &SearchDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.id, &d.id);
        let mut texts: Vec<(Field, &str)> = vec![
            (self.title, &d.title),
            (self.brand_title, &d.brand_title),
            (self.description, &d.description),
        ];
        texts.extend(d.keywords.iter().map(|k| (self.keywords, k.as_str())));
        texts.extend(
            d.category_titles
                .iter()
                .map(|c| (self.category_titles, c.as_str())),
        );
        for (field, value) in texts {
            doc.add_text(field, value);
            doc.add_text(self.all_stem, value);
            doc.add_text(self.all_raw, value);
        }
        doc.add_text(self.brand_id, &d.brand_id);
        for c in &d.category_ids {
            doc.add_text(self.category_ids, c);
        }
        doc.add_u64(self.price, d.price);
        doc.add_i64(self.created_at, d.created_at);
        doc.add_u64(self.available, d.available as u64);
        doc.add_u64(self.featured, d.featured as u64);
        doc.add_u64(self.rating_count, d.rating.count as u64);
        doc.add_u64(self.rating_sum, d.rating.sum as u64);
        doc
    }
}
