//! `[calendar.NAME]` and `[window]`: opening hours with their holidays and special days, and
//! the calendar behind each of the four time windows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use toml::Spanned;

use super::{list, report_unknown, At, Ctx};
use crate::calendar::{parse_days, parse_interval, Calendar, SpecialDay};
use crate::model::{Reason, ReasonKind, TimeWindow};
use crate::rules::sla::special_days;
use crate::rules::source::{CalendarDoc, Name};
use crate::rules::{ReadError, SourceFile};

/// The calendar behind a time window, with the reasons to give for inside and outside.
#[derive(Debug, Clone)]
pub struct WindowDef {
    pub calendar: Arc<Calendar>,
    pub inside: Arc<Reason>,
    pub outside: Arc<Reason>,
}

/// The calendars as defined (every name, also of those with errors) and as compiled.
pub(super) struct Calendars<'d> {
    pub(super) defined: &'d BTreeMap<String, At<CalendarDoc>>,
    pub(super) compiled: BTreeMap<Arc<str>, Arc<Calendar>>,
}

impl Calendars<'_> {
    /// Reports a reference to a calendar that is not compiled, listing the defined ones.
    pub(super) fn unknown(&self, ctx: &mut Ctx, file: usize, name: &Name) {
        let defined: Vec<&str> = self.defined.keys().map(String::as_str).collect();
        report_unknown(ctx, file, name, ["calendar", "calendars"], &defined);
    }
}

/// Compiles every calendar with its holidays and special days, reading the iCalendar files
/// they name into `extra_files`; a calendar with an error is reported and left out.
pub(super) fn compile<'d>(
    ctx: &mut Ctx,
    defined: &'d BTreeMap<String, At<CalendarDoc>>,
    read: &dyn Fn(&str) -> Result<SourceFile, ReadError>,
    extra_files: &mut Vec<SourceFile>,
) -> Calendars<'d> {
    let own_days: HashMap<&str, Vec<SpecialDay>> = defined
        .iter()
        .map(|(name, c)| {
            let days = special_days(ctx, c.file, &c.item, read, extra_files);
            (name.as_str(), days)
        })
        .collect();
    let mut compiled = BTreeMap::new();
    for (name, c) in defined {
        if name == "customer" {
            ctx.error(
                c.file,
                &c.span,
                "a calendar cannot be named \"customer\": a policy's calendar = \"customer\" means the organisation's own",
            );
            continue;
        }
        if let Some(cal) = calendar(ctx, name, c, &own_days, defined) {
            compiled.insert(name.as_str().into(), Arc::new(cal));
        }
    }
    Calendars { defined, compiled }
}

/// One calendar with its own special days and those of the calendar `holidays-of` names.
fn calendar(
    ctx: &mut Ctx,
    name: &str,
    c: &At<CalendarDoc>,
    own_days: &HashMap<&str, Vec<SpecialDay>>,
    defined: &BTreeMap<String, At<CalendarDoc>>,
) -> Option<Calendar> {
    if !hours_are_valid(ctx, c) {
        return None;
    }
    let file = c.file;
    let hours = c.item.hours.get_ref().iter().map(|(d, i)| {
        (
            d.get_ref().as_str(),
            i.get_ref().0.iter().map(String::as_str),
        )
    });
    let mut special = own_days.get(name).cloned().unwrap_or_default();
    if let Some(other) = &c.item.holidays_of {
        match own_days.get(other.get_ref().as_str()) {
            Some(days) => special.extend(days.iter().cloned()),
            None => ctx.error(
                file,
                &other.span(),
                format!(
                    "unknown calendar \"{}\" in holidays-of (defined calendars: {})",
                    other.get_ref(),
                    list(defined.keys())
                ),
            ),
        }
    }
    match Calendar::new(name, c.item.timezone.get_ref(), hours) {
        Ok(cal) => Some(cal.with_special_days(special)),
        Err(e) => {
            ctx.error(file, &c.item.hours.span(), e.0);
            None
        }
    }
}

/// Checks the time zone, the day ranges and the intervals, reporting every mistake.
fn hours_are_valid(ctx: &mut Ctx, c: &At<CalendarDoc>) -> bool {
    let file = c.file;
    let mut ok = true;
    if c.item.timezone.get_ref().parse::<chrono_tz::Tz>().is_err() {
        ctx.error(
            file,
            &c.item.timezone.span(),
            format!(
                "unknown time zone \"{}\" (use an IANA name such as \"Europe/Vienna\")",
                c.item.timezone.get_ref()
            ),
        );
        ok = false;
    }
    for (days, intervals) in c.item.hours.get_ref() {
        if let Err(e) = parse_days(days.get_ref()) {
            ctx.error(file, &days.span(), e.0);
            ok = false;
        }
        for i in &intervals.get_ref().0 {
            if let Err(e) = parse_interval(i) {
                ctx.error(file, &intervals.span(), e.0);
                ok = false;
            }
        }
    }
    ok
}

/// Maps each time window to its calendar; `None` unless all four have one.
pub(super) fn windows(
    ctx: &mut Ctx,
    tables: &[(usize, Spanned<BTreeMap<Name, Name>>)],
    calendars: &Calendars,
) -> Option<[WindowDef; 4]> {
    let mut slots: [Option<WindowDef>; 4] = Default::default();
    for (file, table) in tables {
        for (w, cal) in table.get_ref() {
            let Some(window) = ctx.vocab::<TimeWindow>(*file, w) else {
                continue;
            };
            if slots[window.index()].is_some() {
                ctx.error(*file, &w.span(), format!("window {window} is mapped twice"));
                continue;
            }
            let Some(calendar) = calendars.compiled.get(cal.get_ref().as_str()) else {
                if !calendars.defined.contains_key(cal.get_ref()) {
                    calendars.unknown(ctx, *file, cal);
                }
                continue;
            };
            let at = &calendars.defined[cal.get_ref()];
            slots[window.index()] = Some(window_def(ctx, window, calendar, at));
        }
    }
    report_unmapped(ctx, tables, &slots);
    let [Some(w0), Some(w1), Some(w2), Some(w3)] = slots else {
        return None;
    };
    Some([w0, w1, w2, w3])
}

/// A window's calendar with the reasons to give, located at the calendar's definition.
fn window_def(
    ctx: &Ctx,
    window: TimeWindow,
    calendar: &Arc<Calendar>,
    at: &At<CalendarDoc>,
) -> WindowDef {
    let tz = calendar.timezone();
    let reason = |side: &str| {
        ctx.reason(
            ReasonKind::Calendar,
            at.file,
            &at.span,
            format!(
                "arrived {side} {window} (calendar {}, {tz})",
                calendar.name()
            ),
        )
    };
    WindowDef {
        calendar: calendar.clone(),
        inside: reason("inside"),
        outside: reason("outside"),
    }
}

/// Reports every window that no `[window]` table names, at the first such table.
fn report_unmapped(
    ctx: &mut Ctx,
    tables: &[(usize, Spanned<BTreeMap<Name, Name>>)],
    slots: &[Option<WindowDef>; 4],
) {
    let first_table = tables.first().map(|(file, table)| (*file, table.span()));
    for w in TimeWindow::ALL {
        if slots[w.index()].is_none()
            && !tables
                .iter()
                .any(|(_, t)| t.get_ref().keys().any(|k| k.get_ref() == w.as_str()))
        {
            match first_table.clone() {
                Some((file, span)) => ctx.error(
                    file,
                    &span,
                    format!(
                        "window {w} has no calendar; add `\"{w}\" = \"<calendar>\"` to [window]"
                    ),
                ),
                None => ctx.error(
                    0,
                    &(0..0),
                    format!("no [window] table: time window {w} needs a calendar"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{has, located};
    use crate::rules::compile_sources;
    use crate::rules::fixture::{CUSTOMERS, SERVICE};

    #[test]
    fn unknown_time_zone_is_an_error() {
        let service = SERVICE.replace("timezone = \"UTC\"", "timezone = \"Mars/Olympus\"");
        let err = compile_sources(&[("service.toml", &service), ("customers.csv", CUSTOMERS)])
            .unwrap_err();
        let errs: Vec<_> = err.errors().map(located).collect();
        assert!(has(&errs, "unknown time zone \"Mars/Olympus\""), "{errs:?}");
        assert!(errs[0].starts_with("service.toml:20:"), "{errs:?}");
    }
}
