//! [`Credentials::discover`]: the environment, then the `symbl.conf` files as Symbl's Python SDK
//! looks for them (`symbl/AuthenticationToken.py`, `fetchAppCredentialsFromFiles` and
//! `fetchAppCredentialsInPath`):
//! - `./symbl.conf`, then `~/symbl.conf`, each only if `os.path.isfile` says it is a regular
//!   file: anything else (missing, a directory, a FIFO, a socket, a path that cannot be
//!   examined) is passed over, and never opened;
//! - one `ConfigParser` reads both: `~/symbl.conf` is read only when `./symbl.conf` lacks
//!   `app_id` or `app_secret` in `[credentials]`, and on top of it, so a key (or `[DEFAULT]`)
//!   of the first can complete the second;
//! - a file that cannot be read or parsed, or whose values cannot be interpolated, is an error
//!   (the SDK lets the exception through), not a reason to look further.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::symbl_conf::{self, ConfigParser, FILE_NAME};
use super::{env, Credentials};
use crate::Error;

/// How the environment shows up in [`Error::CredentialsNotFound`].
const ENV_SEARCHED: &str =
    "the environment (SYMBL_APP_ID and SYMBL_APP_SECRET, or APP_ID and APP_SECRET)";

/// The variable that names the home directory, as Python's `os.path.expanduser` reads it.
const HOME_VAR: &str = if cfg!(windows) { "USERPROFILE" } else { "HOME" };

/// The home directory, from [`HOME_VAR`] (Python falls back to the password database when
/// `HOME` is unset; we look in no home directory then, and say so).
pub(super) fn home_dir() -> Option<PathBuf> {
    std::env::var_os(HOME_VAR)
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
}

/// [`Credentials::discover`] with its inputs made explicit: the environment, the working
/// directory and the home directory.
pub(super) fn discover_in(
    lookup: impl Fn(&str) -> Option<OsString>,
    here: &Path,
    home: Option<&Path>,
) -> Result<Credentials, Error> {
    if env::any_set(&lookup) {
        return env::from_lookup(lookup);
    }
    let mut searched = vec![ENV_SEARCHED.to_owned()];
    let mut parser = ConfigParser::default();
    let mut read_before: Option<PathBuf> = None;
    for (dir, shown_as) in [(Some(here), "./"), (home, "~/")] {
        let Some(path) = dir.map(|dir| dir.join(FILE_NAME)) else {
            searched.push(format!(
                "{shown_as}{FILE_NAME} (no home directory: {HOME_VAR} is not set)"
            ));
            continue;
        };
        let passed_over = match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => {
                symbl_conf::read_into(&mut parser, &path)?;
                match symbl_conf::credentials(&parser) {
                    Ok(Some(credentials)) => return Ok(credentials),
                    Ok(None) => {}
                    Err(reason) => {
                        let reason = match &read_before {
                            None => reason,
                            Some(before) => format!(
                                "{reason} (read on top of {}, as Symbl's SDK does)",
                                before.display()
                            ),
                        };
                        return Err(Error::credentials_file(path, reason));
                    }
                }
                let lacks = format!(": {}", symbl_conf::missing(&parser));
                read_before = Some(path.clone());
                lacks
            }
            Ok(_) => ": not a regular file".to_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => format!(": cannot be examined: {error}"),
        };
        searched.push(format!(
            "{shown_as}{FILE_NAME} ({}{passed_over})",
            path.display()
        ));
    }
    Err(Error::CredentialsNotFound { searched })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::env::tests::lookup;
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

        fn discover(&self) -> Result<Credentials, Error> {
            discover_in(lookup(&[]), &self.here(), Some(&self.home()))
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

        let err = dir.discover().unwrap_err();
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
        let creds = dir.discover().expect("home");
        assert_eq!(creds.app_id(), "home");
        assert_eq!(creds.app_secret(), "secret-of-home");

        fs::write(dir.here().join("symbl.conf"), conf("here")).expect("write");
        assert_eq!(dir.discover().expect("here").app_id(), "here");

        let env = lookup(&[("APP_ID", "env"), ("APP_SECRET", "secret-of-env")]);
        let creds = discover_in(&env, &dir.here(), Some(&home)).expect("env");
        assert_eq!(creds.app_id(), "env");
    }

    #[test]
    fn a_half_set_environment_or_a_broken_file_is_an_error_not_a_reason_to_look_further() {
        let dir = TempDir::new("decides");
        let home = dir.home();
        fs::write(home.join("symbl.conf"), conf("home")).expect("write");

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

        for broken in [
            "[credentials]\napp_id=here\nnot a key value line\n",
            "[credentials]\napp_id=here\napp_secret=\n",
            "[credentials]\napp_id=here\napp_secret=%(nowhere)s\n",
        ] {
            fs::write(dir.here().join("symbl.conf"), broken).expect("write");
            let err = dir.discover().unwrap_err();
            assert!(
                matches!(&err, Error::CredentialsFile { path, .. } if path.starts_with(dir.here())),
                "{broken:?}: {err}"
            );
        }
    }

    #[test]
    fn a_file_here_without_both_keys_is_completed_by_the_one_at_home() {
        let dir = TempDir::new("fallthrough");
        let (here, home) = (dir.here().join("symbl.conf"), dir.home().join("symbl.conf"));
        fs::write(&home, conf("home")).expect("write");
        for partial in [
            "# nothing yet\n",
            "[credentials]\n",
            "[other]\napp_id=x\napp_secret=y\n",
            "[DEFAULT]\napp_id=x\napp_secret=y\n",
        ] {
            fs::write(&here, partial).expect("write");
            let creds = dir.discover().expect(partial);
            assert_eq!(creds.app_id(), "home", "{partial:?}");
            assert_eq!(creds.app_secret(), "secret-of-home", "{partial:?}");
        }

        // As in the SDK, both files go into one parser: the first can lend the second a key.
        fs::write(&here, "[credentials]\napp_id=here\nregion=us\n").expect("write");
        fs::write(&home, "[credentials]\napp_secret=%(region)s-secret\n").expect("write");
        let creds = dir.discover().expect("merged");
        assert_eq!(creds.app_id(), "here");
        assert_eq!(creds.app_secret(), "us-secret");

        // Nothing complete anywhere: each file says what it lacks.
        fs::remove_file(&home).expect("rm");
        fs::write(&here, "[credentials]\napp_id=here\n").expect("write");
        let err = dir.discover().unwrap_err();
        assert!(matches!(err, Error::CredentialsNotFound { .. }), "{err}");
        assert!(err.to_string().contains("has no app_secret"), "{err}");
    }

    #[test]
    fn a_directory_named_symbl_conf_is_passed_over() {
        let dir = TempDir::new("directory");
        fs::create_dir(dir.here().join("symbl.conf")).expect("mkdir");
        fs::write(dir.home().join("symbl.conf"), conf("home")).expect("write");
        assert_eq!(dir.discover().expect("home").app_id(), "home");

        fs::remove_file(dir.home().join("symbl.conf")).expect("rm");
        let err = dir.discover().unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn says_when_there_is_no_home_directory() {
        let dir = TempDir::new("homeless");
        let err = discover_in(lookup(&[]), &dir.here(), None).unwrap_err();
        assert!(err.to_string().contains("no home directory"), "{err}");
    }
}
