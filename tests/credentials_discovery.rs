//! `Credentials::discover` in a real process: the environment, then `./symbl.conf`, then
//! `~/symbl.conf`. Its own test binary with one test, since it changes the process's
//! environment and working directory.

use std::fs;
use std::path::PathBuf;

use symbl_auth::{Credentials, Error};

const CREDENTIAL_VARS: [&str; 4] = ["SYMBL_APP_ID", "SYMBL_APP_SECRET", "APP_ID", "APP_SECRET"];

fn conf(app_id: &str) -> String {
    format!("[credentials]\napp_id={app_id}\napp_secret=secret-of-{app_id}\n")
}

#[test]
fn looks_in_the_environment_then_here_then_home() {
    let root: PathBuf =
        std::env::temp_dir().join(format!("symbl-auth-discovery-{}", std::process::id()));
    let (home, work) = (root.join("home"), root.join("work"));
    fs::create_dir_all(&home).expect("home");
    fs::create_dir_all(&work).expect("work");
    let previous_dir = std::env::current_dir().expect("cwd");
    for name in CREDENTIAL_VARS {
        std::env::remove_var(name);
    }
    std::env::set_var(if cfg!(windows) { "USERPROFILE" } else { "HOME" }, &home);
    std::env::set_current_dir(&work).expect("cd");

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
    fs::write(work.join("symbl.conf"), "[credentials]\napp_id=from-work\n").expect("write");
    let error = Credentials::discover().expect_err("broken");
    assert!(
        matches!(&error, Error::CredentialsFile { path, .. } if path.ends_with("work/symbl.conf")),
        "{error}"
    );

    std::env::set_current_dir(previous_dir).expect("cd back");
    let _ = fs::remove_dir_all(&root);
}
