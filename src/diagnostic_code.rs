//! Diagnostic codes: `mailops::<area>::<kebab-case-name>`, stable across
//! releases (JSON output, fixtures and users' CI filters name them).
//!
//! Each stage declares the codes it reports in its catalogue (`load_diags`,
//! `parse::diags`, `validate::diags`, `graph::diags`) with [`codes!`]: an
//! enum with `code()` and an `iter()` over every variant. A [`Diagnostic`] is
//! made from a [`Code`], which only those enums convert into, and [`Code::iter`]
//! runs over all of them: the list of every code mailops can report is a
//! value, not a search of the source text.
//!
//! [`Diagnostic`]: crate::diagnostic::Diagnostic

use crate::graph::diags::GraphCode;
use crate::load_diags::LoadCode;
use crate::parse::diags::ParseCode;
use crate::validate::diags::ValidateCode;

/// A stage's codes: `codes! { pub(crate) enum StageCode { Variant = "mailops::area::name", … } }`.
macro_rules! codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub(crate) const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub(crate) fn iter() -> impl Iterator<Item = Self> {
                Self::ALL.iter().copied()
            }

            /// The stable `mailops::<area>::<name>` string.
            pub(crate) const fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }
        }
    };
}
pub(crate) use codes;

/// The stages' enums, each once: [`Code`], its conversions, and the
/// iteration over all of them come from this one list.
macro_rules! stages {
    ($($stage:ident($codes:ident),)+) => {
        /// A code of any stage.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Code {
            $($stage($codes),)+
        }

        impl Code {
            /// Every code of every stage.
            pub(crate) fn iter() -> impl Iterator<Item = Code> {
                std::iter::empty()
                    $(.chain($codes::iter().map(Code::$stage)))+
            }

            pub(crate) const fn code(self) -> &'static str {
                match self {
                    $(Code::$stage(code) => code.code(),)+
                }
            }
        }

        $(
            impl From<$codes> for Code {
                fn from(code: $codes) -> Code {
                    Code::$stage(code)
                }
            }
        )+
    };
}

stages! {
    Load(LoadCode),
    Parse(ParseCode),
    Validate(ValidateCode),
    Graph(GraphCode),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_and_well_formed() {
        let codes: Vec<&str> = Code::iter().map(Code::code).collect();
        let distinct: std::collections::BTreeSet<&str> = codes.iter().copied().collect();
        assert_eq!(distinct.len(), codes.len(), "a code declared twice");
        for code in codes {
            let parts: Vec<&str> = code.split("::").collect();
            assert!(
                parts.len() == 3
                    && parts[0] == "mailops"
                    && parts[1..].iter().all(|p| {
                        !p.is_empty()
                            && !p.starts_with('-')
                            && !p.ends_with('-')
                            && p.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    }),
                "{code}"
            );
        }
    }

    #[test]
    fn the_codes_of_every_stage_are_listed() {
        let codes: Vec<&str> = Code::iter().map(Code::code).collect();
        for code in [
            LoadCode::NotUtf8.code(),
            ParseCode::UnknownKey.code(),
            ValidateCode::SpfInvalid.code(),
            GraphCode::Cycle.code(),
        ] {
            assert!(codes.contains(&code), "{code}");
        }
        assert_eq!(Code::from(GraphCode::Cycle).code(), "mailops::alias::cycle");
    }
}
