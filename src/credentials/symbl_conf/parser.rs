//! The reading half of Python's `configparser.ConfigParser()`, with the defaults Symbl's Python
//! SDK keeps (`ConfigParser()`, then `read_file(open(path))`).
//!
//! Each rule is CPython's (`Lib/configparser.py`: `RawConfigParser._read` and
//! `_join_multiline_values`; the library docs, "Supported INI File Structure"):
//! - lines end at `\n`, `\r\n` or `\r` (a text-mode `open` reads with universal newlines);
//! - a line whose stripped text starts with `#` or `;` is a comment, wherever it is indented;
//!   there are no inline comments (`inline_comment_prefixes=None`): `S1 #2` is a value;
//! - a line indented deeper than the key that opened a value continues that value (joined with
//!   `\n`); so does an empty line (`empty_lines_in_values=True`), and trailing ones are dropped;
//! - `[name]` starts a section: the name runs to the *last* `]` (the regex `\[(?P<header>.+)\]`
//!   is greedy and only anchored at the start, so `[credentials]junk` is `credentials`); names
//!   are case-sensitive; `[DEFAULT]` holds the defaults every section inherits;
//! - otherwise a line is `key = value` split at the first `=` or `:`, both sides stripped, the
//!   key lowercased (`optionxform`);
//! - `strict=True`: a section or a key given twice in one file is an error; a later file read
//!   into the same parser adds to and overrides what earlier ones set;
//! - a key before any section header, a line that is neither header nor `key = value`, and a
//!   key with no name are errors: the file is refused.
//!
//! "Whitespace" is Python's (`str.isspace`, the regex `\s`): Rust's `char::is_whitespace` plus
//! the four separators U+001C to U+001F. Indents are counted in characters, as Python does.

use std::collections::{HashMap, HashSet};
use std::fmt;

use secrecy::zeroize::Zeroizing;

/// `configparser.DEFAULTSECT`: the section whose keys every other section inherits.
pub(super) const DEFAULT_SECTION: &str = "DEFAULT";

/// One section's keys (lowercased, as `optionxform` leaves them) and values. The values are
/// zeroed when dropped: any of them may be a secret, or part of one through interpolation.
pub(super) type Options = HashMap<String, Zeroizing<String>>;

/// What `ConfigParser` holds after `read_file`: the defaults and the named sections.
#[derive(Default)]
pub(crate) struct ConfigParser {
    pub(super) defaults: Options,
    pub(super) sections: HashMap<String, Options>,
}

/// Why Python's `read_file` raises, by line number. No variant holds text from the file: a
/// line may hold a secret (or be one, pasted without its key).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// `MissingSectionHeaderError`: a line before any `[section]`.
    MissingSectionHeader { line: usize },
    /// `DuplicateSectionError`; `credentials` says whether it was `[credentials]`.
    DuplicateSection { line: usize, credentials: bool },
    /// `DuplicateOptionError`; the key is named when it is one of the two we read.
    DuplicateOption {
        line: usize,
        key: Option<&'static str>,
    },
    /// `ParsingError`: neither a section header nor `key = value`.
    NotKeyValue { line: usize },
    /// `ParsingError`: `= value` with no key.
    EmptyKey { line: usize },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSectionHeader { line } => {
                write!(f, "line {line}: a line before any [section] header")
            }
            Self::DuplicateSection {
                line,
                credentials: true,
            } => write!(f, "line {line}: a second [credentials] section"),
            Self::DuplicateSection { line, .. } => {
                write!(f, "line {line}: a section header given twice")
            }
            Self::DuplicateOption {
                line,
                key: Some(key),
            } => write!(f, "line {line}: {key} is set twice in one section"),
            Self::DuplicateOption { line, .. } => {
                write!(f, "line {line}: a key is set twice in one section")
            }
            Self::NotKeyValue { line } => write!(
                f,
                "line {line}: expected `key = value` or a [section] header \
                 (indent a line to continue the value above)"
            ),
            Self::EmptyKey { line } => write!(f, "line {line}: a value with no key"),
        }
    }
}

impl ConfigParser {
    /// `read_file` on `text`: on success its sections and keys are added to those already
    /// read, later values replacing earlier ones; on failure nothing is kept, as the caller
    /// then gives up (Symbl's SDK lets the exception through).
    pub(super) fn read(&mut self, text: &str) -> Result<(), ReadError> {
        // This read's `elements_added`, and its values as lists of lines, joined at the end.
        let mut sections_added: HashSet<&str> = HashSet::new();
        let mut options_added: HashSet<(&str, String)> = HashSet::new();
        let mut values: Vec<(&str, String, Vec<&str>)> = Vec::new();
        let mut section: Option<&str> = None;
        let mut option: Option<usize> = None;
        let mut indent_level = 0;
        let mut parsing_error = None;
        for (line_number, line) in (1..).zip(lines(text)) {
            let stripped = strip(line);
            let comment = stripped.starts_with(['#', ';']);
            if stripped.is_empty() || comment {
                // An empty line belongs to the value above it; a comment line does not.
                if let (false, Some(_), Some(at)) = (comment, section, option) {
                    values[at].2.push("");
                }
                continue;
            }
            let indent = line.chars().take_while(|&c| is_space(c)).count();
            if let (Some(_), Some(at)) = (section, option) {
                if indent > indent_level {
                    values[at].2.push(stripped);
                    continue;
                }
            }
            indent_level = indent;
            if let Some(header) = section_header(stripped) {
                if header != DEFAULT_SECTION && !sections_added.insert(header) {
                    return Err(ReadError::DuplicateSection {
                        line: line_number,
                        credentials: header == super::SECTION,
                    });
                }
                section = Some(header);
                option = None;
                continue;
            }
            let Some(current) = section else {
                return Err(ReadError::MissingSectionHeader { line: line_number });
            };
            let Some(at) = stripped.find(['=', ':']) else {
                parsing_error.get_or_insert(ReadError::NotKeyValue { line: line_number });
                continue;
            };
            let key = rstrip(&stripped[..at]).to_lowercase();
            if key.is_empty() {
                parsing_error.get_or_insert(ReadError::EmptyKey { line: line_number });
            }
            if !options_added.insert((current, key.clone())) {
                let key = [super::APP_ID, super::APP_SECRET]
                    .into_iter()
                    .find(|ours| *ours == key);
                return Err(ReadError::DuplicateOption {
                    line: line_number,
                    key,
                });
            }
            // An empty key is falsy in Python: nothing continues it.
            option = (!key.is_empty()).then_some(values.len());
            values.push((current, key, vec![strip(&stripped[at + 1..])]));
        }
        if let Some(error) = parsing_error {
            return Err(error);
        }
        for name in sections_added {
            self.sections.entry(name.to_owned()).or_default();
        }
        for (name, key, lines) in values {
            let options = if name == DEFAULT_SECTION {
                &mut self.defaults
            } else {
                self.sections.entry(name.to_owned()).or_default()
            };
            options.insert(key, join(&lines));
        }
        Ok(())
    }

    /// `has_option(section, key)`: the section exists and has the key, or `[DEFAULT]` has it.
    pub(super) fn has_option(&self, section: &str, key: &str) -> bool {
        self.sections
            .get(section)
            .is_some_and(|options| options.contains_key(key) || self.defaults.contains_key(key))
    }
}

/// The lines of `text` as Python's text-mode file yields them (without their ending).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match rest.find(['\n', '\r']) {
            None => (rest, ""),
            Some(at) if rest[at..].starts_with("\r\n") => (&rest[..at], &rest[at + 2..]),
            Some(at) => (&rest[..at], &rest[at + 1..]),
        };
        rest = next;
        Some(line)
    })
}

/// `\[(?P<header>.+)\]` matched at the start of a stripped line: up to its last `]`.
fn section_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?;
    let end = inner.rfind(']')?;
    (end > 0).then(|| &inner[..end])
}

/// `'\n'.join(lines).rstrip()`, in one allocation of the final size (a copy left behind by a
/// growing buffer would not be zeroed). Each line is already stripped, so the `rstrip` only
/// drops the empty lines at the end.
fn join(lines: &[&str]) -> Zeroizing<String> {
    let kept = lines
        .iter()
        .rposition(|line| !line.is_empty())
        .map_or(&[][..], |last| &lines[..=last]);
    let len = kept.iter().map(|line| line.len() + 1).sum::<usize>();
    let mut value = Zeroizing::new(String::with_capacity(len.saturating_sub(1)));
    for (index, line) in kept.iter().enumerate() {
        if index > 0 {
            value.push('\n');
        }
        value.push_str(line);
    }
    value
}

/// Python's `str.isspace`.
fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

/// Python's `str.strip()`.
fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// Python's `str.rstrip()`.
fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_space)
}
