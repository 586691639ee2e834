//! `symbl.conf` read here as Symbl's Python SDK reads it, checked against `python3` itself: each
//! file of the corpus (`tests/symbl_conf/corpus.rs`) goes through `configparser` as the SDK sets
//! it up (`tests/symbl_conf/sdk.py`) and through `Credentials::from_symbl_conf`, and each pair
//! of files through the SDK's lookup and `Credentials::discover`. Where Python reads a pair we
//! must read the same pair; where it raises, we must fail too (but for the documented
//! leniencies and the size cap, marked in the corpus).
//!
//! Python runs once for the whole corpus. Without `python3` the test fails: it never skips.
//! The app id is compared as it is; the secret, which the crate never shows, by a token request
//! to a fake Symbl that accepts only Python's secret. Its own test binary, as it changes the
//! working directory and `HOME`.
// Each secret is checked by a token request over the built-in client, which under
// rustls-no-provider alone needs a provider the app installs.
#![cfg(all(
    unix,
    feature = "test-server",
    builtin_client,
    not(tls_provider = "installed")
))]

#[path = "symbl_conf/corpus.rs"]
mod corpus;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use corpus::Expect;
use serde_json::Value;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::{Credentials, Error, SymblAuthLayer};

/// Python's outcome for one case, as `sdk.py` prints it.
fn python_pair(outcome: &Value) -> Option<(&str, &str)> {
    let text = |key| outcome.get(key)?.as_str();
    Some((text("app_id")?, text("app_secret")?))
}

/// Whether `credentials` are `app_id` and `app_secret`: the id compared, the secret sent to
/// a fake Symbl that accepts only that secret.
async fn are(credentials: &Credentials, app_id: &str, app_secret: &str) -> bool {
    if credentials.app_id() != app_id {
        return false;
    }
    let accepting = FakeSymbl::new().credentials(Credentials::new(app_id, app_secret));
    let server = TestServer::serve(accepting).await.expect("server");
    let layer = SymblAuthLayer::builder(credentials.clone())
        .token_url(server.token_url())
        .build()
        .expect("layer");
    layer.access_token().await.is_ok()
}

/// Whether our outcome is the one the corpus asks for, given Python's.
async fn agrees(python: &Value, ours: &Result<Credentials, Error>, expect: Expect) -> bool {
    match (expect, python_pair(python), ours) {
        (Expect::Same, Some((id, secret)), Ok(credentials))
        | (Expect::Lenient(id, secret), None, Ok(credentials)) => {
            are(credentials, id, secret).await
        }
        (Expect::Same, None, Err(_)) | (Expect::Stricter, Some(_), Err(_)) => true,
        _ => false,
    }
}

fn run_python(root: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/symbl_conf/sdk.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(root)
        .env("PYTHONUTF8", "1")
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "this test needs python3 (its configparser is the oracle; CI has it), and \
                 running it failed: {error}"
            )
        });
    assert!(
        output.status.success(),
        "python3 {} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("sdk.py prints JSON")
}

fn write_discovery_file(dir: &Path, file: Option<&str>) {
    fs::create_dir_all(dir).expect("mkdir");
    match file {
        None => {}
        Some(corpus::DIRECTORY) => fs::create_dir(dir.join("symbl.conf")).expect("mkdir"),
        Some(text) => fs::write(dir.join("symbl.conf"), text).expect("write"),
    }
}

#[tokio::test]
async fn symbl_conf_reads_as_symbls_python_sdk_reads_it() {
    // The comparison itself can fail.
    let credentials = Credentials::new("ID1", "S1");
    assert!(are(&credentials, "ID1", "S1").await);
    assert!(!are(&credentials, "ID1", "S1 ").await);
    assert!(!are(&credentials, "ID2", "S1").await);

    let root: PathBuf =
        std::env::temp_dir().join(format!("symbl-auth-conf-corpus-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let files_dir = root.join("files");
    fs::create_dir_all(&files_dir).expect("mkdir");
    let mut files: Vec<(&str, Vec<u8>, Expect)> = corpus::FILES
        .iter()
        .map(|&(name, bytes, expect)| (name, bytes.to_vec(), expect))
        .collect();
    files.extend(corpus::generated());
    for (name, bytes, _) in &files {
        fs::write(files_dir.join(name), bytes).expect("write");
    }
    for (name, here, home) in corpus::DISCOVERY {
        write_discovery_file(&root.join("discovery").join(name).join("work"), *here);
        write_discovery_file(&root.join("discovery").join(name).join("home"), *home);
    }

    let python = run_python(&root);
    let mut disagreements = Vec::new();
    let mut python_reads = 0;
    for (name, _, expect) in &files {
        let outcome = &python["files"][name];
        python_reads += usize::from(python_pair(outcome).is_some());
        let ours = Credentials::from_symbl_conf(files_dir.join(name));
        if !agrees(outcome, &ours, *expect).await {
            disagreements.push(format!(
                "{name}: python {outcome}, ours {ours:?} ({expect:?})"
            ));
        }
    }

    for name in ["SYMBL_APP_ID", "SYMBL_APP_SECRET", "APP_ID", "APP_SECRET"] {
        std::env::remove_var(name);
    }
    for (name, _, _) in corpus::DISCOVERY {
        let case = root.join("discovery").join(name);
        std::env::set_current_dir(case.join("work")).expect("cd");
        std::env::set_var("HOME", case.join("home"));
        let outcome = &python["discovery"][name];
        let ours = Credentials::discover();
        if !agrees(outcome, &ours, Expect::Same).await {
            disagreements.push(format!("discovery {name}: python {outcome}, ours {ours:?}"));
        }
    }
    std::env::set_current_dir(std::env::temp_dir()).expect("cd");
    let _ = fs::remove_dir_all(&root);

    assert!(
        disagreements.is_empty(),
        "{} of {} cases read differently from Symbl's Python SDK:\n{}",
        disagreements.len(),
        files.len() + corpus::DISCOVERY.len(),
        disagreements.join("\n")
    );
    // A corpus Python refuses throughout would prove nothing.
    assert!(files.len() >= 50, "{} files", files.len());
    assert!(python_reads >= 40, "python read only {python_reads} files");
}
