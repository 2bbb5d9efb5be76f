//! sea-orm migrations of the triage store, one file per change.
