//! Automatic rotation (`--key-rotation-interval`,
//! docs/interface.md "Token lifecycle", Keys). Each step is decided from the database alone (when
//! the active key began to sign, when its successor was staged), so that
//! every instance sharing it reaches the same decision, and the rotation
//! itself is a conditional update that only one of them wins.
//!
//! The keys a step makes are generated before its write, on the blocking
//! pool, and handed to it: an RSA key (the ID tokens' default) takes tens
//! of milliseconds of CPU, which inside the write would hold the database,
//! and on SQLite every other write.

use std::time::Duration;

use super::lifecycle::{stage_with, state, take_over, to_generate, KeyState, Material};
use super::{alg_of, generate, KeyError, KeyVault, NewKey, SigningAlg};
use crate::clock::Clock;
use crate::db::signing_keys::{SigningKeyRow, ACCESS, ID_TOKEN};
use crate::db::{self, AnyConnection, Db};

/// How often an instance looks whether a step is due.
pub const TICK: Duration = Duration::from_secs(2);

/// Time for every instance to serve a newly stored key in its JWKS: the
/// key ring rereads the keys within this (a change takes effect within 5
/// seconds: docs/interface.md "Command line (admin)").
pub const PUBLISH_LAG_SECS: i64 = 5;

/// When keys rotate by themselves (`--key-rotation-interval`,
/// `--jwks-max-age`), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Between rotations; 0 turns automatic rotation off.
    pub rotation_interval: i64,
    /// How long verifiers may cache the JWKS.
    pub jwks_max_age: i64,
}

/// What automatic rotation should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet.
    Wait,
    /// Publish the next keys (an access-token key of `alg`, and an
    /// ID-token key for each active one).
    Stage(SigningAlg),
    /// Activate the staged keys in place of the active access-token key
    /// `replaces`, of algorithm `alg`.
    Rotate {
        /// The key that stops signing.
        replaces: String,
        /// Its algorithm, and the next key's.
        alg: SigningAlg,
    },
}

/// The step due at `now` given every stored key. The next keys are staged
/// one JWKS max-age (plus [`PUBLISH_LAG_SECS`]) before the rotation is due,
/// and the rotation waits until the last of them has been published that
/// long, so that a JWKS cached before it already holds every key that
/// signs after it.
pub fn next_step(rows: &[SigningKeyRow], now: i64, schedule: Schedule) -> Result<Step, KeyError> {
    let Some(active) = rows
        .iter()
        .find(|r| r.purpose == ACCESS && state(r) == KeyState::Active)
    else {
        return Ok(Step::Wait);
    };
    let alg = alg_of(active)?;
    let notice = schedule.jwks_max_age + PUBLISH_LAG_SECS;
    let due = active.activated_at.unwrap_or(active.created_at) + schedule.rotation_interval;
    // The newest staged key of `purpose` and `alg`, as the rotation takes it.
    let staged = |purpose: &str, alg: &str| {
        rows.iter()
            .find(|r| r.purpose == purpose && r.alg == alg && state(r) == KeyState::Staged)
    };
    let mut next = vec![staged(ACCESS, &active.alg)];
    for id in rows
        .iter()
        .filter(|r| r.purpose == ID_TOKEN && state(r) == KeyState::Active)
    {
        next.push(staged(ID_TOKEN, &id.alg));
    }
    let Some(staged_at) = next
        .iter()
        .map(|k| k.map(|k| k.created_at))
        .collect::<Option<Vec<i64>>>()
        .map(|times| times.into_iter().max().unwrap_or(now))
    else {
        return Ok(if now >= due - notice {
            Step::Stage(alg)
        } else {
            Step::Wait
        });
    };
    Ok(if now >= due && now >= staged_at + notice {
        Step::Rotate {
            replaces: active.kid.clone(),
            alg,
        }
    } else {
        Step::Wait
    })
}

/// The algorithms of the keys the step due at `now` would generate (see
/// [`next_step`]): what to make before its write.
pub fn to_prepare(
    rows: &[SigningKeyRow],
    now: i64,
    schedule: Schedule,
) -> Result<Vec<SigningAlg>, KeyError> {
    match next_step(rows, now, schedule)? {
        Step::Wait => Ok(Vec::new()),
        Step::Stage(alg) | Step::Rotate { alg, .. } => to_generate(rows, alg),
    }
}

/// Takes the step due now, if any (one transaction), its new keys taken
/// from `made` (generated before the write, see [`to_prepare`]); returns
/// whether it changed the keys. The step is decided again from what this
/// write reads: if it needs a key `made` lacks (the keys changed since
/// they were read), it is [`KeyError::Unprepared`] and its writes are
/// undone.
pub fn run_once(
    conn: &mut AnyConnection,
    vault: &KeyVault,
    schedule: Schedule,
    now: i64,
    made: Vec<NewKey>,
) -> Result<bool, KeyError> {
    let rows = crate::db::signing_keys::list(conn)?;
    let mut material = Material::Made(made);
    match next_step(&rows, now, schedule)? {
        Step::Wait => Ok(false),
        Step::Stage(alg) => {
            let row = stage_with(conn, vault, alg, now, &mut material)?;
            log::info!("staged signing key {} ({})", row.kid, row.alg);
            Ok(true)
        }
        Step::Rotate { replaces, alg } => {
            let rotation = db::write_tx(conn, |conn| {
                take_over(conn, vault, alg, now, Some(&replaces), &mut material)
            })?;
            // `None`: another instance rotated first.
            Ok(rotation.map(|r| r.audit()).is_some())
        }
    }
}

/// One tick: whether a step is due, read on a connection thread; the keys
/// it would make, generated on the blocking pool; then the step, in one
/// write.
async fn tick(db: &Db, vault: &KeyVault, schedule: Schedule, now: i64) -> Result<(), KeyError> {
    let rows = db
        .read(|conn| Ok::<_, KeyError>(crate::db::signing_keys::list(conn)?))
        .await?;
    if next_step(&rows, now, schedule)? == Step::Wait {
        return Ok(());
    }
    let algs = to_prepare(&rows, now, schedule)?;
    let generated = move || {
        algs.into_iter()
            .map(generate)
            .collect::<Result<Vec<_>, _>>()
    };
    let made = actix_web::web::block(generated)
        .await
        .map_err(|_| KeyError::Crypto("key generation was cancelled".into()))??;
    let vault = vault.clone();
    match db
        .write(move |conn| run_once(conn, &vault, schedule, now, made))
        .await
    {
        // The keys changed between the read and the write: the next tick
        // reads them again.
        Err(KeyError::Unprepared(alg)) => {
            log::debug!(
                "a key rotation step needs a new {} key: next time",
                alg.as_str()
            );
            Ok(())
        }
        done => done.map(drop),
    }
}

/// Runs [`tick`] every [`TICK`] on the current actix runtime, when
/// rotation is on (an interval above 0).
pub fn spawn(
    db: Db,
    vault: KeyVault,
    schedule: Schedule,
    clock: Clock,
) -> Option<actix_web::rt::task::JoinHandle<()>> {
    if schedule.rotation_interval == 0 {
        return None;
    }
    Some(actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(TICK);
        loop {
            every.tick().await;
            if let Err(e) = tick(&db, &vault, schedule, clock.now()).await {
                log::warn!("automatic key rotation failed: {e}");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, purpose: &str, created: i64, activated: Option<i64>) -> SigningKeyRow {
        SigningKeyRow {
            kid: kid.into(),
            alg: "ES256".into(),
            private_key_sealed: String::new(),
            public_jwk: String::new(),
            created_at: created,
            retired_at: None,
            purpose: purpose.into(),
            activated_at: activated,
            revoked_at: None,
        }
    }

    const S: Schedule = Schedule {
        jwks_max_age: 300,
        rotation_interval: 3600,
    };

    #[test]
    fn stages_one_max_age_early_and_rotates_only_after_publication() {
        let notice = S.jwks_max_age + PUBLISH_LAG_SECS;
        let mut rows = vec![key("a", ACCESS, 0, Some(1000))];
        let due = 1000 + 3600;
        assert_eq!(next_step(&rows, due - notice - 1, S).unwrap(), Step::Wait);
        assert_eq!(
            next_step(&rows, due - notice, S).unwrap(),
            Step::Stage(SigningAlg::Es256)
        );
        // Staged late (the server was down): the rotation waits for it.
        rows.insert(0, key("b", ACCESS, due + 10, None));
        assert_eq!(next_step(&rows, due + 10, S).unwrap(), Step::Wait);
        assert_eq!(
            next_step(&rows, due + 10 + notice - 1, S).unwrap(),
            Step::Wait
        );
        assert_eq!(
            next_step(&rows, due + 10 + notice, S).unwrap(),
            Step::Rotate {
                replaces: "a".into(),
                alg: SigningAlg::Es256
            }
        );
    }

    #[test]
    fn an_id_token_key_without_a_staged_successor_is_staged_first() {
        let rows = vec![
            key("b", ACCESS, 100, None),
            key("a", ACCESS, 0, Some(0)),
            key("i", ID_TOKEN, 0, Some(0)),
        ];
        assert_eq!(
            next_step(&rows, 10_000, S).unwrap(),
            Step::Stage(SigningAlg::Es256)
        );
        let mut rows = rows;
        rows.insert(0, key("j", ID_TOKEN, 9_800, None));
        assert_eq!(next_step(&rows, 10_000, S).unwrap(), Step::Wait);
        assert!(matches!(
            next_step(&rows, 9_800 + 305, S).unwrap(),
            Step::Rotate { .. }
        ));
    }
}
