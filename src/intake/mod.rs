//! Channel parsers: turn what a channel delivers into a [`crate::model::Ticket`].
//!
//! Parsing only; no decisions and no storage.

pub mod jsonl;
pub mod mail;
pub mod pipe;
