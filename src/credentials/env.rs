//! Credentials from environment variables: ours first, then the names Symbl's SDKs read.

use std::ffi::OsString;

use super::Credentials;
use crate::Error;

/// The raw value of an environment variable, if it is set.
pub(super) fn var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Whether any of [`Credentials::ENV_VARS`] is set (and not empty): then the environment is
/// where the credentials are meant to come from, and a missing half is an error, not a reason
/// to look elsewhere.
pub(super) fn any_set(lookup: &impl Fn(&str) -> Option<OsString>) -> bool {
    Credentials::ENV_VARS
        .iter()
        .flat_map(|(id, secret)| [id, secret])
        .any(|name| lookup(name).is_some_and(|value| !value.is_empty()))
}

/// The id and the secret from one pair: the first pair with either variable set, which must
/// then have both. Never the id of one pair with the secret of another: they would be sent to
/// Symbl together and fail as a bad secret, with no hint of the mix-up. An empty variable
/// counts as unset; one that is not unicode is an error naming it.
pub(super) fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Credentials, Error> {
    let value = |variable: &'static str| match lookup(variable) {
        None => Ok(None),
        Some(value) if value.is_empty() => Ok(None),
        Some(value) => value
            .into_string()
            .map(Some)
            .map_err(|_| Error::CredentialsNotUnicode { variable }),
    };
    for (id, secret) in Credentials::ENV_VARS {
        match (value(id)?, value(secret)?) {
            (Some(app_id), Some(app_secret)) => return Ok(Credentials::new(app_id, app_secret)),
            (Some(_), None) => return Err(Error::MissingCredentials { variable: secret }),
            (None, Some(_)) => return Err(Error::MissingCredentials { variable: id }),
            (None, None) => {}
        }
    }
    Err(Error::MissingCredentials {
        variable: Credentials::ENV_VARS[0].0,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashMap;

    use super::*;

    pub(crate) fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
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
    fn never_takes_the_id_and_the_secret_from_different_pairs() {
        let sdk_pair = [("APP_ID", "sdk-id"), ("APP_SECRET", "sdk-secret")];
        for (ours, missing) in [
            (("SYMBL_APP_ID", "symbl-id"), "SYMBL_APP_SECRET"),
            (("SYMBL_APP_SECRET", "symbl-secret"), "SYMBL_APP_ID"),
        ] {
            let err = from_lookup(lookup(&[ours, sdk_pair[0], sdk_pair[1]])).unwrap_err();
            assert!(
                matches!(err, Error::MissingCredentials { variable } if variable == missing),
                "{err}"
            );
        }
        // Set but empty is unset: the SDK pair is used.
        let creds = from_lookup(lookup(&[
            ("SYMBL_APP_ID", ""),
            ("SYMBL_APP_SECRET", ""),
            sdk_pair[0],
            sdk_pair[1],
        ]))
        .expect("credentials");
        assert_eq!(creds.app_id(), "sdk-id");
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

        let err = from_lookup(lookup(&[("APP_SECRET", "secret")])).unwrap_err();
        assert!(
            matches!(err, Error::MissingCredentials { variable: "APP_ID" }),
            "{err}"
        );

        let err = from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().contains("SYMBL_APP_ID"));
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_unicode_is_an_error_naming_it() {
        use std::os::unix::ffi::OsStringExt;
        let broken = || OsString::from_vec(b"s3cr\xffet".to_vec());
        let sdk_pair = [("APP_ID", "sdk-id"), ("APP_SECRET", "sdk-secret")];
        for (set, not_unicode) in [
            (
                &[("SYMBL_APP_ID", "id"), sdk_pair[0], sdk_pair[1]][..],
                "SYMBL_APP_SECRET",
            ),
            (&sdk_pair[..], "SYMBL_APP_ID"),
            (&sdk_pair[..1], "APP_SECRET"),
        ] {
            let env = lookup(set);
            let env = |name: &str| (name == not_unicode).then(broken).or_else(|| env(name));
            assert!(any_set(&env));
            let err = from_lookup(env).unwrap_err();
            assert!(
                matches!(err, Error::CredentialsNotUnicode { variable } if variable == not_unicode),
                "{not_unicode}: {err}"
            );
            let text = err.to_string();
            assert!(
                text.contains(not_unicode) && text.contains("unicode"),
                "{text}"
            );
            assert!(
                !text.contains("s3cr") && !text.contains("not set"),
                "{text}"
            );
        }
    }

    #[test]
    fn any_variable_counts_as_set() {
        assert!(!any_set(&lookup(&[])));
        assert!(!any_set(&lookup(&[("OTHER", "x")])));
        assert!(!any_set(&lookup(&[("APP_ID", "")])));
        assert!(any_set(&lookup(&[("APP_SECRET", "x")])));
    }
}
