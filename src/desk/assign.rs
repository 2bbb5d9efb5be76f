//! Automatic assignment rounds: every queue whose rules assign automatically gives its
//! waiting tickets to the agents [`routing::choose`] picks. Run by the worker's rounds, and
//! at once when a workflow changes something that may let a ticket find its agent (a new
//! or reopened ticket, an agent becoming available, a ticket done).

use chrono::{DateTime, Utc};

use crate::routing::{self, Candidate, Need};
use crate::rules::CompiledRules;
use crate::store::{AgentLoad, Assigned, Store, StoreError, TicketRecord};

/// Tickets looked at per queue and transaction.
const BATCH: u64 = 200;

/// One round over all automatic queues; returns the assignments made.
pub async fn round(
    store: &Store,
    rules: &CompiledRules,
    now: DateTime<Utc>,
) -> Result<Vec<Assigned>, StoreError> {
    let mut out = Vec::new();
    if !store.anyone_available().await? {
        return Ok(out);
    }
    // Queue by queue, so that one queue nobody can staff holds up no other.
    for queue in rules.queues.values().filter(|q| q.policy.automatic()) {
        let queues = [queue.id.to_string()];
        loop {
            // The agents are converted once per batch; each ticket only updates their loads.
            let mut agents = Vec::new();
            let got = store
                .assign_pending(&queues, now, BATCH, |t, pool| {
                    decide(rules, t, pool, &mut agents, now)
                })
                .await?;
            let n = got.len();
            for a in &got {
                metrics::counter!("triage_assignments_total", "queue" => queue.id.to_string())
                    .increment(1);
                tracing::debug!(ticket = a.seq, agent = %a.agent, "assigned");
            }
            out.extend(got);
            if n < BATCH as usize {
                break;
            }
        }
    }
    Ok(out)
}

/// The agents as the routing core sees them.
pub(crate) fn candidates(rules: &CompiledRules, pool: &[AgentLoad]) -> Vec<Candidate> {
    // An agent whose stored skills or languages cannot be read matches nothing, and says so.
    let list = |v: &serde_json::Value| -> Vec<String> {
        serde_json::from_value(v.clone()).unwrap_or_else(|e| {
            tracing::error!("an agent's stored skills or languages are corrupt ({e}): {v}");
            Vec::new()
        })
    };
    pool.iter()
        .map(|l| Candidate {
            id: l.agent.id.clone(),
            skills: list(&l.agent.skills),
            languages: list(&l.agent.languages),
            capacity: u32::try_from(l.agent.capacity).unwrap_or(0),
            load: l.load,
            available: l.agent.presence == "available",
            shift: l
                .agent
                .calendar
                .as_deref()
                .and_then(|c| rules.calendars.get(c).cloned()),
            last_assigned_at: l.agent.last_assigned_at,
        })
        .collect()
}

fn decide(
    rules: &CompiledRules,
    ticket: &TicketRecord,
    pool: &[AgentLoad],
    agents: &mut Vec<Candidate>,
    now: DateTime<Utc>,
) -> Option<(usize, String)> {
    // A queue the rules no longer define assigns nobody; its tickets wait for a person.
    let queue = rules.queues.get(ticket.queue.as_str())?;
    if agents.len() != pool.len() {
        *agents = candidates(rules, pool);
    }
    for (c, l) in agents.iter_mut().zip(pool) {
        c.load = l.load;
        c.last_assigned_at = l.agent.last_assigned_at;
    }
    let need = Need {
        queue: &ticket.queue,
        language: &ticket.language,
        business_critical: ticket.segment == "business-critical",
    };
    routing::choose(&queue.policy, need, agents, now)
        .ok()
        .map(|c| (c.agent, c.reason))
}
