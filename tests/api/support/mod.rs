//! What the tests share, none of it a test: calls to the admin API
//! (`admin`), a fresh database per test on
//! every backend and the real server on port 0 (`helpers`), stored users,
//! roles and clients and HTTP replies (`fixtures`), a cookie-keeping
//! browser and the WebDriver one (`browser`, `webdriver`), the
//! authorization-code flow's steps (`code_flow`), a client's redirect
//! target (`callback`), an app's back-channel logout endpoint
//! (`receiver`), an OTLP collector (`otlp`), the real binary as a process
//! (`process`), and an authenticator app (`totp`).

pub mod admin;
pub mod authenticator;
pub mod browser;
pub mod callback;
pub mod code_flow;
pub mod fixtures;
pub mod helpers;
pub mod otlp;
pub mod process;
pub mod receiver;
pub mod totp;
pub mod webdriver;
