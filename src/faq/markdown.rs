//! Articles are written in Markdown; customers read mail. This turns an article body into
//! plain text a person reads as written (lists keep their bullets, links show their
//! address) and into HTML for the mail's alternative part. Raw HTML in an article is
//! dropped from both, so an article cannot inject markup into a mail.

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

fn parser(md: &str) -> impl Iterator<Item = Event<'_>> {
    Parser::new_ext(md, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES)
        .filter(|e| !matches!(e, Event::Html(_) | Event::InlineHtml(_)))
}

/// The body as HTML.
pub fn to_html(md: &str) -> String {
    let mut out = String::new();
    html::push_html(&mut out, parser(md));
    out
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The body as plain text: paragraphs and headings separated by blank lines, list items as
/// `- ` or `1. `, links as `text (address)`, emphasis and code marks removed.
pub fn to_text(md: &str) -> String {
    let mut out = String::new();
    // Per open list: the next number, or None for bullets.
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut links: Vec<String> = Vec::new();
    let block_break = |out: &mut String| {
        let trimmed = out.trim_end_matches([' ', '\n']).len();
        out.truncate(trimmed);
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    for event in parser(md) {
        match event {
            Event::Start(Tag::Paragraph | Tag::Heading { .. } | Tag::CodeBlock(_))
                if lists.is_empty() =>
            {
                block_break(&mut out);
            }
            Event::Start(Tag::List(first)) => {
                if lists.is_empty() {
                    block_break(&mut out);
                }
                lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
            }
            Event::Start(Tag::Item) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(lists.len().saturating_sub(1)));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = links.pop() {
                    if !out.ends_with(url.as_str()) {
                        out.push_str(&format!(" ({url})"));
                    }
                }
            }
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Rule => {
                block_break(&mut out);
                out.push_str("----");
            }
            Event::TaskListMarker(done) => out.push_str(if done { "[x] " } else { "[ ] " }),
            _ => {}
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_structure_and_drops_marks() {
        let md = "# Titel\n\nErst **fett** und *schräg*, dann `code`.\n\n- a\n- b\n  - c\n\nEnde <b>roh</b>.";
        assert_eq!(
            to_text(md),
            "Titel\n\nErst fett und schräg, dann code.\n\n- a\n- b\n  - c\n\nEnde roh."
        );
    }

    #[test]
    fn html_drops_raw_markup() {
        let html = to_html("Hallo <script>alert(1)</script> **Welt**");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<strong>Welt</strong>"), "{html}");
    }
}
