//! sea-orm entities of the triage store.
