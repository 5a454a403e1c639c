//! `strftime_now(format)`, which recent templates (Llama 3.1 and later) call for today's date: the current
//! time (UTC) formatted like Python's `datetime.strftime`, for the common directives.

use minijinja::{Error, ErrorKind};
use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The template function.
pub fn strftime_now(format: String) -> Result<String, Error> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format_utc(secs, &format)
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month as usize, day)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// `format` applied to the UTC time `secs` after the epoch.
fn format_utc(secs: i64, format: &str) -> Result<String, Error> {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil(days);
    let (hour, minute, second) = (sod / 3600, sod / 60 % 60, sod % 60);
    let weekday = (days + 4).rem_euclid(7) as usize;
    let before: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = before[month - 1] + day + i64::from(month > 2 && is_leap(year));
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (pad, d) = match chars.next() {
            Some('-') => (false, chars.next()),
            d => (true, d),
        };
        let num = |v: i64, w: usize| {
            if pad {
                format!("{v:0w$}")
            } else {
                v.to_string()
            }
        };
        let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
        out.push_str(&match d {
            Some('Y') => year.to_string(),
            Some('y') => num(year.rem_euclid(100), 2),
            Some('m') => num(month as i64, 2),
            Some('d') => num(day, 2),
            Some('H') => num(hour, 2),
            Some('I') => num(hour12, 2),
            Some('M') => num(minute, 2),
            Some('S') => num(second, 2),
            Some('j') => num(yday, 3),
            Some('p') => if hour < 12 { "AM" } else { "PM" }.to_string(),
            Some('a') => DAYS[weekday][..3].to_string(),
            Some('A') => DAYS[weekday].to_string(),
            Some('b') => MONTHS[month - 1][..3].to_string(),
            Some('B') => MONTHS[month - 1].to_string(),
            Some('Z') => "UTC".to_string(),
            Some('z') => "+0000".to_string(),
            Some('%') => "%".to_string(),
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "strftime_now: unsupported directive %{}",
                        other.unwrap_or(' ')
                    ),
                ))
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings are Python's datetime.fromtimestamp(t, timezone.utc).strftime(f).
    #[test]
    fn formats_like_python() {
        let t = 1_721_995_932; // 2024-07-26 12:12:12 UTC, a Friday
        assert_eq!(format_utc(t, "%d %b %Y").unwrap(), "26 Jul 2024");
        assert_eq!(
            format_utc(t, "%A %B %-d, %Y %I:%M:%S %p %j %y %Z%z %%").unwrap(),
            "Friday July 26, 2024 12:12:12 PM 208 24 UTC+0000 %"
        );
        assert_eq!(
            format_utc(951_782_400, "%Y-%m-%d %a %j").unwrap(),
            "2000-02-29 Tue 060"
        );
        assert_eq!(format_utc(0, "%Y-%m-%d %H:%M").unwrap(), "1970-01-01 00:00");
        assert!(format_utc(0, "%Q").is_err());
    }
}
