//! Compiles the SLA parts of the rules files: holidays and special days of calendars,
//! `[sla]`, `[[policy]]` and `[webhook.NAME]`, with errors at their file:line.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use toml::Spanned;

use super::compile::{collect, At, Category, Ctx, Queue, WindowDef};
use super::source::{
    CalendarDoc, LeadDoc, Name, PolicyDoc, PolicyWhenDoc, SlaDoc, Strings, TriggerDoc, WebhookDoc,
};
use super::{ReadError, SourceFile};
use crate::calendar::{parse_days, parse_ics, Calendar, DateSpec, SpecialDay};
use crate::model::{Channel, Priority, Reason, ReasonKind, Segment, TimeWindow};
use crate::sla::lead::LeadRules;
use crate::sla::{
    parse_minutes, Escalation, Notify, Policy, PolicyCalendar, PolicyWhen, SlaRules, Trigger,
    TriggerStart, Webhook,
};

/// The holidays, special days and imported iCalendar days of one calendar.
pub(super) fn special_days(
    ctx: &mut Ctx,
    file: usize,
    doc: &CalendarDoc,
    read: &dyn Fn(&str) -> Result<SourceFile, ReadError>,
    extra_files: &mut Vec<SourceFile>,
) -> Vec<SpecialDay> {
    let mut out = Vec::new();
    if let Some(holidays) = &doc.holidays {
        for entry in &holidays.get_ref().0 {
            let (date, name) = entry
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((entry.trim(), "holiday"));
            match DateSpec::parse(date) {
                Ok(d) => out.push(SpecialDay::closed(d, name.trim())),
                Err(e) => ctx.error(file, &holidays.span(), e.0),
            }
        }
    }
    for (date, hours) in doc.special.iter().flatten() {
        let spec = match DateSpec::parse(date.get_ref()) {
            Ok(d) => d,
            Err(e) => {
                ctx.error(file, &date.span(), e.0);
                continue;
            }
        };
        let name = format!("special hours {}", date.get_ref());
        match SpecialDay::with_hours(spec, name, hours.get_ref().0.iter().map(String::as_str)) {
            Ok(day) => out.push(day),
            Err(e) => ctx.error(file, &hours.span(), e.0),
        }
    }
    if let Some(files) = &doc.holiday_files {
        for path in &files.get_ref().0 {
            match read(path) {
                Err(e) => ctx.error(file, &files.span(), e.to_string()),
                Ok(src) => {
                    match parse_ics(&src.text) {
                        Ok(days) => out.extend(
                            days.into_iter()
                                .map(|h| SpecialDay::closed(DateSpec::Fixed(h.date), h.name)),
                        ),
                        Err(e) => ctx.error(file, &files.span(), format!("{path}: {}", e.0)),
                    }
                    extra_files.push(src);
                }
            }
        }
    }
    out
}

/// What the SLA compiler needs from the rest of the rules.
pub(super) struct Known<'a> {
    pub calendars: &'a BTreeMap<Arc<str>, Arc<Calendar>>,
    pub windows: &'a [WindowDef; 4],
    pub queues: &'a BTreeMap<Arc<str>, Queue>,
    pub categories: &'a HashMap<Arc<str>, Category>,
    pub customers: &'a super::CustomerIndex,
}

/// The `[sla]`, `[[policy]]` and `[webhook]` sections of all files.
#[derive(Default)]
pub(super) struct SlaDocs {
    pub sla: Vec<(usize, Spanned<SlaDoc>)>,
    pub policies: Vec<(usize, Spanned<PolicyDoc>)>,
    pub webhooks: Vec<(usize, BTreeMap<Name, Spanned<WebhookDoc>>)>,
    pub triggers: Vec<(usize, BTreeMap<Name, Spanned<TriggerDoc>>)>,
    pub leads: Vec<(usize, Spanned<LeadDoc>)>,
}

/// Compiles the webhooks, `[sla]` and the policies in file order; a policy with an error is
/// reported and left out.
pub(super) fn compile_sla(ctx: &mut Ctx, docs: SlaDocs, known: &Known) -> SlaRules {
    let webhook_docs = collect(ctx, "webhook", docs.webhooks);
    let mut webhooks = BTreeMap::new();
    for (name, w) in &webhook_docs {
        if let Some(hook) = webhook(ctx, name, w) {
            webhooks.insert(hook.name.clone(), hook);
        }
    }
    let mut c = SlaCompiler {
        ctx,
        known,
        webhooks: &webhooks,
        triggers: BTreeMap::new(),
    };
    for (kind, t) in collect(c.ctx, "trigger", docs.triggers) {
        if let Some(t) = c.trigger(&kind, &t) {
            c.triggers.insert(t.kind.clone(), t);
        }
    }
    if let (Some((first, f)), Some((file, d))) = (docs.leads.first(), docs.leads.get(1)) {
        let at = c.ctx.at(*first, &f.span());
        c.ctx.error(
            *file,
            &d.span(),
            format!("[lead] is defined more than once (first at {at})"),
        );
    }
    let lead = docs.leads.first().and_then(|(file, d)| c.lead(*file, d));
    let mut pause_statuses = Vec::new();
    let mut warn = vec![75, 90];
    let mut warn_notify = vec![Notify::TicketQueue];
    let mut breach_notify = vec![Notify::TicketQueue];
    if docs.sla.len() > 1 {
        let (file, d) = &docs.sla[1];
        c.ctx.error(
            *file,
            &d.span(),
            "[sla] is defined more than once".to_owned(),
        );
    }
    if let Some((file, d)) = docs.sla.first() {
        let d = d.get_ref();
        if let Some(s) = &d.pause_statuses {
            for st in &s.get_ref().0 {
                if matches!(st.as_str(), "open" | "resolved" | "closed") || st.is_empty() {
                    c.ctx.error(
                        *file,
                        &s.span(),
                        format!("status \"{st}\" cannot pause the clocks"),
                    );
                } else {
                    pause_statuses.push(Arc::from(st.as_str()));
                }
            }
        }
        if let Some(w) = &d.warn {
            warn = c.percents(*file, w);
        }
        if let Some(n) = &d.warn_notify {
            warn_notify = c.notify(*file, n);
        }
        if let Some(n) = &d.breach_notify {
            breach_notify = c.notify(*file, n);
        }
    }
    let mut policies: Vec<Policy> = Vec::new();
    let mut spans = Vec::new();
    let mut seen: HashMap<String, Arc<str>> = HashMap::new();
    for (file, p) in &docs.policies {
        let at = c.ctx.at(*file, &p.span());
        let id = p.get_ref().id.get_ref();
        if let Some(prev) = seen.get(id) {
            c.ctx.error(
                *file,
                &p.get_ref().id.span(),
                format!("policy \"{id}\" is already defined at {prev}"),
            );
            continue;
        }
        seen.insert(id.clone(), at.clone());
        if let Some(policy) = c.policy(*file, at, p, &warn, &warn_notify, &breach_notify) {
            policies.push(policy);
            spans.push((*file, p.span()));
        }
    }
    let mut categories: Vec<Arc<str>> = known.categories.keys().cloned().collect();
    categories.sort();
    let queues: Vec<Arc<str>> = known.queues.keys().cloned().collect();
    super::compile::report_unreachable_policies(c.ctx, &policies, &spans, &categories, &queues);
    let triggers = c.triggers;
    SlaRules {
        pause_statuses,
        policies,
        webhooks,
        triggers,
        lead,
    }
}

fn webhook(ctx: &mut Ctx, name: &str, w: &At<WebhookDoc>) -> Option<Webhook> {
    let doc = &w.item;
    let url = doc.url.get_ref();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        ctx.error(
            w.file,
            &doc.url.span(),
            format!("webhook url \"{url}\" must start with http:// or https://"),
        );
        return None;
    }
    let secret = match (&doc.secret, &doc.secret_env) {
        (Some(s), None) => s.get_ref().clone(),
        (None, Some(var)) => std::env::var(var.get_ref()).unwrap_or_else(|_| {
            ctx.warn(
                w.file,
                &var.span(),
                format!(
                    "environment variable {} is not set; webhook \"{name}\" is signed with an empty key",
                    var.get_ref()
                ),
            );
            String::new()
        }),
        (Some(s), Some(_)) => {
            ctx.error(w.file, &s.span(), "give secret or secret-env, not both");
            return None;
        }
        (None, None) => {
            ctx.error(
                w.file,
                &w.span,
                format!("webhook \"{name}\" needs secret-env (or secret) to sign its requests"),
            );
            return None;
        }
    };
    let max_attempts = match &doc.max_attempts {
        None => 8,
        Some(n) if (1..=100).contains(n.get_ref()) => *n.get_ref() as u32,
        Some(n) => {
            ctx.error(w.file, &n.span(), "max-attempts must be between 1 and 100");
            return None;
        }
    };
    let retry_after_secs = match &doc.retry_after {
        None => 30,
        Some(r) => match parse_seconds(r.get_ref()) {
            Some(s) if s > 0 => s,
            _ => {
                ctx.error(
                    w.file,
                    &r.span(),
                    format!("invalid retry-after \"{}\" (e.g. 30s, 5m)", r.get_ref()),
                );
                return None;
            }
        },
    };
    Some(Webhook {
        name: name.into(),
        url: url.clone(),
        secret,
        max_attempts,
        retry_after_secs,
    })
}

/// `30s`, or any duration [`parse_minutes`] reads.
fn parse_seconds(text: &str) -> Option<u32> {
    match text.trim().strip_suffix('s') {
        Some(n) => n.parse().ok(),
        None => parse_minutes(text)?.checked_mul(60),
    }
}

struct SlaCompiler<'c, 'a, 'k> {
    ctx: &'c mut Ctx<'a>,
    known: &'k Known<'k>,
    webhooks: &'k BTreeMap<Arc<str>, Webhook>,
    triggers: BTreeMap<Arc<str>, Trigger>,
}

impl SlaCompiler<'_, '_, '_> {
    /// A `[trigger.KIND]`: a task in a known queue and category, or a follow-up with its
    /// duration; what does not fit its `starts` is an error at its line.
    fn trigger(&mut self, kind: &str, t: &At<TriggerDoc>) -> Option<Trigger> {
        let (file, doc) = (t.file, &t.item);
        let before = self.ctx.diags.len();
        let starts = match doc.starts.get_ref().as_str() {
            "task" => {
                for (value, what, known) in [
                    (
                        &doc.queue,
                        "queue",
                        self.known.queues.keys().cloned().collect::<Vec<_>>(),
                    ),
                    (
                        &doc.category,
                        "category",
                        self.known.categories.keys().cloned().collect(),
                    ),
                ] {
                    if let Some(v) = value
                        .as_ref()
                        .filter(|v| !known.iter().any(|k| **k == *v.get_ref().as_str()))
                    {
                        let mut known = known;
                        known.sort();
                        self.ctx.error(
                            file,
                            &v.span(),
                            format!(
                                "unknown {what} \"{}\" in trigger \"{kind}\" (defined: {})",
                                v.get_ref(),
                                super::compile::list(known.iter())
                            ),
                        );
                    }
                }
                if let Some(c) = &doc.calendar {
                    self.ctx.error(
                        file,
                        &c.span(),
                        format!("trigger \"{kind}\" starts a task: its clocks count in its policy's calendar, not the trigger's"),
                    );
                }
                if let Some(f) = &doc.follow_up {
                    self.ctx.error(
                        file,
                        &f.span(),
                        format!("trigger \"{kind}\" starts a task: its reaction time is a [[policy]] with when.trigger = \"{kind}\", not follow-up"),
                    );
                }
                TriggerStart::Task {
                    subject: doc
                        .subject
                        .as_ref()
                        .map_or_else(|| Arc::from(kind), |s| Arc::from(s.get_ref().as_str())),
                    queue: doc.queue.as_ref().map(|q| Arc::from(q.get_ref().as_str())),
                    category: doc
                        .category
                        .as_ref()
                        .map(|c| Arc::from(c.get_ref().as_str())),
                }
            }
            "follow-up" => {
                let minutes = match &doc.follow_up {
                    Some(d) => self.duration(file, d, "follow-up"),
                    None => {
                        self.ctx.error(
                            file,
                            &doc.starts.span(),
                            format!("trigger \"{kind}\" starts a follow-up but says not when (follow-up = \"7d\")"),
                        );
                        None
                    }
                };
                for (v, what) in [
                    (&doc.queue, "queue"),
                    (&doc.category, "category"),
                    (&doc.subject, "subject"),
                ] {
                    if let Some(v) = v {
                        self.ctx.error(
                            file,
                            &v.span(),
                            format!("trigger \"{kind}\" starts a follow-up on the event's ticket: {what} belongs to a task"),
                        );
                    }
                }
                let calendar = doc.calendar.as_ref().and_then(|c| {
                    let name = c.get_ref().as_str();
                    if self.known.calendars.contains_key(name) {
                        return Some(Arc::from(name));
                    }
                    let mut defined: Vec<&str> =
                        self.known.calendars.keys().map(|k| &**k).collect();
                    defined.sort_unstable();
                    self.ctx.error(
                        file,
                        &c.span(),
                        format!(
                            "unknown calendar \"{name}\" in trigger \"{kind}\" (defined calendars: {})",
                            defined.join(", ")
                        ),
                    );
                    None
                });
                TriggerStart::FollowUp {
                    minutes: minutes.unwrap_or(0),
                    calendar,
                }
            }
            other => {
                self.ctx.error(
                    file,
                    &doc.starts.span(),
                    format!("unknown starts \"{other}\" in trigger \"{kind}\" (expected task or follow-up)"),
                );
                return None;
            }
        };
        (self.ctx.diags.len() == before).then(|| Trigger {
            kind: Arc::from(kind),
            at: self.ctx.at(file, &t.span),
            starts,
        })
    }

    /// `[lead]`: tasks of known triggers, known queues, at least one required field and
    /// one reason to disqualify.
    fn lead(&mut self, file: usize, d: &Spanned<LeadDoc>) -> Option<LeadRules> {
        let before = self.ctx.diags.len();
        let doc = d.get_ref();
        for t in &doc.triggers.get_ref().0 {
            match self.triggers.get(t.as_str()).map(|t| &t.starts) {
                Some(TriggerStart::Task { .. }) => {}
                Some(TriggerStart::FollowUp { .. }) => self.ctx.error(
                    file,
                    &doc.triggers.span(),
                    format!(
                        "trigger \"{t}\" starts a follow-up, not a task: it cannot make a lead"
                    ),
                ),
                None => {
                    let known: Vec<&str> = self.triggers.keys().map(|k| &**k).collect();
                    self.ctx.error(
                        file,
                        &doc.triggers.span(),
                        format!(
                            "unknown trigger \"{t}\" in [lead] (defined: {})",
                            known.join(", ")
                        ),
                    )
                }
            }
        }
        for q in [&doc.queue, &doc.back_to] {
            if !self.known.queues.contains_key(q.get_ref().as_str()) {
                let known: Vec<Arc<str>> = self.known.queues.keys().cloned().collect();
                self.ctx.error(
                    file,
                    &q.span(),
                    format!(
                        "unknown queue \"{}\" in [lead] (defined: {})",
                        q.get_ref(),
                        super::compile::list(known.iter())
                    ),
                );
            }
        }
        if doc.queue.get_ref() == doc.back_to.get_ref() {
            self.ctx.error(
                file,
                &doc.back_to.span(),
                format!(
                    "[lead] back-to is the queue leads go to (\"{}\"): a lead without its fields would reach it anyway",
                    doc.back_to.get_ref()
                ),
            );
        }
        for (list, what, of) in [
            (&doc.triggers, "triggers", "trigger"),
            (&doc.requires, "requires", "field"),
            (&doc.disqualify_reasons, "disqualify-reasons", "reason"),
        ] {
            let values = &list.get_ref().0;
            if values.is_empty() {
                self.ctx
                    .error(file, &list.span(), format!("[lead] {what} names no {of}"));
            }
            let mut seen = std::collections::HashSet::new();
            for v in values {
                if v.trim().is_empty() {
                    self.ctx
                        .error(file, &list.span(), format!("[lead] {what}: a blank {of}"));
                } else if !seen.insert(v.trim()) {
                    self.ctx.error(
                        file,
                        &list.span(),
                        format!("[lead] {what} names {of} \"{}\" twice", v.trim()),
                    );
                }
            }
        }
        let names = |l: &Spanned<Strings>| -> Vec<Arc<str>> {
            l.get_ref().0.iter().map(|v| Arc::from(v.trim())).collect()
        };
        (self.ctx.diags.len() == before).then(|| LeadRules {
            at: self.ctx.at(file, &d.span()),
            triggers: names(&doc.triggers),
            requires: names(&doc.requires),
            queue: Arc::from(doc.queue.get_ref().as_str()),
            back_to: Arc::from(doc.back_to.get_ref().as_str()),
            disqualify_reasons: names(&doc.disqualify_reasons),
        })
    }

    fn percents(&mut self, file: usize, w: &Spanned<Vec<Spanned<i64>>>) -> Vec<u8> {
        let mut out = Vec::new();
        for p in w.get_ref() {
            match u8::try_from(*p.get_ref()) {
                Ok(v) if (1..=99).contains(&v) => out.push(v),
                _ => self.ctx.error(
                    file,
                    &p.span(),
                    format!(
                        "warning threshold {} must be a percentage between 1 and 99",
                        p.get_ref()
                    ),
                ),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn notify(&mut self, file: usize, list: &Spanned<Strings>) -> Vec<Notify> {
        let mut out = Vec::new();
        for t in &list.get_ref().0 {
            let Some(n) = Notify::parse(t) else {
                self.ctx.error(
                    file,
                    &list.span(),
                    format!(
                        "unknown notification target \"{t}\" (use queue, queue:NAME, role:NAME or webhook:NAME)"
                    ),
                );
                continue;
            };
            match &n {
                Notify::Queue(q) if !self.known.queues.contains_key(q) => self.ctx.error(
                    file,
                    &list.span(),
                    format!(
                        "unknown queue \"{q}\" in \"{t}\" (defined queues: {})",
                        super::compile::list(self.known.queues.keys())
                    ),
                ),
                Notify::Webhook(w) if !self.webhooks.contains_key(w) => self.ctx.error(
                    file,
                    &list.span(),
                    format!(
                        "unknown webhook \"{w}\" in \"{t}\" (defined webhooks: {})",
                        super::compile::list(self.webhooks.keys())
                    ),
                ),
                _ => out.push(n),
            }
        }
        out
    }

    fn duration(&mut self, file: usize, d: &Name, what: &str) -> Option<u32> {
        let m = parse_minutes(d.get_ref());
        if m.is_none() {
            self.ctx.error(
                file,
                &d.span(),
                format!(
                    "invalid {what} \"{}\" (expected a duration such as 30m, 2h, 1h30m or 7d)",
                    d.get_ref()
                ),
            );
        }
        m
    }

    fn vocab_list<T: std::str::FromStr>(
        &mut self,
        file: usize,
        v: &Option<Spanned<Strings>>,
    ) -> Vec<T>
    where
        T::Err: std::fmt::Display,
    {
        let Some(v) = v else { return Vec::new() };
        v.get_ref()
            .0
            .iter()
            .filter_map(|s| {
                let name = Spanned::new(v.span(), s.clone());
                self.ctx.vocab::<T>(file, &name)
            })
            .collect()
    }

    /// A policy's `when`: the values it matches, each unknown one reported.
    fn when(&mut self, file: usize, w: &PolicyWhenDoc) -> PolicyWhen {
        let mut when = PolicyWhen {
            segment: self.vocab_list::<Segment>(file, &w.segment),
            priority: self.vocab_list::<Priority>(file, &w.priority),
            channel: self.vocab_list::<Channel>(file, &w.channel),
            ..Default::default()
        };
        let customer_tags: Vec<Arc<str>> = {
            let mut t: Vec<Arc<str>> = self
                .known
                .customers
                .iter()
                .flat_map(|c| c.tags.iter().cloned())
                .collect();
            t.sort();
            t.dedup();
            t
        };
        let mut categories: Vec<Arc<str>> = self.known.categories.keys().cloned().collect();
        categories.sort();
        let organisations: Vec<Arc<str>> = self
            .known
            .customers
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let queues: Vec<Arc<str>> = self.known.queues.keys().cloned().collect();
        let triggers: Vec<Arc<str>> = self.triggers.keys().cloned().collect();
        // Each list with the names it may hold (`None`: any name, such as a rule's tag).
        for (list, into, kind, known) in [
            (
                &w.category,
                &mut when.category,
                "category",
                Some(&categories),
            ),
            (&w.tag, &mut when.tag, "tag", None),
            (
                &w.organisation,
                &mut when.organisation,
                "organisation",
                Some(&organisations),
            ),
            (
                &w.customer_tag,
                &mut when.customer_tag,
                "customer tag",
                Some(&customer_tags),
            ),
            (&w.queue, &mut when.queue, "queue", Some(&queues)),
            (&w.trigger, &mut when.trigger, "trigger", Some(&triggers)),
        ] {
            let Some(list) = list else { continue };
            for name in &list.get_ref().0 {
                if let Some(known) = known.filter(|k| !k.iter().any(|n| **n == **name)) {
                    let where_ = if matches!(kind, "organisation" | "customer tag") {
                        " in the customer list"
                    } else {
                        ""
                    };
                    self.ctx.error(
                        file,
                        &list.span(),
                        format!(
                            "unknown {kind} \"{name}\" (defined{where_}: {})",
                            super::compile::list(known.iter())
                        ),
                    );
                }
                into.push(Arc::from(name.as_str()));
            }
        }
        if let Some(list) = &w.potential {
            for class in &list.get_ref().0 {
                match crate::rules::customers::Potential::parse(class) {
                    Some(p) => when.potential.push(p),
                    None => {
                        self.ctx
                            .error(file, &list.span(), crate::model::Potential::unknown(class))
                    }
                }
            }
        }
        if let Some(win) = &w.arrived_in {
            if let Some(tw) = self.ctx.vocab::<TimeWindow>(file, win) {
                when.arrived_in = Some((tw, self.known.windows[tw.index()].calendar.clone()));
            }
        }
        if let Some(days) = &w.arrived_on {
            match parse_days(days.get_ref()) {
                Ok(list) => {
                    let mut set = [false; 7];
                    for d in list {
                        set[d.num_days_from_monday() as usize] = true;
                    }
                    let tz = self.known.windows[TimeWindow::BusinessHours.index()]
                        .calendar
                        .timezone();
                    when.arrived_on = Some((set, tz));
                }
                Err(e) => self.ctx.error(file, &days.span(), e.0),
            }
        }
        when
    }

    #[allow(clippy::too_many_arguments)]
    fn policy(
        &mut self,
        file: usize,
        at: Arc<str>,
        p: &Spanned<PolicyDoc>,
        warn: &[u8],
        warn_notify: &[Notify],
        breach_notify: &[Notify],
    ) -> Option<Policy> {
        let doc = p.get_ref();
        let before = self.ctx.diags.len();
        let when = doc
            .when
            .as_ref()
            .map(|w| self.when(file, w.get_ref()))
            .unwrap_or_default();
        let mut targets = [None; 3];
        for (i, (d, what)) in [
            (&doc.first_response, "first-response"),
            (&doc.next_reply, "next-reply"),
            (&doc.resolution, "resolution"),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(d) = d {
                targets[i] = self.duration(file, d, what);
            }
        }
        let follow_up = doc
            .follow_up
            .as_ref()
            .and_then(|d| self.duration(file, d, "follow-up"));
        if targets.iter().all(Option::is_none)
            && follow_up.is_none()
            && self.ctx.diags.len() == before
        {
            self.ctx.warn(
                file,
                &doc.id.span(),
                format!(
                    "policy \"{}\" sets no target (first-response, next-reply, resolution or follow-up): tickets it matches get no service level",
                    doc.id.get_ref()
                ),
            );
        }
        let calendar = match &doc.calendar {
            None => PolicyCalendar::Window,
            Some(name) if name.get_ref() == "customer" => PolicyCalendar::Customer,
            Some(name) => match self.known.calendars.get(name.get_ref().as_str()) {
                Some(c) => PolicyCalendar::Named(c.clone()),
                None => {
                    self.ctx.error(
                        file,
                        &name.span(),
                        format!(
                            "unknown calendar \"{}\" (defined calendars: {}; \"customer\" counts in the organisation's own)",
                            name.get_ref(),
                            super::compile::list(self.known.calendars.keys())
                        ),
                    );
                    PolicyCalendar::Window
                }
            },
        };
        let warn = match &doc.warn {
            Some(w) => self.percents(file, w),
            None => warn.to_vec(),
        };
        let warn_notify = match &doc.warn_notify {
            Some(n) => self.notify(file, n),
            None => warn_notify.to_vec(),
        };
        let breach_notify = match &doc.breach_notify {
            Some(n) => self.notify(file, n),
            None => breach_notify.to_vec(),
        };
        let mut escalations = Vec::new();
        for e in doc.escalate.iter().flatten() {
            let ed = e.get_ref();
            let after = self.duration(file, &ed.after, "escalation after");
            let notify = self.notify(file, &ed.notify);
            if let Some(after) = after {
                escalations.push(Escalation {
                    after_minutes: after,
                    notify,
                    outside_hours: ed.outside_hours.unwrap_or(true),
                });
            }
        }
        if escalations
            .windows(2)
            .any(|w| w[1].after_minutes <= w[0].after_minutes)
        {
            self.ctx.error(
                file,
                &p.span(),
                format!(
                    "policy \"{}\": escalation levels must come later one after another",
                    doc.id.get_ref()
                ),
            );
        }
        if self.ctx.diags[before..]
            .iter()
            .any(|d| d.severity == super::Severity::Error)
        {
            return None;
        }
        Some(Policy {
            id: doc.id.get_ref().as_str().into(),
            reason: Arc::new(Reason {
                by: ReasonKind::Policy,
                rule: Some(doc.id.get_ref().as_str().into()),
                at: Some(at),
                why: format!("SLA policy \"{}\"", doc.id.get_ref()).into(),
            }),
            when,
            targets,
            follow_up,
            calendar,
            warn,
            warn_notify,
            warn_outside_hours: doc.warn_outside_hours.unwrap_or(true),
            breach_notify,
            breach_outside_hours: doc.breach_outside_hours.unwrap_or(true),
            escalations,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{errors, has};
    use crate::rules::fixture::with_rules;
    use crate::sla::TriggerStart;

    #[test]
    fn triggers_start_tasks_or_follow_ups_and_policies_condition_on_them() {
        let loaded = with_rules(
            "[trigger.webinar-attended]\nstarts = \"task\"\nsubject = \"Call\"\nqueue = \"desk\"\n\n[trigger.quote-sent]\nstarts = \"follow-up\"\nfollow-up = \"7d\"\n\n[[policy]]\nid = \"webinar\"\nwhen = { trigger = \"webinar-attended\" }\nfirst-response = \"72h\"\n",
        )
        .unwrap();
        let t = &loaded.rules.sla.triggers;
        assert!(
            matches!(&t["webinar-attended"].starts, TriggerStart::Task { queue: Some(q), .. } if &**q == "desk")
        );
        assert_eq!(
            t["quote-sent"].starts,
            TriggerStart::FollowUp {
                minutes: 7 * 24 * 60,
                calendar: None
            }
        );
        assert!(
            t["quote-sent"].at.ends_with("rules.toml:6"),
            "{}",
            t["quote-sent"].at
        );
        let p = loaded
            .rules
            .sla
            .policies
            .iter()
            .find(|p| &*p.id == "webinar")
            .unwrap();
        assert_eq!(p.when.trigger, ["webinar-attended".into()]);
        for (text, expected) in [
            ("[trigger.x]\nstarts = \"later\"\n", "rules.toml:2: unknown starts \"later\" in trigger \"x\" (expected task or follow-up)"),
            ("[trigger.x]\nstarts = \"follow-up\"\n", "rules.toml:2: trigger \"x\" starts a follow-up but says not when"),
            ("[trigger.x]\nstarts = \"follow-up\"\nfollow-up = \"1d\"\ncalendar = \"moon\"\n", "rules.toml:4: unknown calendar \"moon\" in trigger \"x\""),
            ("[trigger.x]\nstarts = \"task\"\nqueue = \"nowhere\"\n", "rules.toml:3: unknown queue \"nowhere\" in trigger \"x\""),
            ("[[policy]]\nid = \"p\"\nwhen = { trigger = \"nothing\" }\nfirst-response = \"1h\"\n", "rules.toml:3: unknown trigger \"nothing\""),
        ] {
            let errs = errors(text);
            assert!(has(&errs, expected), "{text}: {errs:?}");
        }
    }
}

#[cfg(test)]
mod lead_tests {
    use crate::rules::compile::tests::{errors, has};
    use crate::rules::fixture::with_rules;

    const TRIGGERS: &str = "[trigger.webinar]\nstarts = \"task\"\n\n[trigger.sent]\nstarts = \"follow-up\"\nfollow-up = \"7d\"\n\n";

    #[test]
    fn lead_rules_compile_and_their_mistakes_name_the_line() {
        let loaded = with_rules(&format!(
            "{TRIGGERS}[lead]\ntriggers = [\"webinar\"]\nrequires = [\"need\", \"budget\"]\nqueue = \"desk\"\nback-to = \"billing\"\ndisqualify-reasons = [\"no-budget\"]\n"
        ))
        .unwrap();
        let lead = loaded.rules.sla.lead.as_ref().unwrap();
        assert!(lead.is_lead("webinar") && !lead.is_lead("sent"));
        assert_eq!(lead.requires, ["need".into(), "budget".into()]);
        assert!(lead.at.ends_with("rules.toml:8"), "{}", lead.at);
        let lead = |body: &str| format!("{TRIGGERS}[lead]\n{body}");
        let ok = "requires = [\"need\"]\nqueue = \"desk\"\nback-to = \"billing\"\ndisqualify-reasons = [\"x\"]\n";
        for (text, expected) in [
            (lead(&format!("triggers = [\"nothing\"]\n{ok}")), "rules.toml:9: unknown trigger \"nothing\" in [lead]"),
            (lead(&format!("triggers = [\"sent\"]\n{ok}")), "rules.toml:9: trigger \"sent\" starts a follow-up, not a task"),
            (lead("triggers = [\"webinar\"]\nrequires = []\nqueue = \"desk\"\nback-to = \"billing\"\ndisqualify-reasons = [\"x\"]\n"), "rules.toml:10: [lead] requires names no field"),
            (lead("triggers = [\"webinar\"]\nrequires = [\"need\", \"need\"]\nqueue = \"desk\"\nback-to = \"billing\"\ndisqualify-reasons = [\"x\", \" \"]\n"), "rules.toml:10: [lead] requires names field \"need\" twice"),
            (lead("triggers = [\"webinar\"]\nrequires = [\"need\"]\nqueue = \"desk\"\nback-to = \"billing\"\ndisqualify-reasons = [\"x\", \" \"]\n"), "rules.toml:13: [lead] disqualify-reasons: a blank reason"),
            (lead("triggers = [\"webinar\"]\nrequires = [\"need\"]\nqueue = \"desk\"\nback-to = \"desk\"\ndisqualify-reasons = [\"x\"]\n"), "rules.toml:12: [lead] back-to is the queue leads go to"),
            (lead("triggers = [\"webinar\"]\nrequires = [\"need\"]\nqueue = \"desk\"\nback-to = \"nowhere\"\ndisqualify-reasons = [\"x\"]\n"), "rules.toml:12: unknown queue \"nowhere\" in [lead]"),
        ] {
            let errs = errors(&text);
            assert!(has(&errs, expected), "{text}: {errs:?}");
        }
    }
}

#[cfg(test)]
mod potential_tests {
    use crate::rules::compile::tests::{errors, has};
    use crate::rules::customers::Potential;
    use crate::rules::fixture::with_rules;

    #[test]
    fn policies_condition_on_the_potential_class_and_an_unknown_one_names_its_line() {
        let loaded = with_rules(
            "[[policy]]\nid = \"key-accounts\"\nwhen = { potential = [\"I\", \"ii\"] }\nfirst-response = \"1h\"\n",
        )
        .unwrap();
        let p = loaded
            .rules
            .sla
            .policies
            .iter()
            .find(|p| &*p.id == "key-accounts")
            .unwrap();
        assert_eq!(p.when.potential, [Potential::I, Potential::II]);
        let errs = errors(
            "[[policy]]\nid = \"p\"\nwhen = { potential = \"V\" }\nfirst-response = \"1h\"\n",
        );
        assert!(
            has(
                &errs,
                "rules.toml:3: unknown potential class \"V\" (expected I, II, III or IV)"
            ),
            "{errs:?}"
        );
        let errs = errors("[potential.I]\ncontact = \"carrier-pigeon\"\n");
        assert!(
            has(
                &errs,
                "rules.toml:2: unknown contact \"carrier-pigeon\" for potential class I"
            ),
            "{errs:?}"
        );
        let errs = errors("[potential.VI]\ncontact = \"standard\"\n");
        assert!(
            has(&errs, "rules.toml:1: unknown potential class \"VI\""),
            "{errs:?}"
        );
    }
}
