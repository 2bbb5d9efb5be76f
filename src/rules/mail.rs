//! Compiles `[mail]`: the gateway's address, attachment limits, the per-sender limit on
//! automatic answers, what counts as spam, and the texts of outbound mail per language.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use globset::{GlobSet, GlobSetBuilder};
use regex::RegexSet;
use toml::Spanned;

use super::compile::{
    full_sender_pattern, queue_ref, sender_glob, unicode_word_boundary, Ctx, Queue,
};
use super::source::{MailDoc, Strings};
use crate::intake::mail::{AuthResults, Limits};

/// How far a `[T-000123]` tag in the subject is trusted to thread a mail onto its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagThreading {
    /// Where our mail server checked the sender, the check must have passed.
    IfChecked,
    /// The check must be there and have passed.
    Required,
    /// The sender's address on the ticket suffices.
    Off,
}

/// Whether a tagged mail from an address on the ticket is trusted as that person's, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTrust {
    pub trusted: bool,
    pub why: String,
}

/// The texts of our mail in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplate {
    /// `{ticket}` and `{subject}` are filled in.
    pub subject: String,
    pub footer: String,
}

/// The compiled `[mail]` section.
#[derive(Debug, Clone)]
pub struct MailRules {
    pub address: String,
    pub name: String,
    pub review_queue: Option<Arc<str>>,
    /// Where machine mail that threads to no ticket goes (status `noise`).
    pub noise_queue: Option<Arc<str>>,
    /// Days after which a `noise` ticket's content is erased.
    pub noise_kept_days: Option<u32>,
    pub spam_score: f64,
    blocked: GlobSet,
    allowed: GlobSet,
    patterns: RegexSet,
    pub auto_replies_per_hour: u64,
    pub limits: Limits,
    pub templates: HashMap<String, MailTemplate>,
    pub tag_threading: TagThreading,
    pub authserv_id: Option<String>,
    /// `file:line` of `[mail]`, for reasons.
    pub at: Option<Arc<str>>,
}

impl Default for MailRules {
    fn default() -> Self {
        MailRules {
            address: "helpdesk@localhost".into(),
            name: "Helpdesk".into(),
            review_queue: None,
            noise_queue: None,
            noise_kept_days: None,
            spam_score: 5.0,
            blocked: GlobSet::empty(),
            allowed: GlobSet::empty(),
            patterns: RegexSet::empty(),
            auto_replies_per_hour: 5,
            limits: Limits::default(),
            templates: HashMap::new(),
            tag_threading: TagThreading::IfChecked,
            authserv_id: None,
            at: None,
        }
    }
}

/// Why a mail is spam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamVerdict {
    pub why: String,
}

impl MailRules {
    /// Judges a mail that names a ticket in its subject and comes from an address on it:
    /// the address can be forged, so where our mail server checked the sender
    /// (Authentication-Results of `authserv-id`, else the topmost), the check decides.
    pub fn tag_trust(&self, auth: &[AuthResults]) -> TagTrust {
        let ours = match &self.authserv_id {
            Some(id) => auth.iter().find(|a| a.authserv_id.eq_ignore_ascii_case(id)),
            None => auth.first(),
        };
        let trust = |trusted, why: String| TagTrust { trusted, why };
        match (self.tag_threading, ours) {
            (TagThreading::Off, _) => trust(true, "mail.tag-threading is off".into()),
            (_, Some(a)) if a.passed() => {
                trust(true, format!("Authentication-Results: {}", a.summary()))
            }
            (_, Some(a)) => trust(
                false,
                format!("Authentication-Results do not pass: {}", a.summary()),
            ),
            (TagThreading::Required, None) => trust(
                false,
                "no Authentication-Results of our mail server, and mail.tag-threading requires them"
                    .into(),
            ),
            (TagThreading::IfChecked, None) => {
                trust(true, "no Authentication-Results to check".into())
            }
        }
    }

    /// Judges a mail by its sender, spam headers and text; allowed senders never are spam.
    pub fn spam(
        &self,
        sender: Option<&str>,
        flag: bool,
        score: Option<f64>,
        subject: &str,
        body: &str,
    ) -> Option<SpamVerdict> {
        let sender = sender.unwrap_or("").to_lowercase();
        if !sender.is_empty() && self.allowed.is_match(&sender) {
            return None;
        }
        let why = if !sender.is_empty() && self.blocked.is_match(&sender) {
            format!("sender {sender} is on the blocked list")
        } else if flag {
            "the receiving mail server flagged it as spam (X-Spam-Flag/X-Spam-Status)".into()
        } else if let Some(s) = score.filter(|s| *s >= self.spam_score) {
            format!("spam score {s} is at or above {}", self.spam_score)
        } else {
            let text = format!("{subject}\n{body}");
            let hit = self.patterns.matches(&text).into_iter().next()?;
            format!("matches spam pattern {:?}", self.patterns.patterns()[hit])
        };
        Some(SpamVerdict { why })
    }

    /// The template for a language, falling back to English, then to built-in texts.
    pub fn template(&self, language: &str) -> MailTemplate {
        self.templates
            .get(language)
            .or_else(|| self.templates.get("en"))
            .cloned()
            .unwrap_or_else(|| MailTemplate {
                subject: "[{ticket}] {subject}".into(),
                footer:
                    "Your ticket number is {ticket}; please keep it in the subject when you reply."
                        .into(),
            })
    }
}

fn globs(ctx: &mut Ctx, file: usize, list: &Option<Spanned<Strings>>) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    if let Some(l) = list {
        for g in &l.get_ref().0 {
            let g = g.trim().to_lowercase();
            match sender_glob(&full_sender_pattern(&g)) {
                Ok(glob) => {
                    b.add(glob);
                }
                Err(e) => ctx.error(
                    file,
                    &l.span(),
                    format!("invalid sender pattern \"{g}\": {}", e.kind()),
                ),
            }
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

fn kib(ctx: &mut Ctx, file: usize, v: &Option<Spanned<i64>>, default: usize) -> usize {
    match v {
        Some(v) if *v.get_ref() > 0 => *v.get_ref() as usize * 1024,
        Some(v) => {
            ctx.error(
                file,
                &v.span(),
                "a size limit must be a positive number of KiB",
            );
            default
        }
        None => default,
    }
}

/// Compiles `[mail]` (at most one in all files).
pub(super) fn compile_mail(
    ctx: &mut Ctx,
    docs: Vec<(usize, Spanned<MailDoc>)>,
    queues: &BTreeMap<Arc<str>, Queue>,
) -> MailRules {
    let mut rules = MailRules::default();
    let mut docs = docs.into_iter();
    let Some((file, doc)) = docs.next() else {
        return rules;
    };
    for (f, d) in docs {
        ctx.error(f, &d.span(), "[mail] is defined more than once");
    }
    rules.at = Some(ctx.at(file, &doc.span()));
    let d = doc.get_ref();
    if let Some(a) = &d.address {
        let v = a.get_ref().trim();
        if v.contains('@') && !v.contains(char::is_whitespace) {
            rules.address = v.to_owned();
        } else {
            ctx.error(file, &a.span(), format!("invalid mail address \"{v}\""));
        }
    }
    if let Some(n) = &d.name {
        rules.name = n.get_ref().clone();
    }
    rules.review_queue = d
        .review_queue
        .as_ref()
        .and_then(|q| queue_ref(ctx, queues, file, q));
    rules.noise_queue = match &d.noise_queue {
        Some(q) => queue_ref(ctx, queues, file, q),
        None => rules.review_queue.clone(),
    };
    if let Some(n) = &d.noise_kept_days {
        match u32::try_from(*n.get_ref()) {
            Ok(days) if days > 0 => rules.noise_kept_days = Some(days),
            _ => ctx.error(
                file,
                &n.span(),
                format!(
                    "noise-kept-days must be a positive number of days, not {}",
                    n.get_ref()
                ),
            ),
        }
    }
    if let Some(s) = &d.spam_score {
        rules.spam_score = *s.get_ref();
    }
    rules.blocked = globs(ctx, file, &d.blocked_senders);
    rules.allowed = globs(ctx, file, &d.allowed_senders);
    if let Some(p) = &d.spam_patterns {
        match RegexSet::new(&p.get_ref().0) {
            Ok(set) => {
                rules.patterns = set;
                for pat in p.get_ref().0.iter().filter(|x| unicode_word_boundary(x)) {
                    ctx.warn(
                        file,
                        &p.span(),
                        format!("spam pattern {pat:?}: \\b keeps the spam patterns off the fast matcher on mail with umlauts (a Unicode word boundary); write (?:^|\\W)…(?:\\W|$)"),
                    );
                }
            }
            Err(e) => ctx.error(
                file,
                &p.span(),
                format!("invalid regular expression in spam-patterns: {e}"),
            ),
        }
    }
    if let Some(n) = &d.auto_replies_per_hour {
        match u64::try_from(*n.get_ref()) {
            Ok(v) => rules.auto_replies_per_hour = v,
            Err(_) => ctx.error(
                file,
                &n.span(),
                "auto-replies-per-hour must not be negative",
            ),
        }
    }
    let defaults = Limits::default();
    rules.limits = Limits {
        attachment: kib(ctx, file, &d.max_attachment_kib, defaults.attachment),
        message: kib(ctx, file, &d.max_attachments_kib, defaults.message),
    };
    if let Some(t) = &d.tag_threading {
        match t.get_ref().as_str() {
            "if-checked" => rules.tag_threading = TagThreading::IfChecked,
            "required" => rules.tag_threading = TagThreading::Required,
            "off" => rules.tag_threading = TagThreading::Off,
            other => ctx.error(
                file,
                &t.span(),
                format!("unknown tag-threading \"{other}\" (expected if-checked, required or off)"),
            ),
        }
    }
    if let Some(id) = &d.authserv_id {
        rules.authserv_id = Some(id.get_ref().trim().to_ascii_lowercase());
    }
    for (lang, t) in d.template.iter().flatten() {
        let fallback = rules.template("");
        let t = t.get_ref();
        rules.templates.insert(
            lang.get_ref().clone(),
            MailTemplate {
                subject: t
                    .subject
                    .as_ref()
                    .map_or(fallback.subject, |s| s.get_ref().clone()),
                footer: t
                    .footer
                    .as_ref()
                    .map_or(fallback.footer, |s| s.get_ref().clone()),
            },
        );
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spam_by_sender_header_score_and_pattern_allowed_wins() {
        let mut b = GlobSetBuilder::new();
        b.add(globset::Glob::new("*@competitor.example").unwrap());
        let mut a = GlobSetBuilder::new();
        a.add(globset::Glob::new("boss@competitor.example").unwrap());
        let r = MailRules {
            blocked: b.build().unwrap(),
            allowed: a.build().unwrap(),
            patterns: RegexSet::new(["(?i)backlinks?"]).unwrap(),
            ..MailRules::default()
        };
        let judge = |s: &str, flag, score, text: &str| r.spam(Some(s), flag, score, "x", text);
        assert!(judge("x@competitor.example", false, None, "hi")
            .unwrap()
            .why
            .contains("blocked"));
        assert!(judge("boss@competitor.example", true, Some(99.0), "backlinks").is_none());
        assert!(judge("a@b.example", true, None, "hi").is_some());
        assert!(judge("a@b.example", false, Some(5.0), "hi").is_some());
        assert!(judge("a@b.example", false, Some(4.9), "hi").is_none());
        assert!(judge("a@b.example", false, None, "cheap Backlinks")
            .unwrap()
            .why
            .contains("pattern"));
        assert!(judge("a@b.example", false, None, "Mein Passwort").is_none());
    }
}
