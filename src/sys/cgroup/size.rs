//! Memory sizes as people type them (`64M`, `1.5G`, `512KiB`, `max`),
//! validated before anything reaches the kernel. cgroup v1 wraps huge numbers
//! silently and rejects `max` and fractions, v2 has its own syntax: so isolab
//! parses once, here, and writes each version's syntax itself.

use serde::Serialize;
use std::fmt;

/// A memory limit: a number of bytes, or no limit at all.
/// In JSON a byte count, or the string "max".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Bytes(u64),
    Max,
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Bytes(b) => s.serialize_u64(*b),
            Limit::Max => s.serialize_str("max"),
        }
    }
}

/// Below this a limit is legal but a process can hardly start; we warn.
pub const SANE_FLOOR: u64 = 4 * 1024 * 1024;

/// The largest limit we accept: the kernel keeps limits as a signed 64-bit
/// byte count (v1 shows "unlimited" as 9223372036854771712).
pub const LARGEST: u64 = i64::MAX as u64;

impl Limit {
    /// A warning for limits that are valid but almost certainly a mistake.
    pub fn warning(&self) -> Option<String> {
        match *self {
            Limit::Bytes(b) if b < SANE_FLOOR => Some(format!(
                "{} is below {}: most programs cannot even start with that little memory",
                human_bytes(b),
                human_bytes(SANE_FLOOR)
            )),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<u64> {
        match *self {
            Limit::Bytes(b) => Some(b),
            Limit::Max => None,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Bytes(b) => write!(f, "{} ({} bytes)", human_bytes(*b), b),
            Limit::Max => f.write_str("max (no limit)"),
        }
    }
}

/// Why a size was refused. Each message quotes the input and says what is
/// accepted instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("empty size: give a size like 64M, 1G, 512KiB, 1.5G, a byte count, or max")]
    Empty,
    #[error("{0:?} is negative: a memory limit is a size (like 64M) or max")]
    Negative(String),
    #[error("{0:?} is hexadecimal: write the size in decimal, like 16 or 64M")]
    Hex(String),
    #[error("{0:?} has more than one decimal point: write a number like 1.5G")]
    TwoPoints(String),
    #[error("{0:?} does not start with a number: write a size like 64M, 1G or max")]
    NotANumber(String),
    #[error(
        "{input:?} has an unknown unit {unit:?}: use K, M, G or T (KiB/KB/K all mean 1024), or plain bytes"
    )]
    UnknownUnit { input: String, unit: String },
    #[error("{0:?} is too large: the kernel's largest limit is about 8 EiB (use max for no limit)")]
    Overflow(String),
    #[error("{0:?} asks for a fraction of a byte: give whole bytes or a unit, like 1.5M")]
    FractionOfByte(String),
}

/// Parses a memory size. Units are binary (K = 1024), as the kernel and
/// docker read them; case does not matter; `max` and `unlimited` mean no limit.
pub fn parse_size(input: &str) -> Result<Limit, SizeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(SizeError::Empty);
    }
    let lower = s.to_ascii_lowercase();
    if lower == "max" || lower == "unlimited" || lower == "-1" {
        // -1 is v1's own spelling of "no limit"; accept it as people paste it.
        return Ok(Limit::Max);
    }
    let owned = || s.to_string();
    if lower.starts_with('-') {
        return Err(SizeError::Negative(owned()));
    }
    if lower.starts_with("0x") {
        return Err(SizeError::Hex(owned()));
    }
    let number_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(number_end);
    let unit = unit.trim();
    if number.is_empty() || number == "." {
        return Err(SizeError::NotANumber(owned()));
    }
    let mut halves = number.splitn(3, '.');
    let whole = halves.next().unwrap_or("");
    let fraction = halves.next();
    if halves.next().is_some() {
        return Err(SizeError::TwoPoints(owned()));
    }
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return Err(SizeError::UnknownUnit {
                input: owned(),
                unit: unit.to_string(),
            });
        }
    };
    let overflow = || SizeError::Overflow(owned());
    let whole_value: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| overflow())?
    };
    let mut bytes = whole_value.checked_mul(multiplier).ok_or_else(overflow)?;
    if let Some(fraction) = fraction.filter(|f| !f.is_empty()) {
        // Exact integer arithmetic: 1.5G is 1.5 * 2^30 to the byte. Digits
        // beyond 12 cannot matter at these multipliers, so we cut them to
        // keep the arithmetic inside u128 without rounding surprises.
        let digits = &fraction[..fraction.len().min(12)];
        let numerator: u128 = digits.parse().map_err(|_| overflow())?;
        let denominator = 10u128.pow(digits.len() as u32);
        let extra = numerator * multiplier as u128;
        if multiplier == 1 && numerator != 0 {
            return Err(SizeError::FractionOfByte(owned()));
        }
        let extra = u64::try_from(extra / denominator).map_err(|_| overflow())?;
        bytes = bytes.checked_add(extra).ok_or_else(overflow)?;
    }
    if bytes > LARGEST {
        return Err(overflow());
    }
    Ok(Limit::Bytes(bytes))
}

/// Parses a rate like `8M/s` or `8M` (per second implied) into bytes per second.
pub fn parse_rate(input: &str) -> Result<u64, SizeError> {
    let trimmed = input.trim();
    let size = trimmed
        .strip_suffix("/s")
        .or_else(|| trimmed.strip_suffix("/S"))
        .unwrap_or(trimmed);
    match parse_size(size)? {
        Limit::Bytes(b) => Ok(b),
        Limit::Max => Err(SizeError::NotANumber(input.to_string())),
    }
}

/// `64.0 MiB`, `1.5 GiB`, `512 B`: binary units, one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `32M`, `1G`, `4K`: a size as a user types it for `--memory` (the largest
/// binary unit that divides it exactly, which [`parse_size`] reads back),
/// else `4097 bytes`. For messages that tell the user what to type;
/// [`human_bytes`] is the one for showing an amount.
pub fn size_arg(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (name, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{name}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        let mib = 1u64 << 20;
        assert_eq!(parse_size("64M"), Ok(Limit::Bytes(64 * mib)));
        assert_eq!(parse_size("1G"), Ok(Limit::Bytes(1 << 30)));
        assert_eq!(parse_size("512KiB"), Ok(Limit::Bytes(512 * 1024)));
        assert_eq!(parse_size("1.5G"), Ok(Limit::Bytes(3 << 29)));
        assert_eq!(parse_size("4096"), Ok(Limit::Bytes(4096)));
        assert_eq!(parse_size(" 32 mb "), Ok(Limit::Bytes(32 * mib)));
        assert_eq!(parse_size("max"), Ok(Limit::Max));
        assert_eq!(parse_size("Unlimited"), Ok(Limit::Max));
        assert_eq!(parse_size("0.5K"), Ok(Limit::Bytes(512)));
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        let cases = [
            ("1.5.5M", "more than one decimal point"),
            ("-2", "negative"),
            ("99999999999999999999999", "too large"),
            ("", "empty size"),
            ("12Q", "unknown unit"),
            ("0x10", "hexadecimal"),
            ("M", "does not start with a number"),
            ("1.5", "fraction of a byte"),
            ("9000000T", "too large"),
        ];
        for (input, expected) in cases {
            let err = parse_size(input).expect_err(input);
            assert!(
                err.to_string().contains(expected),
                "{input:?}: {err} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn warns_below_the_floor_only() {
        assert!(Limit::Bytes(1 << 20).warning().is_some());
        assert!(Limit::Bytes(SANE_FLOOR).warning().is_none());
        assert!(Limit::Max.warning().is_none());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("8M/s"), Ok(8 << 20));
        assert_eq!(parse_rate("8M"), Ok(8 << 20));
        assert!(parse_rate("max").is_err());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
        assert_eq!(size_arg(32 << 20), "32M");
        assert_eq!(size_arg(1 << 30), "1G");
        assert_eq!(size_arg(4097), "4097 bytes");
        assert_eq!(parse_size(&size_arg(48 << 20)), Ok(Limit::Bytes(48 << 20)));
    }
}
