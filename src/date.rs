//! Dates as records carry them: the one place a date field is checked and read.
//!
//! In: the date field's text. Out: the calendar date it names (`IsoDate`), or `None` for
//! anything that is not an ISO 8601 date with an optional time: `YYYY-MM-DD`, then
//! optionally `T` (or a space) and `HH:MM`, `:SS`, a fraction (`.` or `,` and digits)
//! and a zone (`Z`, `+HH`, `+HH:MM`, `+HHMM`, or the same with `-`).
//!
//! Invariant: a date that passes names a real instant of the calendar (year 0001 to 9999,
//! month 1 to 12, a day the month has, leap years included, hour 0 to 23, minute 0 to 59,
//! second 0 to 60 for a leap second), so dates that pass compare correctly as strings
//! (within one time zone) and placeholders such as `0000-00-00 00:00:00` never do.

/// A calendar date read from an ISO 8601 date field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IsoDate {
    /// 1 to 9999.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to the days of the month.
    pub day: u8,
}

impl IsoDate {
    /// Days since 1970-01-01 (negative before it).
    #[must_use]
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil
        let (y, m, d) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

/// Whether `s` is an ISO date with an optional time that the calendar has (see the
/// module's rule). Other dates are ignored for choosing the original, and counted in
/// `summary.json` (`dates_not_iso`).
#[must_use]
pub fn is_iso_date(s: &str) -> bool {
    parse(s).is_some()
}

/// The calendar date of `s` when it is an ISO date with an optional time the calendar
/// has; `None` otherwise.
#[must_use]
pub fn parse(s: &str) -> Option<IsoDate> {
    let b = s.as_bytes();
    let year = number(b, 0, 4)?;
    let month = number(b, 5, 2)?;
    let day = number(b, 8, 2)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    let rest = &b[10..];
    if !rest.is_empty() && !valid_time(rest) {
        return None;
    }
    Some(IsoDate {
        year: u16::try_from(year).ok()?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
    })
}

/// The days of `month` (1 to 12) in `year`, leap years by the Gregorian rule.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `T`/space, `HH:MM`, optional `:SS`, optional fraction, optional zone, nothing else.
fn valid_time(b: &[u8]) -> bool {
    if !matches!(b.first(), Some(b'T' | b't' | b' ')) {
        return false;
    }
    let (Some(hour), Some(minute)) = (number(b, 1, 2), number(b, 4, 2)) else {
        return false;
    };
    if b[3] != b':' || hour > 23 || minute > 59 {
        return false;
    }
    let mut rest = &b[6..];
    if rest.first() == Some(&b':') {
        match number(rest, 1, 2) {
            Some(second) if second <= 60 => rest = &rest[3..],
            _ => return false,
        }
        if matches!(rest.first(), Some(b'.' | b',')) {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[1 + digits..];
        }
    }
    valid_zone(rest)
}

/// Nothing, `Z`, or `+`/`-` with `HH`, `HH:MM` or `HHMM`.
fn valid_zone(b: &[u8]) -> bool {
    match b {
        [] | [b'Z' | b'z'] => true,
        [b'+' | b'-', zone @ ..] => {
            let hour = number(zone, 0, 2);
            let minute = match zone.len() {
                2 => Some(0),
                4 => number(zone, 2, 2),
                5 if zone[2] == b':' => number(zone, 3, 2),
                _ => None,
            };
            matches!((hour, minute), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

/// The `len` ASCII digits of `b` at `at`, as a number.
fn number(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let digits = b.get(at..at + len)?;
    digits.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_dates_and_times_pass() {
        for ok in [
            "2024-12-09",
            "2024-12-09T10:00:00Z",
            "2024-01-01T23:00",
            "2024-01-01 23:59:60",
            "2024-01-01t00:00:00.123456+05:30",
            "2024-01-01T00:00:00,5-0800",
            "2024-01-01T00:00:00+01",
            "2024-02-29",
            "2000-02-29",
            "0001-01-01",
            "9999-12-31T23:59:59z",
        ] {
            assert!(is_iso_date(ok), "{ok}");
        }
    }

    #[test]
    fn placeholders_impossible_dates_and_other_formats_fail() {
        for bad in [
            "0000-00-00 00:00:00",
            "0000-01-01",
            "2024-99-99",
            "2024-00-10",
            "2024-13-01",
            "2024-01-00",
            "2024-01-32",
            "2024-04-31",
            "2023-02-29",
            "1900-02-29",
            "2024-01-01T24:00",
            "2024-01-01T23:60",
            "2024-01-01T23:59:61",
            "2024-01-01T10",
            "2024-01-01T10:00:00.",
            "2024-01-01T10:00:00+24:00",
            "2024-01-01T10:00:00 UTC",
            "2024-01-01x",
            "2024-1-01",
            "20240101",
            "1733788800",
            "Dec 9, 2024",
            "",
            "２０２４-01-01",
        ] {
            assert!(!is_iso_date(bad), "{bad}");
        }
    }

    #[test]
    fn days_since_the_epoch() {
        let days = |s| parse(s).map(IsoDate::days_since_epoch);
        assert_eq!(days("1970-01-01"), Some(0));
        assert_eq!(days("2024-03-01T10:00:00Z"), Some(19_783));
        assert_eq!(days("2024-02-29").map(|d| d + 1), days("2024-03-01"));
        assert_eq!(days("1969-12-31"), Some(-1));
        assert_eq!(days("2024-13-01"), None);
    }
}
