//! Ticket + compiled rules → decision with a reason for every field.
//!
//! Semantics, as documented for service managers in the README:
//! 1. The sender's organisation is looked up in the customer list (e-mail domain, then phone).
//!    If it has a segment, that segment is final: a hospital is business-critical whatever
//!    it writes.
//! 2. Rules are tried in order (files by name, rules top to bottom). A rule matches when all
//!    its conditions hold. Each field takes its value from the first matching rule that sets
//!    it; later rules only fill fields still unset. Tags of all matching rules are collected.
//! 3. Unset fields fall back: segment → category's → `[defaults]`; priority and queue →
//!    category's → segment's → `[defaults]`; automation → category's.
//! 4. Guarantees: a business-critical ticket and a ticket of a category not marked
//!    automatable are never answered by a machine alone (automation at most semi-automated).
//! 5. The time window is the segment's per-channel window, else the channel's, else the
//!    segment's; `within_window` is judged in that window's calendar.

use std::sync::Arc;

use crate::model::{
    Automation, Channel, Decision, Reason, ReasonKind, Segment, Steer, Ticket, Trace,
};
use crate::rules::customers::e164;
use crate::rules::{CompiledRules, Cond, Customer, FAILURE_WORDING};

/// One decision field while rules are applied: unset until a source decides it.
struct Slot<T>(Option<(T, Arc<Reason>)>);

impl<T> Slot<T> {
    fn offer(&mut self, value: Option<T>, reason: &Arc<Reason>) {
        if self.0.is_none() {
            if let Some(v) = value {
                self.0 = Some((v, reason.clone()));
            }
        }
    }

    fn or_else(self, fallback: impl FnOnce() -> (T, Arc<Reason>)) -> (T, Arc<Reason>) {
        self.0.unwrap_or_else(fallback)
    }
}

/// Decides segment, category, priority, window, automation, queue and tags for a ticket.
pub fn classify(rules: &CompiledRules, ticket: &Ticket) -> Decision {
    let email = ticket
        .from
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    // The customer and the reason naming how it was found.
    let customer: Option<(&Customer, &Arc<Reason>)> = email
        .as_deref()
        .and_then(|e| rules.customers.by_email(e))
        .map(|c| (c, &c.found_by_email))
        .or_else(|| {
            let phone = e164(ticket.from.phone.as_deref()?, &rules.defaults.country_code)?;
            let c = rules.customers.by_phone(&phone)?;
            Some((c, &c.found_by_phone))
        });

    let detected = rules.language.detect(&ticket.subject, &ticket.body);
    let (language, language_reason) = match detected {
        Some(code) => (code.clone(), rules.defaults.detected_language.clone()),
        None => rules.defaults.language.clone(),
    };

    // One scan per text field for all rules' patterns; then only the rules whose pattern
    // matched, and those without one, are tried (in rules order).
    let subject_hits = rules.text_set.matches(&ticket.subject);
    let body_hits = rules.text_set.matches(&ticket.body);
    let mut candidates = rules.rules_without_pattern.clone();
    for p in subject_hits.iter().chain(body_hits.iter()) {
        for &i in &rules.rules_by_pattern[p] {
            candidates[i as usize / 64] |= 1 << (i % 64);
        }
    }
    let sender_hits = match &email {
        Some(e) if !rules.sender_globs.is_empty() => rules.sender_globs.matches(e.as_str()),
        _ => Vec::new(),
    };
    let mut arrived: [Option<bool>; 4] = [None; 4];
    let mut arrived_in = |w: crate::model::TimeWindow| -> bool {
        *arrived[w.index()].get_or_insert_with(|| {
            rules.windows[w.index()]
                .calendar
                .is_open(ticket.received_at)
        })
    };

    let mut segment = Slot(None);
    if let Some((c, _)) = customer {
        if let (Some(s), Some(r)) = (c.segment, &c.segment_reason) {
            segment.0 = Some((s, r.clone()));
        }
    }
    let mut category = Slot(None);
    let mut priority = Slot(None);
    let mut automation = Slot(None);
    let mut queue = Slot(None);
    let mut tags: Vec<Arc<str>> = Vec::new();
    let mut matched = Vec::new();

    let in_order = candidates.iter().enumerate().flat_map(|(word, &bits)| {
        std::iter::successors(Some(bits), |b| Some(b & b.wrapping_sub(1)))
            .take_while(|b| *b != 0)
            .map(move |b| word * 64 + b.trailing_zeros() as usize)
    });
    for rule in in_order.map(|i| &rules.rules[i]) {
        let holds = rule.conds.iter().all(|cond| match cond {
            Cond::Channel(mask) => mask & (1 << ticket.channel.index()) != 0,
            Cond::Sender(globs) => globs.iter().any(|g| sender_hits.contains(g)),
            Cond::Pattern {
                pattern,
                subject,
                body,
            } => {
                (*subject && subject_hits.matched(*pattern))
                    || (*body && body_hits.matched(*pattern))
            }
            Cond::Organisation(names) => customer.is_some_and(|(c, _)| names.contains(&c.name)),
            Cond::CustomerTag(wanted) => {
                customer.is_some_and(|(c, _)| c.tags.iter().any(|t| wanted.contains(t)))
            }
            Cond::Potential(classes) => {
                customer.is_some_and(|(c, _)| c.potential.is_some_and(|p| classes.contains(&p)))
            }
            Cond::KnownCustomer(known) => customer.is_some() == *known,
            Cond::Language(langs) => langs.contains(&language),
            Cond::ArrivedIn(w) => arrived_in(*w),
            Cond::ArrivedOutside(w) => !arrived_in(*w),
        });
        if !holds {
            continue;
        }
        matched.push(rule.id.clone());
        let r = &rule.reason;
        segment.offer(rule.set.segment, r);
        category.offer(rule.set.category.clone(), r);
        priority.offer(rule.set.priority, r);
        automation.offer(rule.set.automation, r);
        queue.offer(rule.set.queue.clone(), r);
        for t in &rule.set.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    }

    let (category, category_reason) = category.or_else(|| rules.defaults.category.clone());
    let cat = rules.categories.get(&category);
    let (segment, segment_reason) = segment.or_else(|| {
        cat.and_then(|c| c.segment.clone())
            .unwrap_or_else(|| rules.defaults.segment.clone())
    });
    let seg = &rules.segments[segment.index()];
    let (priority, priority_reason) = priority.or_else(|| {
        cat.and_then(|c| c.priority.clone())
            .or_else(|| seg.priority.clone())
            .unwrap_or_else(|| rules.defaults.priority.clone())
    });
    let (queue, queue_reason) = queue.or_else(|| {
        cat.and_then(|c| c.queue.clone())
            .or_else(|| seg.queue.clone())
            .unwrap_or_else(|| rules.defaults.queue.clone())
    });
    let (wanted, wanted_reason) = automation.or_else(|| match cat {
        Some(c) => c.automation.clone(),
        None => (Automation::Human, rules.defaults.category.1.clone()),
    });
    let failure = rules.failure_pattern;
    let reports_failure = (cat.is_none_or(|c| c.outage_cap)
        && (subject_hits.matched(failure) || body_hits.matched(failure)))
    .then(|| reported_failure(&ticket.subject, &ticket.body))
    .flatten();
    let (mut automation, mut automation_reason) = cap_automation(
        wanted,
        wanted_reason,
        segment,
        cat.is_some_and(|c| c.automatable),
        reports_failure.as_deref(),
        &category,
    );
    // The organisation's potential class names the medium; a call or a personal mail is
    // no machine's answer.
    let contact = customer
        .and_then(|(c, _)| c.potential)
        .and_then(|p| Some((p, rules.contact[p.index()].as_ref()?)));
    if let Some((_, s)) = contact {
        let cap = s.contact.automation_cap();
        if automation > cap {
            automation_reason = Arc::new(Reason {
                why: format!("lowered from {automation} to {cap}: {}", s.reason.why).into(),
                ..(*s.reason).clone()
            });
            automation = cap;
        }
    }
    let contact = contact.map(|(p, s)| crate::model::ContactTrace {
        potential: p.as_str(),
        medium: s.contact.as_str(),
        reason: s.reason.clone(),
    });

    // A channel's window for this segment: its own override, the channel's, the segment's.
    let window_of = |channel: Channel| {
        seg.channel_windows[channel.index()]
            .clone()
            .or_else(|| rules.channel_windows[channel.index()].clone())
            .unwrap_or_else(|| seg.window.clone())
    };
    let (time_window, window_reason) = window_of(ticket.channel);
    let within_window = arrived_in(time_window);
    let window = &rules.windows[time_window.index()];
    let within_reason = if within_window {
        window.inside.clone()
    } else {
        window.outside.clone()
    };
    let not_served = seg.not_served[ticket.channel.index()].clone();
    let steer = if within_window && not_served.is_none() {
        None
    } else {
        let open: Vec<Channel> = Channel::ALL
            .iter()
            .copied()
            .filter(|c| *c != ticket.channel && seg.not_served[c.index()].is_none())
            // Mail and the web form take a request at any hour (the window says when it is
            // worked on), so a caller is pointed to them; a writer only to the phone, and
            // only while it is staffed — one written channel is no better than another.
            .filter(|c| match c {
                Channel::Phone => arrived_in(window_of(*c).0),
                _ => ticket.channel == Channel::Phone,
            })
            .collect();
        let closed = not_served.as_ref().unwrap_or(&within_reason);
        (!open.is_empty()).then(|| Steer {
            reason: Arc::new(Reason {
                why: format!(
                    "{}; open now: {}",
                    closed.why,
                    open.iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .into(),
                ..(**closed).clone()
            }),
            open,
        })
    };

    let organisation = customer.map(|(c, found_by)| (c.name.clone(), found_by.clone()));

    let mut d = Decision {
        segment,
        category,
        priority,
        time_window,
        within_window,
        automation,
        queue,
        tags,
        language,
        organisation: organisation.as_ref().map(|(n, _)| n.clone()),
        rules_version: rules.version.clone(),
        trace: Trace {
            segment: segment_reason,
            category: category_reason,
            priority: priority_reason,
            time_window: window_reason,
            within_window: within_reason,
            automation: automation_reason,
            queue: queue_reason,
            language: language_reason,
            organisation: organisation.map(|(_, r)| r),
            matched_rules: matched,
            steer,
            contact,
        },
    };
    screen(rules, &mut d, email.as_deref());
    d
}

/// Keeps a ticket out of a queue that screens its sender (a competitor or a consultant
/// asking sales for material): it goes where the screen says, for people only, and the trace
/// says why. Run again wherever something else chose the queue (an event's task).
pub fn screen(rules: &CompiledRules, d: &mut Decision, email: Option<&str>) {
    let Some(s) = rules.screens.get(&d.queue) else {
        return;
    };
    let customer = d
        .organisation
        .as_deref()
        .and_then(|n| rules.customers.get(n))
        .map(|c| (&*c.name, &c.tags[..]));
    let Some(why) = s.keeps_out(email, customer, &d.tags) else {
        return;
    };
    let reason = Arc::new(Reason {
        by: crate::model::ReasonKind::Screen,
        rule: Some(format!("queue.{}.screen", d.queue).into()),
        at: Some(s.at.clone()),
        why: format!("kept out of {}: {why}", d.queue).into(),
    });
    d.to_people(Some(s.to.clone()), reason);
}

/// [`FAILURE_WORDING`] for taking out the words, once the rules' pattern set (which it is
/// scanned with) said it matched.
static FAILURE_REGEX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(FAILURE_WORDING).expect("the failure wording is a valid expression")
});

/// The failure wording a request uses, if any (as written).
fn reported_failure(subject: &str, body: &str) -> Option<String> {
    [subject, body].into_iter().find_map(|text| {
        let c = FAILURE_REGEX.captures(text)?;
        c.get(1).map(|m| m.as_str().to_owned())
    })
}

/// Applies the product's guarantees to the automation level the rules allowed.
fn cap_automation(
    wanted: Automation,
    reason: Arc<Reason>,
    segment: Segment,
    automatable: bool,
    reports_failure: Option<&str>,
    category: &str,
) -> (Automation, Arc<Reason>) {
    let failure;
    let why = if segment == Segment::BusinessCritical {
        "business-critical tickets are never answered by a machine alone"
    } else if !automatable {
        "its category is not marked automatable"
    } else if let Some(words) = reports_failure {
        failure = format!("it reports a failure (\"{words}\"), which no machine answers");
        &failure
    } else {
        return (wanted, reason);
    };
    let capped = wanted.min(Automation::SemiAutomated);
    if capped == wanted {
        return (wanted, reason);
    }
    (
        capped,
        Arc::new(Reason {
            by: ReasonKind::Cap,
            rule: reason.rule.clone(),
            at: reason.at.clone(),
            why: format!(
                "lowered from {wanted} to {capped}: {why} (category {category}); allowed by: {}",
                reason.why
            )
            .into(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, Priority, Sender, TimeWindow};
    use crate::rules::fixture::with_rules;
    use chrono::{DateTime, TimeZone, Utc};

    #[test]
    fn failure_wording_is_found_between_word_edges_next_to_umlauts() {
        // As written, at the text's edges and beside punctuation.
        assert_eq!(reported_failure("Störung", "").as_deref(), Some("Störung"));
        assert_eq!(
            reported_failure("Webshop", "Seit heute früh: Totalausfall!").as_deref(),
            Some("Totalausfall")
        );
        assert_eq!(
            reported_failure("", "Der Server ist überlastet.").as_deref(),
            Some("überlastet")
        );
        assert_eq!(
            reported_failure("Shop is down", "").as_deref(),
            Some("is down")
        );
        // Inside a longer word (umlaut neighbours included) it is no failure report.
        assert_eq!(reported_failure("Ausfallsicherheit", "Störungsfrei"), None);
        assert_eq!(reported_failure("Überausfallen", "Abstürzte"), None);
        assert_eq!(
            reported_failure("Passwort vergessen", "Bitte zurücksetzen"),
            None
        );
    }

    /// Monday 2026-11-23 10:00 in Vienna: inside office hours.
    fn monday_morning() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    /// Saturday 2026-11-28 10:00 in Vienna.
    fn saturday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap()
    }

    fn ticket(channel: Channel, subject: &str, body: &str, email: Option<&str>) -> Ticket {
        Ticket {
            channel,
            subject: subject.into(),
            body: body.into(),
            from: Sender {
                email: email.map(Into::into),
                ..Sender::default()
            },
            received_at: monday_morning(),
        }
    }

    #[test]
    fn rules_condition_on_the_potential_class_of_the_customer_list() {
        let customers = "organisation,segment,domains,phones,tags,calendar,potential\nBig AG,commercial,big.example,,,,I\nSmall KG,commercial,small.example,,,,IV\n";
        let rules = "[queue.key-accounts]\n\n[[rule]]\nid = \"key-accounts\"\nwhen = { potential = [\"I\", \"II\"] }\nset = { queue = \"key-accounts\" }\n";
        let loaded = crate::rules::compile_sources(&[
            ("service.toml", crate::rules::fixture::SERVICE),
            ("rules.toml", rules),
            ("customers.csv", customers),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let big = classify(
            &loaded.rules,
            &ticket(Channel::Email, "Frage", "Eine Frage", Some("a@big.example")),
        );
        assert_eq!(&*big.queue, "key-accounts");
        assert_eq!(big.trace.matched_rules, vec![Arc::from("key-accounts")]);
        let small = classify(
            &loaded.rules,
            &ticket(
                Channel::Email,
                "Frage",
                "Eine Frage",
                Some("a@small.example"),
            ),
        );
        assert!(
            small.trace.matched_rules.is_empty(),
            "{:?}",
            small.trace.matched_rules
        );
        assert_ne!(&*small.queue, "key-accounts");
        let err = with_rules(
            "[[rule]]\nid = \"x\"\nwhen = { potential = [\"V\"] }\nset = { priority = \"P1\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("rules.toml:3")
                && err.contains("unknown potential class \"V\" (expected I, II, III or IV)"),
            "{err}"
        );
    }

    fn decide(rules: &str, t: &Ticket) -> Decision {
        let loaded = with_rules(rules).unwrap_or_else(|e| panic!("{e}"));
        classify(&loaded.rules, t)
    }

    const PASSWORD: &str = r#"
[[rule]]
id = "pw"
when.keywords = ["passwort*", "password"]
set = { category = "password-reset", tags = ["pw"] }

[[rule]]
id = "urgent"
when.keywords = ["dringend", "urgent"]
set = { priority = "P1", category = "billing", tags = ["urgent"] }
"#;

    #[test]
    fn first_matching_rule_decides_a_field_and_later_rules_only_fill_open_ones() {
        let t = ticket(
            Channel::Email,
            "Passwort dringend",
            "bitte zurücksetzen",
            None,
        );
        let d = decide(PASSWORD, &t);
        assert_eq!(&*d.category, "password-reset");
        assert_eq!(d.trace.category.rule.as_deref(), Some("pw"));
        assert_eq!(d.trace.category.at.as_deref(), Some("rules.toml:2"));
        assert_eq!(d.priority, Priority::P1);
        assert_eq!(d.trace.priority.rule.as_deref(), Some("urgent"));
        assert_eq!(d.tags, vec![Arc::from("pw"), Arc::from("urgent")]);
        assert_eq!(
            d.trace.matched_rules,
            vec![Arc::from("pw"), Arc::from("urgent")]
        );
    }

    #[test]
    fn rules_without_text_conditions_keep_their_place_in_the_order() {
        let web_first = r#"
[[rule]]
id = "web"
when.channel = "web"
set = { priority = "P2" }

[[rule]]
id = "kw"
when.keywords = "passwort"
set = { priority = "P1" }
"#;
        let t = ticket(Channel::Web, "Passwort", "", None);
        assert_eq!(decide(web_first, &t).priority, Priority::P2);
        let kw_first = web_first.replace("\"web\"\nwhen", "\"web2\"\nwhen");
        let (a, b) = kw_first.split_at(kw_first.find("[[rule]]\nid = \"kw\"").unwrap());
        let swapped = format!("{b}\n{a}");
        assert_eq!(decide(&swapped, &t).priority, Priority::P1);
    }

    #[test]
    fn undecided_fields_fall_back_to_category_then_segment_then_defaults() {
        let rules = r#"
[[rule]]
id = "bill"
when.keywords = "rechnung"
set = { category = "billing" }
"#;
        let d = decide(rules, &ticket(Channel::Web, "Rechnung falsch", "", None));
        // billing brings segment commercial and queue billing; priority from [defaults].
        assert_eq!(d.segment, Segment::Commercial);
        assert_eq!(d.trace.segment.by, ReasonKind::Category);
        assert_eq!(&*d.queue, "billing");
        assert_eq!(d.trace.queue.by, ReasonKind::Category);
        assert_eq!(d.priority, Priority::P3);
        assert_eq!(d.trace.priority.by, ReasonKind::Default);
        assert_eq!(d.trace.priority.at.as_deref(), Some("service.toml:4"));

        let d = decide(rules, &ticket(Channel::Web, "Hallo", "eine Frage", None));
        assert_eq!(&*d.category, "general");
        assert_eq!(d.segment, Segment::Administrative);
        assert_eq!(d.trace.category.by, ReasonKind::Default);
        assert_eq!(d.automation, Automation::Human);
    }

    #[test]
    fn a_customer_segment_is_final_whatever_the_text_says() {
        let rules = r#"
[[rule]]
id = "bill"
when.keywords = "rechnung"
set = { category = "billing", segment = "commercial" }
"#;
        let t = ticket(
            Channel::Email,
            "Rechnung",
            "",
            Some("Verwaltung@IT.LKH.example"),
        );
        let d = decide(rules, &t);
        assert_eq!(d.segment, Segment::BusinessCritical);
        assert_eq!(d.trace.segment.by, ReasonKind::Customer);
        assert_eq!(d.trace.segment.at.as_deref(), Some("customers.csv:2"));
        assert_eq!(d.organisation.as_deref(), Some("LKH"));
        assert_eq!(&*d.category, "billing");
    }

    #[test]
    fn phone_numbers_find_the_customer() {
        let mut t = ticket(Channel::Phone, "Anruf", "Drucker geht nicht", None);
        t.from.phone = Some("0316 1 4455".into());
        let d = decide("", &t);
        assert_eq!(d.organisation.as_deref(), Some("LKH"));
        assert_eq!(d.segment, Segment::BusinessCritical);
    }

    #[test]
    fn keywords_match_whole_words_unless_a_star_lets_them_continue() {
        let rules = r#"
[[rule]]
id = "down"
when.keywords = ["down", "störung"]
set = { category = "outage" }

[[rule]]
id = "pw"
when.keywords = ["*passwort*"]
set = { category = "password-reset" }
"#;
        let cat = |s: &str| decide(rules, &ticket(Channel::Web, s, "", None)).category;
        assert_eq!(&*cat("Server is down!"), "outage");
        assert_eq!(&*cat("Störung im Netz"), "outage");
        assert_eq!(&*cat("STÖRUNG"), "outage");
        assert_eq!(&*cat("Where is the download?"), "general");
        assert_eq!(&*cat("Netzstörung"), "general");
        assert_eq!(&*cat("Domänenpasswortänderung nötig"), "password-reset");
    }

    #[test]
    fn keyword_phrases_allow_any_whitespace_between_words() {
        let rules = "[[rule]]\nid = \"ooo\"\nwhen.keywords = \"out of office\"\nset = { category = \"password-reset\" }\n";
        let d = decide(
            rules,
            &ticket(Channel::Web, "", "my Out  of\noffice reply", None),
        );
        assert_eq!(&*d.category, "password-reset");
    }

    #[test]
    fn subject_regex_is_case_insensitive_unless_told_otherwise() {
        let rules = r#"
[[rule]]
id = "ci"
when.subject = "^re:\\s*\\[T-\\d+\\]"
set = { tags = ["reply"] }

[[rule]]
id = "cs"
when.body = "(?-i)URGENT"
set = { tags = ["shouting"] }
"#;
        let d = decide(
            rules,
            &ticket(Channel::Email, "RE: [T-000123] x", "urgent", None),
        );
        assert_eq!(d.tags, vec![Arc::from("reply")]);
        let d = decide(rules, &ticket(Channel::Email, "x", "URGENT", None));
        assert_eq!(d.tags, vec![Arc::from("shouting")]);
    }

    #[test]
    fn all_conditions_of_a_rule_must_hold() {
        let rules = r#"
[[rule]]
id = "web-shop"
when = { channel = ["web"], from = ["*.shop.example", "shop.example"], language = "de" }
set = { tags = ["hit"] }
"#;
        let hit = |ch, email: &str, text: &str| {
            !decide(rules, &ticket(ch, text, "", Some(email)))
                .tags
                .is_empty()
        };
        let de = "Ich habe eine Frage zu meiner Bestellung von gestern";
        assert!(hit(Channel::Web, "a@shop.example", de));
        assert!(hit(Channel::Web, "a@eu.shop.example", de));
        assert!(!hit(Channel::Email, "a@shop.example", de));
        assert!(!hit(Channel::Web, "a@other.example", de));
        assert!(!hit(
            Channel::Web,
            "a@shop.example",
            "I have a question about my order from yesterday"
        ));
    }

    #[test]
    fn customer_tag_and_known_customer_conditions() {
        let rules = r#"
[[rule]]
id = "hospital"
when.customer-tag = "hospital"
set = { tags = ["hospital"] }

[[rule]]
id = "unknown"
when.known-customer = false
set = { tags = ["unknown-sender"] }
"#;
        let d = decide(
            rules,
            &ticket(Channel::Email, "x", "", Some("a@lkh.example")),
        );
        assert_eq!(d.tags, vec![Arc::from("hospital")]);
        let d = decide(
            rules,
            &ticket(Channel::Email, "x", "", Some("a@nowhere.example")),
        );
        assert_eq!(d.tags, vec![Arc::from("unknown-sender")]);
    }

    #[test]
    fn arrival_window_conditions_use_the_window_calendar() {
        let rules = r#"
[[rule]]
id = "night"
when.arrived-outside = "business-hours"
set = { tags = ["after-hours"] }
"#;
        let mut t = ticket(Channel::Email, "x", "", None);
        assert!(decide(rules, &t).tags.is_empty());
        t.received_at = saturday();
        assert_eq!(decide(rules, &t).tags, vec![Arc::from("after-hours")]);
    }

    #[test]
    fn business_critical_tickets_are_never_automated() {
        let rules = r#"
[[rule]]
id = "pw"
when.keywords = "passwort"
set = { category = "password-reset", automation = "automated" }
"#;
        let t = ticket(Channel::Email, "Passwort", "", Some("a@shop.example"));
        assert_eq!(decide(rules, &t).automation, Automation::Automated);
        let t = ticket(Channel::Email, "Passwort", "", Some("a@lkh.example"));
        let d = decide(rules, &t);
        assert_eq!(d.automation, Automation::SemiAutomated);
        assert_eq!(d.trace.automation.by, ReasonKind::Cap);
        assert_eq!(d.trace.automation.rule.as_deref(), Some("pw"));
        assert!(d.trace.automation.why.contains("business-critical"));
    }

    #[test]
    fn a_report_that_something_is_broken_is_never_automated_whatever_it_names() {
        let rules = r#"
[[rule]]
id = "shop"
when.keywords = ["webshop", "vpn"]
set = { category = "password-reset", automation = "automated" }
"#;
        let t = ticket(
            Channel::Email,
            "Webshop",
            "Wie löse ich einen Gutschein ein?",
            Some("a@shop.example"),
        );
        assert_eq!(decide(rules, &t).automation, Automation::Automated);
        for (subject, body, words) in [
            (
                "Webshop ausgefallen",
                "Seit 8 Uhr zeigt der Webshop nur Fehler 500.",
                "ausgefallen",
            ),
            (
                "Webshop",
                "Der Webshop geht nicht mehr, wir verlieren Bestellungen.",
                "geht nicht mehr",
            ),
            (
                "VPN",
                "The VPN is down for all of us since this morning.",
                "is down",
            ),
            (
                "webshop",
                "Checkout not working, we are losing orders!",
                "not working",
            ),
        ] {
            let d = decide(
                rules,
                &ticket(Channel::Email, subject, body, Some("a@shop.example")),
            );
            assert_eq!(d.automation, Automation::SemiAutomated, "{body}");
            assert_eq!(d.trace.automation.by, ReasonKind::Cap, "{body}");
            assert!(
                d.trace.automation.why.contains(words),
                "{}",
                d.trace.automation.why
            );
        }
        // A category may leave it out.
        let exempt = r#"
[category.status]
automatable = true
outage-cap = false

[[rule]]
id = "status"
when.keywords = "vpn"
set = { category = "status", automation = "automated" }
"#;
        let t = ticket(
            Channel::Email,
            "VPN",
            "Is the VPN down?",
            Some("a@shop.example"),
        );
        assert_eq!(decide(exempt, &t).automation, Automation::Automated);
    }

    #[test]
    fn categories_not_marked_automatable_are_never_automated() {
        let rules = r#"
[[rule]]
id = "bill"
when.keywords = "rechnung"
set = { category = "billing", automation = "automated" }
"#;
        // Compiles with a warning; the cap still applies at run time.
        let d = decide(rules, &ticket(Channel::Web, "Rechnung", "", None));
        assert_eq!(d.automation, Automation::SemiAutomated);
        assert!(d.trace.automation.why.contains("not marked automatable"));
    }

    #[test]
    fn automatable_category_allows_automation_by_default() {
        let rules = "[[rule]]\nid = \"pw\"\nwhen.keywords = \"passwort\"\nset = { category = \"password-reset\" }\n";
        let d = decide(rules, &ticket(Channel::Web, "Passwort", "", None));
        assert_eq!(d.automation, Automation::Automated);
        assert_eq!(d.trace.automation.by, ReasonKind::Category);
    }

    #[test]
    fn phone_is_served_in_business_hours_unless_the_segment_overrides_it() {
        let mut t = ticket(Channel::Phone, "Anruf", "", None);
        t.received_at = saturday();
        let d = decide("", &t);
        assert_eq!(d.time_window, TimeWindow::BusinessHours);
        assert_eq!(d.trace.time_window.by, ReasonKind::Channel);
        assert!(!d.within_window);
        assert_eq!(d.trace.within_window.by, ReasonKind::Calendar);

        t.from.email = Some("a@lkh.example".into());
        let d = decide("", &t);
        assert_eq!(d.time_window, TimeWindow::OnCall);
        assert_eq!(d.trace.time_window.by, ReasonKind::Segment);

        let mut t = ticket(Channel::Email, "Mail", "", Some("a@lkh.example"));
        t.received_at = saturday();
        let d = decide("", &t);
        assert_eq!(d.time_window, TimeWindow::TwentyFourSeven);
        assert!(d.within_window);
    }

    #[test]
    fn a_closed_or_unserved_channel_points_to_the_open_ones() {
        // A hospital's hotline (on-call, here office hours) is closed on Saturday; mail and
        // web serve it round the clock.
        let mut t = ticket(Channel::Phone, "Anruf", "", Some("a@lkh.example"));
        t.received_at = saturday();
        let steer = decide("", &t).trace.steer.expect("steered");
        assert_eq!(steer.open, vec![Channel::Email, Channel::Web]);
        assert_eq!(steer.reason.by, ReasonKind::Calendar);
        assert!(
            steer.reason.why.ends_with("; open now: email, web"),
            "{:?}",
            steer.reason
        );
        // Inside its hours nothing is said.
        t.received_at = monday_morning();
        assert_eq!(decide("", &t).trace.steer, None);
        t.from.email = None;

        // A segment the phone does not serve: told so even in office hours, with the line.
        let service = crate::rules::fixture::SERVICE.replace(
            "[segment.administrative]\nwindow = \"business-hours\"",
            "[segment.administrative]\nwindow = \"business-hours\"\nchannel.phone = \"none\"",
        );
        let loaded = crate::rules::compile_sources(&[
            ("service.toml", &service),
            ("customers.csv", crate::rules::fixture::CUSTOMERS),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let d = classify(&loaded.rules, &t);
        let steer = d.trace.steer.expect("steered");
        assert_eq!(steer.open, vec![Channel::Email, Channel::Web]);
        assert_eq!(steer.reason.by, ReasonKind::Segment);
        assert!(steer
            .reason
            .why
            .starts_with("administrative is not served by phone"));
        assert!(steer
            .reason
            .at
            .as_deref()
            .unwrap()
            .starts_with("service.toml:"));
        // A writer whose mail is not worked now while the phone is staffed: to the phone.
        let service = crate::rules::fixture::SERVICE
            .replace("extended-hours = \"office\"", "extended-hours = \"never\"")
            + "\n[calendar.never]\ntimezone = \"UTC\"\nhours = {}\n";
        let never = crate::rules::compile_sources(&[
            ("service.toml", &service),
            ("customers.csv", crate::rules::fixture::CUSTOMERS),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let w = ticket(Channel::Email, "Rechnung", "", Some("x@shop.example"));
        let d = classify(&never.rules, &w);
        assert!(!d.within_window);
        let steer = d.trace.steer.expect("steered to the phone");
        assert_eq!(steer.open, vec![Channel::Phone]);
        assert!(
            steer.reason.why.ends_with("; open now: phone"),
            "{:?}",
            steer.reason
        );
        // Mail in its window is not steered anywhere.
        let mut m = ticket(Channel::Email, "Mail", "", None);
        m.received_at = saturday();
        assert_eq!(classify(&loaded.rules, &m).trace.steer, None);
    }

    #[test]
    fn language_is_detected_or_defaulted_with_a_reason() {
        let d = decide(
            "",
            &ticket(
                Channel::Web,
                "Printer",
                "The printer on the second floor is jammed again.",
                None,
            ),
        );
        assert_eq!(&*d.language, "en");
        assert_eq!(d.trace.language.by, ReasonKind::Detected);
        let d = decide("", &ticket(Channel::Web, "?", "", None));
        assert_eq!(&*d.language, "de");
        assert_eq!(d.trace.language.by, ReasonKind::Default);
    }

    #[test]
    fn the_decision_serialises_with_the_fixed_vocabulary() {
        let d = decide(PASSWORD, &ticket(Channel::Web, "Passwort", "", None));
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["segment"], "administrative");
        assert_eq!(v["time_window"], "business-hours");
        assert_eq!(v["automation"], "automated");
        assert_eq!(v["trace"]["category"]["by"], "rule");
        assert_eq!(v["trace"]["category"]["at"], "rules.toml:2");
    }
}
