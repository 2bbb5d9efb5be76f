//! The figures of the compliance report, kept and counted in the database: every ticket and
//! each of its SLA clocks is a row of `sla_clocks`, written in the transaction that writes
//! the ticket, so a report over a period is one grouped count over an index instead of a
//! replay of every ticket. Metrics and states are small integers there (see
//! [`metric_code`], [`state_code`]): less to read, hash and compare per row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use entity::{sla_clocks, tickets};

use super::{clock_state, report_days, Store, StoreError, TicketRecord};
use crate::faq::answer::Handling;
use crate::sla::report::{kept, BucketPlan, GroupBy, Tally, INBOUND, NO_POLICY};
use crate::sla::{ClockState, Metric};

/// Replaces the kept clocks of `records` with what their SLA state says now.
pub(super) async fn keep_clocks<C: ConnectionTrait>(
    db: &C,
    records: &[TicketRecord],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sla_clocks::Entity::delete_many()
        .filter(sla_clocks::Column::TicketId.is_in(records.iter().map(|r| r.id)))
        .exec(db)
        .await?;
    insert_clocks(db, records, now).await
}

/// Inserts the kept clocks of `records`; rows that exist already stay as they are. The
/// ended days among the tickets' creation days are marked changed (intake's tickets are
/// today's, and need no mark).
pub(super) async fn insert_clocks<C: ConnectionTrait>(
    db: &C,
    records: &[TicketRecord],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    report_days::mark_changed(
        db,
        records.iter().map(|r| r.created_at.timestamp_micros()),
        now,
    )
    .await?;
    let mut rows = Vec::new();
    for r in records {
        let started_by = ticket_trigger(r)?;
        let handling = r
            .faq
            .as_ref()
            .and_then(|f| f.get("mode"))
            .and_then(|m| m.as_str())
            .map(|mode| Handling::of(mode, r.automation == "human").code());
        let row = |metric: i16,
                   cycle: u32,
                   state: i16,
                   due: Option<i64>,
                   minutes: Option<i64>,
                   trigger: Option<String>| {
            sla_clocks::ActiveModel {
                ticket_id: Set(r.id),
                metric: Set(metric),
                cycle: Set(i32::try_from(cycle).unwrap_or(i32::MAX)),
                created_us: Set(r.created_at.timestamp_micros()),
                segment: Set(r.segment.clone()),
                channel: Set(r.channel.clone()),
                queue: Set(r.queue.clone()),
                category: Set(r.category.clone()),
                policy: Set(r.sla_policy.clone().unwrap_or_else(|| NO_POLICY.into())),
                trigger: Set(trigger.unwrap_or_else(|| started_by.clone())),
                state: Set(state),
                due_us: Set(due),
                minutes: Set(minutes),
                faq: Set(if metric == TICKET { handling } else { None }),
            }
        };
        rows.push(row(
            TICKET,
            0,
            state_code(ClockState::Ended),
            None,
            None,
            None,
        ));
        let Some(state) = clock_state(r)? else {
            continue;
        };
        for c in kept(&state) {
            let due = c.due_at.map(|d| d.timestamp_micros());
            rows.push(row(
                metric_code(c.metric),
                c.cycle,
                state_code(c.state),
                due,
                c.minutes,
                c.trigger,
            ));
        }
    }
    // Well below either database's limit of bound values per statement.
    for chunk in rows.chunks(2_000) {
        sla_clocks::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    sla_clocks::Column::TicketId,
                    sla_clocks::Column::Metric,
                    sla_clocks::Column::Cycle,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// What started a ticket: the event kind of a task, else the customer's request.
fn ticket_trigger(r: &TicketRecord) -> Result<String, StoreError> {
    Ok(super::tags_of(r)?
        .iter()
        .find_map(|t| crate::sla::Trigger::kind_of(t).map(str::to_owned))
        .unwrap_or_else(|| INBOUND.to_owned()))
}

/// The kept rows of the tickets created in `[from, to)`.
fn created_in(from: DateTime<Utc>, to: DateTime<Utc>) -> sea_orm::sea_query::SimpleExpr {
    created_between(from.timestamp_micros(), to.timestamp_micros())
}

/// The kept rows created in `[from_us, to_us)`, microseconds since 1970.
pub(super) fn created_between(from_us: i64, to_us: i64) -> sea_orm::sea_query::SimpleExpr {
    sla_clocks::Column::CreatedUs
        .gte(from_us)
        .and(sla_clocks::Column::CreatedUs.lt(to_us))
}

/// The row of the ticket itself, beside its clocks' 0 to 2 and 4.
const TICKET: i16 = 3;

/// First response 0, next reply 1, resolution 2, follow-up 4 (3 is the ticket's row).
fn metric_code(m: Metric) -> i16 {
    match m {
        Metric::FollowUp => 4,
        m => m.index() as i16,
    }
}

/// The metric of a stored code; `None` for the ticket's row or a code no metric has.
fn metric_of(code: i16) -> Option<Metric> {
    Metric::ALL.into_iter().find(|m| metric_code(*m) == code)
}

const STATES: [ClockState; 5] = [
    ClockState::Met,
    ClockState::Breached,
    ClockState::Running,
    ClockState::Paused,
    ClockState::Ended,
];

pub(super) fn state_code(s: ClockState) -> i16 {
    STATES.iter().position(|x| *x == s).unwrap_or(4) as i16
}

/// The quoted column of a grouping: the table's group columns are named as the groupings
/// (`trigger` is a keyword of SQL).
fn column(group: GroupBy) -> String {
    format!("\"{}\"", group.as_str())
}

/// The SQL of a bucket number from `created_us`, the same arithmetic as
/// [`BucketPlan::bucket_of`]; only integers of ours go into it.
fn bucket_sql(plan: Option<&BucketPlan>) -> String {
    use crate::sla::report::Bucket;
    let Some(plan) = plan else {
        return "CAST(0 AS BIGINT)".into();
    };
    let offset = match &plan.offsets[..] {
        [] => "0".to_owned(),
        [(_, o)] => o.to_string(),
        [rest @ .., (_, last)] => {
            let mut case = String::from("CASE");
            for (w, next) in rest.iter().zip(&plan.offsets[1..]) {
                case.push_str(&format!(" WHEN created_us < {} THEN {}", next.0, w.1));
            }
            case.push_str(&format!(" ELSE {last} END"));
            case
        }
    };
    let day = format!("((created_us / 1000000 + {offset}) / 86400)");
    match plan.bucket {
        Bucket::Day => day,
        Bucket::Week => format!("(({day} + 3) / 7)"),
    }
}

/// Counts of the report by bucket, group (an id of `names`), metric, state and minutes.
#[derive(Default)]
struct Counts {
    names: report_days::Names,
    n: HashMap<(i64, u32, i16, i16, Option<i64>), u64>,
}

/// The grouped count of the kept rows created in `ranges` (microseconds, half-open).
async fn raw_tallies<C: ConnectionTrait>(
    db: &C,
    ranges: &[(i64, i64)],
    group: GroupBy,
    plan: Option<&BucketPlan>,
    with_minutes: bool,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, String, i16, i16, Option<i64>, i64)>, StoreError> {
    let bucket = bucket_sql(plan);
    let minutes = if with_minutes {
        "minutes"
    } else {
        "CAST(NULL AS BIGINT)"
    };
    let g = &column(group);
    let state = format!(
        "CAST(CASE WHEN state = {} AND due_us < {} THEN {} ELSE state END AS SMALLINT)",
        state_code(ClockState::Running),
        now.timestamp_micros(),
        state_code(ClockState::Breached),
    );
    let mut within = Condition::any();
    for (from, to) in ranges {
        within = within.add(created_between(*from, *to));
    }
    Ok(sla_clocks::Entity::find()
        .select_only()
        .column_as(Expr::cust(&bucket), "bucket")
        .column_as(Expr::cust(g), "grp")
        .column(sla_clocks::Column::Metric)
        .column_as(Expr::cust(&state), "st")
        .column_as(Expr::cust(minutes), "minutes")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(within)
        .group_by(Expr::cust(&bucket))
        .group_by(Expr::cust(g))
        .group_by(sla_clocks::Column::Metric)
        .group_by(Expr::cust(&state))
        .group_by(Expr::cust(minutes))
        .into_tuple::<(i64, String, i16, i16, Option<i64>, i64)>()
        .all(db)
        .await?)
}

impl Store {
    /// Writes the kept rows of tickets stored before they were kept, once: when the table is
    /// empty and there are tickets. One transaction, so a crash leaves it empty and
    /// the next start does it again; rows another process wrote meanwhile stay.
    pub(super) async fn backfill_clocks(&self) -> Result<(), StoreError> {
        let kept_any = sla_clocks::Entity::find().limit(1).one(&self.db).await?;
        let any_ticket = tickets::Entity::find().limit(1).one(&self.db).await?;
        if kept_any.is_some() || any_ticket.is_none() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        report_days::forget_counted_days(&txn).await?;
        let mut after = i64::MIN;
        let mut filled = 0;
        loop {
            let page = tickets::Entity::find()
                .filter(tickets::Column::Seq.gt(after))
                .order_by_asc(tickets::Column::Seq)
                .limit(1_000)
                .all(&txn)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            filled += page.len();
            insert_clocks(&txn, &page, Utc::now()).await?;
        }
        txn.commit().await?;
        tracing::info!(tickets = filled, "the report's SLA clocks were filled in");
        Ok(())
    }

    /// The tickets created in `[from, to)` and their clocks, counted per group, bucket (all
    /// in bucket 0 without a plan), metric, state as of `now` and, `with_minutes`, minutes
    /// used (for percentiles; without, far fewer groups to count and send). Whole days
    /// counted already come from `sla_days` (when the plan's buckets begin on whole UTC
    /// hours), the rest from the kept rows, in one snapshot.
    pub async fn sla_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group: GroupBy,
        plan: Option<&BucketPlan>,
        with_minutes: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Tally>, StoreError> {
        let days = if report_days::hour_aligned(plan) {
            report_days::whole_days(from, to)
        } else {
            0..0
        };
        let pg = self.db.get_database_backend() == DbBackend::Postgres;
        let txn = if pg {
            let txn = self
                .db
                .begin_with_config(Some(IsolationLevel::RepeatableRead), None)
                .await?;
            // Enough memory to hash the groups (minutes make many) instead of sorting the
            // rows on disk; for this statement only.
            txn.execute_unprepared("SET LOCAL work_mem = '64MB'")
                .await?;
            txn
        } else {
            self.db.begin().await?
        };
        let counted = report_days::counted_days(&txn, days, group).await?;
        let day_list: Vec<i64> = counted.iter().map(|(d, _)| *d).collect();
        let ranges =
            report_days::uncounted(from.timestamp_micros(), to.timestamp_micros(), &day_list);
        let raw = if ranges.is_empty() {
            Vec::new()
        } else {
            raw_tallies(&txn, &ranges, group, plan, with_minutes, now).await?
        };
        txn.commit().await?;

        let mut counts = Counts::default();
        let now_us = now.timestamp_micros();
        let (running, breached) = (
            state_code(ClockState::Running),
            state_code(ClockState::Breached),
        );
        for (day, data) in &counted {
            let buckets: Vec<i64> = (0..24)
                .map(|h| {
                    let us = day * report_days::DAY_US + h * report_days::HOUR_US;
                    plan.map_or(0, |p| {
                        p.bucket_of(DateTime::from_timestamp_micros(us).unwrap_or_default())
                    })
                })
                .collect();
            report_days::decode(
                data,
                |list| list.iter().map(|g| counts.names.id(g)).collect(),
                |k, n| {
                    let state = if k.state == running && k.due_us.is_some_and(|d| d < now_us) {
                        breached
                    } else {
                        k.state
                    };
                    let key = (
                        buckets[usize::from(k.hour)],
                        k.group,
                        k.metric,
                        state,
                        if with_minutes { k.minutes } else { None },
                    );
                    *counts.n.entry(key).or_default() += n;
                },
            )
            .map_err(|e| StoreError::Corrupt(format!("a counted day {day}: {e}")))?;
        }
        for (bucket, group, metric, state, minutes, n) in raw {
            let key = (bucket, counts.names.id(&group), metric, state, minutes);
            *counts.n.entry(key).or_default() += u64::try_from(n).unwrap_or(0);
        }
        counts
            .n
            .into_iter()
            .map(|((bucket, group, metric, state, minutes), n)| {
                let corrupt = || StoreError::Corrupt(format!("a kept SLA clock: {metric} {state}"));
                let metric = match metric {
                    TICKET => None,
                    m => Some(metric_of(m).ok_or_else(corrupt)?),
                };
                let state = *STATES
                    .get(usize::try_from(state).map_err(|_| corrupt())?)
                    .ok_or_else(corrupt)?;
                Ok(Tally {
                    metric,
                    state,
                    group: counts.names.list[group as usize].clone(),
                    bucket,
                    minutes,
                    n,
                })
            })
            .collect()
    }
    /// The tickets created in `[from, to)` counted per group and FAQ handling (`None`: no
    /// FAQ result stored), from the tickets' own kept rows.
    pub async fn automation_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group: GroupBy,
    ) -> Result<Vec<(String, Option<Handling>, u64)>, StoreError> {
        let g = &column(group);
        let rows = sla_clocks::Entity::find()
            .select_only()
            .column_as(Expr::cust(g), "grp")
            .column(sla_clocks::Column::Faq)
            .column_as(Expr::cust("COUNT(*)"), "n")
            // A literal, so the planner uses the index of the tickets' own rows (migration
            // 17), in a cached plan too.
            .filter(Expr::cust(format!("metric = {TICKET}")))
            .filter(created_in(from, to))
            .group_by(Expr::cust(g))
            .group_by(sla_clocks::Column::Faq)
            .into_tuple::<(String, Option<i16>, i64)>()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(g, faq, n)| {
                (
                    g,
                    faq.and_then(Handling::from_code),
                    u64::try_from(n).unwrap_or(0),
                )
            })
            .collect())
    }

    /// The newest `limit` tickets created in `[from, to)` that were left to people because
    /// no FAQ article fits them: what new articles are written from.
    pub async fn no_article_tickets(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<TicketRecord>, StoreError> {
        let ids: Vec<uuid::Uuid> = sla_clocks::Entity::find()
            .select_only()
            .column(sla_clocks::Column::TicketId)
            .filter(Expr::cust(format!("metric = {TICKET}")))
            .filter(sla_clocks::Column::Faq.eq(Handling::NoArticle.code()))
            .filter(created_in(from, to))
            .order_by_desc(sla_clocks::Column::CreatedUs)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(tickets::Entity::find()
            .filter(tickets::Column::Id.is_in(ids))
            .filter(tickets::Column::ErasedAt.is_null())
            .order_by_desc(tickets::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }
}
