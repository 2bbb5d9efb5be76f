//! Dates that differ from the weekly hours: holidays and special days, written as fixed
//! dates, yearly dates or relative to Easter, and holidays imported from iCalendar files.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::CalendarError;

/// When a special day falls: every year, once, or a number of days from Easter Sunday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateSpec {
    /// `12-25`: every year.
    Yearly { month: u32, day: u32 },
    /// `2026-12-31`: that date only.
    Fixed(NaiveDate),
    /// `easter`, `easter+1`, `easter-2`: Easter Sunday (Gregorian) plus the offset in days.
    Easter(i32),
}

impl DateSpec {
    /// Parses `MM-DD`, `YYYY-MM-DD` or `easter±N`.
    pub fn parse(text: &str) -> Result<DateSpec, CalendarError> {
        let s = text.trim();
        let bad = || {
            CalendarError(format!(
                "invalid date \"{s}\" (expected MM-DD for every year, YYYY-MM-DD for one date, \
                 or easter, easter+N, easter-N)"
            ))
        };
        if let Some(rest) = s.strip_prefix("easter") {
            if rest.is_empty() {
                return Ok(DateSpec::Easter(0));
            }
            let (sign, digits) = match rest.as_bytes()[0] {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return Err(bad()),
            };
            let n: i32 = digits.parse().map_err(|_| bad())?;
            if n > 366 {
                return Err(bad());
            }
            return Ok(DateSpec::Easter(sign * n));
        }
        match s.len() {
            5 => {
                // Checked against a leap year so that 02-29 is allowed.
                let d = NaiveDate::parse_from_str(&format!("2000-{s}"), "%Y-%m-%d")
                    .map_err(|_| bad())?;
                Ok(DateSpec::Yearly {
                    month: d.month(),
                    day: d.day(),
                })
            }
            10 => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(DateSpec::Fixed)
                .map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    /// The date in `year`, if the spec falls in it (`02-29` only in leap years).
    pub fn in_year(self, year: i32) -> Option<NaiveDate> {
        match self {
            DateSpec::Yearly { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            DateSpec::Fixed(d) => (d.year() == year).then_some(d),
            DateSpec::Easter(offset) => {
                let e = easter_sunday(year)?;
                let d = e.checked_add_signed(chrono::Duration::days(offset as i64))?;
                Some(d)
            }
        }
    }
}

impl fmt::Display for DateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateSpec::Yearly { month, day } => write!(f, "{month:02}-{day:02}"),
            DateSpec::Fixed(d) => write!(f, "{d}"),
            DateSpec::Easter(0) => f.write_str("easter"),
            DateSpec::Easter(n) => write!(f, "easter{n:+}"),
        }
    }
}

/// Easter Sunday in the Gregorian calendar (the anonymous algorithm published by Meeus);
/// `None` only for years chrono cannot represent.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// One all-day closure read from an iCalendar file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcsHoliday {
    pub date: NaiveDate,
    pub name: String,
}

/// Reads the all-day events (`DTSTART;VALUE=DATE`) of an iCalendar file; an event spanning
/// several days (`DTEND` exclusive, as RFC 5545 says) yields one entry per day. Timed events
/// are skipped: a meeting is not a closure.
pub fn parse_ics(text: &str) -> Result<Vec<IcsHoliday>, CalendarError> {
    let unfolded = icalendar::parser::unfold(text);
    let cal = icalendar::parser::read_calendar(&unfolded)
        .map_err(|e| CalendarError(format!("not an iCalendar file: {}", first_line(&e))))?;
    let mut out = Vec::new();
    for event in cal.components.iter().filter(|c| c.name == "VEVENT") {
        let Some(start) = event.find_prop("DTSTART") else {
            continue;
        };
        let Some(first) = ics_date(start.val.as_str()) else {
            continue;
        };
        let name = event
            .find_prop("SUMMARY")
            .map(|p| p.val.as_str().replace("\\,", ",").replace("\\;", ";"))
            .unwrap_or_else(|| "holiday".to_owned());
        let end = event
            .find_prop("DTEND")
            .and_then(|p| ics_date(p.val.as_str()))
            .filter(|e| *e > first)
            .unwrap_or_else(|| first.succ_opt().unwrap_or(first));
        let mut day = first;
        while day < end && out.len() < 100_000 {
            out.push(IcsHoliday {
                date: day,
                name: name.clone(),
            });
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
    }
    Ok(out)
}

/// A `DATE` value (`20261225`); date-times (`20261225T090000Z`) are not all-day.
fn ics_date(value: &str) -> Option<NaiveDate> {
    let v = value.trim();
    (v.len() == 8)
        .then(|| NaiveDate::parse_from_str(v, "%Y%m%d").ok())
        .flatten()
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "error:")
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Easter Sunday 2000–2040 and the extremes of the cycle, from published tables of
    /// Gregorian Easter dates (e.g. the US Naval Observatory's).
    const EASTER: &[(i32, u32, u32)] = &[
        (2000, 4, 23),
        (2001, 4, 15),
        (2002, 3, 31),
        (2003, 4, 20),
        (2004, 4, 11),
        (2005, 3, 27),
        (2006, 4, 16),
        (2007, 4, 8),
        (2008, 3, 23),
        (2009, 4, 12),
        (2010, 4, 4),
        (2011, 4, 24),
        (2012, 4, 8),
        (2013, 3, 31),
        (2014, 4, 20),
        (2015, 4, 5),
        (2016, 3, 27),
        (2017, 4, 16),
        (2018, 4, 1),
        (2019, 4, 21),
        (2020, 4, 12),
        (2021, 4, 4),
        (2022, 4, 17),
        (2023, 4, 9),
        (2024, 3, 31),
        (2025, 4, 20),
        (2026, 4, 5),
        (2027, 3, 28),
        (2028, 4, 16),
        (2029, 4, 1),
        (2030, 4, 21),
        (2031, 4, 13),
        (2032, 3, 28),
        (2033, 4, 17),
        (2034, 4, 9),
        (2035, 3, 25),
        (2036, 4, 13),
        (2037, 4, 5),
        (2038, 4, 25),
        (2039, 4, 10),
        (2040, 4, 1),
        // The extremes of the Gregorian cycle.
        (1818, 3, 22),
        (2285, 3, 22),
        (1943, 4, 25),
        (2190, 4, 25),
    ];

    #[test]
    fn easter_matches_the_published_table() {
        for &(y, m, d) in EASTER {
            assert_eq!(
                easter_sunday(y),
                NaiveDate::from_ymd_opt(y, m, d),
                "Easter {y}"
            );
        }
    }

    #[test]
    fn easter_relative_feasts_of_2026() {
        let day = |s: &str| {
            DateSpec::parse(s)
                .unwrap()
                .in_year(2026)
                .unwrap()
                .to_string()
        };
        assert_eq!(day("easter-2"), "2026-04-03"); // Good Friday
        assert_eq!(day("easter+1"), "2026-04-06"); // Easter Monday
        assert_eq!(day("easter+39"), "2026-05-14"); // Ascension
        assert_eq!(day("easter+50"), "2026-05-25"); // Whit Monday
        assert_eq!(day("easter+60"), "2026-06-04"); // Corpus Christi
    }

    #[test]
    fn date_specs_parse_and_reject_with_a_reason() {
        assert_eq!(
            DateSpec::parse("12-24").unwrap(),
            DateSpec::Yearly { month: 12, day: 24 }
        );
        assert_eq!(DateSpec::parse("02-29").unwrap().in_year(2027), None);
        assert!(DateSpec::parse("2026-12-31")
            .unwrap()
            .in_year(2027)
            .is_none());
        for bad in ["13-01", "2026-02-30", "easter*2", "Christmas", "24.12."] {
            let e = DateSpec::parse(bad).unwrap_err();
            assert!(e.0.contains(&format!("invalid date \"{bad}\"")), "{e}");
        }
    }

    #[test]
    fn ics_all_day_events_become_closed_days() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n\
            BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261208\r\nDTEND;VALUE=DATE:20261209\r\n\
            SUMMARY:Mariä Empfängnis\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20261227\r\nDTEND;VALUE=DATE:20261230\r\n\
            SUMMARY:Betriebsurlaub\\, Lager\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:3\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n\
            SUMMARY:Meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let days = parse_ics(ics).unwrap();
        let got: Vec<String> = days
            .iter()
            .map(|h| format!("{} {}", h.date, h.name))
            .collect();
        assert_eq!(
            got,
            [
                "2026-12-08 Mariä Empfängnis",
                "2026-12-27 Betriebsurlaub, Lager",
                "2026-12-28 Betriebsurlaub, Lager",
                "2026-12-29 Betriebsurlaub, Lager",
            ]
        );
        assert!(parse_ics("this is not a calendar").is_err());
    }
}
