//! Integration tests: the real server on port 0 and the real binary, against
//! a fresh database per test on SQLite and (when configured) PostgreSQL.

mod audit;
mod authorize;
mod bad_tokens;
mod browser;
mod cli;
mod cli_clients;
mod client_auth;
mod code_audit;
mod code_exchange;
mod code_flow;
mod crash;
mod endpoints;
mod environment;
mod files;
mod fixtures;
mod health;
mod helpers;
mod hostile;
mod introspection;
mod lockout;
mod login_form;
mod metrics;
mod parsers;
mod process;
mod races;
mod refresh;
mod reset_wins;
mod resource;
mod shutdown;
mod startup;
mod token;
mod token_errors;
mod verifier;
