//! The app id and secret that buy an access token.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// A Symbl app id and app secret, from the Symbl platform's home page.
///
/// The secret is held in a [`SecretString`]: it is zeroed on drop and never printed —
/// `Debug` shows the app id only.
///
/// ```
/// use symbl_auth::Credentials;
///
/// let credentials = Credentials::new("my-app-id", "my-app-secret");
/// assert_eq!(credentials.app_id(), "my-app-id");
/// assert!(!format!("{credentials:?}").contains("my-app-secret"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    app_id: String,
    app_secret: SecretString,
}

impl Credentials {
    /// Environment variables read by [`Credentials::from_env`], in order of preference:
    /// our own names first, then the ones Symbl's SDKs use.
    pub const ENV_VARS: [(&'static str, &'static str); 2] = [
        ("SYMBL_APP_ID", "SYMBL_APP_SECRET"),
        ("APP_ID", "APP_SECRET"),
    ];

    /// Credentials from an app id and app secret.
    pub fn new(app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret: SecretString::from(app_secret.into()),
        }
    }

    /// Credentials from `SYMBL_APP_ID` / `SYMBL_APP_SECRET`, or else from `APP_ID` / `APP_SECRET`
    /// (the names Symbl's own SDKs read).
    ///
    /// Each value is taken from the first pair that sets it, so a partly set pair still falls
    /// back. The error names the variable that is missing.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let first_set = |pick: fn(&(&'static str, &'static str)) -> &'static str| {
            let names = Self::ENV_VARS.iter().map(pick);
            names
                .clone()
                .find_map(&lookup)
                .ok_or(Error::MissingCredentials {
                    variable: names.clone().next().unwrap_or_default(),
                })
        };
        let app_id = first_set(|pair| pair.0)?;
        let app_secret = first_set(|pair| pair.1)?;
        Ok(Self::new(app_id, app_secret))
    }

    /// The app id (not a secret).
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    pub(crate) fn app_secret(&self) -> &str {
        self.app_secret.expose_secret()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn prefers_symbl_prefixed_variables() {
        let creds = Credentials::from_lookup(lookup(&[
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
        let creds = Credentials::from_lookup(lookup(&[("APP_ID", "id"), ("APP_SECRET", "secret")]))
            .expect("credentials");
        assert_eq!(creds.app_id(), "id");
        assert_eq!(creds.app_secret(), "secret");
    }

    #[test]
    fn names_the_missing_variable() {
        let err = Credentials::from_lookup(lookup(&[("SYMBL_APP_ID", "id")])).unwrap_err();
        assert!(matches!(
            err,
            Error::MissingCredentials {
                variable: "SYMBL_APP_SECRET"
            }
        ));
        assert!(err.to_string().contains("SYMBL_APP_SECRET"));

        let err = Credentials::from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().contains("SYMBL_APP_ID"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let creds = Credentials::new("id", "s3cr3t-value");
        let text = format!("{creds:?}");
        assert!(text.contains("id"));
        assert!(!text.contains("s3cr3t-value"));
    }
}
