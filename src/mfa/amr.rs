//! What a sign-in used, as OpenID Connect's `amr` claim says it
//! (RFC 8176 §2): `pwd` for a password, `otp` for a one-time code (a TOTP
//! code or a recovery code, both single-use), `hwk` and `user` for a
//! passkey (a key held in hardware, with user verification: a PIN or a
//! biometric), and `mfa` when two factors were used. Carried from the
//! session to an authorization code and a refresh family, as `auth_time`
//! is; stored as the values separated by spaces.
//!
//! The `acr` claim (OpenID Connect Core 1.0 §2) is derived from it
//! (docs/interface.md "Second factors"): [`ACR_PASSWORD`] for a password
//! alone, [`ACR_MFA`] for two factors, which a passkey with user
//! verification is by itself (something held, unlocked by something
//! known or inherent).

/// `acr` of a sign-in with a password alone.
pub const ACR_PASSWORD: &str = "urn:authd:acr:pwd";

/// `acr` of a sign-in with two factors.
pub const ACR_MFA: &str = "urn:authd:acr:mfa";

/// The `acr` values authd issues (discovery's `acr_values_supported`).
pub const ACR_VALUES: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// The methods of one sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amr {
    /// A password was checked.
    pub pwd: bool,
    /// A one-time code was checked.
    pub otp: bool,
    /// A passkey was checked, with user verification.
    pub passkey: bool,
}

impl Amr {
    /// A password alone.
    pub const PASSWORD: Amr = Amr {
        pwd: true,
        otp: false,
        passkey: false,
    };

    /// A password and a one-time code: two factors.
    pub const PASSWORD_AND_OTP: Amr = Amr {
        pwd: true,
        otp: true,
        passkey: false,
    };

    /// A password and a passkey: two factors.
    pub const PASSWORD_AND_PASSKEY: Amr = Amr {
        pwd: true,
        otp: false,
        passkey: true,
    };

    /// A passkey alone (with user verification).
    pub const PASSKEY: Amr = Amr {
        pwd: false,
        otp: false,
        passkey: true,
    };

    /// Whether two factors were checked besides each other.
    fn two_factors(self) -> bool {
        self.pwd && (self.otp || self.passkey)
    }

    /// The claim's values, in a fixed order.
    pub fn values(self) -> Vec<&'static str> {
        let mut v = Vec::with_capacity(5);
        if self.pwd {
            v.push("pwd");
        }
        if self.otp {
            v.push("otp");
        }
        if self.passkey {
            v.extend(["hwk", "user"]);
        }
        if self.two_factors() {
            v.push("mfa");
        }
        v
    }

    /// The `acr` of the sign-in.
    pub fn acr(self) -> &'static str {
        match self.two_factors() || self.passkey {
            true => ACR_MFA,
            false => ACR_PASSWORD,
        }
    }

    /// What is stored.
    pub fn stored(self) -> String {
        self.values().join(" ")
    }

    /// The methods a stored value names; NULL (rows from before second
    /// factors) is a password.
    pub fn parse(stored: Option<&str>) -> Amr {
        let Some(stored) = stored else {
            return Amr::PASSWORD;
        };
        let has = |m: &str| stored.split(' ').any(|v| v == m);
        Amr {
            pwd: has("pwd"),
            otp: has("otp"),
            passkey: has("hwk"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_old_rows_are_a_password() {
        let all = [
            Amr::PASSWORD,
            Amr::PASSWORD_AND_OTP,
            Amr::PASSWORD_AND_PASSKEY,
            Amr::PASSKEY,
        ];
        for amr in all {
            assert_eq!(Amr::parse(Some(&amr.stored())), amr);
        }
        assert_eq!(Amr::parse(None), Amr::PASSWORD);
        assert_eq!(Amr::PASSWORD_AND_OTP.values(), ["pwd", "otp", "mfa"]);
        assert_eq!(Amr::PASSWORD.stored(), "pwd");
    }

    #[test]
    fn a_passkey_is_hardware_and_user_and_two_factors_are_mfa() {
        assert_eq!(Amr::PASSKEY.values(), ["hwk", "user"]);
        assert_eq!(
            Amr::PASSWORD_AND_PASSKEY.values(),
            ["pwd", "hwk", "user", "mfa"]
        );
        assert_eq!(Amr::PASSWORD.acr(), ACR_PASSWORD);
        for strong in [
            Amr::PASSKEY,
            Amr::PASSWORD_AND_OTP,
            Amr::PASSWORD_AND_PASSKEY,
        ] {
            assert_eq!(strong.acr(), ACR_MFA);
        }
    }
}
