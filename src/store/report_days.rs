//! The compliance report's closed days, counted once. Per UTC day and grouping, one row of
//! `sla_days` holds what the report's grouped count gives for that day's kept rows — per
//! hour, group, metric, state and business minutes, with the due time of running clocks so
//! that "breached by now" is still decided when the report is asked — in a compact
//! encoding. A report over 90 days reads 90 such rows per grouping and counts the rest
//! (today, the period's partial days, days changed since) from `sla_clocks`, with the same
//! answer as counting every row.
//!
//! Exactness: a transaction that changes the kept rows of a day that has ended marks the day
//! in `sla_days_changed`, and a marked day is read from `sla_clocks` until it is counted
//! again. Counting a day deletes its mark first and then reads the rows, under a lock per
//! day, so a change that commits meanwhile leaves its mark behind (see [`Store::count_day`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, TransactionTrait,
};

use entity::{sla_clocks, sla_days, sla_days_changed};

use super::{Store, StoreError};
use crate::sla::report::{BucketPlan, GroupBy};

pub(super) const DAY_US: i64 = 86_400_000_000;
pub(super) const HOUR_US: i64 = 3_600_000_000;
/// How long after its end a day is counted: no transaction that began before midnight is
/// still writing its rows then.
const GRACE_US: i64 = HOUR_US;
const GROUPINGS: [GroupBy; 6] = [
    GroupBy::Segment,
    GroupBy::Channel,
    GroupBy::Queue,
    GroupBy::Category,
    GroupBy::Policy,
    GroupBy::Trigger,
];
const FORMAT: u8 = 1;
/// An advisory lock class of PostgreSQL for counting a day (the day is the second key).
const LOCK_CLASS: i32 = 0x5d41;

fn grouping_code(g: GroupBy) -> i16 {
    GROUPINGS.iter().position(|x| *x == g).unwrap_or(0) as i16
}

/// The UTC day of a moment in microseconds since 1970.
pub(super) fn day_of(us: i64) -> i64 {
    us.div_euclid(DAY_US)
}

/// One count of a day's kept rows: rows alike in all of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Key {
    /// Hour of the UTC day, 0 to 23.
    pub hour: u8,
    /// Index into the day's group names.
    pub group: u32,
    pub metric: i16,
    pub state: i16,
    pub minutes: Option<i64>,
    /// Only for running clocks: when they breach.
    pub due_us: Option<i64>,
}

/// A day's counts for one grouping.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct DayCounts {
    pub groups: Names,
    pub counts: BTreeMap<Key, u64>,
}

/// Group names and their small ids, in the order first seen: a counted day's and a
/// report's.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Names {
    pub list: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Names {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.list.len() as u32;
        self.list.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }
}

/// The encoding: a format byte, the group names (length-prefixed), then each count as hour,
/// metric|state|flags, group, minutes and due time when present, and the count; integers as
/// LEB128 (signed ones zig-zag).
pub(super) fn encode(day: &DayCounts) -> Vec<u8> {
    let mut out = vec![FORMAT];
    put(&mut out, day.groups.list.len() as u64);
    for g in &day.groups.list {
        put(&mut out, g.len() as u64);
        out.extend_from_slice(g.as_bytes());
    }
    put(&mut out, day.counts.len() as u64);
    for (k, n) in &day.counts {
        out.push(k.hour);
        // The metric's low two bits, then its third in the top bit (follow-ups are 4).
        let flags = (k.metric as u8 & 0b11)
            | ((k.state as u8 & 0b111) << 2)
            | (u8::from(k.minutes.is_some()) << 5)
            | (u8::from(k.due_us.is_some()) << 6)
            | ((k.metric as u8 & 0b100) << 5);
        out.push(flags);
        put(&mut out, u64::from(k.group));
        if let Some(m) = k.minutes {
            put(&mut out, zigzag(m));
        }
        if let Some(d) = k.due_us {
            put(&mut out, zigzag(d));
        }
        put(&mut out, *n);
    }
    out
}

/// Reads what [`encode`] wrote: the group names go to `groups`, which gives each its id,
/// then each count to `f`, its group the id.
pub(super) fn decode(
    data: &[u8],
    groups: impl FnOnce(Vec<String>) -> Vec<u32>,
    mut f: impl FnMut(Key, u64),
) -> Result<(), String> {
    let mut r = Reader { data, at: 0 };
    if r.byte()? != FORMAT {
        return Err("unknown format of a counted day".into());
    }
    let names = r.uint()?;
    let mut list = Vec::with_capacity(names.min(4096) as usize);
    for _ in 0..names {
        let len = r.uint()? as usize;
        let bytes = r.take(len)?;
        list.push(String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?);
    }
    let ids = groups(list);
    for _ in 0..r.uint()? {
        let hour = r.byte()?;
        let flags = r.byte()?;
        let group = r.uint()?;
        let group = usize::try_from(group).ok().and_then(|g| ids.get(g));
        let (Some(&group), true) = (group, hour < 24) else {
            return Err(format!("a count of hour {hour} of an unknown group"));
        };
        let minutes = if flags & (1 << 5) != 0 {
            Some(unzigzag(r.uint()?))
        } else {
            None
        };
        let due_us = if flags & (1 << 6) != 0 {
            Some(unzigzag(r.uint()?))
        } else {
            None
        };
        let key = Key {
            hour,
            group,
            metric: i16::from((flags & 0b11) | ((flags >> 5) & 0b100)),
            state: i16::from((flags >> 2) & 0b111),
            minutes,
            due_us,
        };
        f(key, r.uint()?);
    }
    if r.at != data.len() {
        return Err("bytes after the counts of a day".into());
    }
    Ok(())
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.data.get(self.at).ok_or("a counted day ends early")?;
        self.at += 1;
        Ok(b)
    }
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(len).filter(|e| *e <= self.data.len());
        let end = end.ok_or("a counted day ends early")?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn uint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("an integer of a counted day is too long".into())
    }
}

/// Whether a plan's buckets begin on whole UTC hours (zones with whole-hour offsets), so
/// that each hour of a counted day lies in one bucket.
pub(super) fn hour_aligned(plan: Option<&BucketPlan>) -> bool {
    plan.is_none_or(|p| {
        p.offsets
            .iter()
            .enumerate()
            .all(|(i, (at, offset))| offset % 3600 == 0 && (i == 0 || at.rem_euclid(HOUR_US) == 0))
    })
}

/// The whole UTC days of `[from, to)`.
pub(super) fn whole_days(from: DateTime<Utc>, to: DateTime<Utc>) -> std::ops::Range<i64> {
    let first = day_of(from.timestamp_micros() + DAY_US - 1);
    let end = day_of(to.timestamp_micros());
    first..end.max(first)
}

/// The parts of `[from, to)` outside the counted `days` (sorted), as microsecond ranges.
pub(super) fn uncounted(from: i64, to: i64, days: &[i64]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = from;
    for d in days {
        let (start, end) = (d * DAY_US, (d + 1) * DAY_US);
        if start > at {
            out.push((at, start));
        }
        at = at.max(end);
    }
    if at < to {
        out.push((at, to));
    }
    out
}

/// Marks the ended days among `created_us` (the kept rows of tickets created then have
/// changed) when `now` is past them; today is never counted, so it needs no mark.
pub(super) async fn mark_changed<C: ConnectionTrait>(
    db: &C,
    created_us: impl IntoIterator<Item = i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // A test's clock may lag the wall clock, which the workers may count by: the later.
    let today = day_of(now.max(Utc::now()).timestamp_micros());
    let mut days: Vec<i64> = created_us
        .into_iter()
        .map(day_of)
        .filter(|d| *d < today)
        .collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return Ok(());
    }
    sla_days_changed::Entity::insert_many(
        days.into_iter()
            .map(|day| sla_days_changed::ActiveModel { day: Set(day) }),
    )
    .on_conflict(
        OnConflict::column(sla_days_changed::Column::Day)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

impl Store {
    /// Counts up to `limit` ended days that are not counted or have changed since, newest
    /// first; returns how many it counted. Safe with several workers: a day another one is
    /// counting is skipped.
    pub async fn count_closed_days(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        // Not by a clock ahead of the wall clock (a test's): intake marks no change to today.
        let last = day_of(now.min(Utc::now()).timestamp_micros() - GRACE_US) - 1;
        let walked = *self.days_walked.lock().unwrap_or_else(|e| e.into_inner());
        let mut todo: Vec<i64> = sla_days_changed::Entity::find()
            .select_only()
            .column(sla_days_changed::Column::Day)
            .filter(sla_days_changed::Column::Day.lte(last))
            .order_by_desc(sla_days_changed::Column::Day)
            .limit(limit as u64)
            .into_tuple::<i64>()
            .all(&self.db)
            .await?;
        // Days that ended since the last walk (all of them at first): find the ones with rows
        // by seeking down the creation index, and count those not counted yet.
        let mut complete = todo.len() < limit;
        if complete && walked.is_none_or(|w| w < last) {
            let lower = walked.unwrap_or(i64::MIN / DAY_US);
            let counted: std::collections::HashSet<i64> = sla_days::Entity::find()
                .select_only()
                .column(sla_days::Column::Day)
                .filter(sla_days::Column::Grouping.eq(0))
                .filter(sla_days::Column::Day.gt(lower))
                .filter(sla_days::Column::Day.lte(last))
                .into_tuple::<i64>()
                .all(&self.db)
                .await?
                .into_iter()
                .collect();
            let mut below = (last + 1) * DAY_US;
            loop {
                let newest: Option<Option<i64>> = sla_clocks::Entity::find()
                    .select_only()
                    .column_as(Expr::col(sla_clocks::Column::CreatedUs).max(), "m")
                    .filter(super::report::created_between((lower + 1) * DAY_US, below))
                    .into_tuple::<Option<i64>>()
                    .one(&self.db)
                    .await?;
                let Some(Some(us)) = newest else { break };
                let day = day_of(us);
                if !counted.contains(&day) && !todo.contains(&day) {
                    if todo.len() >= limit {
                        complete = false;
                        break;
                    }
                    todo.push(day);
                }
                below = day * DAY_US;
            }
        }
        let mut done = 0;
        for day in todo {
            if self.count_day(day, now).await? {
                done += 1;
            }
        }
        if complete {
            let mut w = self.days_walked.lock().unwrap_or_else(|e| e.into_inner());
            *w = Some(w.map_or(last, |w| w.max(last)));
        }
        Ok(done)
    }

    /// Counts one day in one transaction: takes the day's lock (skipping the day when
    /// another worker holds it), deletes its mark, reads its rows and writes its counts.
    /// A change committing meanwhile either is read here or leaves its mark: its mark's
    /// insert waits for this transaction when it deleted the mark, and comes after it
    /// otherwise.
    async fn count_day(&self, day: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        match txn.get_database_backend() {
            DbBackend::Postgres => {
                let Ok(key) = i32::try_from(day) else {
                    return Ok(false);
                };
                let locked = txn
                    .query_one(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT pg_try_advisory_xact_lock($1, $2) AS locked",
                        [LOCK_CLASS.into(), key.into()],
                    ))
                    .await?
                    .map(|r| r.try_get::<bool>("", "locked"))
                    .transpose()?
                    .unwrap_or(false);
                if !locked {
                    return Ok(false);
                }
            }
            _ => super::locks::claim_write_lock(&txn).await?,
        }
        sla_days_changed::Entity::delete_many()
            .filter(sla_days_changed::Column::Day.eq(day))
            .exec(&txn)
            .await?;
        let rows = sla_clocks::Entity::find()
            .select_only()
            .columns([
                sla_clocks::Column::CreatedUs,
                sla_clocks::Column::Segment,
                sla_clocks::Column::Channel,
                sla_clocks::Column::Queue,
                sla_clocks::Column::Category,
                sla_clocks::Column::Policy,
                sla_clocks::Column::Trigger,
                sla_clocks::Column::Metric,
                sla_clocks::Column::State,
                sla_clocks::Column::DueUs,
                sla_clocks::Column::Minutes,
            ])
            .filter(super::report::created_between(
                day * DAY_US,
                (day + 1) * DAY_US,
            ))
            .into_tuple::<(
                i64,
                String,
                String,
                String,
                String,
                String,
                String,
                i16,
                i16,
                Option<i64>,
                Option<i64>,
            )>()
            .all(&txn)
            .await?;
        let running = super::report::state_code(crate::sla::ClockState::Running);
        let mut counts: [DayCounts; GROUPINGS.len()] = Default::default();
        for (
            created,
            segment,
            channel,
            queue,
            category,
            policy,
            trigger,
            metric,
            state,
            due,
            minutes,
        ) in &rows
        {
            let hour = ((created - day * DAY_US) / HOUR_US) as u8;
            for (i, group) in [segment, channel, queue, category, policy, trigger]
                .into_iter()
                .enumerate()
            {
                let c = &mut counts[i];
                let key = Key {
                    hour,
                    group: c.groups.id(group),
                    metric: *metric,
                    state: *state,
                    minutes: *minutes,
                    due_us: if *state == running { *due } else { None },
                };
                *c.counts.entry(key).or_default() += 1;
            }
        }
        let models = counts
            .iter()
            .enumerate()
            .map(|(i, c)| sla_days::ActiveModel {
                day: Set(day),
                grouping: Set(i as i16),
                built_us: Set(now.timestamp_micros()),
                rows: Set(rows.len() as i64),
                data: Set(encode(c)),
            });
        sla_days::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([sla_days::Column::Day, sla_days::Column::Grouping])
                    .update_columns([
                        sla_days::Column::BuiltUs,
                        sla_days::Column::Rows,
                        sla_days::Column::Data,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }
}

/// The counted days of `days` for `group` that have not changed since, with their
/// counts, in the reader's transaction.
pub(super) async fn counted_days<C: ConnectionTrait>(
    db: &C,
    days: std::ops::Range<i64>,
    group: GroupBy,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    if days.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sla_days::Entity::find()
        .select_only()
        .columns([sla_days::Column::Day, sla_days::Column::Data])
        .filter(sla_days::Column::Grouping.eq(grouping_code(group)))
        .filter(sla_days::Column::Day.gte(days.start))
        .filter(sla_days::Column::Day.lt(days.end))
        .filter(Condition::all().add(Expr::cust(
            "NOT EXISTS (SELECT 1 FROM sla_days_changed c WHERE c.day = sla_days.day)",
        )))
        .order_by_asc(sla_days::Column::Day)
        .into_tuple::<(i64, Vec<u8>)>()
        .all(db)
        .await?)
}

/// Forgets every counted day (the kept rows are being written anew).
pub(super) async fn forget_counted_days<C: ConnectionTrait>(db: &C) -> Result<(), StoreError> {
    sla_days::Entity::delete_many().exec(db).await?;
    sla_days_changed::Entity::delete_many().exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = Key> {
        (
            0u8..24,
            0u32..3,
            0i16..5,
            0i16..5,
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(hour, group, metric, state, minutes, due_us)| Key {
                hour,
                group,
                metric,
                state,
                minutes,
                due_us,
            })
    }

    proptest! {
        #[test]
        fn a_counted_day_reads_back_as_it_was_written(
            counts in proptest::collection::btree_map(key(), 1u64..u64::MAX, 0..200),
        ) {
            let mut day = DayCounts { counts, ..Default::default() };
            for g in ["business-critical", "Vertrieb", "ä"] {
                day.groups.id(g);
            }
            let bytes = encode(&day);
            let mut back = DayCounts::default();
            decode(&bytes, |g| {
                g.iter().map(|g| back.groups.id(g)).collect()
            }, |k, n| {
                back.counts.insert(k, n);
            })
            .unwrap();
            prop_assert_eq!(back, day);
            // Cut anywhere, it is refused rather than read wrong.
            if bytes.len() > 1 {
                let cut = &bytes[..bytes.len() - 1];
                let read = decode(cut, |g| (0..g.len() as u32).collect(), |_, _| ());
                prop_assert!(read.is_err());
            }
        }
    }

    #[test]
    fn the_parts_outside_the_counted_days_are_read_from_the_rows() {
        let (from, to) = (DAY_US / 2, 5 * DAY_US + 7);
        assert_eq!(
            uncounted(from, to, &[1, 2, 4]),
            vec![(from, DAY_US), (3 * DAY_US, 4 * DAY_US), (5 * DAY_US, to)]
        );
        assert_eq!(uncounted(0, 2 * DAY_US, &[0, 1]), vec![]);
        assert_eq!(uncounted(0, 2 * DAY_US, &[]), vec![(0, 2 * DAY_US)]);
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let days = whole_days(at("1970-01-02T00:00:00Z"), at("1970-01-04T12:00:00Z"));
        assert_eq!(days, 1..3);
        let days = whole_days(at("1970-01-02T00:00:01Z"), at("1970-01-03T00:00:00Z"));
        assert!(days.is_empty());
    }

    #[test]
    fn only_zones_with_whole_hour_offsets_use_counted_days() {
        use crate::sla::report::Bucket;
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let (from, to) = (at("2026-10-01T00:00:00Z"), at("2026-11-30T00:00:00Z"));
        let plan = |tz: &str| BucketPlan::new(from, to, tz.parse().unwrap(), Bucket::Day);
        assert!(hour_aligned(None));
        assert!(hour_aligned(Some(&plan("Europe/Berlin"))));
        assert!(hour_aligned(Some(&plan("America/New_York"))));
        assert!(!hour_aligned(Some(&plan("Asia/Kolkata"))));
        assert!(!hour_aligned(Some(&plan("Australia/Adelaide"))));
    }
}
