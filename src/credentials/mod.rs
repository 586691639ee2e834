//! The app id and secret that buy an access token, and where to find them.

mod discover;
mod env;
mod symbl_conf;

use std::fmt;
use std::path::{Path, PathBuf};

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
    /// The id and the secret always come from the same pair: the first pair with either
    /// variable set must have both, and the error ([`Error::MissingCredentials`]) names the
    /// half that is missing. An empty variable counts as unset; a value that is not valid
    /// unicode is [`Error::CredentialsNotUnicode`], naming the variable.
    ///
    /// It reads nothing else; [`Credentials::discover`] also looks for `symbl.conf` files.
    pub fn from_env() -> Result<Self, Error> {
        env::from_lookup(env::var)
    }

    /// Credentials from a `symbl.conf` file, the INI file Symbl's Python SDK reads:
    ///
    /// ```ini
    /// [credentials]
    /// app_id=<your app id>
    /// app_secret=<your app secret>
    /// ```
    ///
    /// Read as the SDK reads it, with Python's `configparser.ConfigParser()` and its defaults:
    /// whole-line comments only (`#` or `;` first on a line; `app_id=S1 #2` is `S1 #2`), `%`
    /// interpolation (`%%` is `%`, `%(key)s` is another key's value), `[DEFAULT]` inherited,
    /// indented lines continuing a value, keys case-insensitive, `=` or `:`, any line ending.
    /// A UTF-8 or UTF-16 byte order mark is accepted (the SDK refuses both).
    ///
    /// The path is taken as it is: `~` is not expanded. Fails with [`Error::CredentialsFile`],
    /// naming the file and what is wrong (it cannot be read, is not a regular file, is over
    /// 64 KiB, a line is malformed, a key is missing or empty, a `%` cannot be interpolated),
    /// and never quoting the file. The bytes read are zeroed once parsed.
    pub fn from_symbl_conf(path: impl AsRef<Path>) -> Result<Self, Error> {
        symbl_conf::read(path.as_ref())
    }

    /// Credentials from the first place that has them, in this order:
    ///
    /// 1. the environment, as [`Credentials::from_env`] reads it (`SYMBL_APP_ID` /
    ///    `SYMBL_APP_SECRET`, or `APP_ID` / `APP_SECRET`);
    /// 2. `symbl.conf` in the working directory;
    /// 3. `symbl.conf` in the home directory (`HOME`; `USERPROFILE` on Windows).
    ///
    /// The files are looked for as Symbl's Python SDK does (`fetchAppCredentialsFromFiles`):
    /// only a regular file counts (a directory or FIFO there is passed over, never opened), and
    /// a `./symbl.conf` without both keys in `[credentials]` falls through to `~/symbl.conf`,
    /// which is read on top of it (one `ConfigParser` reads both, so the first may lend the
    /// second a key or a `[DEFAULT]`). Each is read as [`Credentials::from_symbl_conf`] reads it.
    ///
    /// What is there and broken is an error rather than a reason to look further, so the
    /// credentials never come from somewhere other than where you put them: if any of the four
    /// variables is set, the environment must hold a whole pair; a file that cannot be read or
    /// parsed, or has an empty or uninterpolatable key, is reported. When no place has both
    /// keys, [`Error::CredentialsNotFound`] lists every place looked in, and why each did not
    /// count.
    ///
    /// ```no_run
    /// use symbl_auth::{Credentials, SymblAuthLayer};
    ///
    /// let credentials = Credentials::discover()?;
    /// println!("app id {}", credentials.app_id());
    /// let layer = SymblAuthLayer::builder(credentials).build()?;
    /// # Ok::<(), symbl_auth::Error>(())
    /// ```
    pub fn discover() -> Result<Self, Error> {
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        discover::discover_in(env::var, &here, discover::home_dir().as_deref())
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
