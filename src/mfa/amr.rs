//! What a sign-in used, as OpenID Connect's `amr` claim says it
//! (RFC 8176 §2): `pwd` for a password, `otp` for a one-time code (a TOTP
//! code or a recovery code, both single-use), and `mfa` when two factors
//! were used. Carried from the session to an authorization code and a
//! refresh family, as `auth_time` is; stored as the values separated by
//! spaces.

/// The methods of one sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amr {
    /// A one-time code was checked besides the password.
    pub otp: bool,
}

impl Amr {
    /// A password alone.
    pub const PASSWORD: Amr = Amr { otp: false };

    /// A password and a one-time code: two factors.
    pub const PASSWORD_AND_OTP: Amr = Amr { otp: true };

    /// The claim's values, in a fixed order.
    pub fn values(self) -> Vec<&'static str> {
        match self.otp {
            false => vec!["pwd"],
            true => vec!["pwd", "otp", "mfa"],
        }
    }

    /// What is stored.
    pub fn stored(self) -> String {
        self.values().join(" ")
    }

    /// The methods a stored value names; NULL (rows from before second
    /// factors) is a password.
    pub fn parse(stored: Option<&str>) -> Amr {
        Amr {
            otp: stored.is_some_and(|s| s.split(' ').any(|v| v == "otp")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_old_rows_are_a_password() {
        for amr in [Amr::PASSWORD, Amr::PASSWORD_AND_OTP] {
            assert_eq!(Amr::parse(Some(&amr.stored())), amr);
        }
        assert_eq!(Amr::parse(None), Amr::PASSWORD);
        assert_eq!(Amr::PASSWORD_AND_OTP.values(), ["pwd", "otp", "mfa"]);
        assert_eq!(Amr::PASSWORD.stored(), "pwd");
    }
}
