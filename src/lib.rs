//! triage decides, for every inbound helpdesk request, who answers it, how fast, and whether a
//! machine may answer it at all — and records why.
//!
//! The flow: a channel parser in [`intake`] turns a request into a [`model::Ticket`];
//! [`rules`] loads the service manager's rules files into [`rules::CompiledRules`];
//! [`classify::classify`] turns ticket and rules into a [`model::Decision`] whose trace names
//! the rule (file:line), customer entry or default behind every field. [`calendar`] answers
//! whether a moment lies inside a service window and counts business time; [`sla`] picks
//! the ticket's policy and runs its clocks; [`faq`] finds the article that may answer it;
//! [`routing`] picks the agent for a ticket in a queue with automatic assignment.
//! All of these are pure: they take plain data, including "now", and never touch the clock,
//! a database or the network. [`store`] is the only module that talks SQL, [`api`] the HTTP
//! surface, and [`worker`] fires SLA alarms and delivers webhooks in the background.

pub mod api;
pub mod calendar;
pub mod classify;
pub mod clock;
pub mod demo;
pub mod desk;
pub mod eval;
pub mod faq;
pub mod intake;
pub mod language;
pub mod loadtest;
pub mod model;
pub mod routing;
pub mod rules;
pub mod server;
pub mod simulate;
pub mod sla;
pub mod store;
pub mod worker;
