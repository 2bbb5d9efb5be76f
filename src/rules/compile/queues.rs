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

/// Who a queue screens out (`screen`), and where their tickets go instead.
#[derive(Clone, Debug, PartialEq)]
pub struct Screen {
    pub customer_tags: Vec<Arc<str>>,
    /// Lower-case mail domains.
    pub domains: Vec<String>,
    pub tags: Vec<Arc<str>>,
    pub to: Arc<str>,
    /// `file:line` of the `screen`.
    pub at: Arc<str>,
}

/// The queues' screens by queue, each `to` a known queue other than its own, each customer
/// tag one the customer list has.
pub(super) fn screens(
    ctx: &mut Ctx,
    docs: &BTreeMap<String, At<QueueDoc>>,
    queues: &BTreeMap<Arc<str>, Queue>,
    customers: &crate::rules::customers::CustomerIndex,
) -> BTreeMap<Arc<str>, Screen> {
    let mut known_tags: Vec<&str> = customers
        .iter()
        .flat_map(|c| c.tags.iter().map(|t| &**t))
        .collect();
    known_tags.sort_unstable();
    known_tags.dedup();
    let mut out = BTreeMap::new();
    for (id, q) in docs {
        let Some(doc) = &q.item.screen else { continue };
        let (file, span) = (q.file, doc.span());
        let s = doc.get_ref();
        let Some(to) = queue_ref(ctx, queues, file, &s.to) else {
            continue;
        };
        if *to == **id {
            ctx.error(
                file,
                &s.to.span(),
                format!("queue \"{id}\" screens tickets out to itself"),
            );
            continue;
        }
        for t in s
            .customer_tags
            .iter()
            .filter(|t| !known_tags.contains(&t.as_str()))
        {
            ctx.error(
                file,
                &span,
                format!(
                    "unknown customer tag \"{t}\" in the screen of queue \"{id}\" (defined in the customer list: {})",
                    known_tags.join(", ")
                ),
            );
        }
        if s.customer_tags.is_empty() && s.domains.is_empty() && s.tags.is_empty() {
            ctx.error(
                file,
                &span,
                format!(
                    "the screen of queue \"{id}\" names nobody (customer-tags, domains or tags)"
                ),
            );
        }
        out.insert(
            Arc::from(id.as_str()),
            Screen {
                customer_tags: s
                    .customer_tags
                    .iter()
                    .map(|t| Arc::from(t.as_str()))
                    .collect(),
                domains: s
                    .domains
                    .iter()
                    .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                    .collect(),
                tags: s.tags.iter().map(|t| Arc::from(t.as_str())).collect(),
                to,
                at: ctx.at(file, &span),
            },
        );
    }
    out
}

impl Screen {
    /// Why a ticket from `email` of an organisation with `customer` (name, tags) and with
    /// `tags` is kept out, if it is.
    pub fn keeps_out(
        &self,
        email: Option<&str>,
        customer: Option<(&str, &[Arc<str>])>,
        tags: &[Arc<str>],
    ) -> Option<String> {
        if let Some((name, ctags)) = customer {
            if let Some(t) = ctags.iter().find(|t| self.customer_tags.contains(t)) {
                return Some(format!("{name} is a {t} in the customer list"));
            }
        }
        if let Some(domain) = email
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_lowercase())
        {
            if let Some(d) = self
                .domains
                .iter()
                .find(|d| domain == **d || domain.ends_with(&format!(".{d}")))
            {
                return Some(format!("the sender's domain {domain} is listed ({d})"));
            }
        }
        tags.iter()
            .find(|t| self.tags.contains(t))
            .map(|t| format!("the rules tagged it {t}"))
    }
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

#[cfg(test)]
mod screen_tests {
    use crate::rules::compile::tests::{errors, has};

    #[test]
    fn a_screen_names_a_known_queue_known_customer_tags_and_somebody() {
        for (text, expected) in [
            (
                "[queue.sales]\nscreen = { domains = [\"rival.example\"], to = \"nowhere\" }\n",
                "rules.toml:2: unknown queue \"nowhere\"",
            ),
            (
                "[queue.sales]\nscreen = { domains = [\"rival.example\"], to = \"sales\" }\n",
                "rules.toml:2: queue \"sales\" screens tickets out to itself",
            ),
            (
                "[queue.sales]\nscreen = { customer-tags = [\"rival\"], to = \"desk\" }\n",
                "rules.toml:2: unknown customer tag \"rival\" in the screen of queue \"sales\"",
            ),
            (
                "[queue.sales]\nscreen = { to = \"desk\" }\n",
                "rules.toml:2: the screen of queue \"sales\" names nobody",
            ),
        ] {
            let errs = errors(text);
            assert!(has(&errs, expected), "{text}: {errs:?}");
        }
    }

    #[test]
    fn a_screen_keeps_out_by_customer_tag_domain_and_subdomain_or_tag() {
        let s = super::Screen {
            customer_tags: vec!["competitor".into()],
            domains: vec!["rival.example".into()],
            tags: vec!["material-request".into()],
            to: "review".into(),
            at: "catalogue.toml:9".into(),
        };
        let tags = ["competitor".into()];
        assert!(s
            .keeps_out(None, Some(("Rival AG", &tags)), &[])
            .unwrap()
            .contains("Rival AG is a competitor"));
        assert!(s
            .keeps_out(Some("a@mail.rival.example"), None, &[])
            .is_some());
        assert!(s.keeps_out(Some("a@notrival.example"), None, &[]).is_none());
        assert!(s
            .keeps_out(
                Some("a@customer.example"),
                None,
                &["material-request".into()]
            )
            .is_some());
        assert_eq!(
            s.keeps_out(Some("a@customer.example"), Some(("Kunde", &[])), &[]),
            None
        );
    }
}
