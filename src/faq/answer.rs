//! What the FAQ does for a classified ticket: answer it, suggest articles to an agent, or
//! leave it to people — and why. Pure.

use serde::Serialize;

use super::{FaqIndex, Hit};
use crate::model::{Automation, Decision, Ticket};
use crate::rules::FaqRules;

/// How many suggestions an agent sees.
pub const SUGGESTIONS: usize = 3;

/// The FAQ outcome of a ticket, as stored with it and shown in the API.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct FaqResult {
    /// `automated` (answered), `suggested` (for an agent) or `human`.
    pub mode: String,
    /// The article sent, for `automated`.
    pub article: Option<String>,
    pub confidence: Option<f64>,
    /// Up to three articles, best first; only the first has a measured confidence.
    pub suggestions: Vec<Suggestion>,
    /// Why: which threshold, or why no automatic answer.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Suggestion {
    pub article: String,
    pub title: String,
    /// The calibrated confidence, for the best article only: the others are ranked, not
    /// measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The search score relative to the best article's (1 for the best).
    #[serde(default)]
    pub relative_score: f64,
}

impl FaqResult {
    /// No automatic answer may go out (a machine sent the request, it is spam, or its
    /// sender had enough of them): an answer that would have gone out is only suggested.
    pub fn withhold(self, why: &str) -> FaqResult {
        if self.mode != "automated" {
            return self;
        }
        FaqResult {
            mode: "suggested".into(),
            article: None,
            reason: format!("{}; not sent automatically: {why}", self.reason),
            ..self
        }
    }
}

/// How a ticket's question was handled, as the automation figures count it: the share a
/// machine answered, the share an agent got suggestions for, and the questions left to
/// people — apart, because "no article fits" is the list new articles are written from and
/// "the rules say people answer this" is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handling {
    Automated,
    Suggested,
    NoArticle,
    ByRules,
}

impl Handling {
    pub const ALL: [Handling; 4] = [
        Handling::Automated,
        Handling::Suggested,
        Handling::NoArticle,
        Handling::ByRules,
    ];

    /// From the stored FAQ mode and whether the rules set the ticket's automation to human.
    pub fn of(mode: &str, automation_human: bool) -> Handling {
        match mode {
            "automated" => Handling::Automated,
            "suggested" => Handling::Suggested,
            _ if automation_human => Handling::ByRules,
            _ => Handling::NoArticle,
        }
    }

    /// The position in [`Handling::ALL`], as the store keeps it.
    pub fn code(self) -> i16 {
        Handling::ALL.iter().position(|h| *h == self).unwrap_or(0) as i16
    }

    pub fn from_code(code: i16) -> Option<Handling> {
        Handling::ALL.get(usize::try_from(code).ok()?).copied()
    }
}

/// Decides from the rules' automation level and the best article's confidence.
pub fn decide(index: &FaqIndex, rules: &FaqRules, ticket: &Ticket, d: &Decision) -> FaqResult {
    decide_on(&search(index, ticket, d), rules, d)
}

/// The articles a classified ticket is decided on: none when people answer it anyway.
pub fn search(index: &FaqIndex, ticket: &Ticket, d: &Decision) -> Vec<Hit> {
    if d.automation == Automation::Human || index.is_empty() {
        return Vec::new();
    }
    index.search(
        &d.language,
        &format!("{}\n{}", ticket.subject, ticket.body),
        SUGGESTIONS,
    )
}

/// Decides on the articles [`search`] found for the ticket.
pub fn decide_on(hits: &[Hit], rules: &FaqRules, d: &Decision) -> FaqResult {
    let suggestions: Vec<Suggestion> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| Suggestion {
            article: h.article.clone(),
            title: h.title.clone(),
            confidence: (i == 0).then_some(h.confidence),
            relative_score: f64::from(h.relative_score),
        })
        .collect();
    let best = hits.first();
    let confidence = best.map(|h| h.confidence);
    let auto = rules.auto_threshold(&d.category);
    let human = |reason: String| FaqResult {
        mode: "human".into(),
        article: None,
        confidence,
        suggestions: Vec::new(),
        reason,
    };
    if d.automation == Automation::Human {
        return human(format!("automation is human: {}", d.trace.automation.why));
    }
    let Some(best) = best else {
        return human(format!("no FAQ article in {} matches", d.language));
    };
    let c = best.confidence;
    // What the best article lacks, for an answer that is not sent: the words of the
    // question it never mentions.
    let lacks = match &best.evidence {
        Some(e) if !e.missing.is_empty() && e.coverage < 1.0 => format!(
            " — the question names {}, which article {} never mentions",
            e.missing.join(", "),
            best.article
        ),
        _ => String::new(),
    };
    if d.automation == Automation::Automated && c >= auto {
        return FaqResult {
            mode: "automated".into(),
            article: Some(best.article.clone()),
            confidence,
            suggestions,
            reason: format!(
                "article {} with confidence {c:.2} ≥ {auto:.2}, the automatic threshold for {}",
                best.article, d.category
            ),
        };
    }
    if c >= rules.suggest_threshold {
        let why = if d.automation == Automation::Automated {
            format!("confidence {c:.2} is below the automatic threshold {auto:.2}{lacks}")
        } else {
            format!("automation is semi-automated: {}", d.trace.automation.why)
        };
        return FaqResult {
            mode: "suggested".into(),
            article: None,
            confidence,
            suggestions,
            reason: format!("{why}; suggested to an agent"),
        };
    }
    human(format!(
        "best article {} has confidence {c:.2}, below the suggestion threshold {:.2}{lacks}",
        best.article, rules.suggest_threshold
    ))
}

/// An automatic answer as plain text (the message and the mail's text part) and as HTML
/// (the mail's alternative part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composed {
    pub text: String,
    pub html: String,
}

/// The automatic answer in the ticket's language: greeting, the article, the ticket number
/// (as [`crate::model::TICKET_NUMBER`]) and how to say it did not help — and, where the
/// ticket was steered to the phone (its written channel is not worked now, the phone is
/// staffed), that the phone is open now. The article's Markdown becomes readable plain text
/// and HTML; no markup reaches the customer as characters.
pub fn compose(
    language: &str,
    title: &str,
    body: &str,
    ticket_number: &str,
    steer: Option<&crate::model::Steer>,
) -> Composed {
    let phone = steer.is_some_and(|s| s.open.contains(&crate::model::Channel::Phone));
    let (hello, intro, outro, call, bye) = if language == "de" {
        (
            "Guten Tag,",
            format!(
                "vielen Dank für Ihre Anfrage {ticket_number}. Diese Antwort kommt automatisch \
                 aus unserer Wissensdatenbank:"
            ),
            "Hat Ihnen das nicht geholfen? Antworten Sie einfach auf diese Nachricht: Ihre \
             Anfrage geht dann sofort an unser Service-Team, und Sie verlieren keine Zeit.",
            " Dringend? Telefonisch sind wir jetzt erreichbar.",
            ["Freundliche Grüße", "Ihr Service Desk"],
        )
    } else {
        (
            "Hello,",
            format!(
                "thank you for your request {ticket_number}. This answer comes automatically \
                 from our knowledge base:"
            ),
            "Didn't this help? Just reply to this message: your request then goes straight to \
             our service team, and you lose no time.",
            " Urgent? Our phone line is staffed now.",
            ["Kind regards", "Your Service Desk"],
        )
    };
    let call = if phone { call } else { "" };
    let text = format!(
        "{hello}\n\n{intro}\n\n{title}\n\n{}\n\n{outro}{call}\n\n{}\n{}",
        super::markdown::to_text(body),
        bye[0],
        bye[1]
    );
    let e = super::markdown::escape;
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>{}</p>\n<p>{}</p>\n<h2>{}</h2>\n{}<p>{}{}</p>\n<p>{}<br>\n{}</p>\n</body></html>\n",
        e(hello),
        e(&intro),
        e(title),
        super::markdown::to_html(body),
        e(outro),
        e(call),
        e(bye[0]),
        e(bye[1])
    );
    Composed { text, html }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, Reason, ReasonKind, Steer};
    use std::sync::Arc;

    #[test]
    fn handling_tells_no_article_from_the_rules_and_round_trips_its_code() {
        assert_eq!(Handling::of("automated", false), Handling::Automated);
        assert_eq!(Handling::of("suggested", false), Handling::Suggested);
        assert_eq!(Handling::of("human", false), Handling::NoArticle);
        assert_eq!(Handling::of("human", true), Handling::ByRules);
        for h in Handling::ALL {
            assert_eq!(Handling::from_code(h.code()), Some(h));
        }
        assert_eq!(Handling::from_code(4), None);
        assert_eq!(Handling::from_code(-1), None);
    }

    #[test]
    fn the_answer_says_the_phone_is_open_only_when_the_ticket_was_steered_there() {
        let steer = |open: Vec<Channel>| Steer {
            open,
            reason: Arc::new(Reason {
                by: ReasonKind::Calendar,
                rule: None,
                at: None,
                why: "x".into(),
            }),
        };
        let phone = steer(vec![Channel::Phone]);
        let de = compose("de", "Passwort", "So geht's.", "T-000001", Some(&phone)).text;
        assert!(de.contains("Telefonisch sind wir jetzt erreichbar"), "{de}");
        assert!(de.contains("T-000001") && de.ends_with("Ihr Service Desk"));
        let en = compose("en", "Password", "Like this.", "T-000001", Some(&phone)).text;
        assert!(en.contains("Our phone line is staffed now"), "{en}");
        let written = steer(vec![Channel::Email, Channel::Web]);
        for s in [None, Some(&written)] {
            let de = compose("de", "Passwort", "So geht's.", "T-000001", s).text;
            assert!(!de.contains("Telefonisch"), "{de}");
        }
    }

    #[test]
    fn markdown_of_the_article_reaches_the_customer_as_text_and_html() {
        let body = "So geht's:\n\n- **Erste Zeile:** Registerkarte **Ansicht** → [Hilfe](https://example.com/h)\n- `Strg+Z`\n\n1. eins\n2. zwei";
        let c = compose("de", "Excel", body, "T-000002", None);
        assert!(
            !c.text.contains("**") && !c.text.contains('`') && !c.text.contains("]("),
            "{}",
            c.text
        );
        assert!(
            c.text
                .contains("- Erste Zeile: Registerkarte Ansicht → Hilfe (https://example.com/h)"),
            "{}",
            c.text
        );
        assert!(c.text.contains("1. eins\n2. zwei"), "{}", c.text);
        assert!(
            c.html.contains("<strong>Erste Zeile:</strong>"),
            "{}",
            c.html
        );
        assert!(
            c.html
                .contains("<a href=\"https://example.com/h\">Hilfe</a>"),
            "{}",
            c.html
        );
        assert!(c.html.contains("<h2>Excel</h2>") && c.html.contains("T-000002"));
    }
}
