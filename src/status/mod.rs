//! What an instance holds for Token Status Lists
//! (docs/design.md "Status lists"): the block of indices it hands out ([`indices`]) and the lists
//! it signed this second ([`made`]). The lists themselves are served by
//! `oauth::status_list`.

pub mod indices;
pub mod made;
