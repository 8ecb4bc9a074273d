//! What a lock record is keyed by: the username together with the client
//! address it is guessed from, so that failures from one address lock the
//! username for that address only and nobody elsewhere can lock its owner
//! out (OWASP ASVS 4.0.3 V2.2.1: anti-automation must not enable denial of
//! service against the account).
//!
//! Every key is derived here, from the username's folded form
//! ([`username_key`]): every spelling that logs in as one user is one
//! username here too.

use std::net::IpAddr;

use super::client_ip::address_bucket;
use crate::secret::hash_str;

/// The keys of one (username, address) lock record. Both are SHA-256:
/// people type passwords into username fields, so names are not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockKey {
    /// The record's own key: the username and the address bucket.
    pub record: String,
    /// The username's key, shared by all of its records, so that an
    /// administrator can clear them all ([`username_key`]).
    pub username: String,
}

pub use crate::names::username_key;

/// A key in the space of user ids (lowercase hex) derived from
/// `username`, by which an unknown name picks the stored hash whose cost
/// its dummy check takes ([`crate::db::users::hash_near`]): the same pick
/// for the same name on every instance, unpredictable without the ids.
pub fn id_key(username: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(username_key(username).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The lock record for `username` guessed from `remote` (as
/// [`super::client_ip`] resolved it): IPv4 by address, IPv6 by /64. A
/// request without a known address shares one record per username.
pub fn lock_key(username: &str, remote: Option<IpAddr>) -> LockKey {
    let username = username_key(username);
    let address = remote.map_or_else(|| "-".to_string(), |ip| address_bucket(ip).to_string());
    LockKey {
        // The username key is fixed-length base64url, without a space:
        // the pair cannot be read two ways.
        record: hash_str(&format!("{username} {address}")),
        username,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ip: &str) -> Option<IpAddr> {
        Some(ip.parse().unwrap())
    }

    #[test]
    fn one_record_per_username_and_address_bucket() {
        let a = lock_key("alice", at("192.0.2.1"));
        assert_eq!(a, lock_key("alice", at("::ffff:192.0.2.1")));
        assert_ne!(a.record, lock_key("alice", at("192.0.2.2")).record);
        assert_ne!(a.record, lock_key("bob", at("192.0.2.1")).record);
        assert_eq!(a.username, lock_key("alice", at("192.0.2.2")).username);
        assert_eq!(a.username, username_key("alice"));
        let v6 = lock_key("alice", at("2001:db8:1:2::1"));
        assert_eq!(v6, lock_key("alice", at("2001:db8:1:2:ffff::9")));
        assert_ne!(v6.record, lock_key("alice", at("2001:db8:1:3::1")).record);
        assert_ne!(a.record, lock_key("alice", None).record);
    }
}
