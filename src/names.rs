//! Names that people choose and others read (usernames, role and client
//! names): which characters they may hold, when two of them are the same
//! name, and how to write one into a log line.
//!
//! A name is shown on pages (the consent page names the client) and in
//! logs. Characters that show nothing or reorder what follows (Unicode
//! general categories Cc, Cf, Zl, Zp: controls, zero-width characters,
//! bidirectional overrides and isolates) let a name pass for another or
//! turn the text around it; they are refused. Look-alike spellings
//! (full-width letters, ligatures, other case) are not refused but fold to
//! one form, so that they cannot make a second account of "the same" name.

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::GeneralCategory;
use icu_properties::CodePointMapData;

/// Whether `c` shows nothing, breaks the line, or changes how the text
/// around it is laid out: general categories Cc (controls), Cf (format:
/// zero-width characters, bidirectional controls, soft hyphen), Zl and Zp
/// (line and paragraph separators).
pub fn is_invisible(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Whether `c` may not appear in a name that has no spaces (a username,
/// a role): an invisible character ([`is_invisible`]) or any whitespace,
/// a no-break or ideographic space included.
pub fn refused_in_word(c: char) -> bool {
    c.is_whitespace() || is_invisible(c)
}

/// Whether `c` may not appear in a display name that may have spaces (a
/// client's): as [`refused_in_word`], except the plain ASCII space.
pub fn refused_in_display(c: char) -> bool {
    c != ' ' && refused_in_word(c)
}

/// The form in which two names are the same name: Unicode compatibility
/// normalisation (NFKC: `ｆｕｌｌ` is `full`, `ﬁ` is `fi`), then lower
/// case, then NFKC again (lowering can leave text that is not NFKC), as
/// Unicode's NFKC_Casefold does in spirit. `Alice`, `ALICE` and `ａｌｉｃｅ`
/// all fold to `alice`; `José` typed precomposed or with a combining
/// accent folds to one form.
pub fn fold(name: &str) -> String {
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let lowered = nfkc.normalize(name).to_lowercase();
    nfkc.normalize(&lowered).into_owned()
}

/// The key of a username's lock records: SHA-256 (people type passwords
/// into username fields, so names are not stored) of its folded form, so
/// that every spelling which logs in as one user counts as that user
/// (`Alice`, `ALICE`, `ａｌｉｃｅ`): otherwise each spelling would get a
/// lockout count of its own.
pub fn username_key(username: &str) -> String {
    crate::secret::hash_str(&fold(username))
}

/// `name` as one safe piece of a log line or message: `\`, `'`, `"` and
/// line breaks as Rust escapes them, and every other invisible or
/// whitespace character but the plain space as `\u{…}`, so that a name can
/// neither end the line nor hide or reorder what follows.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '\\' | '\'' | '"' | '\n' | '\r' | '\t' => out.extend(c.escape_debug()),
            c if refused_in_display(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_direction_characters_are_refused() {
        for c in [
            '\u{0}',
            '\n',
            '\u{7f}',
            '\u{85}',
            '\u{ad}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{200e}',
            '\u{200f}',
            '\u{202a}',
            '\u{202e}',
            '\u{2028}',
            '\u{2029}',
            '\u{2060}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{feff}',
            '\u{e0041}',
        ] {
            assert!(refused_in_word(c), "{:x}", c as u32);
            assert!(refused_in_display(c), "{:x}", c as u32);
        }
        for c in [' ', '\u{a0}', '\u{3000}', '\t'] {
            assert!(refused_in_word(c), "{:x}", c as u32);
        }
        assert!(!refused_in_display(' '));
        assert!(refused_in_display('\u{a0}'));
        for name in ["José", "李", "Müller", "o'brien", "a.b-c_d@e", "Ωμέγα"] {
            assert!(!name.chars().any(refused_in_word), "{name}");
        }
    }

    #[test]
    fn look_alikes_fold_together() {
        assert_eq!(fold("Alice"), "alice");
        assert_eq!(fold("ALICE"), "alice");
        assert_eq!(fold("ａｌｉｃｅ"), "alice");
        assert_eq!(fold("ﬁle"), "file");
        assert_eq!(fold("Jose\u{301}"), fold("José"));
        assert_eq!(fold("JOSÉ"), "josé");
        assert_eq!(fold("李"), "李");
        assert_ne!(fold("alice"), fold("alicé"));
    }

    #[test]
    fn escaping_keeps_a_name_on_its_line() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("José 李"), "José 李");
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("a'b\"c\\"), "a\\'b\\\"c\\\\");
        assert_eq!(escape("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert_eq!(escape("a\u{200b}b"), "a\\u{200b}b");
        assert_eq!(escape("a\u{a0}b"), "a\\u{a0}b");
        assert_eq!(escape("a\u{2028}b"), "a\\u{2028}b");
    }
}
