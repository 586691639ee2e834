//! The app id and secret that buy an access token, and where to find them.

mod env;
mod symbl_conf;

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// How the environment shows up in [`Error::CredentialsNotFound`].
const ENV_SEARCHED: &str =
    "the environment (SYMBL_APP_ID and SYMBL_APP_SECRET, or APP_ID and APP_SECRET)";

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
    /// app_id=<your app id>          # comments after `#` or `;` are stripped
    /// app_secret=<your app secret>
    /// ```
    ///
    /// Read as Python's `configparser` reads it with `#` and `;` as comment prefixes: keys
    /// are case-insensitive, `=` or `:` separates a key from its value, and an inline comment
    /// starts at a `#` or `;` that follows whitespace (a `#` inside a value is kept). Values are
    /// taken literally (no quotes removed). Fails with [`Error::CredentialsFile`], naming the
    /// file and what is wrong (it cannot be read, a line is malformed, a key is missing), and
    /// never quoting the file. The bytes read are zeroed once parsed.
    pub fn from_symbl_conf(path: impl AsRef<Path>) -> Result<Self, Error> {
        symbl_conf::read(path.as_ref())
    }

    /// Credentials from the first place that has them, in this order:
    ///
    /// 1. the environment, as [`Credentials::from_env`] reads it (`SYMBL_APP_ID` /
    ///    `SYMBL_APP_SECRET`, or `APP_ID` / `APP_SECRET`);
    /// 2. `symbl.conf` in the working directory;
    /// 3. `symbl.conf` in the home directory (`HOME`; `USERPROFILE` on Windows)
    ///
    /// — the files Symbl's Python SDK reads, in its order, read by
    /// [`Credentials::from_symbl_conf`].
    ///
    /// The first place that is *there* decides: if any of the variables is set, the
    /// environment must hold both values; if a file exists, it must be usable. Its error is
    /// returned rather than a later place silently used, so the credentials never come from
    /// somewhere other than where you put them. When no place has any,
    /// [`Error::CredentialsNotFound`] lists every place looked in.
    ///
    /// ```no_run
    /// use symbl_auth::{Credentials, SymblAuthLayer};
    ///
    /// let layer = SymblAuthLayer::new(Credentials::discover()?);
    /// # Ok::<(), symbl_auth::Error>(())
    /// ```
    pub fn discover() -> Result<Self, Error> {
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        discover_in(env::var, &here, home_dir().as_deref())
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

/// [`Credentials::discover`] with its inputs made explicit: the environment, the working
/// directory and the home directory.
fn discover_in(
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    here: &Path,
    home: Option<&Path>,
) -> Result<Credentials, Error> {
    if env::any_set(&lookup) {
        return env::from_lookup(lookup);
    }
    let mut searched = vec![ENV_SEARCHED.to_owned()];
    let files = [(Some(here), "./"), (home, "~/")];
    for (dir, shown_as) in files {
        let Some(path) = dir.map(|dir| dir.join(symbl_conf::FILE_NAME)) else {
            searched.push(format!(
                "{shown_as}{} (no home directory: {HOME_VAR} is not set)",
                symbl_conf::FILE_NAME
            ));
            continue;
        };
        match path.try_exists() {
            Ok(false) => {}
            Ok(true) => return symbl_conf::read(&path),
            Err(error) => {
                return Err(Error::credentials_file(path, "it cannot be read").with_source(error))
            }
        }
        searched.push(format!(
            "{shown_as}{} ({})",
            symbl_conf::FILE_NAME,
            path.display()
        ));
    }
    Err(Error::CredentialsNotFound { searched })
}

/// The variable that names the home directory, as Python's `os.path.expanduser` reads it.
const HOME_VAR: &str = if cfg!(windows) { "USERPROFILE" } else { "HOME" };

fn home_dir() -> Option<PathBuf> {
    std::env::var_os(HOME_VAR)
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::env::tests::lookup;
    use super::*;

    /// A fresh folder under the system's temporary directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let unique = format!(
                "symbl-auth-{name}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            );
            let path = std::env::temp_dir().join(unique);
            fs::create_dir_all(path.join("home")).expect("temp dir");
            fs::create_dir_all(path.join("work")).expect("temp dir");
            Self(path)
        }

        fn here(&self) -> PathBuf {
            self.0.join("work")
        }

        fn home(&self) -> PathBuf {
            self.0.join("home")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn conf(id: &str) -> String {
        format!("[credentials]\napp_id={id}\napp_secret=secret-of-{id}\n")
    }

    #[test]
    fn looks_in_the_environment_then_here_then_home() {
        let dir = TempDir::new("order");
        let home = dir.home();
        let nothing = lookup(&[]);

        let err = discover_in(&nothing, &dir.here(), Some(&home)).unwrap_err();
        let Error::CredentialsNotFound { searched } = &err else {
            panic!("{err}");
        };
        assert_eq!(searched.len(), 3, "{err}");
        assert!(searched[0].contains("SYMBL_APP_ID"), "{err}");
        let here_file = dir.here().join("symbl.conf");
        assert!(searched[1].contains(&*here_file.to_string_lossy()), "{err}");
        assert!(
            searched[2].contains(&*home.join("symbl.conf").to_string_lossy()),
            "{err}"
        );

        fs::write(home.join("symbl.conf"), conf("home")).expect("write");
        let creds = discover_in(&nothing, &dir.here(), Some(&home)).expect("home");
        assert_eq!(creds.app_id(), "home");
        assert_eq!(creds.app_secret(), "secret-of-home");

        fs::write(dir.here().join("symbl.conf"), conf("here")).expect("write");
        let creds = discover_in(&nothing, &dir.here(), Some(&home)).expect("here");
        assert_eq!(creds.app_id(), "here");

        let env = lookup(&[("APP_ID", "env"), ("APP_SECRET", "secret-of-env")]);
        let creds = discover_in(&env, &dir.here(), Some(&home)).expect("env");
        assert_eq!(creds.app_id(), "env");
    }

    #[test]
    fn the_first_place_that_is_there_decides() {
        let dir = TempDir::new("decides");
        let home = dir.home();
        fs::write(home.join("symbl.conf"), conf("home")).expect("write");

        // Half the environment: an error naming the missing variable, not the home file.
        let half = lookup(&[("SYMBL_APP_ID", "env")]);
        let err = discover_in(&half, &dir.here(), Some(&home)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MissingCredentials {
                    variable: "SYMBL_APP_SECRET"
                }
            ),
            "{err}"
        );

        // A broken file here: its error, not the home file.
        fs::write(
            dir.here().join("symbl.conf"),
            "[credentials]\napp_id=here\n",
        )
        .expect("write");
        let err = discover_in(lookup(&[]), &dir.here(), Some(&home)).unwrap_err();
        assert!(matches!(err, Error::CredentialsFile { .. }), "{err}");
        assert!(err.to_string().contains("app_secret"), "{err}");
    }

    #[test]
    fn says_when_there_is_no_home_directory() {
        let dir = TempDir::new("homeless");
        let err = discover_in(lookup(&[]), &dir.here(), None).unwrap_err();
        assert!(err.to_string().contains("no home directory"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let creds = Credentials::new("id", "s3cr3t-value");
        let text = format!("{creds:?}");
        assert!(text.contains("id"));
        assert!(!text.contains("s3cr3t-value"));
    }
}
