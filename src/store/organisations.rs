//! Organisations: the rules' customer list mirrored into the database, so that reports and
//! old tickets keep the organisation a ticket was decided for.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use entity::organisations;

use super::{is_unique_violation, Store, StoreError};
use crate::rules::CustomerIndex;

impl Store {
    /// Brings the organisations table in line with the rules' customer list (insert or
    /// update by name). Organisations no longer listed are kept: old tickets refer to them.
    pub async fn import_organisations(
        &self,
        customers: &CustomerIndex,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for c in customers.iter() {
            let existing = organisations::Entity::find()
                .filter(organisations::Column::Name.eq(&*c.name))
                .one(&self.db)
                .await?;
            let segment = c.segment.map(|s| s.to_string());
            let tags = json!(c.tags);
            match existing {
                Some(o) if o.segment == segment && o.tags == tags => continue,
                Some(o) => {
                    let mut am: organisations::ActiveModel = o.into();
                    am.segment = Set(segment);
                    am.tags = Set(tags);
                    am.source = Set(source.to_owned());
                    am.updated_at = Set(now);
                    am.update(&self.db).await?;
                }
                None => {
                    let am = organisations::ActiveModel {
                        name: Set(c.name.to_string()),
                        segment: Set(segment),
                        tags: Set(tags),
                        source: Set(source.to_owned()),
                        updated_at: Set(now),
                        ..Default::default()
                    };
                    match am.insert(&self.db).await {
                        Ok(_) => {}
                        // Another process imported it at the same moment.
                        Err(e) if is_unique_violation(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            n += 1;
        }
        Ok(n)
    }
}
