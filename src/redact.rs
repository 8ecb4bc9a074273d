//! `Debug` output that never shows a secret: helpers for types that hold
//! passwords, client secrets, tokens, codes or keys, and the test that
//! formats every such type with a known secret and looks for it.
//!
//! Single secret values use [`crate::secret::Secret`], whose `Debug` is
//! redacted; this module covers what holds secrets in other shapes.

use std::fmt;

/// The parameter names authd reads from protocol forms. A form's `Debug`
/// shows these names and only counts the others: a malformed body such as
/// `TOKEN` (no `=`) makes the secret itself a parameter name.
const KNOWN_PARAMS: &[&str] = &[
    "client_id",
    "client_secret",
    "code",
    "code_verifier",
    "grant_type",
    "otp",
    "password",
    "redirect_uri",
    "refresh_token",
    "scope",
    "token",
    "token_type_hint",
    "username",
];

/// `name` if it is one of the protocol's parameter names: what may be
/// echoed in an error or a log line.
pub(crate) fn known_param(name: &str) -> Option<&'static str> {
    KNOWN_PARAMS.iter().find(|k| **k == name).copied()
}

/// Formats a form by its parameter names (sorted), never its values.
pub(crate) fn form_debug<'a>(
    f: &mut fmt::Formatter<'_>,
    names: impl Iterator<Item = &'a str>,
) -> fmt::Result {
    let mut known = Vec::new();
    let mut others = 0usize;
    for name in names {
        match known_param(name) {
            Some(k) => known.push(k),
            None => others += 1,
        }
    }
    known.sort_unstable();
    f.debug_struct("Form")
        .field("params", &known)
        .field("other_params", &others)
        .finish()
}

#[cfg(test)]
mod tests {
    //! One place that lists every type holding a secret; a new such type
    //! belongs here.

    use clap::Parser;

    use crate::cli::Cli;
    use crate::http::form::Form;
    use crate::keys::{generate, KeyVault, SigningAlg};
    use crate::manage::clients::{ClientView, Created};
    use crate::oauth::client_auth::ClientAuth;
    use crate::oauth::grants::TokenResponse;
    use crate::oauth::token::GrantRequest;
    use crate::secret::Secret;

    const SECRET: &str = "s3cret-Value-42";

    fn assert_hidden(what: &str, debug: String, secrets: &[&str]) {
        for s in secrets {
            assert!(!debug.contains(s), "{what} shows {s:?}: {debug}");
        }
    }

    #[test]
    fn form_shows_parameter_names_only() {
        for param in [
            "password",
            "client_secret",
            "refresh_token",
            "code",
            "code_verifier",
            "token",
        ] {
            let body = format!("grant_type=x&{param}={SECRET}");
            let form = Form::parse(body.as_bytes()).unwrap();
            let debug = format!("{form:?}");
            assert_hidden("Form", debug.clone(), &[SECRET]);
            assert!(debug.contains(param), "{debug}");
        }
        // A body that is only a secret makes it a parameter name.
        let form = Form::parse(SECRET.as_bytes()).unwrap();
        let debug = format!("{form:?}");
        assert_hidden("Form", debug.clone(), &[SECRET]);
        assert!(debug.contains("other_params: 1"), "{debug}");
    }

    #[test]
    fn grant_requests_and_client_credentials() {
        for body in [
            format!("grant_type=password&username=alice&password={SECRET}"),
            format!("grant_type=refresh_token&refresh_token={SECRET}"),
            format!(
                "grant_type=authorization_code&code={SECRET}&redirect_uri=https://a/cb&code_verifier={SECRET}"
            ),
        ] {
            let form = Form::parse(body.as_bytes()).unwrap();
            let grant = GrantRequest::from_form(&form).unwrap();
            assert_hidden("GrantRequest", format!("{grant:?}"), &[SECRET]);
        }
        for auth in [
            ClientAuth::Basic {
                client_id: "app".into(),
                secret: Secret::new(SECRET),
            },
            ClientAuth::Post {
                client_id: "app".into(),
                secret: Secret::new(SECRET),
            },
        ] {
            assert_hidden("ClientAuth", format!("{auth:?}"), &[SECRET]);
        }
    }

    #[test]
    fn token_response() {
        let response = TokenResponse {
            access_token: format!("{SECRET}-access"),
            token_type: "Bearer",
            expires_in: 900,
            scope: "a".into(),
            refresh_token: Some(format!("{SECRET}-refresh")),
            id_token: Some(format!("{SECRET}-id")),
        };
        assert_hidden("TokenResponse", format!("{response:?}"), &[SECRET]);
    }

    #[test]
    fn created_client() {
        let created = Created {
            client: ClientView {
                client_id: "app".into(),
                name: "app".into(),
                grants: vec![],
                scopes: vec![],
                redirect_uris: vec![],
                audience: None,
                introspects: vec![],
                id_token_alg: "RS256".into(),
                first_party: false,
                post_logout_redirect_uris: vec![],
                backchannel_logout_uri: None,
                public: false,
                owner: None,
                suspended: false,
                created_at: 0,
            },
            secret: Some(Secret::new(SECRET)),
        };
        assert_hidden("Created", format!("{created:?}"), &[SECRET]);
    }

    #[test]
    fn settings_and_command_line() {
        let kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let cli = Cli::try_parse_from([
            "authd",
            "--database-url",
            &format!("postgres://authd:{SECRET}@db/authd?password={SECRET}"),
            "--key-encryption-key",
            kek,
        ])
        .unwrap();
        assert_hidden("Cli", format!("{cli:?}"), &[SECRET, kek]);
        let settings = cli.global.validated().unwrap();
        assert_hidden("Settings", format!("{settings:?}"), &[SECRET, kek]);
    }

    #[test]
    fn second_factors() {
        let body = format!("grant_type=password&username=a&password=p&otp={SECRET}");
        let form = Form::parse(body.as_bytes()).unwrap();
        assert_hidden("Form", format!("{form:?}"), &[SECRET]);
        let grant = GrantRequest::from_form(&form).unwrap();
        assert_hidden("GrantRequest", format!("{grant:?}"), &[SECRET]);
        let secret = crate::mfa::totp::TotpSecret::generate();
        let b32 = secret.to_base32();
        assert_hidden("TotpSecret", format!("{secret:?}"), &[&b32[..8]]);
        let code = crate::mfa::recovery::generate().remove(0);
        for typed in ["123456", code.as_str()] {
            let candidate = crate::mfa::Candidate::parse("u", typed).unwrap();
            let hash = crate::mfa::recovery::hash("u", typed).unwrap_or_default();
            let debug = format!("{candidate:?}");
            assert_hidden("Candidate", debug.clone(), &[typed]);
            assert!(hash.is_empty() || !debug.contains(&hash), "{debug}");
        }
    }

    #[test]
    fn keys() {
        let vault = KeyVault::from_bytes(&[7u8; 32]).unwrap();
        assert_hidden("KeyVault", format!("{vault:?}"), &["7, 7", "\\x07"]);
        let key = generate(SigningAlg::Es256).unwrap();
        let body = key
            .private_key_pem
            .lines()
            .nth(1)
            .expect("a PEM body line")
            .to_string();
        let debug = format!("{key:?}");
        assert_hidden("NewKey", debug.clone(), &[&body, "PRIVATE KEY"]);
        assert!(debug.contains(&key.kid), "{debug}");
    }
}
