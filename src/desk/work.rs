//! Agents and who works which ticket: registering agents and their presence, claiming,
//! assigning and transferring tickets — each recorded with who did it.

use super::{Actor, Ctx, DeskError, Expected};
use crate::model::Role;
use crate::store::{self, AgentRecord, StoreError, TicketRecord, TicketUpdate};

/// The presence values an agent can have.
pub const PRESENCE: [&str; 3] = ["available", "away", "offline"];

/// An agent as managers register them.
#[derive(Debug, Clone)]
pub struct AgentInput {
    pub name: String,
    pub email: Option<String>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: i32,
    pub presence: Option<String>,
    pub calendar: Option<String>,
}

fn presence(p: &str) -> Result<String, DeskError> {
    if PRESENCE.contains(&p) {
        Ok(p.to_owned())
    } else {
        Err(DeskError::invalid(
            "presence",
            format!(
                "unknown presence \"{p}\" (expected one of: {})",
                PRESENCE.join(", ")
            ),
        ))
    }
}

/// Registers or replaces an agent; an available one picks up waiting tickets at once.
pub async fn put_agent(
    cx: &Ctx<'_>,
    id: String,
    input: AgentInput,
) -> Result<(AgentRecord, u64), DeskError> {
    if input.name.trim().is_empty() {
        return Err(DeskError::invalid("name", "name must not be empty"));
    }
    if input.capacity < 0 {
        return Err(DeskError::invalid(
            "capacity",
            "capacity must not be negative",
        ));
    }
    if let Some(c) = input
        .calendar
        .as_deref()
        .filter(|c| !cx.rules.calendars.contains_key(*c))
    {
        return Err(DeskError::invalid(
            "calendar",
            format!(
                "unknown calendar \"{c}\" (defined calendars: {})",
                crate::rules::list(cx.rules.calendars.keys())
            ),
        ));
    }
    let record = AgentRecord {
        id,
        name: input.name,
        email: input.email,
        skills: serde_json::json!(input.skills),
        languages: serde_json::json!(input.languages),
        capacity: input.capacity,
        presence: presence(input.presence.as_deref().unwrap_or("offline"))?,
        updated_at: cx.now,
        calendar: input.calendar,
        last_assigned_at: None,
    };
    let a = cx.store.put_agent(record).await?;
    picked_up(cx, a).await
}

/// Sets an agent's presence: agents their own, managers anyone's.
pub async fn set_presence(
    cx: &Ctx<'_>,
    caller: Option<(&str, Role)>,
    id: &str,
    value: &str,
) -> Result<(AgentRecord, u64), DeskError> {
    if let Some((name, Role::Agent)) = caller {
        if name != id {
            return Err(DeskError::Forbidden(
                "agents set only their own presence".into(),
            ));
        }
    }
    let p = presence(value)?;
    let a = match cx.store.set_presence(id, &p, cx.now).await {
        Err(StoreError::NotFound(_)) => return Err(DeskError::NotFound(format!("no agent {id}"))),
        r => r?,
    };
    picked_up(cx, a).await
}

/// An agent who is available takes waiting tickets at once, before the answer is sent: the
/// caller sees their new load, and nobody waits for the next worker round.
async fn picked_up(cx: &Ctx<'_>, a: AgentRecord) -> Result<(AgentRecord, u64), DeskError> {
    let a = if a.presence == "available" {
        super::assign::round(cx.store, &cx.rules, cx.now).await?;
        cx.store.agent(&a.id).await?
    } else {
        a
    };
    let load = cx.store.open_load(&a.id).await?;
    Ok((a, load))
}

/// Every agent with their open load.
pub async fn agents(cx: &Ctx<'_>) -> Result<Vec<(AgentRecord, u64)>, DeskError> {
    let loads = cx.store.agent_loads().await?;
    Ok(loads
        .into_iter()
        .map(|l| (l.agent, u64::from(l.load)))
        .collect())
}

async fn assign_to(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    agent: &str,
    kind: &str,
    actor: &Actor,
    unknown_agent: DeskError,
) -> Result<TicketRecord, DeskError> {
    let event = actor.event(
        kind,
        serde_json::json!({ "agent": agent, "previous": record.assignee }),
    );
    let updated = match cx.store.assign_ticket(record, agent, event, cx.now).await {
        Err(StoreError::NotFound(_)) => return Err(unknown_agent),
        r => r?,
    };
    Ok(updated)
}

/// Takes a ticket for the calling agent (or the agent a manager acts for). Refused when
/// another agent has it, on a stale view, when the agent is offline or at capacity, and
/// when no registered agent stands behind the caller.
pub async fn claim(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
) -> Result<TicketRecord, DeskError> {
    let record = super::ticket(cx, key, expected).await?;
    let me = actor.author().to_owned();
    if let Some(other) = record.assignee.as_deref().filter(|a| *a != me) {
        return Err(DeskError::AlreadyAssigned(format!(
            "ticket {} is assigned to {other}",
            store::ticket_number(record.seq)
        )));
    }
    let not_an_agent = DeskError::NotAnAgent(format!(
        "a claim takes the ticket for the calling agent, and {me} is no registered agent: \
         claim with an agent's token, or give the ticket to an agent with POST /api/v1/tickets/{}/assign",
        store::ticket_number(record.seq)
    ));
    assign_to(cx, &record, &me, "claimed", actor, not_an_agent).await
}

/// Gives a ticket to an agent (registered, not offline, under capacity).
pub async fn assign(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    agent: &str,
) -> Result<TicketRecord, DeskError> {
    let record = super::ticket(cx, key, expected).await?;
    let unknown = DeskError::invalid("agent", format!("no agent {agent}"));
    assign_to(cx, &record, agent, "assigned", actor, unknown).await
}

/// Moves a ticket to another queue, with the reason; it leaves its agent. The queue counts
/// as a person's decision from then on: reclassification keeps it.
pub async fn transfer(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    queue: &str,
    reason: &str,
) -> Result<TicketRecord, DeskError> {
    let record = super::ticket(cx, key, expected).await?;
    if !cx.rules.queues.contains_key(queue) {
        return Err(DeskError::invalid(
            "queue",
            format!("unknown queue \"{queue}\""),
        ));
    }
    if reason.trim().is_empty() {
        return Err(DeskError::invalid("reason", "say why the ticket moves"));
    }
    let mut trace = record.trace.clone();
    trace["queue"] = serde_json::to_value(super::conversation::transfer_reason(actor, reason))
        .map_err(StoreError::from)?;
    let mut event = actor.event(
        "transferred",
        serde_json::json!({
            "from": record.queue, "to": queue, "reason": reason,
            "previous_agent": record.assignee,
        }),
    );
    let mut update = TicketUpdate {
        queue: Some(queue.to_owned()),
        trace: Some(trace),
        assignee: Some(None),
        ..Default::default()
    };
    // A team's own targets (a queue condition) apply from the transfer on; the time used
    // so far stays used.
    let tags = store::tags_of(&record)?;
    let policy = cx
        .rules
        .policy_for(&super::stored_subject(&record, &tags, queue)?);
    super::follow_policy(cx, &record, policy, &mut event, &mut update)?;
    update.events.push(event);
    let updated = cx.store.update_ticket(&record, update, cx.now).await?;
    cx.wake_assigner();
    Ok(updated)
}
