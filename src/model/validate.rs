//! Input rules shared by the server (authoritative) and the browser (early hints).

use super::AppError;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
/// Bounds the work one argon2 hash can cost us.
pub const PASSWORD_MAX: usize = 256;
pub const BODY_MAX: usize = 4000;
pub const TITLE_MAX: usize = 100;
/// A channel's description (its topic), in characters.
pub const DESCRIPTION_MAX: usize = 300;
pub const GROUP_MAX_MEMBERS: usize = 200;
pub const CLIENT_ID_MAX: usize = 64;

const USERNAME_CHARS_RULE: &str = "Username may only contain a–z, 0–9, '_', '.' and '-'";
const NO_MEMBERS_RULE: &str = "Add at least one member";

fn username_length_rule() -> String {
    format!("Username must be {USERNAME_MIN}–{USERNAME_MAX} characters")
}

fn password_min_rule() -> String {
    format!("Password must be at least {PASSWORD_MIN} characters")
}

fn password_max_rule() -> String {
    format!("Password must be at most {PASSWORD_MAX} characters")
}

fn title_max_rule() -> String {
    format!("Title must be at most {TITLE_MAX} characters")
}

fn group_max_rule() -> String {
    format!("A group can have at most {GROUP_MAX_MEMBERS} members")
}

/// The form rules' messages that carry nothing of the input: the ones a page may show
/// when its error came in its address (see [`AppError::from_address`]).
pub fn fixed_rule_messages() -> [String; 14] {
    [
        DISPLAY_NAME_LETTERS_RULE.to_string(),
        DISPLAY_NAME_LOOKS_RULE.to_string(),
        DISPLAY_NAME_TAKEN_RULE.to_string(),
        display_name_max_rule(),
        status_max_rule(),
        TIME_ZONE_RULE.to_string(),
        description_max_rule(),
        username_length_rule(),
        USERNAME_CHARS_RULE.to_string(),
        password_min_rule(),
        password_max_rule(),
        title_max_rule(),
        NO_MEMBERS_RULE.to_string(),
        group_max_rule(),
    ]
}

/// Normalises (trim, lower-case) and checks a username: 3–32 of `[a-z0-9_.-]`.
pub fn username(raw: &str) -> Result<String, AppError> {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(AppError::invalid(username_length_rule()));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
    {
        return Err(AppError::invalid(USERNAME_CHARS_RULE));
    }
    Ok(name)
}

/// Checks a new password's length (never trimmed: spaces are characters too).
pub fn password(raw: &str) -> Result<(), AppError> {
    let len = raw.chars().count();
    if len < PASSWORD_MIN {
        return Err(AppError::invalid(password_min_rule()));
    }
    if len > PASSWORD_MAX {
        return Err(AppError::invalid(password_max_rule()));
    }
    Ok(())
}

/// A character that has no business in text people type: C0 and C1 controls (NUL above
/// all: PostgreSQL refuses it in text, SQLite keeps it and cuts C strings at it), DEL,
/// and the bidirectional embeddings, overrides and isolates that make text read in
/// another order than it is stored ("Trojan Source"). `newlines`: tab, line feed and
/// carriage return are allowed (a message body), else refused too (a title).
pub fn forbidden_char(c: char, newlines: bool) -> bool {
    match c {
        '\t' | '\n' | '\r' => !newlines,
        c if c.is_control() => true,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// Also refused in one-line names (titles, display names, statuses): characters that
/// show nothing and only serve to make one name look like another or like none:
/// Unicode's default-ignorable code points (zero-width space, word joiner, soft hyphen,
/// the direction marks, the Hangul fillers…), the blank Braille pattern and the line and
/// paragraph separators. What emoji and scripts need stays: zero-width (non-)joiners,
/// the variation selectors (U+FE0F: "❤️"; U+E0100–E01EF for CJK names; Mongolian's
/// U+180B–180F) and the tag letters of subdivision flags (U+E0020–E007F).
fn invisible_in_a_name(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E001F}'
            | '\u{E0080}'..='\u{E00FF}'
            | '\u{E01F0}'..='\u{E0FFF}'
    )
}

fn refuse_control(text: &str, newlines: bool, what: &str) -> Result<(), AppError> {
    let bad = |c: char| forbidden_char(c, newlines) || (!newlines && invisible_in_a_name(c));
    // In a name, a tag letter only within a subdivision flag (🏴 then tags): anywhere
    // else it is invisible text.
    let tag = |c: char| ('\u{E0020}'..='\u{E007F}').contains(&c);
    let mut prev = '\0';
    let stray_tag = |c: char, prev: char| !newlines && tag(c) && prev != '\u{1F3F4}' && !tag(prev);
    let found = text.chars().find(|&c| {
        let refused = bad(c) || stray_tag(c, prev);
        prev = c;
        refused
    });
    match found {
        Some(c) => Err(AppError::invalid(format!(
            "{what} contains a control character (U+{:04X})",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// Trims a message body and checks it is 1–4000 characters without control characters
/// (newlines and tabs are fine).
pub fn body(raw: &str) -> Result<String, AppError> {
    let body = raw.trim();
    refuse_control(body, true, "Message")?;
    let len = body.chars().count();
    if len == 0 {
        return Err(AppError::invalid("Message is empty"));
    }
    if len > BODY_MAX {
        return Err(AppError::invalid(format!(
            "Message is too long ({len} characters, at most {BODY_MAX})"
        )));
    }
    Ok(body.to_string())
}

/// A message's text when files go with it: as [`body`], but it may be empty.
pub fn caption(raw: &str) -> Result<String, AppError> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    body(raw)
}

/// Files one message carries at most.
pub const FILES_PER_MESSAGE: usize = 10;
/// Longest file name kept, in characters (the extension is kept when shortened).
pub const FILE_NAME_MAX: usize = 120;

/// A name for an uploaded file that is safe to show and to put in a download header:
/// the last path component only, no control or invisible characters, no quotes or
/// backslashes, trimmed of dots and spaces at either end, at most [`FILE_NAME_MAX`]
/// characters (the extension kept); "file" when nothing is left. Never an error: the
/// name is the uploader's label, not an identifier.
pub fn file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            // Private use U+E000 and U+E001 mark search matches (`db/search.rs`).
            if forbidden_char(c, false)
                || invisible_in_a_name(c)
                || matches!(c, '"' | '\\' | '\u{E000}' | '\u{E001}')
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        return "file".into();
    }
    if trimmed.chars().count() <= FILE_NAME_MAX {
        return trimmed.to_string();
    }
    let ext: String = match trimmed.rsplit_once('.') {
        Some((_, e)) if (1..=10).contains(&e.chars().count()) => format!(".{e}"),
        _ => String::new(),
    };
    let keep = FILE_NAME_MAX - ext.chars().count();
    let stem: String = trimmed.chars().take(keep).collect();
    format!("{}{ext}", stem.trim_end())
}

/// Trims an optional group title; empty means none.
pub fn title(raw: &str) -> Result<Option<String>, AppError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > TITLE_MAX {
        return Err(AppError::invalid(title_max_rule()));
    }
    refuse_control(t, false, "Title")?;
    Ok(Some(t.to_string()))
}

/// Checks a group's description (its topic): trimmed, at most [`DESCRIPTION_MAX`]
/// characters, no control characters but newlines.
pub fn description(raw: &str) -> Result<String, AppError> {
    let t = raw.trim();
    if t.chars().count() > DESCRIPTION_MAX {
        return Err(AppError::invalid(description_max_rule()));
    }
    refuse_control(t, true, "Description")?;
    Ok(t.to_string())
}

pub fn description_max_rule() -> String {
    format!("A description has at most {DESCRIPTION_MAX} characters")
}

pub const DISPLAY_NAME_MAX: usize = 48;
pub const STATUS_MAX: usize = 100;
/// What a time zone that is not one looks like to its owner.
pub const TIME_ZONE_RULE: &str = "Unknown time zone: use a name like Europe/Berlin";

pub fn display_name_max_rule() -> String {
    format!("A display name has at most {DISPLAY_NAME_MAX} characters")
}

pub fn status_max_rule() -> String {
    format!("A status has at most {STATUS_MAX} characters")
}

/// Checks a display name: trimmed, at most [`DISPLAY_NAME_MAX`] characters, nothing
/// invisible (no control, zero-width or direction characters that would let a name
/// pass for another); empty: none.
pub fn display_name(raw: &str) -> Result<String, AppError> {
    let t = raw.trim();
    if t.chars().count() > DISPLAY_NAME_MAX {
        return Err(AppError::invalid(display_name_max_rule()));
    }
    refuse_control(t, false, "Display name")?;
    // Shown where a username would be: it may not pass for one (`@`), for a deleted
    // account, or be nothing but marks and spaces.
    if !t.is_empty() && !t.chars().any(char::is_alphanumeric) {
        return Err(AppError::invalid(DISPLAY_NAME_LETTERS_RULE));
    }
    if t.contains('@') || t.to_ascii_lowercase().starts_with("deleted user") {
        return Err(AppError::invalid(DISPLAY_NAME_LOOKS_RULE));
    }
    Ok(t.to_string())
}

/// A display name needs a letter or a digit.
pub const DISPLAY_NAME_LETTERS_RULE: &str = "A display name needs a letter or a digit";
/// A display name may not look like a username or a deleted account.
pub const DISPLAY_NAME_LOOKS_RULE: &str =
    "A display name may not contain '@' or look like a deleted account";
/// A display name may not be someone else's username.
pub const DISPLAY_NAME_TAKEN_RULE: &str = "That display name is someone else's username";

/// Checks a status line, as a display name (at most [`STATUS_MAX`] characters).
pub fn status(raw: &str) -> Result<String, AppError> {
    let t = raw.trim();
    if t.chars().count() > STATUS_MAX {
        return Err(AppError::invalid(status_max_rule()));
    }
    refuse_control(t, false, "Status")?;
    Ok(t.to_string())
}

/// The shape of an IANA time zone name (`Area/City`, `UTC`), trimmed; empty: none.
/// Whether the zone exists is the server's question (its time zone database).
pub fn time_zone(raw: &str) -> Result<String, AppError> {
    let t = raw.trim();
    let shaped = t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if shaped {
        Ok(t.to_string())
    } else {
        Err(AppError::invalid(TIME_ZONE_RULE))
    }
}

/// Checks a search query: no control characters (a NUL would reach the database).
pub fn query(raw: &str) -> Result<(), AppError> {
    // Control characters only: a word pasted with a soft hyphen is still a search.
    match raw.chars().find(|&c| forbidden_char(c, false)) {
        Some(c) => Err(AppError::invalid(format!(
            "Search contains a control character (U+{:04X})",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// Splits "bob, carol dave" into normalised, de-duplicated usernames.
pub fn member_list(raw: &str) -> Result<Vec<String>, AppError> {
    let mut names: Vec<String> = Vec::new();
    for part in raw.split(|c: char| c == ',' || c.is_whitespace()) {
        let part = part.trim().trim_start_matches('@');
        if part.is_empty() {
            continue;
        }
        let name = username(part).map_err(|e| AppError::invalid(format!("“{part}”: {e}")))?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(AppError::invalid(NO_MEMBERS_RULE));
    }
    if names.len() > GROUP_MAX_MEMBERS {
        return Err(AppError::invalid(group_max_rule()));
    }
    Ok(names)
}

/// Checks a client-generated message id: 1–64 visible ASCII characters.
pub fn client_id(raw: &str) -> Result<String, AppError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > CLIENT_ID_MAX || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::invalid("Invalid client id"));
    }
    Ok(id.to_string())
}

/// Longest reaction, in bytes: one emoji, even a family or a flag with its joiners.
pub const EMOJI_MAX_BYTES: usize = 32;
/// Distinct reactions one person can give one message.
pub const REACTIONS_PER_USER_MAX: i64 = 10;

/// Checks a reaction: one emoji (up to 8 code points with joiners and modifiers), no
/// letters, digits or spaces outside a keycap. Not a full Unicode emoji table: the rule
/// keeps out words and markup, and what passes is only ever shown as text.
pub fn emoji(raw: &str) -> Result<String, AppError> {
    let e = raw.trim();
    let chars: Vec<char> = e.chars().collect();
    let pictographic = |c: char| {
        let u = c as u32;
        (0x1F000..=0x1FAFF).contains(&u)
            || (0x2600..=0x27BF).contains(&u)
            || (0x2B00..=0x2BFF).contains(&u)
            || (0x2190..=0x21FF).contains(&u)
            || (0x2300..=0x23FF).contains(&u)
            || u == 0x00A9
            || u == 0x00AE
            || u == 0x203C
            || u == 0x2049
            || u == 0x2122
            || u == 0x2139
            || u == 0x3030
            || u == 0x303D
    };
    let joiner_or_modifier = |c: char| {
        let u = c as u32;
        u == 0x200D || u == 0xFE0F || u == 0xFE0E || u == 0x20E3 || (0xE0020..=0xE007F).contains(&u)
    };
    let keycap = chars.last() == Some(&'\u{20E3}')
        && chars
            .first()
            .is_some_and(|c| c.is_ascii_digit() || *c == '#' || *c == '*');
    let ok = !e.is_empty()
        && e.len() <= EMOJI_MAX_BYTES
        && chars.len() <= 8
        && chars.iter().any(|c| pictographic(*c) || keycap)
        && chars
            .iter()
            .enumerate()
            .all(|(i, c)| pictographic(*c) || joiner_or_modifier(*c) || (keycap && i == 0));
    if ok {
        Ok(e.to_string())
    } else {
        Err(AppError::invalid("A reaction is one emoji"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_emoji_and_refuse_what_shows_nothing() {
        // Emoji need joiners, variation selectors and a subdivision flag's tags.
        let scotland = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
        for ok in [
            "❤️ Team",
            "👩‍👩‍👧 family",
            "1️⃣ first",
            &format!("{scotland} Scots"),
            "Zoë Ångström",
        ] {
            assert!(title(ok).is_ok(), "title {ok:?}");
            assert!(display_name(ok).is_ok(), "display name {ok:?}");
        }
        for bad in [
            "\u{3164}",
            "a\u{00AD}b",
            "a\u{2800}",
            "x\u{E0001}",
            "a\u{206A}b",
            "\u{FFA0}x",
        ] {
            assert!(display_name(bad).is_err(), "display name {bad:?}");
            assert!(title(bad).is_err(), "title {bad:?}");
        }
        assert!(display_name("-- !!").is_err());
        assert!(display_name("@alice").is_err());
        assert!(display_name("deleted USER #4").is_err());
        assert_eq!(display_name("  Ann  ").as_deref(), Ok("Ann"));
        assert_eq!(display_name("").as_deref(), Ok(""));
    }

    #[test]
    fn emoji_rule() {
        for ok in ["👍", "❤️", "😂", "🎉", "👩‍👩‍👧", "🇫🇷", "1️⃣", "👍🏽"]
        {
            assert_eq!(emoji(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "ok",
            "<b>",
            "👍 👍",
            "👍a",
            "1",
            "\u{200D}",
            "👍👍👍👍👍👍👍👍👍",
        ] {
            assert!(emoji(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(username("  Alice_1 ").unwrap(), "alice_1");
        assert_eq!(username("a.b-c").unwrap(), "a.b-c");
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username(&"a".repeat(32)).is_ok());
        assert!(username("al ice").is_err());
        assert!(username("alïce").is_err());
        assert!(username("<script>").is_err());
    }

    #[test]
    fn passwords() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }

    #[test]
    fn bodies_are_trimmed_and_bounded() {
        assert_eq!(body("  hi \n").unwrap(), "hi");
        assert!(body("   \n\t ").is_err());
        assert!(caption("  ").is_ok_and(|c| c.is_empty()));
        assert!(caption("\u{7}").is_err());
        assert_eq!(file_name("../../etc/passwd"), "passwd");
        assert_eq!(file_name("C:\\Users\\me\\shot.png"), "shot.png");
        assert_eq!(file_name(" .. "), "file");
        assert_eq!(file_name("a\"b\u{202E}c\n.txt"), "a_b_c_.txt");
        let long = format!("{}.png", "x".repeat(500));
        assert_eq!(file_name(&long).chars().count(), FILE_NAME_MAX);
        assert!(file_name(&long).ends_with(".png"));
        assert!(body(&"é".repeat(BODY_MAX)).is_ok());
        assert!(body(&"é".repeat(BODY_MAX + 1)).is_err());
        // Inner newlines are kept.
        assert_eq!(body("a\nb").unwrap(), "a\nb");
    }

    #[test]
    fn control_characters_are_refused_where_they_make_no_sense() {
        for bad in [
            "a\u{0}b",
            "x\u{7}",
            "\u{202E}gnp.exe",
            "a\u{2066}b",
            "a\u{85}b",
            "a\u{7F}",
        ] {
            assert!(body(bad).is_err(), "{bad:?}");
            assert!(title(bad).is_err(), "{bad:?}");
            assert!(query(bad).is_err(), "{bad:?}");
            assert_eq!(body(bad).unwrap_err().status(), 400);
        }
        assert_eq!(body("line\r\nnext\tx").unwrap(), "line\r\nnext\tx");
        assert!(title("a\nb").is_err());
        for spoof in [
            "a\u{200B}b",
            "\u{200F}x",
            "x\u{061C}",
            "a\u{2028}b",
            "\u{FEFF}t",
        ] {
            assert!(title(spoof).is_err(), "{spoof:?}");
        }
        assert!(title("Ünïcödé ok 👍 \u{200D} العربية").is_ok());
        assert!(body("👩‍👩‍👧 joiners are fine").is_ok());
    }

    #[test]
    fn member_lists() {
        assert_eq!(
            member_list("Bob, carol  dave,bob @erin").unwrap(),
            vec!["bob", "carol", "dave", "erin"]
        );
        assert!(member_list(" , ").is_err());
        assert!(member_list("bob, x").is_err());
    }

    #[test]
    fn titles_and_client_ids() {
        assert_eq!(title("  ").unwrap(), None);
        assert_eq!(title(" Trip ").unwrap().as_deref(), Some("Trip"));
        assert!(title(&"t".repeat(TITLE_MAX + 1)).is_err());
        assert!(client_id("abc-123").is_ok());
        assert!(client_id("").is_err());
        assert!(client_id("has space").is_err());
        assert!(client_id(&"x".repeat(65)).is_err());
    }
}

/// The rules as properties over arbitrary input: whatever comes in, an answer (never a
/// panic), and every `Ok` is exactly what the rule promises.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn name_char(c: char) -> bool {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
    }

    /// Arbitrary text, and text close to the rules (where the edge cases are).
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,80}",
            "[ A-Za-z0-9_.@,\\-\\t\\n]{0,40}",
            any::<String>()
        ]
    }

    proptest! {
        #[test]
        fn username_is_ok_exactly_when_the_rule_holds(raw in text()) {
            let normal = raw.trim().to_lowercase();
            let len = normal.chars().count();
            let valid = (USERNAME_MIN..=USERNAME_MAX).contains(&len) && normal.chars().all(name_char);
            match username(&raw) {
                Ok(name) => {
                    prop_assert!(valid);
                    prop_assert_eq!(&name, &normal);
                    prop_assert_eq!(username(&name).ok(), Some(name.clone()), "idempotent");
                }
                Err(e) => {
                    prop_assert!(!valid);
                    prop_assert_eq!(e.status(), 400);
                }
            }
        }

        #[test]
        fn body_is_the_trimmed_text_within_bounds(raw in prop_oneof![text(), "\\PC{3990,4010}"]) {
            match body(&raw) {
                Ok(b) => {
                    prop_assert_eq!(b.as_str(), raw.trim());
                    prop_assert!((1..=BODY_MAX).contains(&b.chars().count()));
                }
                Err(e) => {
                    let n = raw.trim().chars().count();
                    let control = raw.trim().chars().any(|c| forbidden_char(c, true));
                    prop_assert!(n == 0 || n > BODY_MAX || control);
                    prop_assert_eq!(e.status(), 400);
                }
            }
        }

        #[test]
        fn member_lists_are_valid_distinct_names(raw in text()) {
            if let Ok(names) = member_list(&raw) {
                prop_assert!((1..=GROUP_MAX_MEMBERS).contains(&names.len()));
                for (i, n) in names.iter().enumerate() {
                    prop_assert_eq!(username(n).ok(), Some(n.clone()));
                    prop_assert!(!names[..i].contains(n), "duplicate {}", n);
                }
            }
        }

        #[test]
        fn client_ids_are_short_visible_ascii(raw in text()) {
            match client_id(&raw) {
                Ok(id) => {
                    prop_assert!((1..=CLIENT_ID_MAX).contains(&id.len()));
                    prop_assert!(id.chars().all(|c| c.is_ascii_graphic()));
                }
                Err(e) => prop_assert_eq!(e.status(), 400),
            }
        }

        #[test]
        fn titles_are_trimmed_and_bounded(raw in text()) {
            match title(&raw) {
                Ok(None) => prop_assert!(raw.trim().is_empty()),
                Ok(Some(t)) => {
                    prop_assert_eq!(t.as_str(), raw.trim());
                    prop_assert!(t.chars().count() <= TITLE_MAX);
                }
                Err(_) => prop_assert!(
                    raw.trim().chars().count() > TITLE_MAX
                        || raw
                            .trim()
                            .chars()
                            .any(|c| forbidden_char(c, false) || invisible_in_a_name(c))
                ),
            }
        }
    }
}
