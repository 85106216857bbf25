//! Python 3.11's `datetime.fromisoformat` for the timestamps AbuseIPDB returns, reduced to what
//! the original does with them: seconds since the Unix epoch, or "no offset" (a naive datetime,
//! which the original cannot subtract from an aware one).

/// A parsed timestamp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parsed {
    /// An aware datetime: seconds since 1970-01-01T00:00:00Z (fraction included).
    Aware(f64),
    /// A datetime without an offset.
    Naive,
}

/// `datetime.fromisoformat(text.replace("Z", "+00:00"))`, or `None` where Python raises.
pub fn parse(text: &str) -> Option<Parsed> {
    let text = text.replace('Z', "+00:00");
    let b = text.as_bytes();
    // Date: YYYY-MM-DD or YYYYMMDD.
    let (year, month, day, rest) = if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?, &b[10..])
    } else if b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit) {
        (num(&b[0..4])?, num(&b[4..6])?, num(&b[6..8])?, &b[8..])
    } else {
        return None;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || year < 1 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if rest.is_empty() {
        return Some(Parsed::Naive);
    }
    // Any one character separates the date from the time.
    let rest = std::str::from_utf8(rest).ok()?;
    let mut chars = rest.chars();
    chars.next()?;
    let time = chars.as_str();
    let split = time.find(['+', '-']).unwrap_or(time.len());
    let (clock, offset) = time.split_at(split);
    let seconds_of_day = parse_clock(clock)?;
    let local = days as f64 * 86_400.0 + seconds_of_day;
    if offset.is_empty() {
        return Some(Parsed::Naive);
    }
    let sign = if offset.starts_with('-') { -1.0 } else { 1.0 };
    let offset_seconds = parse_offset(&offset[1..])?;
    if offset_seconds >= 86_400.0 {
        return None;
    }
    Some(Parsed::Aware(local - sign * offset_seconds))
}

/// `HH[:MM[:SS[.f+]]]` or `HH[MM[SS[.f+]]]` as seconds of the day.
fn parse_clock(clock: &str) -> Option<f64> {
    let (main, fraction) = match clock.split_once(['.', ',']) {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (clock, None),
    };
    let parts: Vec<&str> = if main.contains(':') {
        main.split(':').collect()
    } else {
        main.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect()
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h = num(parts[0].as_bytes())?;
    let m = parts.get(1).map_or(Some(0), |p| num(p.as_bytes()))?;
    let s = parts.get(2).map_or(Some(0), |p| num(p.as_bytes()))?;
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let mut seconds = f64::from(h * 3600 + m * 60 + s);
    if let Some(fraction) = fraction {
        if parts.len() != 3 || fraction.is_empty() || !fraction.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        // Python keeps microseconds: digits past the sixth are dropped.
        let micro: String = fraction.chars().chain("000000".chars()).take(6).collect();
        seconds += f64::from(micro.parse::<u32>().ok()?) / 1e6;
    }
    Some(seconds)
}

/// `HH:MM[:SS[.f]]` or `HHMM[SS]` of an offset, as seconds.
fn parse_offset(offset: &str) -> Option<f64> {
    if offset.len() < 2 {
        return None;
    }
    parse_clock(offset)
}

fn num(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values: `datetime.fromisoformat(...).timestamp()` in CPython 3.11.
    #[test]
    fn parses_as_fromisoformat() {
        assert_eq!(parse("1970-01-01T00:00:00+00:00"), Some(Parsed::Aware(0.0)));
        assert_eq!(
            parse("2024-03-14T09:12:45+00:00"),
            Some(Parsed::Aware(1_710_407_565.0))
        );
        assert_eq!(
            parse("2024-03-14T09:12:45Z"),
            Some(Parsed::Aware(1_710_407_565.0))
        );
        assert_eq!(
            parse("2024-03-14T11:12:45.5+02:00"),
            Some(Parsed::Aware(1_710_407_565.5))
        );
        assert_eq!(
            parse("2024-03-14 04:12:45-0500"),
            Some(Parsed::Aware(1_710_407_565.0))
        );
        assert_eq!(parse("2024-03-14T09:12:45"), Some(Parsed::Naive));
        assert_eq!(parse("2024-03-14"), Some(Parsed::Naive));
        assert_eq!(parse("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2024-03-14T25:00:00Z"), None);
    }
}
