//! Diagnostic codes: `mailops::<area>::<kebab-case-name>`, stable across
//! releases (JSON output, fixtures and users' CI filters name them).
//!
//! Each stage declares the codes it reports in its catalogue (`load_diags`,
//! `parse::diags`, `validate::diags`, `graph::diags`) with [`codes!`]: an
//! enum with `code()` and an `iter()` over every variant, which implements
//! [`StageCode`]. A [`Diagnostic`] is made from a `StageCode` only, and
//! `diagnostic_catalogue::Code::iter` runs over every stage's codes: the list
//! of every code mailops can report is a value, not a search of the source
//! text.
//!
//! [`Diagnostic`]: crate::diagnostic::Diagnostic

/// What a [`Diagnostic`] is made from: a variant of a stage's codes enum.
///
/// [`Diagnostic`]: crate::diagnostic::Diagnostic
pub(crate) trait StageCode: Copy {
    /// The stable `mailops::<area>::<name>` string.
    fn code(self) -> &'static str;
}

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

        impl $crate::diagnostic_code::StageCode for $name {
            fn code(self) -> &'static str {
                $name::code(self)
            }
        }
    };
}
pub(crate) use codes;
