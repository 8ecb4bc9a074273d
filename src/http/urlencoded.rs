//! Strict `application/x-www-form-urlencoded` decoding, the encoding of
//! token request bodies (RFC 6749 §3.2, Appendix B) and of the id and
//! secret inside HTTP Basic credentials (§2.3.1).
//!
//! It follows the WHATWG URL standard's parser (`+` is a space, `%XX` a
//! byte, a `%` that starts no escape stands for itself) with one
//! difference: decoded bytes that are not UTF-8 are refused instead of
//! being replaced with U+FFFD, so that the password or secret checked is
//! exactly the one sent, never a lossy copy that other bytes also map to.

/// A name or value whose percent-decoding is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8;

/// Decodes one name or value as a whole: an `&` or `=` inside it is part
/// of it (splitting a body into pairs is [`pairs`]' job).
pub fn decode(input: &[u8]) -> Result<String, NotUtf8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => out.push(b' '),
            b'%' => match escaped(rest) {
                Some(byte) => {
                    out.push(byte);
                    rest = &rest[2..];
                }
                None => out.push(b'%'),
            },
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| NotUtf8)
}

/// The byte of the two hex digits `after` a `%` starts with, if any.
fn escaped(after: &[u8]) -> Option<u8> {
    match after {
        [hi, lo, ..] => Some(hex(*hi)? << 4 | hex(*lo)?),
        _ => None,
    }
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The name-value pairs of a form body, in order, each decoded with
/// [`decode`]. Empty pieces between `&`s are skipped and a piece without
/// `=` is a name with an empty value, as the WHATWG parser does.
pub fn pairs(body: &[u8]) -> impl Iterator<Item = Result<(String, String), NotUtf8>> + '_ {
    body.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &piece[piece.len()..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<String, NotUtf8> {
        decode(s.as_bytes())
    }

    #[test]
    fn plus_is_a_space_and_escapes_decode() {
        assert_eq!(d("a+b%20c%2Bd%3a").unwrap(), "a b c+d:");
        assert_eq!(d("%C3%A9t%C3%A9").unwrap(), "été");
        assert_eq!(d("").unwrap(), "");
    }

    #[test]
    fn ampersand_and_equals_are_part_of_a_value() {
        assert_eq!(d("secret&anything=x").unwrap(), "secret&anything=x");
    }

    #[test]
    fn a_percent_that_starts_no_escape_stands_for_itself() {
        assert_eq!(d("100%").unwrap(), "100%");
        assert_eq!(d("%4").unwrap(), "%4");
        assert_eq!(d("%zz%41").unwrap(), "%zzA");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        assert_eq!(d("pass%FEword"), Err(NotUtf8));
        assert_eq!(d("%C3"), Err(NotUtf8));
        assert_eq!(decode(b"raw\xff"), Err(NotUtf8));
    }

    #[test]
    fn pairs_split_on_ampersand_then_the_first_equals() {
        let got: Vec<_> = pairs(b"a=1&&b=x%3Dy=z&flag&c=").collect();
        let want = [("a", "1"), ("b", "x=y=z"), ("flag", ""), ("c", "")]
            .map(|(k, v)| Ok((k.to_string(), v.to_string())));
        assert_eq!(got, want);
    }

    #[test]
    fn a_pair_that_is_not_utf8_is_an_error() {
        let got: Vec<_> = pairs(b"username=al%FFice&password=x").collect();
        assert_eq!(got[0], Err(NotUtf8));
        assert!(got[1].is_ok());
    }
}
