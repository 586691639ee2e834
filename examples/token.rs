//! Prints a current Symbl access token, for curl and Postman.
//!
//! ```sh
//! export SYMBL_APP_ID=… SYMBL_APP_SECRET=…
//! token=$(cargo run -q --example token) && curl -H "Authorization: Bearer $token" \
//!     https://api.symbl.ai/v1/conversations
//! ```
//!
//! The token goes to stdout, alone; how long it has left goes to stderr. Without credentials
//! (`SYMBL_APP_ID` and `SYMBL_APP_SECRET`, or `APP_ID` and `APP_SECRET`) it prints the error to
//! stderr and nothing to stdout, and exits with a failure, which the `&&` above stops at. Symbl
//! re-serves a cached token until near its expiry, so running this again soon prints the same
//! token.

use std::process::ExitCode;

use symbl_auth::{Credentials, SymblAuthLayer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let layer = match Credentials::from_env() {
        Ok(credentials) => SymblAuthLayer::new(credentials),
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    match layer.access_token().await {
        Ok(token) => {
            println!("{}", token.secret());
            eprintln!("valid for {} more seconds", token.expires_in().as_secs());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
