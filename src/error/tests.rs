use super::*;

#[test]
fn errors_are_send_sync_and_cheap_to_share() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Error>();
}

#[test]
fn messages_say_what_to_do() {
    let err = Error::invalid_credentials(StatusCode::UNAUTHORIZED)
        .with_reason("check SYMBL_APP_ID and SYMBL_APP_SECRET");
    assert!(err.to_string().contains("SYMBL_APP_SECRET"));
    assert!(!err.is_retryable());
    let generic = Error::invalid_credentials(StatusCode::UNAUTHORIZED).to_string();
    assert!(!generic.contains("SYMBL"), "{generic}");

    let err = Error::InsecureTransport {
        host: "example.com".into(),
        setting: "ClientCredentials::allow_insecure_http",
    };
    assert!(err
        .to_string()
        .contains("ClientCredentials::allow_insecure_http(true)"));
}

#[test]
fn source_is_the_underlying_error() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    let err = Error::unavailable("connection failed", None).with_source(io);
    assert!(err.is_retryable());
    let source = err.source().expect("has a source");
    assert_eq!(source.to_string(), "refused");
}
