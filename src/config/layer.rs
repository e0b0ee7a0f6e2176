//! How a setting is read from each layer, written once per setting.
//!
//! Each section declares its raw layer with [`raw_section!`]: one struct
//! whose fields are the section's settings, every one optional. The same
//! struct is filled by clap (a flag and its `SHOPD_*` variable; clap lets the
//! flag win over the variable) and by serde (the key of the TOML file), and
//! [`Layer::or`] puts one layer over another, field by field. Values stay raw
//! (text and numbers as given) until the section's `resolve`, which checks
//! them all and reports every problem at once.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// One layer put over a lower one: each setting from `self` when it is
/// set there, else from `lower`.
pub(crate) trait Layer: Sized {
    fn or(self, lower: Self) -> Self;
}

impl<T> Layer for Option<T> {
    fn or(self, lower: Self) -> Self {
        Option::or(self, lower)
    }
}

/// A switch (`--demo`): on when any layer turns it on.
impl Layer for bool {
    fn or(self, lower: Self) -> Self {
        self || lower
    }
}

/// Declares a section's raw layer: the struct, with clap and serde derives
/// (every field optional: `#[serde(default)]`), and its [`Layer`]
/// implementation over every field.
macro_rules! raw_section {
    (
        $(#[$meta:meta])*
        pub(crate) struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        #[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
        #[group(skip)]
        #[serde(default)]
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::config::layer::Layer for $name {
            fn or(self, lower: Self) -> Self {
                $name {
                    $( $field: $crate::config::layer::Layer::or(self.$field, lower.$field), )*
                }
            }
        }
    };
}
pub(crate) use raw_section;

/// A list setting: comma-separated as a flag or variable
/// (`10.0.0.0/8,::1`), an array in the file (`["10.0.0.0/8", "::1"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List(pub Vec<String>);

impl std::str::FromStr for List {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<List, Self::Err> {
        Ok(List(s.split(',').map(str::to_string).collect()))
    }
}

impl<'de> serde::Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<List, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = List;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings, or one comma-separated string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<List, E> {
                Ok(s.parse().unwrap_or_default())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<List, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(List(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl List {
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// A number setting that flags give as text (`4.99`, `19%`) and the file
/// as a number (`4.99`) or text: kept as text until resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl std::str::FromStr for Text {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Text, Self::Err> {
        Ok(Text(s.to_string()))
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text(s.to_string()))
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Text, E> {
                Ok(Text(x.to_string()))
            }
            fn visit_i64<E: de::Error>(self, x: i64) -> Result<Text, E> {
                Ok(Text(x.to_string()))
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<Text, E> {
                Ok(Text(x.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys serde reads for a struct (its own field list, renames
/// included): asks the type's `Deserialize` to read a struct from a
/// deserializer that only records the field names it is given.
pub(crate) fn keys_of<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Collects every problem of a configuration, each named after its setting
/// as a flag is (`listen: …`).
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<String>);

impl Problems {
    pub(crate) fn push(&mut self, p: impl Into<String>) {
        self.0.push(p.into());
    }

    pub(crate) fn extend(&mut self, ps: impl IntoIterator<Item = String>) {
        self.0.extend(ps);
    }

    /// `value` when it is within `range`, else a problem and `fallback`.
    pub(crate) fn within<T: PartialOrd + fmt::Display + Copy>(
        &mut self,
        name: &str,
        value: T,
        range: std::ops::RangeInclusive<T>,
        unit: &str,
    ) -> T {
        if !range.contains(&value) {
            let unit = if unit.is_empty() {
                String::new()
            } else {
                format!(" {unit}")
            };
            self.push(format!(
                "{name}: {value} is not within {}..={}{unit}",
                range.start(),
                range.end()
            ));
        }
        value
    }
}
