//! `Credentials::discover` and `Credentials::from_env` in a real process: the environment, then
//! `./symbl.conf`, then `~/symbl.conf`, as Symbl's Python SDK looks for them. Its own test
//! binary, as it changes the process's environment and working directory; the tests take
//! turns through [`Process::take`].

use std::fs;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use symbl_auth::{Credentials, Error};

const CREDENTIAL_VARS: [&str; 4] = ["SYMBL_APP_ID", "SYMBL_APP_SECRET", "APP_ID", "APP_SECRET"];
const HOME_VAR: &str = if cfg!(windows) { "USERPROFILE" } else { "HOME" };

fn conf(app_id: &str) -> String {
    format!("[credentials]\napp_id={app_id}\napp_secret=secret-of-{app_id}\n")
}

/// The process's working directory and environment, held by one test at a time: a fresh
/// `work` directory as the working directory, a fresh `home` as the home directory, and no
/// credential variables.
struct Process {
    root: PathBuf,
    work: PathBuf,
    home: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Process {
    fn take(name: &str) -> Self {
        static TURN: Mutex<()> = Mutex::new(());
        let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let root = std::env::temp_dir().join(format!(
            "symbl-auth-discovery-{name}-{}",
            std::process::id()
        ));
        let (home, work) = (root.join("home"), root.join("work"));
        fs::create_dir_all(&home).expect("home");
        fs::create_dir_all(&work).expect("work");
        for name in CREDENTIAL_VARS {
            std::env::remove_var(name);
        }
        std::env::set_var(HOME_VAR, &home);
        std::env::set_current_dir(&work).expect("cd");
        Self {
            root,
            work,
            home,
            _turn: turn,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        for name in CREDENTIAL_VARS {
            std::env::remove_var(name);
        }
        let _ = std::env::set_current_dir(std::env::temp_dir());
        let _ = fs::remove_dir_all(&self.root);
    }
}

#[test]
fn looks_in_the_environment_then_here_then_home() {
    let process = Process::take("order");
    let (work, home) = (&process.work, &process.home);

    // Nowhere: the error lists every place looked in.
    let error = Credentials::discover().expect_err("nothing to find");
    let Error::CredentialsNotFound { searched, .. } = &error else {
        panic!("expected CredentialsNotFound, got {error}");
    };
    assert_eq!(searched.len(), 3, "{error}");
    let text = error.to_string();
    for place in [
        "SYMBL_APP_ID".to_owned(),
        "APP_SECRET".to_owned(),
        work.join("symbl.conf").to_string_lossy().into_owned(),
        home.join("symbl.conf").to_string_lossy().into_owned(),
    ] {
        assert!(text.contains(&place), "{place} missing from: {text}");
    }

    fs::write(home.join("symbl.conf"), conf("from-home")).expect("write");
    assert_eq!(Credentials::discover().expect("home").app_id(), "from-home");

    fs::write(work.join("symbl.conf"), conf("from-work")).expect("write");
    assert_eq!(Credentials::discover().expect("work").app_id(), "from-work");

    std::env::set_var("SYMBL_APP_ID", "from-env");
    std::env::set_var("SYMBL_APP_SECRET", "secret-of-env");
    assert_eq!(Credentials::discover().expect("env").app_id(), "from-env");
    std::env::remove_var("SYMBL_APP_ID");
    std::env::remove_var("SYMBL_APP_SECRET");

    // A broken file here is reported, not skipped for the one at home.
    fs::write(
        work.join("symbl.conf"),
        "[credentials]\napp_id=from-work\njunk\n",
    )
    .expect("write");
    let error = Credentials::discover().expect_err("broken");
    assert!(
        matches!(&error, Error::CredentialsFile { path, .. } if path.ends_with("work/symbl.conf")),
        "{error}"
    );

    // One without both keys is not: the home file completes it, as in the SDK.
    fs::write(work.join("symbl.conf"), "[credentials]\napp_id=from-work\n").expect("write");
    let credentials = Credentials::discover().expect("completed at home");
    assert_eq!(credentials.app_id(), "from-home");
}

/// A FIFO at `./symbl.conf` (which a blocking `open` would wait on forever) and a directory
/// are passed over for `~/symbl.conf`, as `os.path.isfile` passes them over in the SDK.
#[cfg(unix)]
#[test]
fn what_is_not_a_regular_file_is_passed_over_without_blocking() {
    let process = Process::take("special");
    let here = process.work.join("symbl.conf");
    fs::write(process.home.join("symbl.conf"), conf("from-home")).expect("write");

    let made = std::process::Command::new("mkfifo")
        .arg(&here)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ =
            done.send(Credentials::discover().map(|credentials| credentials.app_id().to_owned()));
    });
    let Ok(outcome) = finished.recv_timeout(std::time::Duration::from_secs(10)) else {
        let _writer = fs::OpenOptions::new().write(true).open(&here);
        panic!("discover() blocked on a FIFO at ./symbl.conf");
    };
    assert_eq!(outcome.expect("home"), "from-home");

    fs::remove_file(&here).expect("rm fifo");
    fs::create_dir(&here).expect("mkdir");
    assert_eq!(Credentials::discover().expect("home").app_id(), "from-home");
}

#[test]
fn a_path_is_taken_as_it_is_without_expanding_the_tilde() {
    let process = Process::take("tilde");
    fs::write(process.home.join("symbl.conf"), conf("from-home")).expect("write");
    fs::create_dir(process.work.join("~")).expect("mkdir");
    fs::write(
        process.work.join("~").join("symbl.conf"),
        conf("from-tilde"),
    )
    .expect("write");
    let credentials = Credentials::from_symbl_conf("~/symbl.conf").expect("./~/symbl.conf");
    assert_eq!(credentials.app_id(), "from-tilde");
}

#[test]
fn from_env_takes_the_id_and_the_secret_from_one_pair() {
    let _process = Process::take("pairs");
    std::env::set_var("SYMBL_APP_ID", "symbl-id");
    std::env::set_var("APP_ID", "sdk-id");
    std::env::set_var("APP_SECRET", "sdk-secret");
    let error = Credentials::from_env().expect_err("half a pair");
    assert!(
        matches!(
            error,
            Error::MissingCredentials {
                variable: "SYMBL_APP_SECRET",
                ..
            }
        ),
        "{error}"
    );

    std::env::remove_var("SYMBL_APP_ID");
    assert_eq!(
        Credentials::from_env().expect("sdk pair").app_id(),
        "sdk-id"
    );

    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let not_unicode = std::ffi::OsString::from_vec(b"sdk-\xffsecret".to_vec());
        std::env::set_var("APP_SECRET", not_unicode);
        let error = Credentials::from_env().expect_err("not unicode");
        assert!(
            matches!(
                error,
                Error::CredentialsNotUnicode {
                    variable: "APP_SECRET",
                    ..
                }
            ),
            "{error}"
        );
    }
}
