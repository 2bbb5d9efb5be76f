//! `[segment.NAME]` and `[channel.NAME]`: the time window each segment is served in, per
//! channel where that differs, the channels that do not serve it, and its defaults.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use super::queues::{queue_ref, Queue};
use super::{At, Ctx, Why};
use crate::model::{Channel, Priority, Reason, ReasonKind, Segment, TimeWindow};
use crate::rules::source::{ChannelDoc, SegmentDoc};

/// A segment's service window, per-channel overrides and defaults.
#[derive(Debug, Clone)]
pub struct SegmentDef {
    pub window: Why<TimeWindow>,
    /// Indexed by `Channel::index`.
    pub channel_windows: [Option<Why<TimeWindow>>; 3],
    pub priority: Option<Why<Priority>>,
    pub queue: Option<Why<Arc<str>>>,
    /// Channels that do not serve the segment (`channel.phone = "none"`), with the line
    /// that says so. Indexed by `Channel::index`.
    pub not_served: [Option<Arc<Reason>>; 3],
}

/// One optional value per channel, indexed by `Channel::index`.
type PerChannel<T> = [Option<T>; 3];

/// The window each channel is served in where a `[channel.NAME]` table limits it, indexed
/// by `Channel::index`.
pub(super) fn channels(
    ctx: &mut Ctx,
    docs: &BTreeMap<String, At<ChannelDoc>>,
) -> PerChannel<Why<TimeWindow>> {
    let mut channel_windows: PerChannel<Why<TimeWindow>> = Default::default();
    for (name, c) in docs {
        let file = c.file;
        let Ok(channel) = name.parse::<Channel>() else {
            ctx.error(
                file,
                &c.span,
                format!("[channel.{name}]: {}", name.parse::<Channel>().unwrap_err()),
            );
            continue;
        };
        if let Some(w) = ctx.vocab::<TimeWindow>(file, &c.item.window) {
            let why = format!("the {channel} channel is served in {w} only");
            channel_windows[channel.index()] =
                Some((w, ctx.reason(ReasonKind::Channel, file, &c.span, why)));
        }
    }
    channel_windows
}

/// Compiles the segments, indexed by `Segment::index`; `None` unless all three compile. A
/// segment without a table is reported at `defaults_at`, the `[defaults]` table.
pub(super) fn compile(
    ctx: &mut Ctx,
    docs: &BTreeMap<String, At<SegmentDoc>>,
    queues: &BTreeMap<Arc<str>, Queue>,
    defaults_at: (usize, &Range<usize>),
) -> Option<[SegmentDef; 3]> {
    let mut slots: [Option<SegmentDef>; 3] = Default::default();
    for (name, s) in docs {
        let Ok(segment) = name.parse::<Segment>() else {
            ctx.error(
                s.file,
                &s.span,
                format!("[segment.{name}]: {}", name.parse::<Segment>().unwrap_err()),
            );
            continue;
        };
        if let Some(def) = segment_def(ctx, segment, s, queues) {
            slots[segment.index()] = Some(def);
        }
    }
    for seg in Segment::ALL {
        if slots[seg.index()].is_none() && !docs.contains_key(seg.as_str()) {
            ctx.error(
                defaults_at.0,
                defaults_at.1,
                format!(
                    "segment {seg} is not defined; add a [segment.{seg}] table with its window"
                ),
            );
        }
    }
    let [Some(s0), Some(s1), Some(s2)] = slots else {
        return None;
    };
    Some([s0, s1, s2])
}

fn segment_def(
    ctx: &mut Ctx,
    segment: Segment,
    s: &At<SegmentDoc>,
    queues: &BTreeMap<Arc<str>, Queue>,
) -> Option<SegmentDef> {
    let file = s.file;
    let window = ctx.vocab::<TimeWindow>(file, &s.item.window)?;
    let (channel_windows, not_served) = channel_overrides(ctx, segment, s);
    let seg_reason = |ctx: &Ctx, field: &str| {
        ctx.reason(
            ReasonKind::Segment,
            file,
            &s.span,
            format!("no rule or category decided the {field}; default of segment {segment}"),
        )
    };
    let priority = s
        .item
        .priority
        .as_ref()
        .and_then(|p| ctx.vocab::<Priority>(file, p));
    let queue = s
        .item
        .queue
        .as_ref()
        .and_then(|q| queue_ref(ctx, queues, file, q));
    Some(SegmentDef {
        window: (
            window,
            ctx.reason(
                ReasonKind::Segment,
                file,
                &s.span,
                format!("{segment} is served in {window}"),
            ),
        ),
        channel_windows,
        not_served,
        priority: priority.map(|p| (p, seg_reason(ctx, "priority"))),
        queue: queue.map(|q| (q, seg_reason(ctx, "queue"))),
    })
}

/// The segment's own window per channel (`channel.phone = "on-call"`) and the channels that
/// do not serve it (`channel.phone = "none"`), both indexed by `Channel::index`.
fn channel_overrides(
    ctx: &mut Ctx,
    segment: Segment,
    s: &At<SegmentDoc>,
) -> (PerChannel<Why<TimeWindow>>, PerChannel<Arc<Reason>>) {
    let file = s.file;
    let mut windows: PerChannel<Why<TimeWindow>> = Default::default();
    let mut not_served: PerChannel<Arc<Reason>> = Default::default();
    for (ch, w) in s.item.channel.iter().flatten() {
        if w.get_ref() == "none" {
            if let Some(channel) = ctx.vocab::<Channel>(file, ch) {
                let why = format!("{segment} is not served by {channel}");
                not_served[channel.index()] =
                    Some(ctx.reason(ReasonKind::Segment, file, &ch.span(), why));
            }
            continue;
        }
        let (Some(channel), Some(w)) = (
            ctx.vocab::<Channel>(file, ch),
            ctx.vocab::<TimeWindow>(file, w),
        ) else {
            continue;
        };
        let why = format!("{segment} tickets by {channel} are served in {w}");
        windows[channel.index()] =
            Some((w, ctx.reason(ReasonKind::Segment, file, &ch.span(), why)));
    }
    (windows, not_served)
}

#[cfg(test)]
mod tests {
    use crate::rules::compile_sources;
    use crate::rules::fixture::{CUSTOMERS, SERVICE};

    #[test]
    fn every_segment_must_be_defined() {
        let service = SERVICE.replace(
            "[segment.commercial]\nwindow = \"extended-hours\"\nqueue = \"billing\"\n",
            "",
        );
        let err = compile_sources(&[("service.toml", &service), ("customers.csv", CUSTOMERS)])
            .unwrap_err();
        assert!(
            err.errors()
                .any(|d| d.message.contains("segment commercial is not defined")),
            "{err}"
        );
    }
}
