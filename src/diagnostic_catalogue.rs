//! Every stage's diagnostic codes as one list (the catalogues are
//! `load_diags`, `parse::diags`, `validate::diags` and `graph::diags`, each
//! declared with `diagnostic_code::codes!`): `Code::iter` is every code
//! mailops can report.

use crate::graph::diags::GraphCode;
use crate::load_diags::LoadCode;
use crate::parse::diags::ParseCode;
use crate::validate::diags::ValidateCode;

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
