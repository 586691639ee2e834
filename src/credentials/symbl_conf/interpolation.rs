//! `ConfigParser.get` with Python's default `BasicInterpolation` (CPython `Lib/configparser.py`,
//! `BasicInterpolation._interpolate_some`; the docs, "Interpolation of values"):
//! - `%%` is a `%`;
//! - `%(name)s` is the value of `name` (lowercased) in the same section, or else in
//!   `[DEFAULT]`, itself interpolated when it holds a `%`, at most
//!   `MAX_INTERPOLATION_DEPTH` (10) levels deep;
//! - any other `%` is an `InterpolationSyntaxError`, a name found nowhere an
//!   `InterpolationMissingOptionError`, a deeper chain an `InterpolationDepthError`.
//!
//! Python interpolates a value only when it is read, so a bad `%` in a key nobody reads is no
//! error: only `app_id` and `app_secret` (and what they refer to) are interpolated here.
//!
//! Two bounds Python lacks, for files it would take minutes or all memory on (ten levels of
//! keys that each name the next level many times): at most [`MAX_VALUE_BYTES`] of output and
//! [`MAX_REFERENCES`] references followed.

use std::fmt;

use secrecy::zeroize::Zeroizing;

use super::parser::{ConfigParser, Options};

/// `configparser.MAX_INTERPOLATION_DEPTH`.
const MAX_DEPTH: usize = 10;

/// No credential is this long; the output buffer is allocated once at this size, so growing
/// never leaves an unzeroed copy of a secret behind.
pub(super) const MAX_VALUE_BYTES: usize = 64 * 1024;

/// References followed for one value before giving up.
const MAX_REFERENCES: usize = 100_000;

/// Why a value cannot be read. No variant holds text from the file: the name in a `%(…)s` may
/// be part of a secret that happens to hold `%(`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum InterpolationError {
    /// `InterpolationSyntaxError`.
    Syntax,
    /// `InterpolationMissingOptionError`.
    MissingOption,
    /// `InterpolationDepthError`.
    Depth,
    /// Over [`MAX_VALUE_BYTES`] or [`MAX_REFERENCES`] (our bound, not Python's).
    TooLarge,
}

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => {
                "has a `%` that is neither `%%` nor `%(name)s` (configparser's interpolation: \
                 write `%%` for a literal `%`)"
            }
            Self::MissingOption => {
                "refers with `%(name)s` to a key that is neither in its section nor in [DEFAULT] \
                 (write `%%` for a literal `%`)"
            }
            Self::Depth => "refers to keys more than 10 levels deep (a key that refers to itself?)",
            Self::TooLarge => "expands past 64 KiB or 100,000 references: not a credential",
        })
    }
}

impl ConfigParser {
    /// `get(section, key)`: `None` where `has_option` is false.
    pub(super) fn get(
        &self,
        section: &str,
        key: &str,
    ) -> Option<Result<Zeroizing<String>, InterpolationError>> {
        let options = self.sections.get(section)?;
        let raw = options.get(key).or_else(|| self.defaults.get(key))?;
        let mut interpolation = Interpolation {
            options,
            defaults: &self.defaults,
            value: Zeroizing::new(String::with_capacity(MAX_VALUE_BYTES)),
            references: 0,
        };
        Some(interpolation.some(raw, 1).map(|()| interpolation.value))
    }
}

/// One `before_get`: the lookup chain (the section, then `[DEFAULT]`) and the value so far.
struct Interpolation<'a> {
    options: &'a Options,
    defaults: &'a Options,
    value: Zeroizing<String>,
    references: usize,
}

impl Interpolation<'_> {
    /// `_interpolate_some(…, rest, …, depth)`.
    fn some(&mut self, mut rest: &str, depth: usize) -> Result<(), InterpolationError> {
        if depth > MAX_DEPTH {
            return Err(InterpolationError::Depth);
        }
        while !rest.is_empty() {
            let Some(at) = rest.find('%') else {
                return self.push(rest);
            };
            self.push(&rest[..at])?;
            let after = &rest[at + 1..];
            if let Some(next) = after.strip_prefix('%') {
                self.push("%")?;
                rest = next;
            } else if let Some(reference) = after.strip_prefix('(') {
                // `%\(([^)]+)\)s`: a name of one or more characters other than `)`, then `)s`.
                let (name, next) = reference
                    .split_once(')')
                    .filter(|(name, next)| !name.is_empty() && next.starts_with('s'))
                    .ok_or(InterpolationError::Syntax)?;
                rest = &next[1..];
                self.references += 1;
                if self.references > MAX_REFERENCES {
                    return Err(InterpolationError::TooLarge);
                }
                let name = name.to_lowercase();
                let value = self
                    .options
                    .get(&name)
                    .or_else(|| self.defaults.get(&name))
                    .ok_or(InterpolationError::MissingOption)?;
                if value.contains('%') {
                    self.some(value, depth + 1)?;
                } else {
                    self.push(value)?;
                }
            } else {
                return Err(InterpolationError::Syntax);
            }
        }
        Ok(())
    }

    /// Appends within the buffer's capacity, so it never moves.
    fn push(&mut self, text: &str) -> Result<(), InterpolationError> {
        if self.value.len() + text.len() > MAX_VALUE_BYTES {
            return Err(InterpolationError::TooLarge);
        }
        self.value.push_str(text);
        Ok(())
    }
}
