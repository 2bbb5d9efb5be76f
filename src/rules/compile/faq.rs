//! `[faq]` and the categories' `faq-threshold`: the confidences at which FAQ articles answer
//! tickets by themselves or are only suggested.

use std::collections::HashMap;
use std::sync::Arc;

use toml::Spanned;

use super::Ctx;
use crate::rules::source::FaqDoc;

/// When FAQ articles answer tickets: confidences in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct FaqRules {
    /// At or above: answered automatically (where the rules allow `automated`).
    pub auto_threshold: f64,
    /// At or above (and below the automatic threshold): suggested to the agent.
    pub suggest_threshold: f64,
    /// Per category, instead of `auto_threshold`.
    pub category_thresholds: HashMap<Arc<str>, f64>,
    /// Directory of the shipped articles, relative to the rules directory.
    pub articles: Option<String>,
    /// Automatic answers the customer leaves without a verdict or reply this many days are
    /// resolved; without it they wait.
    pub resolve_after_days: Option<u32>,
}

impl FaqRules {
    /// The confidence an article needs to answer a ticket of `category` automatically.
    pub fn auto_threshold(&self, category: &str) -> f64 {
        self.category_thresholds
            .get(category)
            .copied()
            .unwrap_or(self.auto_threshold)
    }
}

/// A confidence threshold, or an error at it when it lies outside [0, 1].
pub(super) fn threshold(ctx: &mut Ctx, file: usize, v: &Spanned<f64>) -> Option<f64> {
    let x = *v.get_ref();
    if (0.0..=1.0).contains(&x) {
        Some(x)
    } else {
        ctx.error(
            file,
            &v.span(),
            format!("confidence threshold {x} must be between 0 and 1"),
        );
        None
    }
}

/// `[faq]` over its defaults (0.95 to answer, 0.5 to suggest); the per-category thresholds
/// are compiled with the categories.
pub(super) fn compile(ctx: &mut Ctx, doc: Option<(usize, Spanned<FaqDoc>)>) -> FaqRules {
    let mut faq = FaqRules {
        auto_threshold: 0.95,
        suggest_threshold: 0.5,
        category_thresholds: HashMap::new(),
        articles: None,
        resolve_after_days: None,
    };
    if let Some((file, f)) = &doc {
        let f = f.get_ref();
        if let Some(v) = f
            .auto_threshold
            .as_ref()
            .and_then(|v| threshold(ctx, *file, v))
        {
            faq.auto_threshold = v;
        }
        if let Some(v) = f
            .suggest_threshold
            .as_ref()
            .and_then(|v| threshold(ctx, *file, v))
        {
            faq.suggest_threshold = v;
        }
        faq.articles = f.articles.as_ref().map(|a| a.get_ref().clone());
        if let Some(v) = &f.resolve_after_days {
            match u32::try_from(*v.get_ref()) {
                Ok(days) if days >= 1 => faq.resolve_after_days = Some(days),
                _ => ctx.error(
                    *file,
                    &v.span(),
                    format!(
                        "resolve-after-days {} must be a whole number of days, at least 1",
                        v.get_ref()
                    ),
                ),
            }
        }
    }
    faq
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{errors, has};
    use crate::rules::fixture::with_rules;

    #[test]
    fn silent_answers_are_resolved_after_whole_days_and_a_wrong_count_names_its_line() {
        let loaded = with_rules("[faq]\nresolve-after-days = 7\n").unwrap();
        assert_eq!(loaded.rules.faq.resolve_after_days, Some(7));
        assert_eq!(with_rules("").unwrap().rules.faq.resolve_after_days, None);
        for bad in ["0", "-3"] {
            let errs = errors(&format!(
                "[faq]\nauto-threshold = 0.9\nresolve-after-days = {bad}\n"
            ));
            assert!(
                has(
                    &errs,
                    &format!("rules.toml:3: resolve-after-days {bad} must be a whole number of days, at least 1")
                ),
                "{errs:?}"
            );
        }
    }
}
