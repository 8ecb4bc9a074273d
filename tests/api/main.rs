//! Integration tests: the real server on port 0 and the real binary, against
//! a fresh database per test on SQLite and (when configured) PostgreSQL.

mod cli;
mod endpoints;
mod fixtures;
mod health;
mod helpers;
mod refresh;
mod resource;
mod startup;
mod token;
