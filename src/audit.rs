//! The audit trail: one log line per security-relevant event, under the
//! log target `authd::audit` so that it can be filtered, routed or kept
//! apart (`RUST_LOG=authd::audit=info`).
//!
//! Each line is `event=NAME outcome=WORD` followed by `key=value` fields in
//! a fixed order per event. Text values are always quoted, with `"`, `\`
//! and every control, invisible or text-direction character escaped, so
//! that a value chosen by a client (a username in a login attempt) cannot
//! end the line, fake a field, or make the line read otherwise.
//! An absent value is a bare `-`. No function here takes a password,
//! secret or token: callers cannot log one by mistake.

use std::fmt::Write;
use std::net::IpAddr;

/// The log target of every audit line.
pub const TARGET: &str = "authd::audit";

/// Longest text value kept, in characters: a login form can send a
/// 16 KiB username, which must not become a 16 KiB log line.
const MAX_VALUE_CHARS: usize = 256;

/// Who made an administrative change.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// The `authd` command line, run by whoever has the database and key.
    Cli,
    /// A logged-in user of the developer console.
    Console {
        /// The user's id.
        user_id: &'a str,
        /// Where the request came from.
        remote: Option<IpAddr>,
    },
    /// Someone signing themselves up at `/register`.
    Registration {
        /// Where the request came from.
        remote: Option<IpAddr>,
    },
    /// A user changing their own account (`/account/security`, or the
    /// enrolment a role requires at sign-in).
    Account {
        /// The user's id.
        user_id: &'a str,
        /// Where the request came from.
        remote: Option<IpAddr>,
    },
    /// The admin HTTP API, called with an access token carrying
    /// `authd:admin`.
    Api {
        /// The token's `sub`: a user's id, or the client's own id for a
        /// client_credentials token.
        subject: &'a str,
        /// The client the token was issued to.
        client_id: &'a str,
        /// Where the request came from.
        remote: Option<IpAddr>,
    },
}

/// Why a password login failed. Clients always get the same answer; the
/// audit trail says which case it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// No user of that name.
    UnknownUser,
    /// The password did not match.
    WrongPassword,
    /// The user is disabled.
    Disabled,
    /// The username is locked after too many failures (no hash was run).
    Locked,
    /// The client address sent too many failures.
    AddressLimited,
    /// The password matched, but it was changed or the user disabled
    /// while it was being checked.
    CredentialsChanged,
}

impl LoginFailure {
    fn as_str(self) -> &'static str {
        match self {
            LoginFailure::UnknownUser => "unknown_user",
            LoginFailure::WrongPassword => "wrong_password",
            LoginFailure::Disabled => "disabled",
            LoginFailure::Locked => "locked",
            LoginFailure::AddressLimited => "address_limited",
            LoginFailure::CredentialsChanged => "credentials_changed",
        }
    }
}

/// What a revocation request (RFC 7009) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked<'a> {
    /// A refresh token: its whole family was revoked.
    RefreshFamily {
        /// The token's user.
        user_id: &'a str,
        /// The family.
        family_id: &'a str,
        /// How many tokens of the family this revoked.
        count: usize,
    },
    /// An access token: its `jti` is now refused.
    AccessToken {
        /// Its `sub` (a user id, or the client for client_credentials).
        subject: &'a str,
        /// Its `jti`.
        jti: &'a str,
    },
    /// Unknown, expired, or another client's token: nothing changed
    /// (the client still gets 200, RFC 7009 §2.2).
    Nothing,
}

/// One audit event being built: its line (the message, as text) and the
/// same values as structured fields.
struct Line {
    text: String,
    fields: Vec<(&'static str, Field)>,
}

/// A structured field's value.
enum Field {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A value that [`Line::bare`] writes unquoted: it cannot hold a space
/// or a quote.
trait Bare: std::fmt::Display {
    fn field(&self) -> Field;
}

impl Bare for &str {
    fn field(&self) -> Field {
        Field::Text(self.to_string())
    }
}

impl Bare for bool {
    fn field(&self) -> Field {
        Field::Bool(*self)
    }
}

impl Bare for i64 {
    fn field(&self) -> Field {
        Field::Int(*self)
    }
}

impl Bare for usize {
    fn field(&self) -> Field {
        Field::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl Bare for IpAddr {
    fn field(&self) -> Field {
        Field::Text(self.to_string())
    }
}

impl Line {
    fn new(event: &str, outcome: &str) -> Line {
        Line {
            text: format!("event={event} outcome={outcome}"),
            fields: vec![
                ("event", Field::Text(event.into())),
                ("outcome", Field::Text(outcome.into())),
            ],
        }
    }

    /// A quoted, escaped text value.
    fn text(mut self, key: &'static str, value: &str) -> Line {
        let _ = write!(self.text, " {key}=");
        push_quoted(&mut self.text, value);
        let mut field = String::new();
        push_escaped(&mut field, value);
        self.fields.push((key, Field::Text(field)));
        self
    }

    /// A text value that may be absent (a `-` in the line, no field).
    fn opt_text(self, key: &'static str, value: Option<&str>) -> Line {
        match value {
            Some(v) => self.text(key, v),
            None => self.absent(key),
        }
    }

    /// A value that cannot hold a space or quote (numbers, addresses).
    fn bare(mut self, key: &'static str, value: impl Bare) -> Line {
        let _ = write!(self.text, " {key}={value}");
        self.fields.push((key, value.field()));
        self
    }

    fn absent(mut self, key: &'static str) -> Line {
        let _ = write!(self.text, " {key}=-");
        self
    }

    fn remote(self, remote: Option<IpAddr>) -> Line {
        match remote {
            Some(ip) => self.bare("remote", ip),
            None => self.absent("remote"),
        }
    }

    /// Last on admin lines: who made the change (and from where, for a
    /// request; the command line has no remote address).
    fn actor(self, actor: Actor<'_>) -> Line {
        match actor {
            Actor::Cli => self.bare("actor", "cli"),
            Actor::Console { user_id, remote } => self
                .bare("actor", "console")
                .text("actor_id", user_id)
                .remote(remote),
            Actor::Registration { remote } => self.bare("actor", "registration").remote(remote),
            Actor::Account { user_id, remote } => self
                .bare("actor", "account")
                .text("actor_id", user_id)
                .remote(remote),
            Actor::Api {
                subject,
                client_id,
                remote,
            } => self
                .bare("actor", "api")
                .text("actor_id", subject)
                .text("actor_client_id", client_id)
                .remote(remote),
        }
    }

    fn info(self) {
        emit::event(&emit::INFO, &emit::INFO_CALLSITE, self);
    }

    fn warn(self) {
        emit::event(&emit::WARN, &emit::WARN_CALLSITE, self);
    }
}

/// The two callsites of audit events (one per level), whose fields are
/// every key an audit line may have: `tracing` needs field names known in
/// advance, and each event records the ones it has.
mod emit {
    use tracing::callsite::{DefaultCallsite, Identifier};
    use tracing::field::{FieldSet, Value};
    use tracing::metadata::Kind;
    use tracing::{Level, Metadata};

    use super::{Field, Line, TARGET};

    /// `message` (the line), then every key of [`super::Line`]'s fields.
    /// A key missing here fails the tests that log its event.
    pub(super) const KEYS: &[&str] = &[
        "message",
        "event",
        "outcome",
        "actor",
        "actor_id",
        "actor_client_id",
        "alg",
        "attempts",
        "cleared",
        "client_id",
        "consent",
        "count",
        "credential_id",
        "family_id",
        "fields",
        "jti",
        "kid",
        "kind",
        "method",
        "name",
        "next",
        "passkeys",
        "public",
        "purpose",
        "reason",
        "recovery_codes",
        "redirected",
        "remote",
        "require_mfa",
        "retired",
        "revoked",
        "revoked_access",
        "revoked_codes",
        "revoked_refresh",
        "role",
        "roles",
        "scope",
        "scopes",
        "sessions",
        "sid",
        "successor",
        "totp",
        "until",
        "user_id",
        "username",
        "username_sha256",
        "users",
        "via",
    ];

    macro_rules! callsite {
        ($callsite:ident, $meta:ident, $level:expr) => {
            pub(super) static $callsite: DefaultCallsite = DefaultCallsite::new(&$meta);
            pub(super) static $meta: Metadata<'static> = Metadata::new(
                "audit",
                TARGET,
                $level,
                Some(file!()),
                Some(line!()),
                Some(module_path!()),
                FieldSet::new(KEYS, Identifier(&$callsite)),
                Kind::EVENT,
            );
        };
    }

    callsite!(INFO_CALLSITE, INFO, Level::INFO);
    callsite!(WARN_CALLSITE, WARN, Level::WARN);

    /// Sends `line` to the subscriber, as `tracing::event!` would.
    pub(super) fn event(
        meta: &'static Metadata<'static>,
        callsite: &'static DefaultCallsite,
        line: Line,
    ) {
        let interest = callsite.interest();
        if interest.is_never()
            || !(interest.is_always() || tracing::dispatcher::get_default(|d| d.enabled(meta)))
        {
            return;
        }
        let mut values: Vec<Option<&dyn Value>> = vec![None; KEYS.len()];
        let message = line.text.as_str();
        values[0] = Some(&message);
        for (key, field) in &line.fields {
            let value: &dyn Value = match field {
                Field::Text(s) => s,
                Field::Int(n) => n,
                Field::Bool(b) => b,
            };
            match KEYS.iter().position(|k| k == key) {
                Some(i) => values[i] = Some(value),
                None => debug_assert!(false, "audit key {key:?} is missing from audit::emit::KEYS"),
            }
        }
        let fields = meta.fields().value_set_all(&values);
        tracing::Event::dispatch(meta, &fields);
    }
}

/// Appends `value` in double quotes: `"` and `\` backslash-escaped, and
/// the rest as [`push_escaped`] does.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    escape(out, value, true);
    out.push('"');
}

/// Appends `value` for a structured field, whose encoding (JSON, the text
/// format's quoting) escapes quotes itself: line breaks as `\n`, `\r`,
/// `\t`, and every other control, invisible or text-direction character
/// and whitespace but the plain space ([`crate::names::refused_in_display`]:
/// a right-to-left override would make the rest of the line read
/// backwards) as `\u{..}`; cut at [`MAX_VALUE_CHARS`] with a trailing `…`.
fn push_escaped(out: &mut String, value: &str) {
    escape(out, value, false);
}

fn escape(out: &mut String, value: &str, quotes: bool) {
    for (i, c) in value.chars().enumerate() {
        if i == MAX_VALUE_CHARS {
            out.push('…');
            break;
        }
        match c {
            '"' if quotes => out.push_str("\\\""),
            '\\' if quotes => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if crate::names::refused_in_display(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

// Logins (password grant and login form).

/// A password login attempt: who it names, through which client, from
/// where. Built once per attempt and passed to the login events.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The username as typed (it may name no user).
    pub username: &'a str,
    /// The client; `None` on the login form.
    pub client_id: Option<&'a str>,
    /// The client address.
    pub remote: Option<IpAddr>,
}

impl Attempt<'_> {
    /// The username only when it names a user: a name that names nobody
    /// is often a password typed in the wrong field, so only a short hash
    /// of it is kept (enough to see one name tried many times).
    fn line(&self, event: &str, outcome: &str, user_id: Option<&str>) -> Line {
        let line = Line::new(event, outcome).opt_text("user_id", user_id);
        let line = if user_id.is_some() {
            line.text("username", self.username)
        } else {
            let hash = crate::secret::hash_str(self.username);
            line.text("username_sha256", hash.get(..12).unwrap_or(&hash))
        };
        line.opt_text("client_id", self.client_id)
            .remote(self.remote)
    }
}

/// A password login succeeded for the user `user_id`.
pub fn login_succeeded(attempt: &Attempt<'_>, user_id: &str) {
    attempt.line("login", "success", Some(user_id)).info();
}

/// A password login failed; `user_id` when the username names a user.
pub fn login_failed(attempt: &Attempt<'_>, user_id: Option<&str>, reason: LoginFailure) {
    attempt
        .line("login", "failure", user_id)
        .bare("reason", reason.as_str())
        .info();
}

/// A user ended their browser session (`POST /logout`).
pub fn logout(user_id: &str, remote: Option<IpAddr>) {
    Line::new("logout", "success")
        .text("user_id", user_id)
        .remote(remote)
        .info();
}

/// A user signed out everywhere on the account page: `sessions` browser
/// sessions ended, the one that asked included.
pub fn logout_everywhere(user_id: &str, sessions: usize, remote: Option<IpAddr>) {
    Line::new("logout_everywhere", "success")
        .text("user_id", user_id)
        .bare("sessions", sessions)
        .remote(remote)
        .info();
}

/// A user ended their browser session at the `end_session_endpoint`
/// (RP-initiated logout), asked by `client_id` when one was identified;
/// `redirected` when the browser was sent back to it.
pub fn logout_requested(
    user_id: &str,
    client_id: Option<&str>,
    redirected: bool,
    remote: Option<IpAddr>,
) {
    Line::new("logout", "success")
        .text("user_id", user_id)
        .remote(remote)
        .bare("via", "end_session")
        .opt_text("client_id", client_id)
        .bare("redirected", redirected)
        .info();
}

/// Whom a back-channel logout notice told, and after how many attempts.
#[derive(Debug, Clone, Copy)]
pub struct Notified<'a> {
    /// The client told.
    pub client_id: &'a str,
    /// The session's user.
    pub user_id: &'a str,
    /// The session.
    pub sid: &'a str,
    /// Attempts made, this one included.
    pub attempts: i64,
}

/// A logout token was `delivered` to a client, or `given_up` after its
/// last attempt failed (Back-Channel Logout 1.0).
pub fn backchannel_logout(who: &Notified<'_>, outcome: &str) {
    let line = Line::new("backchannel_logout", outcome)
        .text("client_id", who.client_id)
        .text("user_id", who.user_id)
        .text("sid", who.sid)
        .bare("attempts", who.attempts);
    match outcome {
        "delivered" => line.info(),
        _ => line.warn(),
    }
}

/// This attempt's failure locked its username until `until` (Unix
/// seconds); `user_id` when the username names a user.
pub fn locked(attempt: &Attempt<'_>, user_id: Option<&str>, until: i64) {
    attempt
        .line("username_locked", "locked", user_id)
        .bare("until", until)
        .warn();
}

/// Why a second factor was refused at sign-in. The user sees the same
/// answer as for a wrong password (the password grant) or a wrong code
/// (the login form); the audit trail says which case it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorFailure {
    /// The code was wrong, already used, or from another user.
    WrongCode,
    /// The password grant sent no `otp`.
    Missing,
    /// A role requires a second factor the user has not enrolled (the
    /// password grant cannot enrol one).
    NotEnrolled,
    /// The username is locked (the code was not checked).
    Locked,
    /// The client address sent too many failures.
    AddressLimited,
    /// The user's only second factor is a passkey, which the password
    /// grant cannot check.
    PasskeyOnly,
    /// A passkey's answer was refused (the `PasskeyError` reason).
    Passkey(&'static str),
}

impl SecondFactorFailure {
    fn as_str(self) -> &'static str {
        match self {
            SecondFactorFailure::WrongCode => "wrong_code",
            SecondFactorFailure::Missing => "missing",
            SecondFactorFailure::NotEnrolled => "not_enrolled",
            SecondFactorFailure::Locked => "locked",
            SecondFactorFailure::AddressLimited => "address_limited",
            SecondFactorFailure::PasskeyOnly => "passkey_only",
            SecondFactorFailure::Passkey(reason) => reason,
        }
    }
}

/// The password of a user with a second factor was right: the login now
/// waits for its second step (`code`, or `enrol` when a role requires a
/// factor the user lacks). Nothing is issued yet.
pub fn login_pending(attempt: &Attempt<'_>, user_id: &str, next: &str) {
    attempt
        .line("login", "pending", Some(user_id))
        .bare("next", next)
        .info();
}

/// A second factor (`method`: `totp` or `recovery_code`) was accepted.
pub fn second_factor_succeeded(attempt: &Attempt<'_>, user_id: &str, method: &str) {
    attempt
        .line("second_factor", "success", Some(user_id))
        .bare("method", method)
        .info();
}

/// A second factor was refused.
pub fn second_factor_failed(attempt: &Attempt<'_>, user_id: &str, reason: SecondFactorFailure) {
    attempt
        .line("second_factor", "failure", Some(user_id))
        .bare("reason", reason.as_str())
        .info();
}

/// A user registered a passkey (`credential`: its id, base64url).
pub fn passkey_enrolled(user_id: &str, credential: &str, name: &str, actor: Actor<'_>) {
    Line::new("passkey_enrolled", "success")
        .text("user_id", user_id)
        .text("credential_id", credential)
        .text("name", name)
        .actor(actor)
        .info();
}

/// A passkey registration was refused (`reason`).
pub fn passkey_enrol_failed(user_id: &str, reason: &str, actor: Actor<'_>) {
    Line::new("passkey_enrolled", "failure")
        .text("user_id", user_id)
        .bare("reason", reason)
        .actor(actor)
        .info();
}

/// A user renamed one of their passkeys.
pub fn passkey_renamed(user_id: &str, credential: &str, name: &str, actor: Actor<'_>) {
    Line::new("passkey_renamed", "success")
        .text("user_id", user_id)
        .text("credential_id", credential)
        .text("name", name)
        .actor(actor)
        .info();
}

/// A user removed one of their passkeys.
pub fn passkey_removed(user_id: &str, credential: &str, actor: Actor<'_>) {
    Line::new("passkey_removed", "success")
        .text("user_id", user_id)
        .text("credential_id", credential)
        .actor(actor)
        .info();
}

/// A sign-in with a passkey alone (no username, no password) was
/// refused: `user_id` when the credential named a user.
pub fn passkey_sign_in_failed(user_id: Option<&str>, reason: &str, remote: Option<IpAddr>) {
    Line::new("login", "failure")
        .opt_text("user_id", user_id)
        .bare("method", "passkey")
        .bare("reason", reason)
        .remote(remote)
        .info();
}

/// A sign-in with a passkey alone succeeded.
pub fn passkey_sign_in_succeeded(user_id: &str, username: &str, remote: Option<IpAddr>) {
    Line::new("login", "success")
        .text("user_id", user_id)
        .text("username", username)
        .bare("method", "passkey")
        .remote(remote)
        .info();
}

/// A user confirmed a TOTP secret: their second factor is on.
pub fn totp_enrolled(user_id: &str, actor: Actor<'_>) {
    Line::new("totp_enrolled", "success")
        .text("user_id", user_id)
        .actor(actor)
        .info();
}

/// A user's TOTP secret and `codes` recovery codes were removed.
pub fn totp_removed(user_id: &str, codes: usize, actor: Actor<'_>) {
    Line::new("totp_removed", "success")
        .text("user_id", user_id)
        .bare("recovery_codes", codes)
        .actor(actor)
        .info();
}

/// A new set of `count` recovery codes voided the user's old ones.
pub fn recovery_codes_generated(user_id: &str, count: usize, actor: Actor<'_>) {
    Line::new("recovery_codes_generated", "success")
        .text("user_id", user_id)
        .bare("count", count)
        .actor(actor)
        .info();
}

/// An administrator removed a user's second factors (`authd user
/// mfa-reset`): whether a TOTP secret was there, how many recovery codes
/// and how many passkeys.
pub fn mfa_reset(
    user_id: &str,
    username: &str,
    (totp, codes, passkeys): (bool, usize, usize),
    actor: Actor<'_>,
) {
    user_change("mfa_reset", user_id, username)
        .bare("totp", totp)
        .bare("recovery_codes", codes)
        .bare("passkeys", passkeys)
        .actor(actor)
        .warn();
}

/// A role's `--require-mfa` was set.
pub fn role_require_mfa(name: &str, required: bool, actor: Actor<'_>) {
    Line::new("role_changed", "success")
        .text("role", name)
        .bare("require_mfa", required)
        .actor(actor)
        .info();
}

// Tokens.

/// A used refresh token was presented again: its family, `count` tokens,
/// was revoked (RFC 9700 §4.14.2). Either the client or a thief holds a
/// stolen token.
pub fn refresh_reused(user_id: &str, client_id: &str, family_id: &str, count: usize) {
    Line::new("refresh_token_reused", "family_revoked")
        .text("user_id", user_id)
        .text("client_id", client_id)
        .text("family_id", family_id)
        .bare("revoked", count)
        .warn();
}

/// A rotated refresh token of family `family_id` came back within the
/// retry grace, its successor unused: answered with that successor again
/// (docs/interface.md "Token lifecycle", Retried refreshes). A client's
/// retry, or a thief's replay inside the window (SECURITY.md).
pub fn refresh_retried(user_id: &str, client_id: &str, family_id: &str) {
    Line::new("refresh_token_retried", "same_successor")
        .text("user_id", user_id)
        .text("client_id", client_id)
        .text("family_id", family_id)
        .info();
}

/// A used authorization code was presented again: the refresh family
/// (`refresh` tokens) and the access token issued from it were revoked
/// (RFC 6749 §4.1.2). The code leaked, or the client retried.
pub fn code_reused(user_id: &str, client_id: &str, refresh: usize, access: bool) {
    Line::new("authorization_code_reused", "tokens_revoked")
        .text("user_id", user_id)
        .text("client_id", client_id)
        .bare("revoked_refresh", refresh)
        .bare("revoked_access", access)
        .warn();
}

/// A user answered a consent page: `allowed` or denied the client.
pub fn consent(user_id: &str, client_id: &str, scope: &str, allowed: bool) {
    Line::new("consent", if allowed { "allowed" } else { "denied" })
        .text("user_id", user_id)
        .text("client_id", client_id)
        .text("scope", scope)
        .info();
}

/// A user revoked an app on the account page: its remembered consent
/// (`consent`: whether there was one), `refresh` refresh tokens and
/// `codes` codes not yet exchanged, all of that user with that client.
pub fn app_revoked(
    user_id: &str,
    client_id: &str,
    consent: bool,
    refresh: usize,
    codes: usize,
    remote: Option<IpAddr>,
) {
    Line::new("app_revoked", "revoked")
        .text("user_id", user_id)
        .text("client_id", client_id)
        .bare("consent", consent)
        .bare("revoked_refresh", refresh)
        .bare("revoked_codes", codes)
        .remote(remote)
        .info();
}

/// A client asked to revoke a token (RFC 7009).
pub fn revocation(client_id: &str, remote: Option<IpAddr>, what: Revoked<'_>) {
    let line = match what {
        Revoked::RefreshFamily {
            user_id,
            family_id,
            count,
        } => Line::new("token_revoked", "revoked")
            .bare("kind", "refresh_token")
            .text("user_id", user_id)
            .text("family_id", family_id)
            .bare("revoked", count),
        Revoked::AccessToken { subject, jti } => Line::new("token_revoked", "revoked")
            .bare("kind", "access_token")
            .text("user_id", subject)
            .text("jti", jti),
        Revoked::Nothing => Line::new("token_revoked", "ignored").absent("kind"),
    };
    line.text("client_id", client_id).remote(remote).info();
}

/// A new signing key became the active one.
pub fn key_rotated(kid: &str, alg: &str, retired: usize) {
    Line::new("key_rotated", "success")
        .text("kid", kid)
        .text("alg", alg)
        .bare("retired", retired)
        .info();
}

/// A next signing key was staged: published, signing nothing yet.
pub fn key_staged(kid: &str, alg: &str, purpose: &str) {
    Line::new("key_staged", "success")
        .text("kid", kid)
        .text("alg", alg)
        .text("purpose", purpose)
        .info();
}

/// A signing key was revoked; `successor` took over if it was active.
pub fn key_revoked(kid: &str, alg: &str, successor: Option<&str>) {
    Line::new("key_revoked", "success")
        .text("kid", kid)
        .text("alg", alg)
        .opt_text("successor", successor)
        .info();
}

// Administration.

fn user_change(event: &str, user_id: &str, username: &str) -> Line {
    Line::new(event, "success")
        .text("user_id", user_id)
        .text("username", username)
}

/// A user was created with `roles`.
pub fn user_added(user_id: &str, username: &str, roles: &[String], actor: Actor<'_>) {
    user_change("user_added", user_id, username)
        .text("roles", &roles.join(" "))
        .actor(actor)
        .info();
}

/// A user was disabled (their refresh tokens revoked) or enabled.
pub fn user_disabled(user_id: &str, username: &str, disabled: bool, actor: Actor<'_>) {
    let event = if disabled {
        "user_disabled"
    } else {
        "user_enabled"
    };
    user_change(event, user_id, username).actor(actor).info();
}

/// A user's password was set; `revoked` refresh tokens stopped working.
pub fn password_set(user_id: &str, username: &str, revoked: usize, actor: Actor<'_>) {
    user_change("password_set", user_id, username)
        .bare("revoked", revoked)
        .actor(actor)
        .info();
}

/// A user's failure counts and locks were cleared from every address
/// (`cleared` records).
pub fn user_unlocked(user_id: &str, username: &str, cleared: usize, actor: Actor<'_>) {
    user_change("user_unlocked", user_id, username)
        .bare("cleared", cleared)
        .actor(actor)
        .info();
}

/// A user's profile (email, name) was changed; what it says is personal
/// data and stays out of the log.
pub fn user_profile_set(user_id: &str, username: &str, actor: Actor<'_>) {
    user_change("user_profile_set", user_id, username)
        .actor(actor)
        .info();
}

/// A role was granted to (`granted`) or revoked from a user.
pub fn user_role_changed(
    user_id: &str,
    username: &str,
    role: &str,
    granted: bool,
    actor: Actor<'_>,
) {
    let event = if granted {
        "role_granted"
    } else {
        "role_revoked"
    };
    user_change(event, user_id, username)
        .text("role", role)
        .actor(actor)
        .info();
}

/// A user was deleted, with their tokens, sessions and second factors.
pub fn user_deleted(user_id: &str, username: &str, actor: Actor<'_>) {
    user_change("user_deleted", user_id, username)
        .actor(actor)
        .info();
}

/// A role's scopes were replaced by `scopes`.
pub fn role_scopes_set(name: &str, scopes: &[String], actor: Actor<'_>) {
    Line::new("role_scopes_set", "success")
        .text("role", name)
        .text("scopes", &scopes.join(" "))
        .actor(actor)
        .info();
}

/// A role was deleted; `users` users held it and lost it.
pub fn role_deleted(name: &str, users: i64, actor: Actor<'_>) {
    Line::new("role_deleted", "success")
        .text("role", name)
        .bare("users", users)
        .actor(actor)
        .info();
}

/// A role was created.
pub fn role_added(name: &str, scopes: &[String], actor: Actor<'_>) {
    Line::new("role_added", "success")
        .text("role", name)
        .text("scopes", &scopes.join(" "))
        .actor(actor)
        .info();
}

/// A client was registered.
pub fn client_added(client_id: &str, name: &str, public: bool, actor: Actor<'_>) {
    Line::new("client_added", "success")
        .text("client_id", client_id)
        .text("name", name)
        .bare("public", public)
        .actor(actor)
        .info();
}

/// A client's registration changed: `fields` names what (e.g. `scopes
/// grants`).
pub fn client_updated(client_id: &str, fields: &[&str], actor: Actor<'_>) {
    Line::new("client_updated", "success")
        .text("client_id", client_id)
        .text("fields", &fields.join(" "))
        .actor(actor)
        .info();
}

/// A client got a new secret; the old one stopped working.
pub fn client_secret_rotated(client_id: &str, actor: Actor<'_>) {
    Line::new("client_secret_rotated", "success")
        .text("client_id", client_id)
        .actor(actor)
        .info();
}

/// A suspended user's client was resumed by its owner.
pub fn client_resumed(client_id: &str, actor: Actor<'_>) {
    Line::new("client_resumed", "success")
        .text("client_id", client_id)
        .actor(actor)
        .info();
}

/// A client was removed.
pub fn client_removed(client_id: &str, actor: Actor<'_>) {
    Line::new("client_removed", "success")
        .text("client_id", client_id)
        .actor(actor)
        .info();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(value: &str) -> String {
        let mut out = String::new();
        push_quoted(&mut out, value);
        out
    }

    #[test]
    fn values_cannot_end_the_line_or_fake_a_field() {
        let forged = "alice\" outcome=success\nevent=login outcome=success user=\"root";
        let q = quoted(forged);
        assert!(!q.contains('\n'), "{q}");
        assert_eq!(q.matches('"').count() - q.matches("\\\"").count(), 2, "{q}");
        assert_eq!(
            q,
            r#""alice\" outcome=success\nevent=login outcome=success user=\"root""#
        );
        assert_eq!(
            quoted("a\\b\r\t\u{1b}[31m\u{7f}"),
            r#""a\\b\r\t\u{1b}[31m\u{7f}""#
        );
        assert_eq!(quoted("x\u{2028}y"), r#""x\u{2028}y""#);
        // Invisible and text-direction characters cannot hide or reorder
        // what follows.
        assert_eq!(
            quoted("admin\u{202e}\u{200b}\u{2066}x\u{a0}y"),
            r#""admin\u{202e}\u{200b}\u{2066}x\u{a0}y""#
        );
        assert_eq!(quoted("élan ok"), "\"élan ok\"");
    }

    #[test]
    fn long_values_are_cut() {
        let q = quoted(&"a".repeat(10_000));
        assert_eq!(
            q.chars().count(),
            MAX_VALUE_CHARS + 3,
            "quotes and the mark"
        );
        assert!(q.ends_with("…\""));
    }

    #[test]
    fn fields_come_in_order_and_absent_values_are_a_dash() {
        let attempt = Attempt {
            username: "bob",
            client_id: None,
            remote: Some("10.0.0.1".parse().unwrap()),
        };
        let line = attempt
            .line("login", "failure", Some("u1"))
            .bare("reason", LoginFailure::Locked.as_str());
        assert_eq!(
            line.text,
            r#"event=login outcome=failure user_id="u1" username="bob" client_id=- remote=10.0.0.1 reason=locked"#
        );
        // A name that names nobody is kept only as a short hash.
        let line = attempt.line("login", "failure", None);
        let hash = &crate::secret::hash_str("bob")[..12];
        assert_eq!(
            line.text,
            format!(
                r#"event=login outcome=failure user_id=- username_sha256="{hash}" client_id=- remote=10.0.0.1"#
            )
        );
        let line = Line::new("client_removed", "success")
            .text("client_id", "c1")
            .actor(Actor::Console {
                user_id: "u1",
                remote: None,
            });
        assert_eq!(
            line.text,
            r#"event=client_removed outcome=success client_id="c1" actor=console actor_id="u1" remote=-"#
        );
        let line = user_change("user_added", "u2", "eve")
            .text("roles", "a b")
            .actor(Actor::Cli);
        assert_eq!(
            line.text,
            r#"event=user_added outcome=success user_id="u2" username="eve" roles="a b" actor=cli"#
        );
    }

    /// Every key an event of this file sets is a field of the callsites:
    /// a key missing from `emit::KEYS` would only show when its event is
    /// logged.
    #[test]
    fn every_key_set_here_is_a_callsite_field() {
        let source = include_str!("audit.rs");
        let mut missing = Vec::new();
        for method in [".text(\"", ".bare(\"", ".opt_text(\""] {
            for (at, _) in source.match_indices(method) {
                let rest = &source[at + method.len()..];
                let key = &rest[..rest.find('"').unwrap_or(0)];
                if !key.is_empty() && !emit::KEYS.contains(&key) {
                    missing.push(key.to_string());
                }
            }
        }
        assert!(missing.is_empty(), "not in audit::emit::KEYS: {missing:?}");
    }
}
