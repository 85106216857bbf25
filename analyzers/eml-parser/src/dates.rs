//! RFC 2822 dates parsed with the leniency of CPython's `email.utils._parsedate_tz`, printed as
//! `datetime.isoformat()` prints them.
//!
//! The original falls back to `dateutil` for dates the e-mail parser rejects; that fallback is
//! not ported (see the README): such a date becomes eml_parser's default date.

/// eml_parser's default date, used for a missing or unparsable Date field.
pub const DEFAULT_DATE: &str = "1970-01-01T00:00:00+00:00";

/// A parsed date: year, month, day, hour, minute, second and the offset in seconds (`None` for
/// `-0000` or an unknown zone, which Python treats as UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    offset: Option<i64>,
}

/// Month names as `_parsedate_tz` knows them (short forms, then long forms).
const MONTHS: [&str; 24] = [
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Python's `int()` on a short numeric string (sign and surrounding blanks allowed).
fn py_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The offset of a zone name or numeric zone, as `_parsedate_tz` computes it.
fn zone_offset(tz: &str) -> Option<i64> {
    let named = match tz.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => Some(0),
        "ADT" => Some(-300),
        "AST" | "EDT" => Some(-400),
        "EST" | "CDT" => Some(-500),
        "CST" | "MDT" => Some(-600),
        "MST" | "PDT" => Some(-700),
        "PST" => Some(-800),
        _ => None,
    };
    let raw = named.or_else(|| py_int(tz))?;
    if raw == 0 && tz.starts_with('-') {
        return None;
    }
    let sign = if raw < 0 { -1 } else { 1 };
    let raw = raw.abs();
    Some(sign * ((raw / 100) * 3600 + (raw % 100) * 60))
}

/// `email.utils.parsedate_to_datetime` (with datetime's range checks); `None` if it raises.
pub fn parse(value: &str) -> Option<Date> {
    let mut data: Vec<String> = value.split_whitespace().map(str::to_string).collect();
    if data.is_empty() {
        return None;
    }
    if data[0].ends_with(',') || DAYS.contains(&data[0].to_lowercase().as_str()) {
        data.remove(0);
    } else if let Some(i) = data[0].rfind(',') {
        data[0] = data[0][i + 1..].to_string();
    }
    if data.len() == 3 {
        let stuff: Vec<String> = data[0].split('-').map(str::to_string).collect();
        if stuff.len() == 3 {
            data = stuff.into_iter().chain(data[1..].iter().cloned()).collect();
        }
    }
    if data.len() == 4 {
        let s = data[3].clone();
        let i = s.find('+').or_else(|| s.find('-'));
        match i {
            Some(i) if i > 0 => {
                data.truncate(3);
                data.push(s[..i].to_string());
                data.push(s[i..].to_string());
            }
            _ => data.push(String::new()),
        }
    }
    if data.len() < 5 {
        return None;
    }
    let (mut dd, mut mm, mut yy, mut tm, mut tz) = (
        data[0].clone(),
        data[1].to_lowercase(),
        data[2].clone(),
        data[3].clone(),
        data[4].clone(),
    );
    if dd.is_empty() || mm.is_empty() || yy.is_empty() {
        return None;
    }
    if !MONTHS.contains(&mm.as_str()) {
        (dd, mm) = (mm, dd.to_lowercase());
        if !MONTHS.contains(&mm.as_str()) {
            return None;
        }
    }
    let month = (MONTHS.iter().position(|m| *m == mm)? % 12) as u32 + 1;
    if dd.ends_with(',') {
        dd.pop();
    }
    if yy.find(':').is_some_and(|i| i > 0) {
        std::mem::swap(&mut yy, &mut tm);
    }
    if yy.ends_with(',') {
        yy.pop();
        if yy.is_empty() {
            return None;
        }
    }
    if !yy.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        std::mem::swap(&mut yy, &mut tz);
    }
    if tm.ends_with(',') {
        tm.pop();
    }
    let mut parts: Vec<&str> = tm.split(':').collect();
    if parts.len() == 1 && tm.contains('.') {
        parts = tm.split('.').collect();
    }
    let (hh, mi, ss) = match parts.as_slice() {
        [h, m] => (*h, *m, "0"),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    let mut year = py_int(&yy)?;
    let day = py_int(&dd)?;
    let (hour, minute, second) = (py_int(hh)?, py_int(mi)?, py_int(ss)?);
    if year < 100 {
        year += if year > 68 { 1900 } else { 2000 };
    }
    let offset = zone_offset(&tz);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=9999).contains(&year)
        && day >= 1
        && day <= month_days[month as usize - 1]
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..60).contains(&second)
        && offset.is_none_or(|o| o.abs() < 86400);
    valid.then_some(Date {
        year,
        month,
        day: day as u32,
        hour: hour as u32,
        minute: minute as u32,
        second: second as u32,
        offset,
    })
}

impl Date {
    /// `datetime.isoformat()`, a naive date taken as UTC.
    pub fn iso(&self) -> String {
        let offset = self.offset.unwrap_or(0);
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.abs();
        let mut zone = format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60);
        if abs % 60 != 0 {
            zone.push_str(&format!(":{:02}", abs % 60));
        }
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// The Date field as eml_parser's policy renders it: ISO 8601, or the default date.
pub fn header_date_iso(value: &str) -> String {
    parse(value).map_or_else(|| DEFAULT_DATE.to_string(), |d| d.iso())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_python() {
        assert_eq!(
            header_date_iso("Mon, 16 Nov 2026 08:13:58 -0000"),
            "2026-11-16T08:13:58+00:00"
        );
        assert_eq!(
            header_date_iso("16 Nov 26 08:13 EST"),
            "2026-11-16T08:13:00-05:00"
        );
        assert_eq!(
            header_date_iso("Tue, 3 Nov 2026 14:05:00 -0500"),
            "2026-11-03T14:05:00-05:00"
        );
        assert_eq!(header_date_iso("garbage"), DEFAULT_DATE);
        assert_eq!(
            header_date_iso("Sun, 08 Nov 2026 23:30:11 -0800 (PST)"),
            "2026-11-08T23:30:11-08:00"
        );
    }
}
