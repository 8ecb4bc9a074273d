//! The authorization-server side of OAuth 2.0.

pub mod grant_type;
pub mod scope;
