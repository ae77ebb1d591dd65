//! Quotas: `"10 GiB"`, `"500 MB"`, `"1.5 GiB"`, `"1073741824"` (bytes).

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QuotaProblem {
    Syntax,
    UnknownUnit(String),
    Zero,
    TooLarge,
}

impl QuotaProblem {
    pub(crate) fn describe(&self) -> String {
        match self {
            QuotaProblem::Syntax => {
                "not a size: expected a number and a unit, like \"10 GiB\"".into()
            }
            QuotaProblem::UnknownUnit(u) => format!("unknown unit `{u}`"),
            QuotaProblem::Zero => "a quota must be larger than zero".into(),
            QuotaProblem::TooLarge => format!(
                "the size is too large: at most {MAX_QUOTA} bytes (8 EiB less one byte, the largest signed 64-bit number the databases store)"
            ),
        }
    }
}

const UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// The largest quota: `quota_bytes` is a signed 64-bit BIGINT in MariaDB
/// and SQLite, and the SQL files, `apply` and Dovecot must all agree on it.
pub(crate) const MAX_QUOTA: u64 = i64::MAX as u64;

pub(crate) const UNIT_NAMES: &str = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB";

/// Parse a size into bytes.
pub(crate) fn parse_quota(input: &str) -> Result<u64, QuotaProblem> {
    let text = input.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    if number.is_empty()
        || number.starts_with('.')
        || number.ends_with('.')
        || number.matches('.').count() > 1
    {
        return Err(QuotaProblem::Syntax);
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, m)| *m)
            .ok_or_else(|| QuotaProblem::UnknownUnit(unit.to_string()))?
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = whole.parse().map_err(|_| QuotaProblem::TooLarge)?;
    let mut bytes = whole
        .checked_mul(multiplier)
        .ok_or(QuotaProblem::TooLarge)?;
    if !fraction.is_empty() {
        let digits = fraction.len().min(9) as u32;
        let fraction: u64 = fraction[..digits as usize]
            .parse()
            .map_err(|_| QuotaProblem::Syntax)?;
        let part = u128::from(fraction) * u128::from(multiplier) / 10u128.pow(digits);
        bytes = bytes
            .checked_add(u64::try_from(part).map_err(|_| QuotaProblem::TooLarge)?)
            .ok_or(QuotaProblem::TooLarge)?;
    }
    if bytes == 0 {
        return Err(QuotaProblem::Zero);
    }
    // Quotas are stored in a signed 64-bit BIGINT on both engines.
    if bytes > MAX_QUOTA {
        return Err(QuotaProblem::TooLarge);
    }
    Ok(bytes)
}

/// Bytes in the largest binary unit that divides them exactly (`10 GiB`).
pub(crate) fn format_quota(bytes: u64) -> String {
    for (name, multiplier) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes % multiplier == 0 {
            return format!("{} {name}", bytes / multiplier);
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_units() {
        assert_eq!(parse_quota("10 GiB"), Ok(10 << 30));
        assert_eq!(parse_quota("500 MB"), Ok(500_000_000));
        assert_eq!(parse_quota("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_quota("1024"), Ok(1024));
        assert_eq!(parse_quota("2GiB"), Ok(2 << 30));
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        assert_eq!(parse_quota("lots"), Err(QuotaProblem::Syntax));
        assert_eq!(
            parse_quota("10 gigs"),
            Err(QuotaProblem::UnknownUnit("gigs".into()))
        );
        assert_eq!(parse_quota("0 GiB"), Err(QuotaProblem::Zero));
        assert_eq!(parse_quota("99999999999 TiB"), Err(QuotaProblem::TooLarge));
        assert_eq!(parse_quota("1..5 GiB"), Err(QuotaProblem::Syntax));
    }

    #[test]
    fn quota_over_bigint_is_refused() {
        // 2^63 bytes: stored as i64::MAX by apply, written as ...808 in the SQL files.
        assert_eq!(parse_quota("8388608 TiB"), Err(QuotaProblem::TooLarge));
        assert_eq!(
            parse_quota("9223372036854775808"),
            Err(QuotaProblem::TooLarge)
        );
        assert_eq!(
            parse_quota("9223372036854775807"),
            Ok(9_223_372_036_854_775_807)
        );
        assert!(i64::try_from(parse_quota("8388607 TiB").unwrap()).is_ok());
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format_quota(10 << 30), "10 GiB");
        assert_eq!(format_quota(500_000_000), "500000000 B");
        assert_eq!(format_quota(3 << 29), "1536 MiB");
    }
}
