//! `RawStr`: a string value as written, borrowed from its file's text.
//!
//! A platform of 10,000 tenant files holds four million mailbox and alias
//! strings. Each is checked and then copied (normalised) into the model, so
//! copying it out of the TOML first as well only costs an allocation and a
//! free apiece. The `toml` deserializer hands out a slice of the source text
//! for every string without escapes; `RawStr` keeps that slice, and owns its
//! text only when the TOML decoding changed it (`"a\u0041"`). serde borrows a
//! `Cow<str>` only as a field's own type, never inside `Sp`, `Option` or
//! `Vec`, hence this type with its own visitor. Its schema is that of `String`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// A string value of a tenant file, borrowed from the file's text when it can be.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct RawStr<'a>(Cow<'a, str>);

impl std::ops::Deref for RawStr<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RawStr<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RawStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for RawStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // serde's own words for `String`, so that messages stay as they were.
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(RawStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl JsonSchema for RawStr<'_> {
    fn inline_schema() -> bool {
        String::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        String::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        String::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc<'a> {
        #[serde(borrow)]
        plain: crate::span::Sp<RawStr<'a>>,
        #[serde(borrow)]
        escaped: Vec<RawStr<'a>>,
    }

    #[test]
    fn plain_strings_are_borrowed_and_escaped_ones_owned() {
        let text = "plain = \"user0\"\nescaped = [\"a\\u0041\", 'lit']\n";
        let doc = toml::de::DeTable::parse(text).unwrap();
        let doc = Doc::deserialize(toml::de::Deserializer::from(doc)).unwrap();
        assert!(matches!(doc.plain.value.0, Cow::Borrowed("user0")));
        assert_eq!(&text[doc.plain.span()], "\"user0\"");
        assert!(matches!(&doc.escaped[0].0, Cow::Owned(s) if s == "aA"));
        assert!(matches!(doc.escaped[1].0, Cow::Borrowed("lit")));
    }

    #[test]
    fn a_wrong_type_is_refused_in_the_words_used_for_string() {
        let doc = toml::de::DeTable::parse("plain = 5\nescaped = []\n").unwrap();
        let error = Doc::deserialize(toml::de::Deserializer::from(doc))
            .err()
            .unwrap();
        let owned: Result<std::collections::BTreeMap<String, String>, _> =
            toml::from_str("plain = 5");
        assert_eq!(
            error.message(),
            owned.unwrap_err().message(),
            "as for a String"
        );
    }
}
