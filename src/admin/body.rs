//! Reading a request's JSON body: one object of the operation's fields,
//! unknown fields refused (a misspelt field must not pass as "unchanged").

use serde::de::DeserializeOwned;

use super::error::AdminError;

/// `bytes` as `T`, or a 400 that says what is wrong with them.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(bytes).map_err(|e| {
        AdminError::Body(format!(
            "the body must be a JSON object of the operation's fields: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Named {
        name: String,
    }

    #[test]
    fn refuses_what_is_not_the_fields() {
        assert!(json::<Named>(br#"{"name":"x"}"#).is_ok());
        for bad in [
            &b""[..],
            b"[]",
            b"{\"nam\":\"x\"}",
            b"{\"name\":1}",
            b"not json",
        ] {
            let e = json::<Named>(bad).unwrap_err();
            assert!(matches!(e, AdminError::Body(_)), "{e}");
        }
    }
}
