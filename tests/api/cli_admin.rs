//! The commands that complete administration (docs/interface.md
//! "Administration"): `user show|delete`, `role set|delete`, `client
//! show|update` and `client add --client-id`, through the real binary, on
//! every backend: their effect, their output, and what they refuse.

use serde_json::Value;

use crate::cli::strings;
use crate::support::helpers::{authd, authd_fails, authd_json, every_backend, TestDb};

fn text(db: &TestDb, args: &[&str]) -> String {
    let out = authd(db, args, None);
    assert!(out.status.success(), "[{}] authd {args:?}", db.label());
    String::from_utf8(out.stdout).expect("utf-8")
}

fn add_user(db: &TestDb, name: &str, roles: &[&str]) -> Value {
    let mut args = vec!["user", "add", name, "--password-stdin"];
    for role in roles {
        args.extend(["--role", role]);
    }
    authd_json(db, &args, Some("correct horse battery\n"))
}

/// The one line of a refusal: the message, and nothing else on stderr.
fn refused(db: &TestDb, args: &[&str], says: &str) {
    let err = authd_fails(db, args, None);
    assert!(err.contains(says), "[{}] {args:?}: {err}", db.label());
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn user_show_and_delete() {
    every_backend(|db| {
        authd_json(
            &db,
            &["role", "add", "reader", "--scope", "posts:read"],
            None,
        );
        let added = add_user(&db, "alice", &["reader"]);
        authd_json(
            &db,
            &["user", "set", "alice", "--email", "alice@example.com"],
            None,
        );
        let shown = authd_json(&db, &["user", "show", "alice"], None);
        assert_eq!(shown["id"], added["id"]);
        assert_eq!(shown["username"], "alice");
        assert_eq!(strings(&shown["roles"]), ["reader"]);
        assert_eq!(shown["disabled"], false);
        assert_eq!(shown["email"], "alice@example.com");
        assert!(shown.get("password_hash").is_none(), "{shown}");
        // The same shape as an entry of `user list --json`.
        let listed = authd_json(&db, &["user", "list"], None);
        assert_eq!(listed.as_array().unwrap()[0], shown, "[{}]", db.label());
        let plain = text(&db, &["user", "show", "alice"]);
        assert!(
            plain.contains("alice") && plain.contains("reader"),
            "{plain}"
        );
        assert!(plain.contains("email: alice@example.com"), "{plain}");

        refused(&db, &["user", "show", "bob"], "unknown user 'bob'");
        refused(&db, &["user", "delete", "bob"], "unknown user 'bob'");

        let deleted = authd_json(&db, &["user", "delete", "ALICE"], None);
        assert_eq!(deleted["username"], "alice", "found by its folded name");
        assert_eq!(deleted["id"], added["id"]);
        assert_eq!(deleted["deleted"], true);
        assert!(crate::cli::usernames(&db).is_empty(), "[{}]", db.label());
        refused(&db, &["user", "show", "alice"], "unknown user 'alice'");
        // The name is free again, for a new user with a new id.
        let again = add_user(&db, "alice", &[]);
        assert_ne!(again["id"], added["id"]);
        assert_eq!(strings(&again["roles"]), Vec::<String>::new());
        let plain = text(&db, &["user", "delete", "alice"]);
        assert!(plain.contains("user 'alice' deleted"), "{plain}");
    });
}

#[test]
fn role_set_replaces_scopes_and_keeps_or_changes_the_mfa_rule() {
    every_backend(|db| {
        authd_json(&db, &["role", "add", "writer", "--scope", "a b"], None);
        let role = authd_json(
            &db,
            &["role", "set", "writer", "--scope", "c d", "--scope", "e"],
            None,
        );
        assert_eq!(strings(&role["scopes"]), ["c", "d", "e"], "replaced");
        assert_eq!(role["require_mfa"], false);
        // Both options together, then one alone: the other setting stays.
        let role = authd_json(
            &db,
            &[
                "role",
                "set",
                "writer",
                "--scope",
                "f",
                "--require-mfa",
                "true",
            ],
            None,
        );
        assert_eq!(strings(&role["scopes"]), ["f"]);
        assert_eq!(role["require_mfa"], true);
        let role = authd_json(&db, &["role", "set", "writer", "--scope", "g"], None);
        assert_eq!(role["require_mfa"], true, "[{}] kept", db.label());
        let role = authd_json(
            &db,
            &["role", "set", "writer", "--require-mfa", "false"],
            None,
        );
        assert_eq!(strings(&role["scopes"]), ["g"], "kept");
        let listed = authd_json(&db, &["role", "list"], None);
        assert_eq!(listed.as_array().unwrap()[0], role);

        refused(
            &db,
            &["role", "set", "nobody", "--scope", "x"],
            "unknown role 'nobody'",
        );
        refused(
            &db,
            &["role", "set", "writer", "--scope", "bad\"x"],
            "invalid scope",
        );
        refused(
            &db,
            &["role", "set", "writer", "--scope", " "],
            "at least one scope",
        );
        let err = authd_fails(&db, &["role", "set", "writer"], None);
        assert!(err.contains("--scope"), "says what to give: {err}");
        let listed = authd_json(&db, &["role", "list"], None);
        assert_eq!(
            strings(&listed[0]["scopes"]),
            ["g"],
            "refusals changed nothing"
        );
    });
}

#[test]
fn role_delete_is_refused_while_held_unless_forced() {
    every_backend(|db| {
        authd_json(&db, &["role", "add", "writer", "--scope", "w"], None);
        authd_json(&db, &["role", "add", "spare", "--scope", "s"], None);
        add_user(&db, "alice", &["writer", "spare"]);
        add_user(&db, "bob", &["writer"]);

        refused(
            &db,
            &["role", "delete", "writer"],
            "role 'writer' is held by 2 user(s)",
        );
        let err = authd_fails(&db, &["role", "delete", "writer"], None);
        assert!(err.contains("--force"), "says how: {err}");
        assert_eq!(
            strings(&authd_json(&db, &["user", "show", "bob"], None)["roles"]),
            ["writer"]
        );
        refused(&db, &["role", "delete", "nobody"], "unknown role 'nobody'");

        let deleted = authd_json(&db, &["role", "delete", "writer", "--force"], None);
        assert_eq!(deleted["name"], "writer");
        assert_eq!(deleted["users_removed"], 2);
        let alice = authd_json(&db, &["user", "show", "alice"], None);
        assert_eq!(strings(&alice["roles"]), ["spare"], "taken from its users");
        let bob = authd_json(&db, &["user", "show", "bob"], None);
        assert_eq!(strings(&bob["roles"]), Vec::<String>::new());
        let names: Vec<Value> = authd_json(&db, &["role", "list"], None)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(names, ["spare"], "[{}]", db.label());
        // A role nobody holds goes without --force.
        authd_json(&db, &["user", "revoke-role", "alice", "spare"], None);
        let plain = text(&db, &["role", "delete", "spare"]);
        assert!(plain.contains("role 'spare' deleted"), "{plain}");
        // The name can be used again, afresh.
        let role = authd_json(&db, &["role", "add", "writer", "--scope", "new"], None);
        assert_eq!(strings(&role["scopes"]), ["new"]);
    });
}

#[test]
fn client_add_with_a_chosen_id() {
    every_backend(|db| {
        let app = authd_json(
            &db,
            &[
                "client",
                "add",
                "Billing",
                "--client-id",
                "billing-api_v2.prod",
            ],
            None,
        );
        assert_eq!(app["client_id"], "billing-api_v2.prod");
        assert!(app["client_secret"].as_str().unwrap().len() >= 43);
        let shown = authd_json(&db, &["client", "show", "billing-api_v2.prod"], None);
        assert_eq!(shown["name"], "Billing");

        for bad in ["has space", "slash/id", "a:b", "ünï", "", &"x".repeat(65)] {
            refused(
                &db,
                &["client", "add", "X", "--client-id", bad],
                "must be 1 to 64 ASCII letters, digits",
            );
        }
        refused(
            &db,
            &[
                "client",
                "add",
                "Other",
                "--client-id",
                "billing-api_v2.prod",
            ],
            "client id 'billing-api_v2.prod' is taken",
        );
        // A user's id is taken too: a client's own tokens carry its id as `sub`.
        let user = add_user(&db, "alice", &[]);
        let user_id = user["id"].as_str().unwrap();
        refused(
            &db,
            &["client", "add", "Sneaky", "--client-id", user_id],
            "is taken",
        );
        let all = authd_json(&db, &["client", "list"], None);
        assert_eq!(
            all.as_array().unwrap().len(),
            1,
            "[{}] refusals added nothing",
            db.label()
        );
    });
}

#[test]
fn client_show_and_update() {
    every_backend(|db| {
        let app = authd_json(
            &db,
            &[
                "client",
                "add",
                "shop",
                "--client-id",
                "shop",
                "--grant",
                "password",
                "--scope",
                "a b",
                "--audience",
                "https://old.example",
            ],
            None,
        );
        assert!(app["client_secret"].is_string());
        let shown = authd_json(&db, &["client", "show", "shop"], None);
        assert_eq!(strings(&shown["grants"]), ["password"]);
        assert_eq!(shown["audience"], "https://old.example");
        assert!(shown.get("client_secret").is_none() && shown.get("secret_hash").is_none());
        let plain = text(&db, &["client", "show", "shop"]);
        assert!(
            plain.contains("shop") && plain.contains("scopes: a b"),
            "{plain}"
        );
        refused(&db, &["client", "show", "nope"], "unknown client 'nope'");

        // Only what is given changes.
        let updated = authd_json(&db, &["client", "update", "shop", "--scope", "b c"], None);
        assert_eq!(strings(&updated["scopes"]), ["b", "c"]);
        assert_eq!(strings(&updated["changed"]), ["scopes"]);
        assert_eq!(updated["name"], "shop");
        assert_eq!(strings(&updated["grants"]), ["password"]);
        assert_eq!(updated["audience"], "https://old.example");
        let updated = authd_json(
            &db,
            &[
                "client",
                "update",
                "shop",
                "--name",
                "The Shop",
                "--grant",
                "authorization_code",
                "--grant",
                "refresh_token",
                "--redirect-uri",
                "https://shop.example/cb",
                "--audience",
                "https://api.example",
            ],
            None,
        );
        assert_eq!(updated["name"], "The Shop");
        assert_eq!(
            strings(&updated["grants"]),
            ["refresh_token", "authorization_code"]
        );
        assert_eq!(
            strings(&updated["redirect_uris"]),
            ["https://shop.example/cb"]
        );
        assert_eq!(updated["audience"], "https://api.example");
        assert_eq!(strings(&updated["scopes"]), ["b", "c"], "kept");
        assert_eq!(
            strings(&updated["changed"]),
            ["name", "grants", "redirect_uris", "audience"]
        );
        let shown = authd_json(&db, &["client", "show", "shop"], None);
        assert_eq!(shown, {
            let mut v = updated.clone();
            v.as_object_mut().unwrap().remove("changed");
            v
        });

        // The checks of `client add`, on the client that would result.
        let before = authd_json(&db, &["client", "show", "shop"], None);
        for (args, says) in [
            (vec!["--redirect-uri", "http://evil.example/cb"], "redirect"),
            (vec!["--grant", "teleport"], "teleport"),
            (vec!["--scope", "bad\"scope"], "invalid scope"),
            (
                vec!["--name", "   "],
                "client name must be 1 to 100 characters",
            ),
            (vec!["--audience", " "], "--audience must not be empty"),
        ] {
            let mut all = vec!["client", "update", "shop"];
            all.extend(args);
            refused(&db, &all, says);
        }
        let public = authd_json(
            &db,
            &["client", "add", "spa", "--public", "--client-id", "spa"],
            None,
        );
        assert!(public.get("client_secret").is_none());
        refused(
            &db,
            &["client", "update", "spa", "--grant", "client_credentials"],
            "a public client cannot use client_credentials",
        );
        refused(
            &db,
            &["client", "update", "spa", "--grant", "authorization_code"],
            "authorization_code needs at least one --redirect-uri",
        );
        refused(
            &db,
            &["client", "update", "nope", "--name", "x"],
            "unknown client 'nope'",
        );
        let err = authd_fails(&db, &["client", "update", "shop"], None);
        assert!(err.contains("--name"), "says what to give: {err}");
        assert_eq!(
            authd_json(&db, &["client", "show", "shop"], None),
            before,
            "unchanged"
        );
        let plain = text(&db, &["client", "update", "shop", "--name", "The Shop"]);
        assert!(plain.contains("client 'shop' unchanged"), "{plain}");
    });
}

#[test]
fn every_change_is_audited_with_its_actor() {
    every_backend(|db| {
        let run = |args: &[&str]| {
            let out = crate::support::helpers::authd_logging(
                &db,
                args,
                Some("correct horse battery\n"),
                "authd::audit=info",
            );
            assert!(out.status.success(), "[{}] {args:?}", db.label());
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        run(&["role", "add", "writer", "--scope", "a"]);
        let user = add_user(&db, "alice", &["writer"]);
        run(&["client", "add", "app", "--client-id", "app"]);
        let expected = [
            (
                run(&["role", "set", "writer", "--scope", "b c"]),
                r#"event=role_scopes_set outcome=success role="writer" scopes="b c" actor=cli"#
                    .to_string(),
            ),
            (
                run(&["client", "update", "app", "--scope", "x", "--name", "App"]),
                r#"event=client_updated outcome=success client_id="app" fields="name scopes" actor=cli"#
                    .to_string(),
            ),
            (
                run(&["user", "delete", "alice"]),
                format!(
                    r#"event=user_deleted outcome=success user_id="{}" username="alice" actor=cli"#,
                    user["id"].as_str().unwrap()
                ),
            ),
            (
                run(&["role", "delete", "writer"]),
                r#"event=role_deleted outcome=success role="writer" users=0 actor=cli"#.to_string(),
            ),
        ];
        for (log, line) in expected {
            assert!(log.contains(&line), "[{}] {line} in: {log}", db.label());
        }
    });
}

#[test]
fn client_update_takes_the_logout_uris_of_client_add() {
    every_backend(|db| {
        authd_json(&db, &["client", "add", "shop", "--client-id", "shop"], None);
        let updated = authd_json(
            &db,
            &[
                "client",
                "update",
                "shop",
                "--post-logout-redirect-uri",
                "https://shop.example/out",
                "--post-logout-redirect-uri",
                "https://shop.example/bye",
                "--backchannel-logout-uri",
                "https://shop.example/bc",
            ],
            None,
        );
        assert_eq!(
            strings(&updated["changed"]),
            ["post_logout_redirect_uris", "backchannel_logout_uri"],
            "[{}]",
            db.label()
        );
        let shown = authd_json(&db, &["client", "show", "shop"], None);
        assert_eq!(
            strings(&shown["post_logout_redirect_uris"]),
            ["https://shop.example/out", "https://shop.example/bye"]
        );
        assert_eq!(shown["backchannel_logout_uri"], "https://shop.example/bc");
        // Checked as `client add` checks them; an empty one removes it.
        refused(
            &db,
            &[
                "client",
                "update",
                "shop",
                "--backchannel-logout-uri",
                "http://shop.example/bc",
            ],
            "is refused",
        );
        let cleared = authd_json(
            &db,
            &["client", "update", "shop", "--backchannel-logout-uri", ""],
            None,
        );
        assert!(cleared.get("backchannel_logout_uri").is_none(), "{cleared}");
        assert_eq!(strings(&cleared["changed"]), ["backchannel_logout_uri"]);
    });
}
