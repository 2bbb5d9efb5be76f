//! Leads: one row per lead ticket, written in the transaction that writes the ticket, read
//! by the lead report and its export.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use entity::leads;

use super::{Store, StoreError};

pub use entity::leads::Model as LeadRecord;

/// A nullable text column.
type Text = Option<String>;

/// What the lead export shows of a lead's ticket.
#[derive(Clone, Debug, Default)]
pub struct LeadTicket {
    pub seq: i64,
    /// The reporting system's id of the event that made the lead.
    pub event: Option<String>,
    pub organisation: Option<String>,
    pub email: Option<String>,
}

impl LeadTicket {
    pub fn of(t: &super::TicketRecord) -> LeadTicket {
        LeadTicket {
            seq: t.seq,
            event: event_id(t.external_id.as_deref()),
            organisation: t.organisation.clone(),
            email: t.from_email.clone(),
        }
    }
}

/// The reporting system's event id of a task an event started (its `external_id` is
/// `event:ID`).
fn event_id(external_id: Option<&str>) -> Option<String> {
    external_id?.strip_prefix("event:").map(str::to_owned)
}

/// A lead as intake stores it with its ticket.
#[derive(Clone, Debug)]
pub struct NewLead {
    pub trigger: String,
    pub source: String,
    pub fields: BTreeMap<String, String>,
    /// Required fields still missing.
    pub missing: Vec<String>,
    /// Whether it reached sales at once (every field given, no screen keeping it out).
    pub handed: bool,
}

impl NewLead {
    pub fn record(&self, ticket_id: Uuid, now: DateTime<Utc>) -> LeadRecord {
        LeadRecord {
            ticket_id,
            created_at: now,
            trigger: self.trigger.clone(),
            source: self.source.clone(),
            fields: serde_json::json!(self.fields),
            missing: serde_json::json!(self.missing),
            handed_at: self.handed.then_some(now),
            outcome: None,
            reason: None,
            opportunity: None,
            outcome_at: None,
            outcome_by: None,
            within_sla: None,
        }
    }
}

/// The fields of a stored lead.
pub fn fields_of(l: &LeadRecord) -> BTreeMap<String, String> {
    serde_json::from_value(l.fields.clone()).unwrap_or_default()
}

/// The missing fields of a stored lead.
pub fn missing_of(l: &LeadRecord) -> Vec<String> {
    serde_json::from_value(l.missing.clone()).unwrap_or_default()
}

/// Writes a lead's row whole, new or changed.
pub(super) async fn put<C: ConnectionTrait>(db: &C, lead: &LeadRecord) -> Result<(), StoreError> {
    // Every column written, not only those that differ from a row read before.
    let row = lead.clone().into_active_model().reset_all();
    leads::Entity::insert(row)
        .on_conflict(
            OnConflict::column(leads::Column::TicketId)
                .update_columns([
                    leads::Column::Source,
                    leads::Column::Fields,
                    leads::Column::Missing,
                    leads::Column::HandedAt,
                    leads::Column::Outcome,
                    leads::Column::Reason,
                    leads::Column::Opportunity,
                    leads::Column::OutcomeAt,
                    leads::Column::OutcomeBy,
                    leads::Column::WithinSla,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Removes what marketing wrote about a lead (its fields' values may name people) and the
/// same values in its `lead.*` events; which fields were given, the trigger, source and
/// outcome stay for the report.
pub(super) async fn erase<C: ConnectionTrait>(db: &C, ticket_id: Uuid) -> Result<(), StoreError> {
    fn blank(v: &serde_json::Value) -> serde_json::Value {
        match v.as_object() {
            Some(m) => m
                .keys()
                .map(|k| (k.clone(), serde_json::json!(super::ERASED)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            None => serde_json::json!({}),
        }
    }
    if let Some(l) = leads::Entity::find_by_id(ticket_id).one(db).await? {
        let fields = blank(&l.fields);
        let mut am = l.into_active_model();
        am.fields = Set(fields);
        am.update(db).await?;
    }
    for e in entity::events::Entity::find()
        .filter(entity::events::Column::TicketId.eq(ticket_id))
        .filter(entity::events::Column::Kind.starts_with("lead."))
        .all(db)
        .await?
    {
        if let Some(f) = e.data.get("fields") {
            let mut data = e.data.clone();
            data["fields"] = blank(f);
            let mut am = e.into_active_model();
            am.data = Set(data);
            am.update(db).await?;
        }
    }
    Ok(())
}

impl Store {
    /// The lead a ticket carries, if it is one.
    pub async fn lead(&self, ticket_id: Uuid) -> Result<Option<LeadRecord>, StoreError> {
        Ok(leads::Entity::find_by_id(ticket_id).one(&self.db).await?)
    }

    /// The leads created in `[from, to)`, oldest first.
    pub async fn leads_created(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        Ok(leads::Entity::find()
            .filter(leads::Column::CreatedAt.gte(from))
            .filter(leads::Column::CreatedAt.lt(to))
            .order_by_asc(leads::Column::CreatedAt)
            .order_by_asc(leads::Column::TicketId)
            .all(&self.db)
            .await?)
    }

    /// What the lead export shows of the tickets `ids`: number, the reporting system's
    /// event id, the organisation and the contact's address.
    pub async fn lead_tickets(
        &self,
        ids: Vec<Uuid>,
    ) -> Result<std::collections::HashMap<Uuid, LeadTicket>, StoreError> {
        use entity::tickets::Column as T;
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(1_000) {
            let rows: Vec<(Uuid, i64, Text, Text, Text)> = entity::tickets::Entity::find()
                .select_only()
                .columns([T::Id, T::Seq, T::ExternalId, T::Organisation, T::FromEmail])
                .filter(T::Id.is_in(chunk.to_vec()))
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(
                rows.into_iter()
                    .map(|(id, seq, external, organisation, email)| {
                        let event = event_id(external.as_deref());
                        (
                            id,
                            LeadTicket {
                                seq,
                                event,
                                organisation,
                                email,
                            },
                        )
                    }),
            );
        }
        Ok(out)
    }
}
