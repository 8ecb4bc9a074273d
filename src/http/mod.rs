//! HTTP utilities that both the protocol endpoints (`oauth`) and the pages
//! (`web`) use: reading a form body with the protocol's strict rules, and
//! strict `application/x-www-form-urlencoded` decoding. Neither of those
//! modules imports the other for them.

pub mod form; // form bodies: bounded, strictly UTF-8, no repeated parameter
pub mod urlencoded; // strict form-urlencoded decoding (bodies, queries, Basic)
