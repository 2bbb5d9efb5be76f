//! The customer list: organisations with their segment, e-mail domains, phone numbers and
//! tags, read from a CSV file in the rules directory.
//!
//! Lookups are by the sender's e-mail domain (the longest listed parent domain wins, so
//! `it.kages.at` finds `kages.at`) and by phone number (the longest listed prefix wins, so a
//! switchboard number covers its extensions).

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Reason, ReasonKind, Segment};

pub use crate::model::Potential;

/// One organisation of the customer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub name: Arc<str>,
    /// Its potential class (`potential` column), which a contact strategy may follow.
    pub potential: Option<Potential>,
    pub segment: Option<Segment>,
    pub tags: Vec<Arc<str>>,
    /// The calendar its service levels count in where a policy says `calendar = "customer"`
    /// (a customer abroad served in its own business hours).
    pub calendar: Option<Arc<str>>,
    /// `file:line` of its row.
    pub at: Arc<str>,
    /// Why a ticket has this customer's segment, when the customer has one.
    pub segment_reason: Option<Arc<Reason>>,
    /// Why a ticket belongs to this customer when found by its sender's e-mail domain.
    pub found_by_email: Arc<Reason>,
    /// Why a ticket belongs to this customer when found by its caller's phone number.
    pub found_by_phone: Arc<Reason>,
}

impl Customer {
    /// The line of its row in the customer list.
    pub fn line(&self) -> usize {
        self.at
            .rsplit(':')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or(0)
    }

    fn new(name: &str, segment: Option<Segment>, tags: Vec<Arc<str>>, at: Arc<str>) -> Customer {
        let reason = |why: String| {
            Arc::new(Reason {
                by: ReasonKind::Customer,
                rule: None,
                at: Some(at.clone()),
                why: why.into(),
            })
        };
        Customer {
            name: name.into(),
            segment,
            tags,
            potential: None,
            calendar: None,
            segment_reason: segment.map(|s| reason(format!("{name} is a {s} customer"))),
            found_by_email: reason("found in the customer list by e-mail domain".into()),
            found_by_phone: reason("found in the customer list by phone number".into()),
            at,
        }
    }
}

/// Organisations indexed by domain and phone prefix.
#[derive(Debug, Clone, Default)]
pub struct CustomerIndex {
    customers: Vec<Customer>,
    by_name: HashMap<String, usize>,
    by_domain: HashMap<String, usize>,
    /// Normalised phone prefixes, sorted for binary search.
    by_phone: Vec<(String, usize)>,
}

/// A problem with one row of the customer list: 1-based line and a plain message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

const COLUMNS: [&str; 7] = [
    "organisation",
    "segment",
    "domains",
    "phones",
    "tags",
    "calendar",
    "potential",
];

impl CustomerIndex {
    /// Parses the CSV text. Columns: `organisation` (required), `segment`, `domains`,
    /// `phones`, `tags`, `calendar` (a calendar's name, checked by the rules compiler); list cells separate their items with `;`. Lines starting with `#`
    /// are comments. Returns the index of the rows that could be read (so that rules can
    /// still be checked against them) together with the errors of the others.
    pub fn parse(file: &str, text: &str, country_code: &str) -> (Self, Vec<RowError>) {
        let mut errors = Vec::new();
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                let error = RowError {
                    line: 1,
                    message: format!("cannot read the header row: {e}"),
                };
                return (CustomerIndex::default(), vec![error]);
            }
        };
        let header_line = headers
            .position()
            .map_or(1, |p| record_line(text, p.byte() as usize));
        let mut column = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            if !COLUMNS.contains(&h) {
                errors.push(RowError {
                    line: header_line,
                    message: format!("unknown column \"{h}\" (expected: {})", COLUMNS.join(", ")),
                });
            }
            column.insert(h.to_owned(), i);
        }
        if !column.contains_key("organisation") {
            errors.push(RowError {
                line: header_line,
                message: "the header row has no \"organisation\" column".into(),
            });
            return (CustomerIndex::default(), errors);
        }
        let mut index = CustomerIndex::default();
        let mut names: HashMap<String, usize> = HashMap::new();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e
                        .position()
                        .map_or(0, |p| record_line(text, p.byte() as usize));
                    errors.push(RowError {
                        line,
                        message: format!("malformed row: {e}"),
                    });
                    continue;
                }
            };
            let line = record
                .position()
                .map_or(0, |p| record_line(text, p.byte() as usize));
            let cell = |name: &str| column.get(name).and_then(|&i| record.get(i)).unwrap_or("");
            let list = |name: &str| {
                cell(name)
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            let name = cell("organisation");
            if name.is_empty() {
                errors.push(RowError {
                    line,
                    message: "the organisation name is empty".into(),
                });
                continue;
            }
            if let Some(prev) = names.get(name) {
                errors.push(RowError {
                    line,
                    message: format!("organisation \"{name}\" is already listed on line {prev}"),
                });
                continue;
            }
            names.insert(name.to_owned(), line);
            let segment = match cell("segment") {
                "" => None,
                s => match s.parse::<Segment>() {
                    Ok(seg) => Some(seg),
                    Err(e) => {
                        errors.push(RowError {
                            line,
                            message: e.to_string(),
                        });
                        None
                    }
                },
            };
            let id = index.customers.len();
            for domain in list("domains") {
                let domain = domain.trim_start_matches('@').to_ascii_lowercase();
                if !domain.contains('.') || domain.contains(char::is_whitespace) {
                    errors.push(RowError {
                        line,
                        message: format!("\"{domain}\" is not an e-mail domain"),
                    });
                    continue;
                }
                if let Some(&other) = index.by_domain.get(&domain) {
                    errors.push(RowError {
                        line,
                        message: format!(
                            "domain {domain} already belongs to \"{}\"",
                            index.customers[other].name
                        ),
                    });
                    continue;
                }
                index.by_domain.insert(domain, id);
            }
            for phone in list("phones") {
                match e164(&phone, country_code) {
                    Some(p) => index.by_phone.push((p, id)),
                    None => errors.push(RowError {
                        line,
                        message: format!("\"{phone}\" is not a phone number"),
                    }),
                }
            }
            let mut customer = Customer::new(
                name,
                segment,
                list("tags").into_iter().map(Arc::from).collect(),
                format!("{file}:{line}").into(),
            );
            customer.calendar = Some(cell("calendar"))
                .filter(|c| !c.is_empty())
                .map(Arc::from);
            customer.potential = match cell("potential") {
                "" => None,
                p => {
                    let parsed = Potential::parse(p);
                    if parsed.is_none() {
                        errors.push(RowError {
                            line,
                            message: Potential::unknown(p),
                        });
                    }
                    parsed
                }
            };
            index.by_name.insert(name.to_owned(), id);
            index.customers.push(customer);
        }
        index.by_phone.sort();
        for pair in index.by_phone.windows(2) {
            if pair[0].0 == pair[1].0 {
                let (a, b) = (&index.customers[pair[0].1], &index.customers[pair[1].1]);
                errors.push(RowError {
                    line: b.line(),
                    message: format!(
                        "phone number {} is listed for both \"{}\" and \"{}\"",
                        pair[0].0, a.name, b.name
                    ),
                });
            }
        }
        (index, errors)
    }

    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.customers.len()
    }

    pub fn get(&self, name: &str) -> Option<&Customer> {
        self.by_name.get(name).map(|&i| &self.customers[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Customer> {
        self.customers.iter()
    }

    /// The organisation of an e-mail address's domain or its nearest listed parent domain.
    pub fn by_email(&self, email: &str) -> Option<&Customer> {
        let (_, domain) = email.rsplit_once('@')?;
        let mut domain = domain.trim().trim_end_matches('>');
        loop {
            if let Some(&i) = self.by_domain.get(domain) {
                return Some(&self.customers[i]);
            }
            match domain.split_once('.') {
                Some((_, parent)) if parent.contains('.') => domain = parent,
                _ => return None,
            }
        }
    }

    /// The organisation whose listed number is the longest prefix of `phone` (already E.164).
    pub fn by_phone(&self, phone: &str) -> Option<&Customer> {
        // The longest prefix sorts last among all entries <= phone that are prefixes of it.
        let end = self.by_phone.partition_point(|(p, _)| p.as_str() <= phone);
        self.by_phone[..end]
            .iter()
            .rev()
            .find(|(p, _)| phone.starts_with(p.as_str()))
            .map(|&(_, i)| &self.customers[i])
    }
}

/// The 1-based line a record starts on. The csv reader reports the offset where it began
/// reading, which lies before any comment or blank lines it skipped.
fn record_line(text: &str, mut offset: usize) -> usize {
    while offset < text.len() {
        let rest = &text[offset..];
        let line_len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = rest[..line_len].trim();
        if !(line.is_empty() || line.starts_with('#')) {
            break;
        }
        offset += line_len;
    }
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Normalises a phone number to E.164 (`+4331638500`): drops spaces and punctuation, turns
/// `00` into `+` and a national leading `0` into the default country code. `None` when no
/// digits remain or letters are present.
pub fn e164(raw: &str, country_code: &str) -> Option<String> {
    let raw = raw.trim();
    let (plus, rest) = match raw.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, raw),
    };
    let mut digits = String::with_capacity(rest.len() + 4);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '/' | '(' | ')' | '.' | '\u{a0}' => {}
            _ => return None,
        }
    }
    if digits.len() < 3 {
        return None;
    }
    let national = if plus {
        digits
    } else if let Some(d) = digits.strip_prefix("00") {
        d.to_owned()
    } else if let Some(d) = digits.strip_prefix('0') {
        format!("{country_code}{d}")
    } else {
        format!("{country_code}{digits}")
    };
    Some(format!("+{national}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
organisation,segment,domains,phones,tags
# hospitals are business-critical whatever they write
LKH Nord,business-critical,kages.at;lkh-nord.at,+43 316 385,hospital
Muster GmbH,commercial,muster.de,0049 89 123456,
Gemeinde Au,,au.gv.at,,public-sector;municipality
";

    fn parsed(text: &str) -> CustomerIndex {
        let (index, errors) = CustomerIndex::parse("customers.csv", text, "43");
        assert!(errors.is_empty(), "{errors:?}");
        index
    }

    #[test]
    fn looks_up_by_nearest_parent_domain() {
        let idx = parsed(LIST);
        assert_eq!(&*idx.by_email("dr.x@it.kages.at").unwrap().name, "LKH Nord");
        assert_eq!(&*idx.by_email("a@muster.de").unwrap().name, "Muster GmbH");
        assert!(idx.by_email("a@gv.at").is_none());
        assert!(idx.by_email("a@example.com").is_none());
    }

    #[test]
    fn looks_up_by_longest_phone_prefix() {
        let idx = parsed(LIST);
        let c = idx.by_phone(&e164("0316 385-1234", "43").unwrap()).unwrap();
        assert_eq!(&*c.name, "LKH Nord");
        assert_eq!(c.segment, Some(Segment::BusinessCritical));
        assert_eq!(&*c.at, "customers.csv:3");
        assert!(idx.by_phone("+4331699").is_none());
    }

    #[test]
    fn rows_keep_segment_and_tags() {
        let idx = parsed(LIST);
        let au = idx.get("Gemeinde Au").unwrap();
        assert_eq!(au.segment, None);
        assert_eq!(
            au.tags,
            vec![Arc::from("public-sector"), Arc::from("municipality")]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let bad = "organisation,segment,domains,fax\nA,premium,a.at,1\nB,,a.at,\n";
        let (index, errs) = CustomerIndex::parse("c.csv", bad, "43");
        // The readable row still counts.
        assert!(index.get("A").is_some());
        let msgs: Vec<_> = errs.iter().map(|e| (e.line, e.message.as_str())).collect();
        assert!(msgs
            .iter()
            .any(|(l, m)| *l == 1 && m.contains("unknown column \"fax\"")));
        assert!(msgs
            .iter()
            .any(|(l, m)| *l == 2 && m.contains("unknown segment \"premium\"")));
        assert!(msgs
            .iter()
            .any(|(l, m)| *l == 3 && m.contains("domain a.at already belongs to \"A\"")));
    }

    #[test]
    fn potential_classes_read_in_any_case_and_others_name_their_line() {
        let text = "organisation,potential\nA,i\nB,IV\nC,\nD,gold\n";
        let (index, errs) = CustomerIndex::parse("c.csv", text, "43");
        assert_eq!(index.get("A").unwrap().potential, Some(Potential::I));
        assert_eq!(index.get("B").unwrap().potential, Some(Potential::IV));
        assert_eq!(index.get("C").unwrap().potential, None);
        assert_eq!(
            errs.iter()
                .map(|e| (e.line, e.message.as_str()))
                .collect::<Vec<_>>(),
            [(
                5,
                "unknown potential class \"gold\" (expected I, II, III or IV)"
            )]
        );
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(e164("+43 (316) 385-0", "43").as_deref(), Some("+433163850"));
        assert_eq!(e164("0043 316 3850", "49").as_deref(), Some("+433163850"));
        assert_eq!(e164("0316/3850", "43").as_deref(), Some("+433163850"));
        assert_eq!(e164("call me", "43"), None);
    }
}
