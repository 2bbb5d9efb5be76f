//! A realistic month of a service desk written into an empty database, through the same
//! workflows as live traffic: requests from the shipped customer list in German and
//! English over mail, web and phone, decided by the rules in force, answered by the FAQ
//! where it may, replied to and resolved by agents during their hours — some late, some
//! still open. For trying the dashboard and for its screenshots; the same seed writes the
//! same month relative to `now`.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use chrono_tz::Europe::Vienna;

use crate::desk::{self, conversation, intake, work, Actor, Ctx, Desk, DeskError, Expected};
use crate::intake::jsonl::TicketInput;
use crate::model::{Channel, Sender};
use crate::store::Created;

/// How much to write.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Days back from now.
    pub days: u32,
    /// Requests on a weekday (a weekend day gets a fifth).
    pub per_weekday: u32,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            days: 30,
            per_weekday: 40,
            seed: 2026,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DemoSummary {
    pub agents: u32,
    pub tickets: u32,
    pub answered_automatically: u32,
    pub replies: u32,
    pub resolved: u32,
    pub feedback: u32,
    pub deflections: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the database already holds {0} tickets; demo data is written only into an empty one")]
    NotEmpty(u64),
    #[error(transparent)]
    Desk(#[from] DeskError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// One kind of request: its channels, and its words in the language of its senders.
struct Request {
    subject: &'static str,
    body: &'static str,
    /// How often, relative to the others.
    weight: u32,
    /// Only by mail or web (not a phone call).
    written: bool,
}

const fn req(subject: &'static str, body: &'static str, weight: u32, written: bool) -> Request {
    Request {
        subject,
        body,
        weight,
        written,
    }
}

const GERMAN: &[Request] = &[
    req("Passwort vergessen", "Ich habe mein Passwort vergessen und kann mich nicht mehr anmelden. Bitte um Hilfe.", 10, false),
    req("Passwort zurücksetzen", "Mein Konto ist gesperrt, ich muss mein Passwort zurücksetzen.", 5, false),
    req("Wo bekomme ich den VPN-Client?", "Wo kann ich den VPN-Client herunterladen? Ich arbeite ab nächster Woche im Homeoffice.", 5, true),
    req("Wo bekomme ich Adobe Acrobat?", "Ich brauche Adobe Acrobat Pro für die Bearbeitung von Verträgen. Wo bekomme ich das?", 3, true),
    req("Wo ist meine Bestellung?", "Ich habe letzte Woche eine Bestellung aufgegeben. Wie ist der Status meiner Bestellung?", 6, true),
    req("Webshop Anmeldung", "Ich kann mich im Webshop nicht anmelden, der Warenkorb ist leer.", 4, true),
    req("Ist der Mailserver gestört?", "Gibt es gerade eine Störung? Ist der Status des Mailservers bekannt?", 3, true),
    req("Excel friert ein", "Excel friert beim Öffnen großer Dateien ein und reagiert nicht mehr.", 3, false),
    req("Erste Zeile in Excel fixieren", "Wie kann ich in Excel die Kopfzeile fixieren, damit sie beim Scrollen sichtbar bleibt?", 3, true),
    req("Gutscheincode funktioniert nicht", "Mein Gutscheincode wird im Webshop nicht akzeptiert. Wie löse ich den Gutschein ein?", 3, true),
    req("Abwesenheitsnotiz in Outlook", "Wie richte ich in Outlook eine Abwesenheitsnotiz ein?", 4, true),
    req("Serienbrief in Word", "Wie erstelle ich in Word einen Serienbrief mit Adressen aus Excel?", 2, true),
    req("Drucker im 2. Stock druckt nicht", "Der Drucker im zweiten Stock druckt seit heute früh nicht mehr, Fehler 49.", 5, false),
    req("Laptop startet nicht", "Mein Laptop startet nicht mehr, der Bildschirm bleibt schwarz.", 3, false),
    req("Rechnung fehlerhaft", "Auf unserer Rechnung vom Monatsanfang ist ein falscher Betrag. Bitte um Korrektur.", 3, true),
    req("Gutschrift erbeten", "Wir bitten um eine Gutschrift bzw. Rückerstattung für die doppelt verrechnete Leistung.", 2, true),
    req("Angebot für 20 Lizenzen", "Bitte senden Sie uns ein Angebot für 20 weitere Lizenzen.", 2, true),
    req("Neuer Mitarbeiter ab Montag", "Ab Montag beginnt eine neue Kollegin. Bitte Benutzerkonto und Zugänge anlegen (Onboarding).", 3, true),
    req("Mitarbeiter ausgetreten", "Ein Kollege ist ausgeschieden, bitte das Konto sperren (Offboarding).", 2, true),
    req("System nicht erreichbar", "Das System ist seit 10 Minuten nicht erreichbar, alle Kollegen sind betroffen. Ausfall!", 2, false),
    req("Verdächtige E-Mail mit Anhang", "Ich habe eine Phishing-Mail geöffnet und auf den Link geklickt. Was soll ich tun?", 1, false),
    req("Teams Besprechungsraum buchen", "Wie kann ich in Teams einen Besprechungsraum für unsere Abteilung reservieren?", 2, true),
    req("Adressänderung", "Bitte ändern Sie unsere Rechnungsadresse, wir sind umgezogen (Stammdaten).", 2, true),
];

const ENGLISH: &[Request] = &[
    req(
        "Forgot my password",
        "I forgot my password and cannot log in anymore. Please help.",
        8,
        false,
    ),
    req(
        "Where do I get the VPN client?",
        "Where can I download the VPN client? I will work from home next week.",
        4,
        true,
    ),
    req(
        "Where do I get AutoCAD?",
        "I need AutoCAD 2026 for the new drawings. Where do I get it?",
        2,
        true,
    ),
    req(
        "Where is my order?",
        "I placed an order last week. What is the status of my order?",
        5,
        true,
    ),
    req(
        "Excel freezes",
        "Excel freezes when I open large workbooks and stops responding.",
        2,
        false,
    ),
    req(
        "Keep the header row visible in Excel",
        "How do I freeze the top row in Excel so it stays visible when I scroll?",
        2,
        true,
    ),
    req(
        "Out of office in Outlook",
        "How do I set an out of office reply in Outlook?",
        3,
        true,
    ),
    req(
        "Invoice is wrong",
        "The invoice we received this month shows the wrong amount. Please correct it.",
        2,
        true,
    ),
    req(
        "Printer on 3rd floor offline",
        "The printer on the third floor shows offline since this morning.",
        3,
        false,
    ),
    req(
        "Service down for everyone",
        "The service has been down for everyone in our office for 15 minutes. Outage!",
        1,
        false,
    ),
    req(
        "Shared mailbox access",
        "Please give me access to the shared mailbox of the sales team.",
        2,
        true,
    ),
];

/// Senders: address, name, phone; the language they write in.
const SENDERS: &[(&str, &str, &str, bool)] = &[
    (
        "anna.berger@alpen-logistik.example",
        "Anna Berger",
        "+43 662 8080 12",
        true,
    ),
    (
        "josef.huber@alpen-logistik.example",
        "Josef Huber",
        "+43 662 8080 31",
        true,
    ),
    (
        "stationsleitung@lkh-nord.example",
        "Stationsleitung 3B",
        "+43 316 385 220",
        true,
    ),
    (
        "it-koordination@lkh-nord.example",
        "IT-Koordination",
        "+43 316 385 100",
        true,
    ),
    (
        "leitwarte@stadtwerke-musterstadt.example",
        "Leitwarte",
        "+43 7242 4711 9",
        true,
    ),
    (
        "qa@contoso-pharma.example",
        "Dr. Lena Vogt",
        "+49 89 5550 77",
        true,
    ),
    (
        "kanzlei@mueller-partner.example",
        "Martina Müller",
        "+43 1 5129 0",
        true,
    ),
    (
        "amt@seewalchen.gv.example",
        "Gemeindeamt",
        "+43 7662 2255 0",
        true,
    ),
    (
        "felix.gruber@mailbox.example",
        "Felix Gruber",
        "+43 660 1234567",
        true,
    ),
    (
        "j.smith@northwind.example",
        "John Smith",
        "+44 20 7946 0123",
        false,
    ),
    (
        "procurement@northwind.example",
        "Priya Patel",
        "+44 20 7946 0456",
        false,
    ),
    (
        "emily.clark@mailbox.example",
        "Emily Clark",
        "+44 7700 900123",
        false,
    ),
];

/// An agent of the demo desk: id, name, skills, languages, capacity.
type DemoAgent = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    i32,
);

const AGENTS: &[DemoAgent] = &[
    (
        "a.berger",
        "Andrea Berger",
        &["level-1", "level-2", "user-admin"],
        &["de", "en"],
        12,
    ),
    (
        "m.novak",
        "Marko Novak",
        &["level-1", "shop"],
        &["de", "en"],
        10,
    ),
    (
        "s.wimmer",
        "Sabine Wimmer",
        &["level-1", "billing"],
        &["de"],
        8,
    ),
    (
        "t.klein",
        "Tobias Klein",
        &["level-1", "level-2", "major-incident", "security"],
        &["de", "en"],
        6,
    ),
    (
        "l.fischer",
        "Laura Fischer",
        &["key-accounts", "level-2"],
        &["de", "en"],
        8,
    ),
    (
        "p.hofer",
        "Paul Hofer",
        &["level-1", "user-admin", "shop"],
        &["de"],
        10,
    ),
];

/// xorshift64: the same month for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// Exponential with this mean.
    fn exp(&mut self, mean: f64) -> f64 {
        -self.unit().ln() * mean
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() <= p
    }
}

fn pick<'a>(rng: &mut Rng, list: &'a [Request], phone: bool) -> &'a Request {
    let fits = |r: &&Request| !(phone && r.written);
    let total: u64 = list.iter().filter(fits).map(|r| u64::from(r.weight)).sum();
    let mut at = rng.below(total);
    for r in list.iter().filter(fits) {
        if at < u64::from(r.weight) {
            return r;
        }
        at -= u64::from(r.weight);
    }
    &list[0]
}

/// Moves a moment into agents' hours (weekdays 08:00–18:00 in Vienna): outside them, to
/// the next morning with some minutes of delay.
fn in_hours(t: DateTime<Utc>, rng: &mut Rng) -> DateTime<Utc> {
    let mut local = t.with_timezone(&Vienna);
    for _ in 0..4 {
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        if !weekend && (8..18).contains(&local.hour()) {
            return local.with_timezone(&Utc);
        }
        let next = if !weekend && local.hour() < 8 {
            local.date_naive()
        } else {
            local.date_naive() + Duration::days(1)
        };
        local = match next
            .and_hms_opt(8, 0, 0)
            .and_then(|n| n.and_local_timezone(Vienna).earliest())
        {
            Some(l) => l + Duration::minutes(rng.below(90) as i64),
            None => return t,
        };
    }
    local.with_timezone(&Utc)
}

/// Writes the demo month ending at `now`; refuses a database that holds tickets.
pub async fn write(
    desk: &Desk,
    now: DateTime<Utc>,
    opts: DemoOptions,
) -> Result<DemoSummary, DemoError> {
    let store = &desk.store;
    let existing = store.count().await?;
    if existing > 0 {
        return Err(DemoError::NotEmpty(existing));
    }
    let rules = desk.rules.current();
    let faq = desk.faq.current();
    let at = |t: DateTime<Utc>| Ctx::new(store, rules.clone(), faq.clone(), t);
    let mut rng = Rng(opts.seed.max(1));
    let mut sum = DemoSummary::default();
    let start = now - Duration::days(i64::from(opts.days));

    for (id, name, skills, languages, capacity) in AGENTS {
        let input = work::AgentInput {
            name: (*name).into(),
            email: Some(format!("{id}@servicedesk.example")),
            skills: skills.iter().map(|s| (*s).into()).collect(),
            languages: languages.iter().map(|s| (*s).into()).collect(),
            capacity: *capacity,
            presence: Some("offline".into()),
            calendar: None,
        };
        work::put_agent(&at(start), (*id).into(), input).await?;
        sum.agents += 1;
    }

    // Arrivals, day by day: most in office hours, some in the evening and at night.
    let mut arrivals = Vec::new();
    for day in 0..opts.days {
        let midnight = (start + Duration::days(i64::from(day)))
            .with_timezone(&Vienna)
            .date_naive();
        let weekend = matches!(midnight.weekday(), Weekday::Sat | Weekday::Sun);
        let n = if weekend {
            opts.per_weekday / 5
        } else {
            opts.per_weekday
        };
        for _ in 0..n {
            let minute = if weekend || rng.chance(0.15) {
                rng.below(24 * 60)
            } else {
                7 * 60 + rng.below(11 * 60)
            };
            let Some(local) = midnight
                .and_hms_opt(0, 0, 0)
                .and_then(|m| m.and_local_timezone(Vienna).earliest())
            else {
                continue;
            };
            let t = (local + Duration::minutes(minute as i64)).with_timezone(&Utc);
            if t < now {
                arrivals.push(t);
            }
        }
    }
    arrivals.sort();

    for t in arrivals {
        let (email, name, phone, german) = SENDERS[rng.below(SENDERS.len() as u64) as usize];
        let local = t.with_timezone(&Vienna);
        let office = !matches!(local.weekday(), Weekday::Sat | Weekday::Sun)
            && (8..17).contains(&local.hour());
        let channel = match rng.below(10) {
            0..=5 => Channel::Email,
            6..=7 if office => Channel::Phone,
            _ => Channel::Web,
        };
        let phone_call = channel == Channel::Phone;
        let r = pick(&mut rng, if german { GERMAN } else { ENGLISH }, phone_call);
        let input = TicketInput {
            channel,
            subject: r.subject.into(),
            body: r.body.into(),
            from: Sender {
                email: (!phone_call || rng.chance(0.5)).then(|| email.to_owned()),
                name: Some(name.to_owned()),
                phone: phone_call.then(|| phone.to_owned()),
            },
            received_at: Some(t.fixed_offset()),
            external_id: None,
        };
        let record = match intake::create(&at(t), input, None).await? {
            Created::New(r) | Created::Existing(r) => r,
        };
        sum.tickets += 1;
        let key = crate::model::ticket_number(record.seq);
        let any = Expected(None);
        // People take the ticket from here: its arrival, or the verdict on an answer.
        let mut t = t;
        if record.status == "answered-automatically" {
            sum.answered_automatically += 1;
            let later = t + Duration::minutes(30 + rng.below(600) as i64);
            if later < now && rng.chance(0.7) {
                let helped = rng.chance(0.8);
                let actor = Actor::named("customer");
                conversation::feedback(&at(later), &key, &any, &actor, helped).await?;
                sum.feedback += 1;
                if helped {
                    sum.resolved += 1;
                    continue;
                }
                t = later;
            } else {
                continue;
            }
        }
        if record.status == "noise" {
            continue;
        }
        // An agent answers, faster for business-critical requests, which the on-call
        // engineer takes at any hour; others wait for the morning.
        let critical = record.segment == "business-critical";
        let mean = match record.segment.as_str() {
            "business-critical" => 25.0,
            "commercial" => 70.0,
            _ => 180.0,
        };
        let agent = AGENTS[rng.below(AGENTS.len() as u64) as usize].0;
        let actor = Actor::named(agent);
        let hours = |t: DateTime<Utc>, rng: &mut Rng| if critical { t } else { in_hours(t, rng) };
        let replied = hours(t + Duration::minutes(rng.exp(mean) as i64 + 2), &mut rng);
        if replied >= now {
            continue;
        }
        let ask = rng.chance(0.15);
        let reply = conversation::Reply {
            body: if german {
                "Danke für Ihre Nachricht, wir kümmern uns darum.".into()
            } else {
                "Thank you for your message, we are on it.".into()
            },
            internal: false,
            status: ask.then(|| "pending-customer".into()),
        };
        conversation::reply(&at(replied), &key, &any, &actor, reply).await?;
        sum.replies += 1;
        let mut last = replied;
        if ask {
            let back = last + Duration::minutes(rng.exp(600.0) as i64 + 10);
            if back >= now {
                continue;
            }
            conversation::set_status(&at(back), &key, &any, &Actor::named("customer"), "open")
                .await?;
            last = back;
        }
        let resolved = hours(
            last + Duration::minutes(rng.exp(mean * 12.0) as i64 + 5),
            &mut rng,
        );
        // A few are forgotten: they stay open and breach.
        if resolved < now && rng.chance(0.98) {
            conversation::set_status(&at(resolved), &key, &any, &actor, "resolved").await?;
            sum.resolved += 1;
        }
    }

    // Self-service: people who read an article on the web form and did not submit it.
    for article in store.articles().await? {
        for _ in 0..rng.below(25) {
            if store.count_deflection(&article.id).await? {
                sum.deflections += 1;
            }
        }
    }

    // Today's shift: most agents available; the assigner hands out what waits.
    for (i, (id, ..)) in AGENTS.iter().enumerate() {
        let presence = if i == 2 { "offline" } else { "available" };
        work::set_presence(&at(now), None, id, presence).await?;
    }
    desk::assign::round(store, &rules, now).await?;
    // What the workers would have done over the month: answers left without a verdict.
    loop {
        let n = conversation::resolve_silent_answers(store, &rules, now, 500).await?;
        if n == 0 {
            break;
        }
        sum.resolved += n as u32;
    }
    Ok(sum)
}
