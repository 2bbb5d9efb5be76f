//! A person's data on request (GDPR Art. 15 and 17): everything stored about them as one
//! document, or their content removed everywhere while the tickets' decisions and SLA
//! figures stay for the reports.

use super::{Actor, Ctx, DeskError};
use crate::intake::jsonl::is_address;
use crate::store::Erased;

fn address(email: &str) -> Result<String, DeskError> {
    let email = email.trim().to_lowercase();
    if !is_address(&email) {
        return Err(DeskError::invalid(
            "email",
            format!("\"{email}\" is not an e-mail address"),
        ));
    }
    Ok(email)
}

/// Removes the person's content from every ticket, message, raw mail, attachment,
/// outbound mail, event and notification; says what it removed.
pub async fn erase(cx: &Ctx<'_>, email: &str, actor: &Actor) -> Result<Erased, DeskError> {
    let email = address(email)?;
    Ok(cx.store.erase_person(&email, &actor.name, cx.now).await?)
}

/// Everything stored about the person.
pub async fn export(cx: &Ctx<'_>, email: &str) -> Result<serde_json::Value, DeskError> {
    let email = address(email)?;
    Ok(cx.store.export_person(&email).await?)
}
