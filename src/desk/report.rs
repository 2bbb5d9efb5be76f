//! What service managers read: the compliance report over a period, grouped, and the queues
//! of the rules in force with their staffing and what feeds them.

use chrono::{DateTime, Duration, Utc};

use super::{Ctx, DeskError};
use crate::sla::report::{report, ReportRow};
use crate::store::{self, TicketRecord};

/// Per group: attainment, met/breached/open counts and business minutes, over the tickets
/// created from `from` (default: 30 days before `to`) to `to` (default: now).
pub async fn sla_report(
    cx: &Ctx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    group_by: Option<&str>,
) -> Result<Vec<ReportRow>, DeskError> {
    let to = to.unwrap_or(cx.now);
    let from = from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(DeskError::invalid("from", "from must be before to"));
    }
    let key: fn(&TicketRecord) -> String = match group_by.unwrap_or("segment") {
        "segment" => |r| r.segment.clone(),
        "channel" => |r| r.channel.clone(),
        "queue" => |r| r.queue.clone(),
        "category" => |r| r.category.clone(),
        "policy" => |r| r.sla_policy.clone().unwrap_or_else(|| "(none)".into()),
        other => {
            return Err(DeskError::invalid(
                "group_by",
                format!(
                    "cannot group by \"{other}\" (use segment, channel, queue, category or policy)"
                ),
            ))
        }
    };
    let records = cx.store.tickets_created_between(from, to).await?;
    let mut views = Vec::with_capacity(records.len());
    for r in &records {
        let clocks =
            store::clock_state(r)?.map_or_else(Vec::new, |s| s.view(cx.now, &cx.rules.calendars));
        views.push((key(r), clocks));
    }
    Ok(report(views.iter().map(|(g, c)| (g.clone(), &c[..]))))
}

/// A queue as the rules define it: who works it, how tickets find them, what feeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub id: String,
    pub name: String,
    pub assignment: &'static str,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub calendar: Option<String>,
    pub critical_skill: Option<String>,
    /// `defaults`, `category X`, `segment X`, `rule X`.
    pub fed_by: Vec<String>,
}

/// The queues of the rules in force.
pub fn queues(cx: &Ctx<'_>) -> Vec<QueueInfo> {
    let rules = &cx.rules;
    let mut out = Vec::new();
    for (id, q) in &rules.queues {
        let mut fed_by: Vec<String> = Vec::new();
        if rules.defaults.queue.0 == *id {
            fed_by.push("defaults".into());
        }
        let mut categories: Vec<&str> = rules
            .categories
            .values()
            .filter(|c| c.queue.as_ref().is_some_and(|(cq, _)| cq == id))
            .map(|c| &*c.name)
            .collect();
        categories.sort_unstable();
        fed_by.extend(categories.iter().map(|c| format!("category {c}")));
        for seg in crate::model::Segment::ALL {
            if rules.segments[seg.index()]
                .queue
                .as_ref()
                .is_some_and(|(sq, _)| sq == id)
            {
                fed_by.push(format!("segment {seg}"));
            }
        }
        fed_by.extend(
            rules
                .rules
                .iter()
                .filter(|r| r.set.queue.as_ref() == Some(id))
                .map(|r| format!("rule {}", r.id)),
        );
        out.push(QueueInfo {
            id: id.to_string(),
            name: q.name.clone(),
            assignment: q.policy.strategy.as_str(),
            skills: q.policy.skills.clone(),
            languages: q.policy.languages.clone(),
            calendar: q.policy.calendar.as_ref().map(|c| c.name().to_owned()),
            critical_skill: q.policy.critical_skill.clone(),
            fed_by,
        });
    }
    out
}
