//! What service managers read: the compliance report over a period, grouped, and the queues
//! of the rules in force with their staffing and what feeds them.

use chrono::{DateTime, Duration, Utc};

use chrono_tz::Tz;

use super::{Ctx, DeskError};
use crate::sla::report::{rows_of, series_of, Bucket, BucketPlan, GroupBy, ReportRow, SeriesGroup};

/// The period of a report: `from` (default: 30 days before `to`) to `to` (default: now).
fn period(
    cx: &Ctx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DeskError> {
    let to = to.unwrap_or(cx.now);
    let from = from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(DeskError::invalid("from", "from must be before to"));
    }
    Ok((from, to))
}

fn group_by(group_by: Option<&str>) -> Result<GroupBy, DeskError> {
    let name = group_by.unwrap_or("segment");
    GroupBy::parse(name).ok_or_else(|| {
        DeskError::invalid(
            "group_by",
            format!("cannot group by \"{name}\" (use {})", GroupBy::NAMES),
        )
    })
}

/// Per group: attainment, met/breached/open counts and business minutes, over the tickets
/// created in the period; counted by the database from the kept clocks.
pub async fn sla_report(
    cx: &Ctx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    group: Option<&str>,
) -> Result<Vec<ReportRow>, DeskError> {
    let (from, to) = period(cx, from, to)?;
    let group = group_by(group)?;
    let tallies = cx
        .store
        .sla_tallies(from, to, group, None, true, cx.now)
        .await?;
    Ok(rows_of(tallies))
}

/// The most buckets one series has: a year of days, or ten years of weeks.
pub const MAX_BUCKETS: usize = 550;

/// A compliance time series: its period and zone, buckets and groups.
#[derive(Debug, Clone)]
pub struct Series {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group: GroupBy,
    pub tz: String,
    pub plan: BucketPlan,
    pub groups: Vec<SeriesGroup>,
}

/// The report's figures per day or week of `tz` and per group, for charts; median and p90
/// minutes per bucket only with `percentiles` (they make the count many times dearer).
pub async fn sla_series(
    cx: &Ctx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    group: Option<&str>,
    bucket: Option<&str>,
    tz: Option<&str>,
    percentiles: bool,
) -> Result<Series, DeskError> {
    let (from, to) = period(cx, from, to)?;
    let group = group_by(group)?;
    let name = bucket.unwrap_or("day");
    let bucket = Bucket::parse(name).ok_or_else(|| {
        DeskError::invalid(
            "bucket",
            format!("unknown bucket \"{name}\" (use day or week)"),
        )
    })?;
    let zone = tz.unwrap_or("UTC");
    let tz: Tz = zone.parse().map_err(|_| {
        DeskError::invalid(
            "tz",
            format!("unknown time zone \"{zone}\" (an IANA name such as Europe/Berlin)"),
        )
    })?;
    let days = (to - from).num_days() / if bucket == Bucket::Week { 7 } else { 1 };
    if days >= MAX_BUCKETS as i64 {
        return Err(DeskError::invalid(
            "from",
            format!("at most {MAX_BUCKETS} buckets (a shorter period, or bucket=week)"),
        ));
    }
    let plan = BucketPlan::new(from, to, tz, bucket);
    let tallies = cx
        .store
        .sla_tallies(from, to, group, Some(&plan), percentiles, cx.now)
        .await?;
    let groups = series_of(&plan, tallies);
    Ok(Series {
        from,
        to,
        group,
        tz: zone.to_owned(),
        plan,
        groups,
    })
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

/// A queue now: the tickets waiting for people and who can work them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLoad {
    pub id: String,
    /// `None` for a queue the rules in force no longer define that still holds tickets.
    pub name: Option<String>,
    pub open: u64,
    pub unassigned: u64,
    pub overdue: u64,
    pub staffing: crate::routing::Staffing,
}

/// Every queue of the rules in force, and any other that still holds open tickets.
pub async fn queue_load(cx: &Ctx<'_>) -> Result<Vec<QueueLoad>, DeskError> {
    let counts = cx.store.open_by_queue(cx.now).await?;
    let agents = super::assign::candidates(&cx.rules, &cx.store.agent_loads().await?);
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let load = |id: &str, name: Option<String>, staffing| {
        let c = counts.iter().find(|c| c.queue == id);
        QueueLoad {
            id: id.to_owned(),
            name,
            open: c.map_or(0, |c| n(c.open)),
            unassigned: c.map_or(0, |c| n(c.unassigned)),
            overdue: c.map_or(0, |c| n(c.overdue)),
            staffing,
        }
    };
    let mut out: Vec<QueueLoad> = cx
        .rules
        .queues
        .iter()
        .map(|(id, q)| {
            let staffing = crate::routing::staffing(&q.policy, &agents, cx.now);
            load(id, Some(q.name.clone()), staffing)
        })
        .collect();
    // Queues the rules no longer define but that still hold tickets: nobody is staffed there.
    for c in &counts {
        if !cx.rules.queues.contains_key(c.queue.as_str()) {
            out.push(load(&c.queue, None, Default::default()));
        }
    }
    Ok(out)
}

/// What the FAQ did for one group's tickets.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AutomationRow {
    pub group: String,
    pub tickets: u64,
    /// Answered automatically.
    pub automated: u64,
    /// Suggested articles to an agent.
    pub suggested: u64,
    /// Left to people: no article fits.
    pub no_article: u64,
    /// Left to people: the rules set the automation to human.
    pub by_rules: u64,
    /// Stored without an FAQ result.
    pub unknown: u64,
    /// `automated` of `tickets`, in percent (one decimal).
    pub automated_pct: f64,
}

/// What the FAQ did over a period: per group, and the newest questions no article fits.
#[derive(Debug, Clone)]
pub struct Automation {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group: &'static str,
    pub rows: Vec<AutomationRow>,
    pub unanswered: Vec<crate::store::TicketRecord>,
}

/// The most questions without an article the automation view lists.
pub const UNANSWERED: u64 = 200;

/// Per `category` (default) or `segment`, over the tickets created in the period.
pub async fn automation(
    cx: &Ctx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    group: Option<&str>,
) -> Result<Automation, DeskError> {
    use crate::faq::answer::Handling;
    let (from, to) = period(cx, from, to)?;
    let name = group.unwrap_or("category");
    // Queue and policy are the SLA's groupings; the FAQ's figures are not cut by them.
    let group = GroupBy::parse(name)
        .filter(|g| matches!(g, GroupBy::Category | GroupBy::Segment | GroupBy::Channel))
        .ok_or_else(|| {
            DeskError::invalid(
                "group_by",
                format!("cannot group by \"{name}\" (use category, segment or channel)"),
            )
        })?;
    let mut rows: Vec<AutomationRow> = Vec::new();
    for (g, handling, n) in cx.store.automation_tallies(from, to, group).await? {
        let i = match rows.iter().position(|r| r.group == g) {
            Some(i) => i,
            None => {
                rows.push(AutomationRow {
                    group: g,
                    ..Default::default()
                });
                rows.len() - 1
            }
        };
        let r = &mut rows[i];
        r.tickets += n;
        *match handling {
            Some(Handling::Automated) => &mut r.automated,
            Some(Handling::Suggested) => &mut r.suggested,
            Some(Handling::NoArticle) => &mut r.no_article,
            Some(Handling::ByRules) => &mut r.by_rules,
            None => &mut r.unknown,
        } += n;
    }
    for r in &mut rows {
        r.automated_pct = crate::model::percent(r.automated, r.tickets).unwrap_or(0.0);
    }
    rows.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.group.cmp(&b.group)));
    let unanswered = cx.store.no_article_tickets(from, to, UNANSWERED).await?;
    Ok(Automation {
        from,
        to,
        group: group.as_str(),
        rows,
        unanswered,
    })
}
