//! Credentials from environment variables: ours first, then the names Symbl's SDKs read.

use super::Credentials;
use crate::Error;

/// The value of an environment variable, if it is set, unicode and not empty.
pub(super) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Whether any of [`Credentials::ENV_VARS`] is set: then the environment is where the
/// credentials are meant to come from, and a missing half is an error, not a reason to look
/// elsewhere.
pub(super) fn any_set(lookup: &impl Fn(&str) -> Option<String>) -> bool {
    Credentials::ENV_VARS
        .iter()
        .flat_map(|(id, secret)| [id, secret])
        .any(|name| lookup(name).is_some())
}

/// Each value from the first pair that sets it, so a partly set pair still falls back. The
/// error names the variable that is missing.
pub(super) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Credentials, Error> {
    let first_set = |pick: fn(&(&'static str, &'static str)) -> &'static str| {
        let names = Credentials::ENV_VARS.iter().map(pick);
        names
            .clone()
            .find_map(&lookup)
            .ok_or(Error::MissingCredentials {
                variable: names.clone().next().unwrap_or_default(),
            })
    };
    let app_id = first_set(|pair| pair.0)?;
    let app_secret = first_set(|pair| pair.1)?;
    Ok(Credentials::new(app_id, app_secret))
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashMap;

    use super::*;

    pub(crate) fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn prefers_symbl_prefixed_variables() {
        let creds = from_lookup(lookup(&[
            ("SYMBL_APP_ID", "symbl-id"),
            ("SYMBL_APP_SECRET", "symbl-secret"),
            ("APP_ID", "sdk-id"),
            ("APP_SECRET", "sdk-secret"),
        ]))
        .expect("credentials");
        assert_eq!(creds.app_id(), "symbl-id");
        assert_eq!(creds.app_secret(), "symbl-secret");
    }

    #[test]
    fn falls_back_to_sdk_variables() {
        let creds = from_lookup(lookup(&[("APP_ID", "id"), ("APP_SECRET", "secret")]))
            .expect("credentials");
        assert_eq!(creds.app_id(), "id");
        assert_eq!(creds.app_secret(), "secret");
    }

    #[test]
    fn names_the_missing_variable() {
        let err = from_lookup(lookup(&[("SYMBL_APP_ID", "id")])).unwrap_err();
        assert!(matches!(
            err,
            Error::MissingCredentials {
                variable: "SYMBL_APP_SECRET"
            }
        ));
        assert!(err.to_string().contains("SYMBL_APP_SECRET"));

        let err = from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().contains("SYMBL_APP_ID"));
    }

    #[test]
    fn any_variable_counts_as_set() {
        assert!(!any_set(&lookup(&[])));
        assert!(!any_set(&lookup(&[("OTHER", "x")])));
        assert!(any_set(&lookup(&[("APP_SECRET", "x")])));
    }
}
