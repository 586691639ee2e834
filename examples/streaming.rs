//! Streaming: an authenticated WebSocket to Symbl's Streaming API.
//!
//! ```sh
//! cargo run --example streaming --features websocket,test-server
//! ```
//!
//! It opens a streaming connection with `symbl_auth::websocket::connect` (the layer's token in
//! the `X-API-KEY` handshake header), sends a `start_request`, three seconds of generated audio
//! (a 440 Hz sine wave, LINEAR16 at 16 kHz, mono) and a `stop_request`, and prints every message
//! that comes back.
//!
//! With no credentials anywhere `Credentials::discover` looks (`SYMBL_APP_ID` /
//! `SYMBL_APP_SECRET`, `APP_ID` / `APP_SECRET`, `./symbl.conf`, `~/symbl.conf`) it streams to
//! the test server's endpoint on loopback and checks the counts; with credentials, to
//! `wss://api.symbl.ai`, in real time.
//!
//! Exits 0 when everything went as expected, 1 with the reason otherwise.

use std::f32::consts::TAU;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use symbl_auth::test_server::TestServer;
use symbl_auth::websocket::{self, tokio_tungstenite::tungstenite::Message};
use symbl_auth::{BoxError, Credentials, Error, SymblAuthLayer};

const SAMPLE_RATE: u32 = 16_000;
const SECONDS: u32 = 3;
/// 100 ms of audio per binary frame.
const CHUNK_SAMPLES: usize = SAMPLE_RATE as usize / 10;

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match Credentials::discover() {
        Ok(credentials) => against_symbl(credentials).await,
        Err(Error::CredentialsNotFound { .. }) => against_local_server().await,
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("streaming example failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `SECONDS` of a 440 Hz tone at a third of full scale: 16-bit little-endian samples.
fn sine_wave() -> Vec<u8> {
    let samples = SAMPLE_RATE * SECONDS;
    (0..samples)
        .flat_map(|n| {
            let t = n as f32 / SAMPLE_RATE as f32;
            let sample = ((TAU * 440.0 * t).sin() * f32::from(i16::MAX) / 3.0) as i16;
            sample.to_le_bytes()
        })
        .collect()
}

/// A connection id unique enough for an example.
fn connection_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("symbl-auth-example-{nanos:x}")
}

/// Streams the tone to `url` and returns the type of each message received, printing each.
/// `real_time` sends each 100 ms chunk 100 ms apart, as a microphone would.
async fn stream(
    layer: &SymblAuthLayer,
    url: &str,
    real_time: bool,
) -> Result<Vec<String>, BoxError> {
    let (socket, response) = websocket::connect(layer, url).await?;
    println!("  connected: {}", response.status());
    let (mut outgoing, mut incoming) = socket.split();

    // Messages arrive while audio is still going out: read them on their own task.
    let reader = tokio::spawn(async move {
        let mut kinds = Vec::new();
        while let Some(message) = incoming.next().await {
            let Message::Text(text) = message? else {
                continue;
            };
            println!("  ← {text}");
            let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let kind = value["message"]["type"]
                .as_str()
                .or(value["type"].as_str())
                .unwrap_or("?");
            kinds.push(kind.to_owned());
        }
        Ok::<_, BoxError>(kinds)
    });

    let start = serde_json::json!({
        "type": "start_request",
        "meetingTitle": "symbl-auth streaming example",
        "insightTypes": [],
        "config": {
            "confidenceThreshold": 0.5,
            "languageCode": "en-US",
            "speechRecognition": { "encoding": "LINEAR16", "sampleRateHertz": SAMPLE_RATE },
        },
        "speaker": { "userId": "example@symbl-auth.invalid", "name": "symbl-auth example" },
    });
    println!("  → start_request");
    outgoing.send(Message::text(start.to_string())).await?;

    let audio = sine_wave();
    println!(
        "  → {} bytes of audio ({SECONDS} s of a 440 Hz tone, 100 ms a frame)",
        audio.len()
    );
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    for chunk in audio.chunks(CHUNK_SAMPLES * 2) {
        if real_time {
            pace.tick().await;
        }
        outgoing.send(Message::binary(chunk.to_vec())).await?;
    }
    println!("  → stop_request");
    outgoing
        .send(Message::text(r#"{"type":"stop_request"}"#))
        .await?;

    // The server closes after the conversation completes; do not wait on it forever.
    let kinds = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .map_err(|_| "no close from the server within 30 s after stop_request")???;
    Ok(kinds)
}

/// Checks one expectation and prints it as a line of the report.
fn expect(ok: bool, line: &str, detail: &str) -> Result<(), BoxError> {
    if ok {
        println!("  ✓ {line}: {detail}");
        Ok(())
    } else {
        println!("  ✗ {line}: {detail}");
        Err(format!("expected: {line} (got {detail})").into())
    }
}

async fn against_local_server() -> Result<(), BoxError> {
    let server = TestServer::start().await?;
    let symbl = server.symbl();
    let url = server.streaming_url(&connection_id());
    println!("No Symbl credentials found: streaming to a local Symbl-compatible server");
    println!("  {url}\n");

    let kinds = stream(&server.layer(), &url, false).await?;
    println!();
    expect(
        kinds == ["started", "conversation_completed"],
        "start_request is answered and stop_request completes the conversation",
        &kinds.join(", "),
    )?;
    let sent = u64::from(SAMPLE_RATE * SECONDS * 2);
    expect(
        symbl.audio_bytes_received() == sent,
        "the server got all the audio",
        &format!("{} of {sent} bytes", symbl.audio_bytes_received()),
    )?;
    expect(
        symbl.handshakes_accepted() == 1 && symbl.token_requests() == 1,
        "one handshake with the token fetched once",
        &format!(
            "{} handshake, {} token request",
            symbl.handshakes_accepted(),
            symbl.token_requests()
        ),
    )?;
    expect(
        symbl
            .handshake_targets()
            .iter()
            .all(|target| !target.contains('?')),
        "no token in the URL (it went in the X-API-KEY header)",
        &symbl.handshake_targets().join(", "),
    )?;
    println!("\nAll as expected. Set SYMBL_APP_ID and SYMBL_APP_SECRET to stream to api.symbl.ai.");
    Ok(())
}

async fn against_symbl(credentials: Credentials) -> Result<(), BoxError> {
    let url = format!("wss://api.symbl.ai/v1/streaming/{}", connection_id());
    println!("Streaming to Symbl as app {}", credentials.app_id());
    println!("  {url}\n");
    let layer = SymblAuthLayer::new(credentials);
    let kinds = stream(&layer, &url, true).await?;
    if !kinds.iter().any(|kind| kind == "started") {
        return Err(format!("Symbl never sent `started` (got: {})", kinds.join(", ")).into());
    }
    println!("\nStreamed to Symbl.");
    Ok(())
}
