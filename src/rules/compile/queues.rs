//! `[queue.NAME]`: the queues tickets can be routed to, and how each is staffed (assignment
//! strategy, skills, languages, calendar).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::calendars::Calendars;
use super::{report_unknown, At, Ctx};
use crate::routing::{QueuePolicy, Strategy};
use crate::rules::source::{Name, QueueDoc};

/// A queue tickets can be routed to.
#[derive(Debug, Clone)]
pub struct Queue {
    pub id: Arc<str>,
    pub name: String,
    /// Who gets its tickets (manual until the calendars are compiled).
    pub policy: QueuePolicy,
}

/// The defined queues by id, each with the manual policy until [`staff`] gives it its own.
pub(super) fn declared(docs: &BTreeMap<String, At<QueueDoc>>) -> BTreeMap<Arc<str>, Queue> {
    docs.iter()
        .map(|(id, q)| {
            let id: Arc<str> = id.as_str().into();
            let queue = Queue {
                name: q.item.name.clone().unwrap_or_else(|| id.to_string()),
                id: id.clone(),
                policy: Default::default(),
            };
            (id, queue)
        })
        .collect()
}

/// The id of the queue `name` refers to, or an error at `name` listing the defined queues.
pub(in crate::rules) fn queue_ref(
    ctx: &mut Ctx,
    queues: &BTreeMap<Arc<str>, Queue>,
    file: usize,
    name: &Name,
) -> Option<Arc<str>> {
    if let Some((k, _)) = queues.get_key_value(name.get_ref().as_str()) {
        return Some(k.clone());
    }
    let defined: Vec<&str> = queues.keys().map(|k| &**k).collect();
    report_unknown(ctx, file, name, ["queue", "queues"], &defined);
    None
}

/// Each queue's staffing policy, in id order, with every unknown strategy or calendar
/// reported.
pub(super) fn staffing(
    ctx: &mut Ctx,
    docs: &BTreeMap<String, At<QueueDoc>>,
    calendars: &Calendars,
) -> Vec<(String, QueuePolicy)> {
    docs.iter()
        .map(|(id, q)| (id.clone(), policy(ctx, q, calendars)))
        .collect()
}

fn policy(ctx: &mut Ctx, q: &At<QueueDoc>, calendars: &Calendars) -> QueuePolicy {
    let d = &q.item;
    let mut policy = QueuePolicy {
        skills: d.skills.clone(),
        languages: d.languages.clone(),
        critical_skill: d.critical_skill.clone(),
        ..Default::default()
    };
    if let Some(a) = &d.assignment {
        match Strategy::parse(a.get_ref()) {
            Some(s) => policy.strategy = s,
            None => ctx.error(
                q.file,
                &a.span(),
                format!(
                    "unknown assignment \"{}\" (expected one of: {})",
                    a.get_ref(),
                    Strategy::NAMES.join(", ")
                ),
            ),
        }
    }
    if let Some(c) = &d.calendar {
        match calendars.compiled.get(c.get_ref().as_str()) {
            Some(cal) => policy.calendar = Some(cal.clone()),
            None => calendars.unknown(ctx, q.file, c),
        }
    }
    policy
}

/// Gives each queue the staffing policy [`staffing`] compiled for it.
pub(super) fn staff(queues: &mut BTreeMap<Arc<str>, Queue>, policies: Vec<(String, QueuePolicy)>) {
    for (id, policy) in policies {
        if let Some(queue) = queues.get_mut(id.as_str()) {
            queue.policy = policy;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{errors, has};
    use crate::rules::fixture::with_rules;

    #[test]
    fn queue_staffing_compiles_and_its_errors_name_their_line() {
        let loaded = with_rules(
            "[queue.first]\nassignment = \"round-robin\"\nskills = [\"level-1\"]\ncalendar = \"office\"\ncritical-skill = \"level-2\"\n",
        )
        .unwrap();
        let q = &loaded.rules.queues["first"].policy;
        assert_eq!(q.strategy, crate::routing::Strategy::RoundRobin);
        assert_eq!(q.calendar.as_ref().map(|c| c.name()), Some("office"));
        assert_eq!(q.critical_skill.as_deref(), Some("level-2"));
        assert!(!loaded.rules.queues["desk"].policy.automatic());
        let errs = errors("[queue.first]\nassignment = \"random\"\ncalendar = \"nights\"\n");
        for (line, needle) in [
            (2, "unknown assignment \"random\" (expected one of: skills-least-loaded, round-robin, manual)"),
            (3, "unknown calendar \"nights\""),
        ] {
            assert!(
                has(&errs, &format!("rules.toml:{line}: {needle}")),
                "{errs:?}"
            );
        }
    }
}
