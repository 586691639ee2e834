//! The corpus of `tests/symbl_conf_python.rs`: hand-written `symbl.conf` files, one rule of
//! `configparser.ConfigParser()` or one edge of it each, and pairs of files for discovery.

/// What the crate must make of a file, beside what Python makes of it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expect {
    /// The same pair as Python, or an error where Python raises.
    Same,
    /// Python raises; we read this pair (documented leniency: byte order marks).
    Lenient(&'static str, &'static str),
    /// Python reads it; we refuse it (documented: the 64 KiB cap).
    Stricter,
}

use Expect::Same;

/// `(name, file, expectation)`.
pub(crate) type File = (&'static str, &'static [u8], Expect);

pub(crate) const FILES: &[File] = &[
    // The format, as the SDK's readme writes it.
    ("basic", b"[credentials]\napp_id=ID1\napp_secret=S1\n", Same),
    ("sdk_readme", b"[credentials]\napp_id=<app_id>\napp_secret=<app_secret>\n", Same),
    ("spaces_around_delimiter", b"[credentials]\napp_id = ID1\napp_secret   =   S1\n", Same),
    ("colon_delimiter", b"[credentials]\napp_id: ID1\napp_secret:S1\n", Same),
    ("first_delimiter_wins", b"[credentials]\napp_id: a=b\napp_secret = c:d=e\n", Same),
    ("upper_case_keys", b"[credentials]\nAPP_ID=ID1\nApp_Secret=S1\n", Same),
    ("section_name_is_case_sensitive", b"[Credentials]\napp_id=ID1\napp_secret=S1\n", Same),
    ("tabs", b"[credentials]\napp_id\t=\tID1\t\napp_secret=\tS1\n", Same),
    ("tab_indented_key_continues", b"[credentials]\napp_id=ID1\n\tapp_secret=S1\n", Same),
    ("key_with_inner_space", b"[credentials]\napp id=x\napp_id  :  ID1\napp_secret=S1\n", Same),
    ("empty_value", b"[credentials]\napp_id=\napp_secret=S1\n", Same),
    ("empty_file", b"", Same),
    ("only_comments", b"# a\n; b\n", Same),
    ("quotes_are_kept", b"[credentials]\napp_id=\"ID1\"\napp_secret='S1'\n", Same),
    ("unicode_value", b"[credentials]\napp_id=ID1\napp_secret=S\xc3\xa9cr\xc3\xa8t\n", Same),
    ("nul_in_value", b"[credentials]\napp_id=ID1\napp_secret=S1\x00x\n", Same),
    ("other_sections_ignored", b"[a]\napp_id=1\n[credentials]\napp_id=ID1\napp_secret=S1\n[b]\nx=y\n", Same),
    // Comments are whole lines only.
    ("inline_hash_is_value", b"[credentials]\napp_id=ID1\napp_secret=S1 #2\n", Same),
    ("inline_semicolon_is_value", b"[credentials]\napp_id=ID1\napp_secret=S1 ;2\n", Same),
    ("value_starting_with_hash", b"[credentials]\napp_id=ID1\napp_secret= #S1\n", Same),
    ("hash_without_space", b"[credentials]\napp_id=ID1#x\napp_secret=S1;y\n", Same),
    ("indented_comment", b"[credentials]\napp_id=ID1\n   # comment\n\t; comment\napp_secret=S1\n", Same),
    ("comment_inside_continuation", b"[credentials]\napp_id=ID1\napp_secret=S1\n  # not part\n  more\n", Same),
    ("comment_after_header", b"[credentials] # main\napp_id=ID1\napp_secret=S1\n", Same),
    // Interpolation.
    ("percent_escape", b"[credentials]\napp_id=ID1\napp_secret=SEK%%RIT1\n", Same),
    ("reference_same_section", b"[credentials]\napp_id=ID1\napp_secret=X-%(app_id)s\n", Same),
    ("reference_default", b"[DEFAULT]\nregion=us\n[credentials]\napp_id=ID1\napp_secret=%(region)s-S1\n", Same),
    ("reference_upper_case_name", b"[credentials]\napp_id=ID1\napp_secret=%(APP_ID)s\n", Same),
    ("reference_missing", b"[credentials]\napp_id=ID1\napp_secret=%(nope)s\n", Same),
    ("bare_percent", b"[credentials]\napp_id=ID1\napp_secret=S1%\n", Same),
    ("percent_letter", b"[credentials]\napp_id=ID1\napp_secret=S1%d\n", Same),
    ("reference_unclosed", b"[credentials]\napp_id=ID1\napp_secret=%(app_id\n", Same),
    ("reference_not_s", b"[credentials]\napp_id=ID1\napp_secret=%(app_id)d\n", Same),
    ("reference_empty_name", b"[credentials]\napp_id=ID1\napp_secret=%()s\n", Same),
    ("self_reference", b"[credentials]\napp_id=%(app_id)s\napp_secret=S1\n", Same),
    ("bad_percent_in_unread_key", b"[credentials]\napp_id=ID1\napp_secret=S1\nother=100%\n", Same),
    ("escaped_percent_through_reference", b"[credentials]\nk=a%%b\napp_id=ID1\napp_secret=%(k)s\n", Same),
    ("section_beats_default", b"[DEFAULT]\nk=default\n[credentials]\nk=section\napp_id=ID1\napp_secret=%(k)s\n", Same),
    ("default_value_refers_to_section", b"[DEFAULT]\napp_secret=%(name)s-x\n[credentials]\nname=N\napp_id=ID1\n", Same),
    ("reference_in_continuation", b"[credentials]\napp_id=ID1\napp_secret=a\n  %(app_id)s\n", Same),
    ("ten_levels", b"[credentials]\napp_id=ID1\napp_secret=%(k1)s\nk1=%(k2)s\nk2=%(k3)s\nk3=%(k4)s\nk4=%(k5)s\nk5=%(k6)s\nk6=%(k7)s\nk7=%(k8)s\nk8=%(k9)s\nk9=%%\n", Same),
    ("eleven_levels", b"[credentials]\napp_id=ID1\napp_secret=%(k1)s\nk1=%(k2)s\nk2=%(k3)s\nk3=%(k4)s\nk4=%(k5)s\nk5=%(k6)s\nk6=%(k7)s\nk7=%(k8)s\nk8=%(k9)s\nk9=%(k10)s\nk10=%%\n", Same),
    // [DEFAULT].
    ("default_gives_both", b"[DEFAULT]\napp_id=ID1\napp_secret=S1\n[credentials]\n", Same),
    ("default_without_credentials_section", b"[DEFAULT]\napp_id=ID1\napp_secret=S1\n", Same),
    ("section_overrides_default", b"[DEFAULT]\napp_id=D\napp_secret=D\n[credentials]\napp_secret=S1\n", Same),
    ("default_twice", b"[DEFAULT]\napp_id=ID1\n[credentials]\n[DEFAULT]\napp_secret=S1\n", Same),
    ("default_key_twice", b"[DEFAULT]\napp_id=ID1\n[credentials]\napp_secret=S1\n[DEFAULT]\napp_id=ID2\n", Same),
    ("lower_case_default_is_a_section", b"[default]\napp_id=ID1\n[credentials]\napp_secret=S1\n", Same),
    // Continuation lines.
    ("continuation", b"[credentials]\napp_id=ID1\napp_secret=S1\n  S2\n", Same),
    ("continuation_blank_lines", b"[credentials]\napp_id=ID1\napp_secret=S1\n\n  S2\n\n\n", Same),
    ("continuation_of_empty_value", b"[credentials]\napp_id=ID1\napp_secret=\n  S2\n", Same),
    ("indented_keys_at_one_level", b"[credentials]\n  app_id=ID1\n  app_secret=S1\n", Same),
    ("deeper_key_is_continuation", b"[credentials]\napp_id=ID1\n app_secret=S1\n", Same),
    ("indented_header_is_continuation", b"[credentials]\napp_id=ID1\napp_secret=S1\n  [other]\n", Same),
    ("indent_counted_in_characters", b"[credentials]\n\xe3\x80\x80app_id=ID1\n  app_secret=S1\n", Same),
    ("indent_counted_in_characters_2", b"[credentials]\n  app_id=ID1\n \xe3\x80\x80app_secret=S1\n", Same),
    ("python_whitespace_separator", b"[credentials]\napp_id=ID1\x1c\napp_secret=\x1fS1\n\x1d\n", Same),
    ("form_feed_and_nbsp", b"[credentials]\n\x0c\napp_id=\xc2\xa0ID1\xc2\xa0\napp_secret=S1\x0b\n", Same),
    // Line endings.
    ("crlf", b"[credentials]\r\napp_id=ID1\r\napp_secret=S1\r\n", Same),
    ("cr_only", b"[credentials]\rapp_id=ID1\rapp_secret=S1\r", Same),
    ("mixed_endings", b"[credentials]\r\napp_id=ID1\rapp_secret=S1\n", Same),
    ("no_final_newline", b"[credentials]\napp_id=ID1\napp_secret=S1", Same),
    ("cr_splits_a_value", b"[credentials]\napp_id=ID1\napp_secret=S1\rS2\n", Same),
    ("crlf_continuation", b"[credentials]\r\napp_id=ID1\r\napp_secret=S1\r\n  S2\r\n\r\n", Same),
    ("cr_cr_lf", b"[credentials]\r\r\napp_id=ID1\r\r\napp_secret=S1\r\n", Same),
    // Section headers.
    ("header_junk", b"[credentials]junk\napp_id=ID1\napp_secret=S1\n", Same),
    ("header_double_bracket", b"[credentials]]\napp_id=ID1\napp_secret=S1\n", Same),
    ("header_inner_bracket", b"[cred]entials]\napp_id=ID1\napp_secret=S1\n", Same),
    ("header_with_spaces", b"[ credentials ]\napp_id=ID1\napp_secret=S1\n", Same),
    ("header_indented", b"   [credentials]\napp_id=ID1\napp_secret=S1\n", Same),
    ("header_empty", b"[]\n[credentials]\napp_id=ID1\napp_secret=S1\n", Same),
    ("header_unterminated", b"[credentials\napp_id=ID1\napp_secret=S1\n", Same),
    ("header_then_key_on_one_line", b"[credentials]app_id=ID1\napp_secret=S1\n", Same),
    ("key_before_any_header", b"app_id=ID1\n[credentials]\napp_id=ID1\napp_secret=S1\n", Same),
    // strict=True, and lines configparser refuses anywhere in the file.
    ("duplicate_key", b"[credentials]\napp_id=ID1\napp_id=ID2\napp_secret=S1\n", Same),
    ("duplicate_key_other_case", b"[credentials]\napp_id=ID1\nAPP_ID=ID1\napp_secret=S1\n", Same),
    ("duplicate_section", b"[credentials]\napp_id=ID1\n[credentials]\napp_secret=S1\n", Same),
    ("duplicate_key_elsewhere", b"[credentials]\napp_id=ID1\napp_secret=S1\n[other]\na=1\nA=2\n", Same),
    ("duplicate_section_elsewhere", b"[credentials]\napp_id=ID1\napp_secret=S1\n[x]\n[x]\n", Same),
    ("not_key_value_elsewhere", b"[credentials]\napp_id=ID1\napp_secret=S1\n[other]\njust words\n", Same),
    ("key_without_name", b"[credentials]\napp_id=ID1\napp_secret=S1\n=x\n", Same),
    ("same_key_in_two_sections", b"[a]\napp_id=1\n[credentials]\napp_id=ID1\napp_secret=S1\n", Same),
    // Encodings.
    ("not_utf8", b"[credentials]\napp_id=ID1\napp_secret=S\xe9\n", Same),
    ("utf8_bom", b"\xef\xbb\xbf[credentials]\napp_id=ID1\napp_secret=S1\n", Expect::Lenient("ID1", "S1")),
    ("utf16le_bom", b"\xff\xfe[\0c\0r\0e\0d\0e\0n\0t\0i\0a\0l\0s\0]\0\n\0a\0p\0p\0_\0i\0d\0=\0I\0D\x001\0\n\0a\0p\0p\0_\0s\0e\0c\0r\0e\0t\0=\0S\x001\0\n\0", Expect::Lenient("ID1", "S1")),
];

/// Files too large to write out: over the 64 KiB cap (Python reads them).
pub(crate) fn generated() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let padded = format!(
        "[credentials]\napp_id=ID1\napp_secret=S1\n{}",
        "# padding\n".repeat(7000)
    );
    let long = format!(
        "[credentials]\napp_id=ID1\napp_secret={}\n",
        "s".repeat(4000)
    );
    vec![
        ("over_64_kib", padded.into_bytes(), Expect::Stricter),
        ("long_value", long.into_bytes(), Same),
    ]
}

/// `(name, ./symbl.conf, ~/symbl.conf)`; `None` is no file, `Some(DIRECTORY)` a directory.
pub(crate) type Discovery = (&'static str, Option<&'static str>, Option<&'static str>);

pub(crate) const DIRECTORY: &str = "<a directory>";

pub(crate) const DISCOVERY: &[Discovery] = &[
    (
        "here_complete",
        Some("[credentials]\napp_id=H\napp_secret=HS\n"),
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    (
        "here_lacks_keys",
        Some("[other]\nx=1\n"),
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    (
        "here_lends_a_key",
        Some("[credentials]\napp_id=H\n"),
        Some("[credentials]\napp_secret=OS\n"),
    ),
    (
        "here_lends_a_default",
        Some("[DEFAULT]\napp_id=H\n"),
        Some("[credentials]\napp_secret=OS\n"),
    ),
    (
        "home_overrides_here",
        Some("[credentials]\napp_id=H\n"),
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    (
        "here_section_beats_home_default",
        Some("[credentials]\nregion=eu\n"),
        Some("[DEFAULT]\nregion=us\n[credentials]\napp_id=O\napp_secret=%(region)s\n"),
    ),
    (
        "home_broken_never_read",
        Some("[credentials]\napp_id=H\napp_secret=HS\n"),
        Some("not an ini file\n"),
    ),
    (
        "here_broken",
        Some("[credentials]\napp_id=H\njunk\n"),
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    (
        "here_uninterpolatable",
        Some("[credentials]\napp_id=H\napp_secret=%(x)s\n"),
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    (
        "here_empty_value",
        Some("[credentials]\napp_id=H\napp_secret=\n"),
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    (
        "here_partial_no_home",
        Some("[credentials]\napp_id=H\n"),
        None,
    ),
    (
        "here_directory",
        Some(DIRECTORY),
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    (
        "only_home",
        None,
        Some("[credentials]\napp_id=O\napp_secret=OS\n"),
    ),
    ("home_directory", None, Some(DIRECTORY)),
    ("nothing", None, None),
];
