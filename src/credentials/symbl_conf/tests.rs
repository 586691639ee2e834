//! What the differential test against `python3` (`tests/symbl_conf_python.rs`) cannot show:
//! the words of each error (never a line of the file), the bounds Python lacks, and the files
//! the SDK refuses that we read.

use super::interpolation::MAX_VALUE_BYTES;
use super::*;

/// The credentials in `text`, or the error's words, as `from_symbl_conf` gives them.
fn parse(text: &str) -> Result<(String, String), String> {
    let mut parser = ConfigParser::default();
    parser.read(text).map_err(|error| error.to_string())?;
    let credentials = credentials(&parser)?.ok_or_else(|| missing(&parser))?;
    Ok((
        credentials.app_id().to_owned(),
        credentials.app_secret().to_owned(),
    ))
}

fn pair(id: &str, secret: &str) -> Result<(String, String), String> {
    Ok((id.to_owned(), secret.to_owned()))
}

#[test]
fn reads_the_credentials_section_as_symbls_sdk_writes_it() {
    let text = "[credentials]\napp_id=1234567890\napp_secret=abcdefghijklmnop\n";
    assert_eq!(parse(text), pair("1234567890", "abcdefghijklmnop"));
}

#[test]
fn reads_as_configparser_does_not_as_ini_files_usually_are() {
    for (text, id, secret) in [
        // No inline comments: the rest of the line is the value.
        (
            "[credentials]\napp_id=S1 #2\napp_secret=S1 ;2\n",
            "S1 #2",
            "S1 ;2",
        ),
        // Interpolation.
        (
            "[credentials]\napp_id=A\napp_secret=SEK%%RIT1\n",
            "A",
            "SEK%RIT1",
        ),
        (
            "[credentials]\napp_id=A\napp_secret=X-%(app_id)s\n",
            "A",
            "X-A",
        ),
        // Defaults, continuation lines, `\r` line endings, text after the header's `]`.
        (
            "[DEFAULT]\napp_id=D\n[credentials]\napp_secret=S\n",
            "D",
            "S",
        ),
        (
            "[credentials]\napp_id=A\napp_secret=one\n  two\n\n",
            "A",
            "one\ntwo",
        ),
        ("[credentials]\rapp_id=A\rapp_secret=S\r", "A", "S"),
        ("[credentials]junk\napp_id=A\napp_secret=S\n", "A", "S"),
    ] {
        assert_eq!(parse(text), pair(id, secret), "{text:?}");
    }
}

#[test]
fn says_what_is_wrong_without_quoting_the_file() {
    for (text, says) in [
        ("", "no [credentials] section"),
        (
            "[Credentials]\napp_id=x\napp_secret=SECRET-1\n",
            "no [credentials] section",
        ),
        ("[credentials]\napp_id=x\n", "has no app_secret"),
        ("[credentials]\n", "has no app_id and no app_secret"),
        (
            "[credentials]\napp_id=\napp_secret=SECRET-1\n",
            "app_id is empty",
        ),
        (
            "app_secret=SECRET-1\n[credentials]\n",
            "line 1: a line before any [section]",
        ),
        (
            "[credentials\napp_secret=SECRET-1\n",
            "line 1: a line before any [section]",
        ),
        (
            "[credentials]\nSECRET-1\n",
            "line 2: expected `key = value`",
        ),
        ("[credentials]\n=SECRET-1\n", "line 2: a value with no key"),
        (
            "[credentials]\napp_secret=SECRET-1\nAPP_SECRET=SECRET-1\n",
            "line 3: app_secret is set twice",
        ),
        (
            "[x]\nSECRET-1=a\nsecret-1=b\n",
            "line 3: a key is set twice",
        ),
        (
            "[credentials]\napp_id=x\n[credentials]\n",
            "line 3: a second [credentials]",
        ),
        (
            "[SECRET-1]\n[SECRET-1]\n",
            "line 2: a section header given twice",
        ),
        (
            "[credentials]\napp_id=x\napp_secret=SECRET-1%\n",
            "app_secret in [credentials] has a `%`",
        ),
        (
            "[credentials]\napp_id=x\napp_secret=%(SECRET-1)s\n",
            "refers with `%(name)s` to a key",
        ),
        (
            "[credentials]\napp_id=%(app_id)s\napp_secret=SECRET-1\n",
            "more than 10 levels",
        ),
    ] {
        let error = parse(text).expect_err(text);
        assert!(error.contains(says), "{text:?}: {error}");
        assert!(!error.to_lowercase().contains("secret-1"), "{error}");
    }
}

#[test]
fn a_bad_percent_in_a_key_nobody_reads_is_no_error() {
    let text = "[credentials]\napp_id=A\napp_secret=S\nother=100%\n[DEFAULT]\nx=%(y\n";
    assert_eq!(parse(text), pair("A", "S"));
}

#[test]
fn ten_levels_of_references_are_followed_and_eleven_are_not() {
    // app_secret (level 1) -> k1 (2) -> ... -> k9 (10) -> "%%" ends the chain at level 10.
    let chain = |levels: usize| {
        let mut text = String::from("[credentials]\napp_id=A\napp_secret=%(k1)s\n");
        for level in 1..levels {
            text.push_str(&format!("k{level}=%(k{})s\n", level + 1));
        }
        text.push_str(&format!("k{levels}=%%\n"));
        text
    };
    assert_eq!(parse(&chain(9)), pair("A", "%"));
    let error = parse(&chain(10)).expect_err("11 levels");
    assert!(error.contains("more than 10 levels"), "{error}");
}

#[test]
fn interpolation_that_would_run_away_is_cut_short() {
    // Nine levels of keys, each naming the next many times: Python would build 64^8
    // characters, or follow 8^9 references to an empty value.
    let runaway = |times: usize, last: &str| {
        let mut text = String::from("[credentials]\napp_id=A\napp_secret=%(k1)s\n");
        for level in 1..9 {
            let next = format!("%(k{})s", level + 1);
            text.push_str(&format!("k{level}={}\n", next.repeat(times)));
        }
        text.push_str(&format!("k9={last}\n"));
        text
    };
    for text in [runaway(64, "x"), runaway(8, "")] {
        let error = parse(&text).expect_err("runaway");
        assert!(error.contains("expands past"), "{error}");
    }

    let big = "x".repeat(MAX_VALUE_BYTES - 1);
    let text = format!("[credentials]\napp_id=A\napp_secret={big}%%\n");
    assert_eq!(parse(&text), pair("A", &format!("{big}%")));
}

#[test]
fn reads_byte_order_marks_the_sdk_refuses() {
    let text = "[credentials]\r\napp_id=A\r\napp_secret=S\u{e9}\r\n";
    let utf16 = |encode: fn(u16) -> [u8; 2], bom: [u8; 2]| {
        let mut bytes = bom.to_vec();
        bytes.extend(text.encode_utf16().flat_map(encode));
        bytes
    };
    let mut utf8 = b"\xef\xbb\xbf".to_vec();
    utf8.extend(text.as_bytes());
    for bytes in [
        utf8,
        utf16(u16::to_le_bytes, [0xff, 0xfe]),
        utf16(u16::to_be_bytes, [0xfe, 0xff]),
    ] {
        let text = decode(&bytes).expect("decoded");
        assert_eq!(parse(&text), pair("A", "S\u{e9}"));
    }
    assert!(decode(b"\xff\xfe[\0").is_ok());
    assert!(decode(b"\xff\xfe[").is_err());
    assert!(decode(b"\xff\xfe\x00\xd8").is_err());
    assert!(decode(b"[credentials]\xff").is_err());
}
