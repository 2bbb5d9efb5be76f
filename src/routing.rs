//! Who gets a ticket: the queue's assignment policy applied to the agents as they are now.
//!
//! Pure: the caller passes the agents with their current load and "now"; the store takes the
//! locks that make the answer hold when several processes assign at once.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::calendar::Calendar;

/// How a queue's tickets find their agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// The eligible agent with the fewest open tickets; ties go to the one idle longest.
    SkillsLeastLoaded,
    /// The eligible agent who was given a ticket longest ago, whatever their load.
    RoundRobin,
    /// Nobody is given anything: agents pull from the queue's work list.
    #[default]
    Manual,
}

impl Strategy {
    pub const NAMES: [&'static str; 3] = ["skills-least-loaded", "round-robin", "manual"];

    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "skills-least-loaded" => Some(Strategy::SkillsLeastLoaded),
            "round-robin" => Some(Strategy::RoundRobin),
            "manual" => Some(Strategy::Manual),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::SkillsLeastLoaded => "skills-least-loaded",
            Strategy::RoundRobin => "round-robin",
            Strategy::Manual => "manual",
        }
    }
}

/// A queue's staffing as the rules files define it.
#[derive(Clone, Debug, Default)]
pub struct QueuePolicy {
    pub strategy: Strategy,
    /// Skills every agent of the queue must have.
    pub skills: Vec<String>,
    /// Languages the queue answers in; a ticket in another language goes to an agent who
    /// speaks the first of them. Empty: the ticket's own language.
    pub languages: Vec<String>,
    /// Hours the queue is staffed; agents without a shift calendar of their own work these.
    pub calendar: Option<Arc<Calendar>>,
    /// An extra skill a business-critical ticket needs (e.g. `level-2`).
    pub critical_skill: Option<String>,
}

impl QueuePolicy {
    pub fn automatic(&self) -> bool {
        self.strategy != Strategy::Manual
    }
}

/// An agent as assignment sees them.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: u32,
    /// Open tickets held now.
    pub load: u32,
    /// Presence is `available`.
    pub available: bool,
    /// The agent's own shift calendar, if any.
    pub shift: Option<Arc<Calendar>>,
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// What a ticket asks of its agent.
#[derive(Clone, Copy, Debug)]
pub struct Need<'a> {
    pub queue: &'a str,
    pub language: &'a str,
    pub business_critical: bool,
}

/// The chosen agent (an index into the candidates) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub agent: usize,
    pub reason: String,
}

/// Why nobody can take a ticket now: the agents that fell out, counted by reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoAgent(pub String);

/// Who can work a queue right now, for the "now" view: the agents with its skills and one of
/// its languages, of those the available ones, of those the ones in shift, and their
/// capacity against the tickets they hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Staffing {
    pub skilled: u32,
    pub available: u32,
    pub in_shift: u32,
    /// Capacity of the agents available and in shift.
    pub capacity: u32,
    /// Open tickets those agents hold (in any queue).
    pub held: u32,
}

/// Whether `a` works now: in their own shift calendar, else the queue's (none: always).
fn in_shift(policy: &QueuePolicy, a: &Candidate, now: DateTime<Utc>) -> bool {
    a.shift
        .as_ref()
        .or(policy.calendar.as_ref())
        .is_none_or(|c| c.is_open(now))
}

/// The queue's [`Staffing`] at `now`, judged as [`choose`] judges an agent.
pub fn staffing(policy: &QueuePolicy, agents: &[Candidate], now: DateTime<Utc>) -> Staffing {
    let mut s = Staffing::default();
    for a in agents {
        let skilled = policy.skills.iter().all(|k| a.skills.contains(k))
            && (policy.languages.is_empty()
                || policy.languages.iter().any(|l| a.languages.contains(l)));
        if !skilled {
            continue;
        }
        s.skilled += 1;
        if !a.available {
            continue;
        }
        s.available += 1;
        if in_shift(policy, a, now) {
            s.in_shift += 1;
            s.capacity += a.capacity;
            s.held += a.load;
        }
    }
    s
}

/// Picks the agent for a ticket, or says why nobody can take it now.
pub fn choose(
    policy: &QueuePolicy,
    need: Need<'_>,
    agents: &[Candidate],
    now: DateTime<Utc>,
) -> Result<Choice, NoAgent> {
    if !policy.automatic() {
        return Err(NoAgent(format!(
            "queue {} is worked by pulling (manual)",
            need.queue
        )));
    }
    let language = match policy.languages.first() {
        Some(first) if !policy.languages.iter().any(|l| l == need.language) => first.as_str(),
        _ => need.language,
    };
    let mut skills: Vec<&str> = policy.skills.iter().map(String::as_str).collect();
    if need.business_critical {
        skills.extend(policy.critical_skill.as_deref());
    }
    // Why each agent who cannot take it can't, counted for the "nobody" reason.
    let (mut away, mut off_shift, mut unskilled, mut tongue, mut full) = (0, 0, 0, 0, 0);
    let mut best: Option<usize> = None;
    for (i, a) in agents.iter().enumerate() {
        if !skills.iter().all(|s| a.skills.iter().any(|h| h == s)) {
            unskilled += 1;
        } else if !a.languages.iter().any(|l| l == language) {
            tongue += 1;
        } else if !a.available {
            away += 1;
        } else if !in_shift(policy, a, now) {
            off_shift += 1;
        } else if a.load >= a.capacity {
            full += 1;
        } else if best.is_none_or(|b| better(policy.strategy, a, &agents[b])) {
            best = Some(i);
        }
    }
    let needs = if skills.is_empty() {
        format!("language {language}")
    } else {
        format!("skills {} and language {language}", skills.join(", "))
    };
    match best {
        Some(i) => {
            let a = &agents[i];
            Ok(Choice {
                agent: i,
                reason: format!(
                    "{} in queue {}: {} ({} of {} open) has {needs}{}",
                    policy.strategy.as_str(),
                    need.queue,
                    a.id,
                    a.load,
                    a.capacity,
                    if need.business_critical && policy.critical_skill.is_some() {
                        " (business-critical)"
                    } else {
                        ""
                    }
                ),
            })
        }
        None => Err(NoAgent(format!(
            "no agent free in queue {} with {needs}: {} lacking the skills, {} not speaking \
             {language}, {} not available, {} off shift, {} at capacity",
            need.queue, unskilled, tongue, away, off_shift, full
        ))),
    }
}

/// Whether `a` should get the ticket before `b`.
fn better(strategy: Strategy, a: &Candidate, b: &Candidate) -> bool {
    // Never assigned counts as idle longest.
    let idle = |c: &Candidate| c.last_assigned_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let key = |c: &Candidate| match strategy {
        Strategy::SkillsLeastLoaded => (c.load, idle(c)),
        _ => (0, idle(c)),
    };
    (key(a), &a.id) < (key(b), &b.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn agent(id: &str, skills: &[&str], langs: &[&str], load: u32, cap: u32) -> Candidate {
        Candidate {
            id: id.into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            languages: langs.iter().map(|s| s.to_string()).collect(),
            capacity: cap,
            load,
            available: true,
            shift: None,
            last_assigned_at: None,
        }
    }

    fn policy(strategy: Strategy) -> QueuePolicy {
        QueuePolicy {
            strategy,
            skills: vec!["level-1".into()],
            languages: vec!["de".into(), "en".into()],
            calendar: None,
            critical_skill: Some("level-2".into()),
        }
    }

    fn need(language: &str, critical: bool) -> Need<'_> {
        Need {
            queue: "desk",
            language,
            business_critical: critical,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
    }

    #[test]
    fn least_loaded_with_skill_and_language_wins() {
        let agents = [
            agent("ann", &["level-1"], &["de"], 3, 5),
            agent("bob", &["level-1"], &["de", "en"], 1, 5),
            agent("cem", &["sales"], &["de", "en"], 0, 5),
            agent("dora", &["level-1"], &["en"], 0, 5),
        ];
        let p = policy(Strategy::SkillsLeastLoaded);
        let c = choose(&p, need("de", false), &agents, now()).unwrap();
        assert_eq!(agents[c.agent].id, "bob");
        assert!(c.reason.contains("bob (1 of 5 open)"), "{}", c.reason);
        let c = choose(&p, need("en", false), &agents, now()).unwrap();
        assert_eq!(agents[c.agent].id, "dora");
        // A language the queue does not answer in goes to its first language.
        let c = choose(&p, need("fr", false), &agents, now()).unwrap();
        assert_eq!(agents[c.agent].id, "bob");
    }

    #[test]
    fn ties_go_to_the_longest_idle_and_round_robin_ignores_load() {
        let mut agents = [
            agent("ann", &["level-1"], &["de"], 1, 5),
            agent("bob", &["level-1"], &["de"], 1, 5),
        ];
        agents[0].last_assigned_at = Some(now());
        agents[1].last_assigned_at = Some(now() - chrono::Duration::minutes(5));
        let p = policy(Strategy::SkillsLeastLoaded);
        assert_eq!(
            choose(&p, need("de", false), &agents, now()).unwrap().agent,
            1
        );
        agents[1].load = 4;
        assert_eq!(
            choose(&p, need("de", false), &agents, now()).unwrap().agent,
            0
        );
        let rr = policy(Strategy::RoundRobin);
        assert_eq!(
            choose(&rr, need("de", false), &agents, now())
                .unwrap()
                .agent,
            1
        );
    }

    #[test]
    fn staffing_counts_skilled_available_and_in_shift_agents_and_their_capacity() {
        let mut agents = [
            agent("ann", &["level-1"], &["de"], 2, 4),
            agent("bob", &["level-1"], &["en"], 1, 3),
            agent("cem", &["level-1"], &["de"], 0, 5),
            agent("dora", &["level-1"], &["de"], 0, 6),
            agent("eli", &["sales"], &["de"], 0, 9),
            agent("fay", &["level-1"], &["fr"], 0, 9),
        ];
        agents[2].available = false;
        let cal = Calendar::new("night", "Europe/Vienna", [("mon-fri", ["20:00-23:00"])]).unwrap();
        agents[3].shift = Some(Arc::new(cal));
        let s = staffing(&policy(Strategy::SkillsLeastLoaded), &agents, now());
        assert_eq!(
            s,
            Staffing {
                skilled: 4,
                available: 3,
                in_shift: 2,
                capacity: 7,
                held: 3
            }
        );
    }

    #[test]
    fn nobody_free_says_why() {
        let mut agents = [
            agent("ann", &["level-1"], &["de"], 2, 2),
            agent("bob", &["level-1"], &["de"], 0, 2),
            agent("cem", &["level-1"], &["de"], 0, 2),
        ];
        agents[1].available = false;
        let cal = Calendar::new("night", "Europe/Vienna", [("mon-fri", ["20:00-23:00"])]).unwrap();
        agents[2].shift = Some(Arc::new(cal));
        let p = policy(Strategy::SkillsLeastLoaded);
        let why = choose(&p, need("de", false), &agents, now()).unwrap_err().0;
        assert!(
            why.contains("1 not available, 1 off shift, 1 at capacity"),
            "{why}"
        );
        // Business-critical needs level-2 as well.
        agents[0].load = 0;
        let why = choose(&p, need("de", true), &agents, now()).unwrap_err().0;
        assert!(why.contains("skills level-1, level-2"), "{why}");
        agents[0].skills.push("level-2".into());
        let c = choose(&p, need("de", true), &agents, now()).unwrap();
        assert_eq!((c.agent, c.reason.contains("business-critical")), (0, true));
        // Manual queues assign nobody.
        assert!(choose(&policy(Strategy::Manual), need("de", false), &agents, now()).is_err());
    }
}
