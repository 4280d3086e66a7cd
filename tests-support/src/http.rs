//! A plain blocking HTTP client (ureq) for tests of the routes: nothing of
//! tokio or hyper on the client's side, so what is seen is the server's.

use std::time::Duration;

/// Status, content type (empty if none) and body of `GET url`, whatever
/// the status, waiting at most 10 s.
///
/// # Panics
///
/// If the server does not answer; the message names `url`.
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # {
/// let addr = tests_support::server::serve(|listener| async move {
///     use tokio::io::AsyncWriteExt as _;
///     let (mut stream, _) = listener.accept().await.unwrap();
///     let answer = "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\ngone";
///     stream.write_all(answer.as_bytes()).await.unwrap();
/// });
/// let (status, content_type, body) = tests_support::http::get(&format!("http://{addr}/"));
/// assert_eq!((status, content_type.as_str(), body.as_slice()), (404, "text/plain", &b"gone"[..]));
/// # }
/// ```
#[track_caller]
pub fn get(url: &str) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = response
        .body_mut()
        .read_to_vec()
        .unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"));
    (response.status().as_u16(), content_type, body)
}
