//! The `pattern`s of the contract: each says, as a regular expression, what
//! one domain parser accepts, so that every value the document allows is
//! one the API takes (a client, or a generator such as schemathesis,
//! that follows the document is never refused with a 422).
//!
//! utoipa takes a field's `pattern` only as a string literal, so the
//! request bodies in the sibling modules spell these out again; the test
//! below fails when a pattern in the served document is not one of these,
//! and `api::fuzz` checks every body schema against its parser.
//!
//! They are written in the subset that ECMA-262, Python's `re` and Rust's
//! `regex` read alike (no lookaround, `\xHH` escapes, `\s` for white
//! space), since clients in all three read the document.

/// An id (`domain::Id`): 1–64 of `[A-Za-z0-9_-]`.
pub(crate) const ID: &str = "^[A-Za-z0-9_-]{1,64}$";

/// A single line of text (`domain::fields::text_line`): no control
/// characters (`\x00`–`\x1F`, `\x7F`–`\x9F`) and something besides white
/// space (the parser trims it). The length limit is the field's
/// `maxLength`.
pub(crate) const TEXT_LINE: &str =
    r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// Alt text (`domain::media::alt_text`): no control characters; may be
/// empty (a decorative image).
#[cfg_attr(not(test), allow(dead_code))] // Spelled out in the derives; the tests use it.
pub(crate) const ALT_TEXT: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";

/// A link (`domain::fields::link`): an `http:` or `https:` URL or a
/// relative one (no scheme: no `:` before the first `/`, `?` or `#`),
/// with no white space or control characters.
#[allow(dead_code)] // Spelled out in the derives; the tests use it.
pub(crate) const LINK: &str = r"^([Hh][Tt][Tt][Pp][Ss]?:[^\s\x00-\x1F\x7F-\x9F]*|[^:/?#\s\x00-\x1F\x7F-\x9F]+([/?#][^\s\x00-\x1F\x7F-\x9F]*)?|[/?#][^\s\x00-\x1F\x7F-\x9F]*)$";

/// Free text (`domain::fields::free_text`): any text but control
/// characters other than tab, line feed and carriage return.
#[allow(dead_code)] // Spelled out in the derives; the tests use it.
pub(crate) const FREE_TEXT: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";

/// An email address as the document promises to take it: a local part of
/// at most 64 characters in one to three dot-separated atoms, `@`, and a
/// host name of two or more labels (letters, digits, `-` inside, at most 63
/// characters each). Both readers of addresses take every such address:
/// `domain::account::Email` (any non-blank characters around one `@`, a dot
/// in the domain) and the mail transport (`lettre`: RFC 5321, a local part
/// of at most 64 characters). It is a common subset: a regular expression
/// without lookahead cannot bound the whole length of a dotted local part,
/// so more than three atoms are left out.
#[allow(dead_code)] // Spelled out in the derives; the tests use it.
pub(crate) const EMAIL: &str = concat!(
    r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}",
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}",
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21})",
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
);

/// The year of a `date-time` (`domain::Timestamp`): 1000–8999. A
/// timestamp is kept within the years 0001–9999 in UTC, so a time near
/// either end can fall outside once its offset is applied; these years
/// never do.
pub(crate) const DATE_TIME_YEAR: &str = "^[1-8][0-9]{3}-";

/// A phone number (`domain::account` `phone`): digits, spaces and `+ - ( ) .`,
/// with at least 5 digits.
#[allow(dead_code)] // Spelled out in the derives; the tests use it.
pub(crate) const PHONE: &str = r"^[ +().-]*([0-9][ +().-]*){5,}$";

/// A discount code (`domain::discount::normalize_code`): 3–32 letters,
/// digits, `-` or `_` (matched case-insensitively).
pub(crate) const DISCOUNT_CODE: &str = "^[A-Za-z0-9_-]{3,32}$";

/// A country (`domain::address` `country`): two letters, ISO 3166-1 alpha-2.
#[allow(dead_code)] // Spelled out in the derives; the tests use it.
pub(crate) const COUNTRY: &str = "^[A-Za-z]{2}$";

/// A guest's cart token (`api::extract::orders::cart_token`): 16–128
/// URL-safe characters (the token a cart answer gave is 43).
pub(crate) const CART_TOKEN: &str = "^[A-Za-z0-9_-]{16,128}$";

/// An `Idempotency-Key` (`api::extract::orders::idempotency_key`): visible
/// ASCII.
pub(crate) const IDEMPOTENCY_KEY: &str = "^[!-~]+$";

/// A synonym (`domain::search::Synonyms`): one word of letters and digits.
/// The parser takes letters and digits of any script; a pattern that
/// ECMA-262, Python and Rust read alike can name only the ASCII ones.
pub(crate) const WORD: &str = "^[A-Za-z0-9]{1,64}$";

/// Every pattern the document may use.
#[cfg(test)]
pub(crate) const ALL: [&str; 13] = [
    WORD,
    ALT_TEXT,
    LINK,
    DATE_TIME_YEAR,
    ID,
    TEXT_LINE,
    FREE_TEXT,
    EMAIL,
    PHONE,
    DISCOUNT_CODE,
    COUNTRY,
    CART_TOKEN,
    IDEMPOTENCY_KEY,
];
