//! `Credentials::from_symbl_conf` on real files: Symbl's format read, and every way a file can
//! be unusable reported with the file's name and never with its contents.
#![cfg(feature = "test-server")]
// Some tests need a built-in client that works without the app's help (a TLS feature, not
// rustls-no-provider alone): what only they use is unused without it.
#![cfg_attr(
    any(not(builtin_client), tls_provider = "installed"),
    allow(dead_code, unused_imports)
)]

use std::error::Error as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use symbl_auth::test_server::{TestServer, TEST_APP_ID, TEST_APP_SECRET};
use symbl_auth::{Credentials, Error, SymblAuthLayer};

/// A fresh folder under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "symbl-auth-credentials-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The error a file gives, checked to name the file and to hold no secret.
fn file_error(path: &Path) -> Error {
    let error = Credentials::from_symbl_conf(path).expect_err("unusable");
    let Error::CredentialsFile { path: named, .. } = &error else {
        panic!("expected CredentialsFile, got {error}");
    };
    assert_eq!(named, path);
    let text = format!("{error} {error:?}");
    assert!(text.contains(&*path.to_string_lossy()), "{text}");
    for secret in [TEST_APP_SECRET, "s3cret-in-file"] {
        assert!(!text.contains(secret), "{text}");
    }
    error
}

#[cfg(all(builtin_client, not(tls_provider = "installed")))]
#[tokio::test]
async fn reads_symbl_conf_as_symbls_python_sdk_writes_it() {
    let dir = TempDir::new();
    let path = dir.file(
        "symbl.conf",
        &format!(
            "# from platform.symbl.ai\n[credentials]\napp_id={TEST_APP_ID}\n\
             ; without any quotes\napp_secret = {TEST_APP_SECRET}\n"
        ),
    );
    let credentials = Credentials::from_symbl_conf(&path).expect("credentials");
    assert_eq!(credentials.app_id(), TEST_APP_ID);
    assert!(!format!("{credentials:?}").contains(TEST_APP_SECRET));

    // The secret was read whole: the fake's token endpoint takes it.
    let server = TestServer::start().await.expect("server");
    let layer = SymblAuthLayer::builder(credentials)
        .token_url(server.token_url())
        .build()
        .expect("layer");
    layer.access_token().await.expect("token");
    assert_eq!(server.symbl().token_requests(), 1);
}

#[test]
fn a_file_missing_a_key_names_the_key() {
    let dir = TempDir::new();
    let path = dir.file("symbl.conf", "[credentials]\napp_secret=s3cret-in-file\n");
    let error = file_error(&path);
    assert!(error.to_string().contains("app_id"), "{error}");

    let path = dir.file(
        "other.conf",
        "[default]\napp_id=x\napp_secret=s3cret-in-file\n",
    );
    let error = file_error(&path);
    assert!(error.to_string().contains("[credentials]"), "{error}");
}

#[test]
fn a_malformed_line_is_named_by_its_number_not_its_text() {
    let dir = TempDir::new();
    let path = dir.file("symbl.conf", "[credentials]\napp_id=x\ns3cret-in-file\n");
    let error = file_error(&path);
    assert!(error.to_string().contains("line 3"), "{error}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = TempDir::new();
    let error = file_error(&dir.0.join("symbl.conf"));
    let source = error.source().expect("the I/O error");
    let io = source.downcast_ref::<std::io::Error>().expect("io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

/// The error for a file that cannot be read: it names the file, says so, and keeps the I/O
/// error as its source, whose kind and OS error number are returned.
fn unreadable(path: &Path) -> (std::io::ErrorKind, Option<i32>) {
    let error = file_error(path);
    assert!(error.to_string().contains("cannot be read"), "{error}");
    let source = error.source().expect("the I/O error");
    let io = source.downcast_ref::<std::io::Error>().expect("io::Error");
    (io.kind(), io.raw_os_error())
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    let dir = TempDir::new();
    let text = "[credentials]\napp_id=x\napp_secret=s3cret-in-file\n";

    // Failures no user gets past, root included (as CI runs). Opening fails: a path that goes
    // through a file as if it were a folder.
    let file = dir.file("plain.conf", text);
    let (kind, _) = unreadable(&file.join("symbl.conf"));
    assert_eq!(kind, std::io::ErrorKind::NotADirectory);

    // Opening succeeds and reading fails: a regular file that answers every read with EIO
    // (a process's memory at address 0, never mapped).
    #[cfg(target_os = "linux")]
    {
        let (_, errno) = unreadable(Path::new("/proc/self/mem"));
        assert_eq!(errno, Some(5), "EIO");
    }

    // A file without read permission: refused, but for a user who reads every file (root).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.file("locked.conf", text);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).expect("chmod");
        if fs::read(&path).is_ok() {
            // Root: the permission is no obstacle, and the file is read as any other.
            let credentials = Credentials::from_symbl_conf(&path).expect("read as root");
            assert_eq!(credentials.app_id(), "x");
        } else {
            let (kind, _) = unreadable(&path);
            assert_eq!(kind, std::io::ErrorKind::PermissionDenied);
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod back");
    }
}

#[test]
fn only_a_regular_file_is_read() {
    let dir = TempDir::new();
    let folder = dir.0.join("symbl.conf");
    fs::create_dir(&folder).expect("folder");
    let error = file_error(&folder);
    assert!(error.to_string().contains("not a regular file"), "{error}");
}

/// A FIFO with no writer: a plain `open` of it waits for a writer forever. The read must
/// refuse it at once; if it hangs, a writer is opened to free it and the test fails.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = TempDir::new();
    let fifo = dir.0.join("symbl.conf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");

    let (done, finished) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = done.send(Credentials::from_symbl_conf(&path).map(|_| ()));
    });
    let Ok(outcome) = finished.recv_timeout(std::time::Duration::from_secs(10)) else {
        let _writer = fs::OpenOptions::new().write(true).open(&fifo);
        panic!("reading a FIFO blocked: it must be refused without being opened blocking");
    };
    let error = outcome.expect_err("a FIFO is not a symbl.conf");
    assert!(error.to_string().contains("not a regular file"), "{error}");
}

#[test]
fn a_file_that_is_not_a_symbl_conf_is_refused() {
    let dir = TempDir::new();
    let path = dir.0.join("binary.conf");
    fs::write(&path, b"[credentials]\napp_id=\xc3\x28\n").expect("write");
    assert!(file_error(&path).to_string().contains("UTF-8"));

    let big = format!(
        "[credentials]\napp_id=x\napp_secret=s3cret-in-file\n{}",
        "# padding\n".repeat(10_000)
    );
    let path = dir.file("big.conf", &big);
    assert!(file_error(&path).to_string().contains("larger than"));
}
