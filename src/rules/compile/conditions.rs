//! A rule's `when` table: its conditions checked and compiled, its text patterns gathered into
//! the one pattern set and its sender patterns into the one glob set that all rules share.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{RegexBuilder, RegexSet, RegexSetBuilder};
use toml::Spanned;

use super::shadow::{report_contradiction, CondKey, Key};
use super::{list, Ctx};
use crate::model::{Channel, TimeWindow};
use crate::rules::customers::CustomerIndex;
use crate::rules::source::{Name, Strings, WhenDoc};

/// Compiled size limit per pattern set; generous because sets hold every rule's patterns.
const REGEX_SIZE_LIMIT: usize = 256 << 20;

/// One condition of a rule; all of a rule's conditions must hold.
#[derive(Debug, Clone)]
pub enum Cond {
    /// Bit `1 << Channel::index`.
    Channel(u8),
    /// Holds when any of these sender globs matched.
    Sender(Vec<usize>),
    /// Holds when the pattern at the index matched the subject (if `subject`) or the body
    /// (if `body`).
    Pattern {
        pattern: usize,
        subject: bool,
        body: bool,
    },
    Organisation(Vec<Arc<str>>),
    CustomerTag(Vec<Arc<str>>),
    /// The organisation has one of these potential classes in the customer list.
    Potential(Vec<crate::model::Potential>),
    KnownCustomer(bool),
    Language(Vec<Arc<str>>),
    ArrivedIn(TimeWindow),
    ArrivedOutside(TimeWindow),
}

/// A sender pattern as matched: a bare domain means everyone at it.
pub(in crate::rules) fn full_sender_pattern(g: &str) -> String {
    if g.contains('@') {
        g.to_owned()
    } else {
        format!("*@{g}")
    }
}

/// A sender pattern compiled: case-insensitive, `*` across dots and `@`.
pub(in crate::rules) fn sender_glob(full: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(full)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
}

/// Patterns of one text field, deduplicated, in set order.
#[derive(Default)]
struct PatternSet {
    patterns: Vec<String>,
    index: HashMap<String, usize>,
}

impl PatternSet {
    fn add(&mut self, pattern: &str) -> usize {
        if let Some(&i) = self.index.get(pattern) {
            return i;
        }
        self.patterns.push(pattern.to_owned());
        self.index
            .insert(pattern.to_owned(), self.patterns.len() - 1);
        self.patterns.len() - 1
    }

    fn build(&self, ctx: &mut Ctx) -> Option<RegexSet> {
        match RegexSetBuilder::new(&self.patterns)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
        {
            Ok(set) => Some(set),
            Err(e) => {
                ctx.error(
                    0,
                    &(0..0),
                    format!("the text patterns of all rules together cannot be compiled: {e}"),
                );
                None
            }
        }
    }
}

/// The text patterns and sender globs of all rules so far, each stored once.
pub(super) struct RuleCompiler {
    patterns: PatternSet,
    globs: GlobSetBuilder,
    glob_count: usize,
    glob_index: HashMap<String, usize>,
}

impl Default for RuleCompiler {
    fn default() -> Self {
        RuleCompiler {
            patterns: PatternSet::default(),
            globs: GlobSetBuilder::new(),
            glob_count: 0,
            glob_index: HashMap::new(),
        }
    }
}

impl RuleCompiler {
    /// How many distinct text patterns there are: the indexes `Cond::Pattern` refers to.
    pub(super) fn pattern_count(&self) -> usize {
        self.patterns.patterns.len()
    }

    /// The index of a pattern the engine itself scans for beside the rules' (no rule is
    /// listed under it unless one has the same pattern).
    pub(super) fn builtin_pattern(&mut self, pattern: &str) -> usize {
        self.patterns.add(pattern)
    }

    /// All text patterns as one set, or an error when they cannot be compiled together.
    pub(super) fn text_set(&self, ctx: &mut Ctx) -> Option<RegexSet> {
        self.patterns.build(ctx)
    }

    /// All sender globs as one set, or an error when they cannot be combined.
    pub(super) fn sender_globs(&self, ctx: &mut Ctx) -> Option<GlobSet> {
        match self.globs.build() {
            Ok(g) => Some(g),
            Err(e) => {
                ctx.error(
                    0,
                    &(0..0),
                    format!("sender patterns cannot be combined: {e}"),
                );
                None
            }
        }
    }

    /// The index of a sender glob, added to the set when it is new.
    fn glob(&mut self, full: &str) -> Result<usize, globset::Error> {
        if let Some(&i) = self.glob_index.get(full) {
            return Ok(i);
        }
        self.globs.add(sender_glob(full)?);
        self.glob_index.insert(full.to_owned(), self.glob_count);
        self.glob_count += 1;
        Ok(self.glob_count - 1)
    }
}

/// Whether a pattern asserts a Unicode word boundary (`\b`, `\B`, outside `(?-u)`), which the
/// lazy DFA cannot run on non-ASCII text: the whole set then falls back to the PikeVM.
pub(in crate::rules) fn unicode_word_boundary(pattern: &str) -> bool {
    if pattern.contains("(?-u") {
        return false;
    }
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped && (c == 'b' || c == 'B') {
            return true;
        }
        escaped = !escaped && c == '\\';
    }
    false
}

/// What compiling one rule's conditions needs: where errors go and what names are known.
pub(super) struct RuleCx<'c, 'a> {
    pub(super) ctx: &'c mut Ctx<'a>,
    pub(super) file: usize,
    pub(super) compiler: &'c mut RuleCompiler,
    pub(super) customers: &'c CustomerIndex,
    pub(super) tags: &'c BTreeSet<&'c str>,
    pub(super) languages: &'c [String],
}

fn arcs(set: &BTreeSet<String>) -> Vec<Arc<str>> {
    set.iter().map(|s| Arc::from(s.as_str())).collect()
}

impl RuleCx<'_, '_> {
    fn err(&mut self, span: &Range<usize>, msg: String) {
        self.ctx.error(self.file, span, msg);
    }

    fn nonempty<'s>(&mut self, v: &'s Spanned<Strings>, what: &str) -> Option<&'s [String]> {
        if v.get_ref().0.is_empty() {
            self.err(
                &v.span(),
                format!("empty {what} list never matches; remove the condition instead"),
            );
            return None;
        }
        Some(&v.get_ref().0)
    }

    /// Validates a user regex on its own (for a located message) and returns its set form.
    fn regex(&mut self, pat: &Name) -> Option<String> {
        let full = format!("(?i){}", pat.get_ref());
        match RegexBuilder::new(&full)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
        {
            Ok(_) => {
                if unicode_word_boundary(pat.get_ref()) {
                    self.ctx.warn(
                        self.file,
                        &pat.span(),
                        "\\b keeps the patterns of all rules off the fast matcher on text with umlauts (a Unicode word boundary); write (?:^|\\W)…(?:\\W|$) or use keywords, which mean the same",
                    );
                }
                Some(full)
            }
            Err(e) => {
                let detail = match &e {
                    regex::Error::Syntax(s) => s
                        .lines()
                        .last()
                        .unwrap_or(s)
                        .trim_start_matches("error: ")
                        .to_owned(),
                    other => other.to_string(),
                };
                self.err(
                    &pat.span(),
                    format!("invalid regular expression \"{}\": {detail}", pat.get_ref()),
                );
                None
            }
        }
    }

    fn keywords(&mut self, v: &Spanned<Strings>) -> Option<(String, BTreeSet<String>)> {
        let words = self.nonempty(v, "keywords")?;
        let mut groups: [Vec<String>; 4] = Default::default();
        let mut canon = BTreeSet::new();
        for w in words {
            let trimmed = w.trim();
            let open_start = trimmed.starts_with('*');
            let open_end = trimmed.ends_with('*') && trimmed.len() > 1;
            let core = trimmed.trim_matches('*').trim();
            if core.is_empty() {
                self.err(&v.span(), format!("keyword \"{w}\" has no letters"));
                return None;
            }
            let escaped = core
                .split_whitespace()
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(r"\s+");
            groups[(open_start as usize) << 1 | open_end as usize].push(escaped);
            canon.insert(trimmed.to_lowercase());
        }
        // A word boundary that also works next to umlauts: a non-word character or the edge.
        let mut alts = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            if g.is_empty() {
                continue;
            }
            let start = if i & 2 == 0 { r"(?:^|\W)" } else { "" };
            let end = if i & 1 == 0 { r"(?:\W|$)" } else { "" };
            alts.push(format!("{start}(?:{}){end}", g.join("|")));
        }
        Some((format!("(?i){}", alts.join("|")), canon))
    }

    fn names(
        &mut self,
        v: &Spanned<Strings>,
        what: &str,
        known: &dyn Fn(&str) -> bool,
        hint: &dyn Fn() -> String,
    ) -> Option<BTreeSet<String>> {
        let items = self.nonempty(v, what)?;
        let mut out = BTreeSet::new();
        let mut ok = true;
        for item in items {
            if known(item) {
                out.insert(item.clone());
            } else {
                ok = false;
                self.err(&v.span(), format!("unknown {what} \"{item}\" ({})", hint()));
            }
        }
        ok.then_some(out)
    }

    /// A rule's conditions in the order they are evaluated, and their canonical form.
    pub(super) fn conditions(&mut self, w: &WhenDoc, span: &Range<usize>) -> (Vec<Cond>, CondKey) {
        let mut held: Vec<(Cond, Key)> = Vec::new();
        held.extend(w.channel.as_ref().and_then(|v| self.channel(v)));
        held.extend(w.from.as_ref().and_then(|v| self.senders(v)));
        held.extend(w.organisation.as_ref().and_then(|v| self.organisation(v)));
        held.extend(w.customer_tag.as_ref().and_then(|v| self.customer_tag(v)));
        held.extend(w.potential.as_ref().and_then(|v| self.potential(v)));
        if let Some(k) = &w.known_customer {
            held.push((Cond::KnownCustomer(*k.get_ref()), Key::Known(*k.get_ref())));
        }
        for (field, pat) in [
            ("subject", &w.subject),
            ("body", &w.body),
            ("text", &w.text),
        ] {
            held.extend(pat.as_ref().and_then(|p| self.pattern(field, p)));
        }
        held.extend(w.keywords.as_ref().and_then(|v| self.keyword_list(v, true)));
        held.extend(
            w.subject_keywords
                .as_ref()
                .and_then(|v| self.keyword_list(v, false)),
        );
        held.extend(w.language.as_ref().and_then(|v| self.language(v)));
        for (inside, v) in [(true, &w.arrived_in), (false, &w.arrived_outside)] {
            held.extend(v.as_ref().and_then(|v| self.arrival(inside, v)));
        }
        let (conds, keys): (Vec<Cond>, Vec<Key>) = held.into_iter().unzip();
        let key = CondKey(keys);
        report_contradiction(self.ctx, self.file, span, &key);
        (conds, key)
    }

    /// `channel`: the valid channels of a non-empty list, each invalid one reported.
    fn channel(&mut self, v: &Spanned<Strings>) -> Option<(Cond, Key)> {
        let items = self.nonempty(v, "channel")?;
        let mut set = BTreeSet::new();
        for c in items {
            match c.parse::<Channel>() {
                Ok(c) => {
                    set.insert(c);
                }
                Err(e) => self.err(&v.span(), e.to_string()),
            }
        }
        Some((
            Cond::Channel(set.iter().fold(0, |m, c| m | 1 << c.index())),
            Key::Channel(set),
        ))
    }

    /// `from`: sender patterns, a bare domain meaning everyone at it.
    fn senders(&mut self, v: &Spanned<Strings>) -> Option<(Cond, Key)> {
        let items = self.nonempty(v, "from")?;
        let mut idx = Vec::new();
        let mut canon = BTreeSet::new();
        for g in items {
            let g = g.trim().to_lowercase();
            let full = full_sender_pattern(&g);
            match self.compiler.glob(&full) {
                Ok(i) => idx.push(i),
                Err(e) => self.err(
                    &v.span(),
                    format!("invalid sender pattern \"{g}\": {}", e.kind()),
                ),
            }
            canon.insert(full);
        }
        Some((Cond::Sender(idx), Key::From(canon)))
    }

    /// `organisation`: names that the customer list has.
    fn organisation(&mut self, v: &Spanned<Strings>) -> Option<(Cond, Key)> {
        let customers = self.customers;
        let set = self.names(v, "organisation", &|n| customers.get(n).is_some(), &|| {
            if customers.is_empty() {
                "the customer list is empty; name it with [defaults] customers".into()
            } else {
                "not in the customer list".into()
            }
        })?;
        Some((Cond::Organisation(arcs(&set)), Key::Organisation(set)))
    }

    /// `customer-tag`: tags that some customer in the list has.
    fn customer_tag(&mut self, v: &Spanned<Strings>) -> Option<(Cond, Key)> {
        let tags = self.tags;
        let set = self.names(v, "customer tag", &|t| tags.contains(t), &|| {
            format!("tags in the customer list: {}", list(tags.iter()))
        })?;
        Some((Cond::CustomerTag(arcs(&set)), Key::CustomerTag(set)))
    }

    /// `potential`: potential classes I to IV.
    fn potential(&mut self, v: &Spanned<Strings>) -> Option<(Cond, Key)> {
        let set = self.names(
            v,
            "potential class",
            &|p| crate::model::Potential::parse(p).is_some(),
            &|| "expected I, II, III or IV".to_owned(),
        )?;
        let classes: Vec<crate::model::Potential> = set
            .iter()
            .filter_map(|p| crate::model::Potential::parse(p))
            .collect();
        let canonical = classes.iter().map(|p| p.as_str().to_owned()).collect();
        Some((Cond::Potential(classes), Key::Potential(canonical)))
    }

    /// `subject`, `body` or `text`: a regular expression over that field.
    fn pattern(&mut self, field: &str, pat: &Name) -> Option<(Cond, Key)> {
        let full = self.regex(pat)?;
        let cond = Cond::Pattern {
            pattern: self.compiler.patterns.add(&full),
            subject: field != "body",
            body: field != "subject",
        };
        let text = pat.get_ref().clone();
        let key = match field {
            "subject" => Key::Subject(text),
            "body" => Key::Body(text),
            _ => Key::Text(text),
        };
        Some((cond, key))
    }

    /// `keywords` (over subject and body) or `subject-keywords` (over the subject only).
    fn keyword_list(&mut self, v: &Spanned<Strings>, body: bool) -> Option<(Cond, Key)> {
        let (pat, canon) = self.keywords(v)?;
        let cond = Cond::Pattern {
            pattern: self.compiler.patterns.add(&pat),
            subject: true,
            body,
        };
        let key = if body {
            Key::Keywords(canon)
        } else {
            Key::SubjectKeywords(canon)
        };
        Some((cond, key))
    }

    /// `language`: languages that `[defaults] languages` detects.
    fn language(&mut self, v: &Spanned<Strings>) -> Option<(Cond, Key)> {
        let langs = self.languages;
        let set = self.names(v, "language", &|l| langs.iter().any(|x| x == l), &|| {
            format!("[defaults] languages: {}", langs.join(", "))
        })?;
        Some((Cond::Language(arcs(&set)), Key::Language(set)))
    }

    /// `arrived-in` (if `inside`) or `arrived-outside`: a time window.
    fn arrival(&mut self, inside: bool, v: &Name) -> Option<(Cond, Key)> {
        let window = self.ctx.vocab::<TimeWindow>(self.file, v)?;
        Some(if inside {
            (Cond::ArrivedIn(window), Key::In(window))
        } else {
            (Cond::ArrivedOutside(window), Key::Out(window))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{errors, has};

    #[test]
    fn invalid_regex_and_glob_are_reported_with_their_line() {
        let errs = errors(
            "[[rule]]\nid = \"a\"\nwhen.subject = \"(unclosed\"\nset = { priority = \"P1\" }\n\n[[rule]]\nid = \"b\"\nwhen.from = [\"*@[bad\"]\nset = { priority = \"P2\" }\n",
        );
        assert!(
            has(
                &errs,
                "rules.toml:3: invalid regular expression \"(unclosed\""
            ),
            "{errs:?}"
        );
        assert!(
            has(&errs, "rules.toml:8: invalid sender pattern \"*@[bad\""),
            "{errs:?}"
        );
    }

    #[test]
    fn conditions_on_unknown_organisations_and_languages_are_errors() {
        let errs = errors(
            "[[rule]]\nid = \"a\"\nwhen = { organisation = \"Nobody\", language = \"fr\" }\nset = { priority = \"P1\" }\n",
        );
        assert!(
            has(&errs, "rules.toml:3: unknown organisation \"Nobody\""),
            "{errs:?}"
        );
        assert!(has(&errs, "unknown language \"fr\""), "{errs:?}");
    }
}
