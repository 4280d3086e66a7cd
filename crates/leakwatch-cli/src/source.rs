//! Reading a capture from a file or a URL, in either form.

use std::time::Duration;

use leakwatch_export::{Capture, pprof};

/// The capture at `source`: a URL when it starts with `http://` or
/// `https://`, else a file. Errors are one line naming the source.
pub fn read(source: &str, timeout: Duration) -> Result<Capture, String> {
    let (bytes, name) = if source.starts_with("http://") || source.starts_with("https://") {
        let url = with_default_path(source);
        (fetch(&url, timeout)?, url)
    } else {
        let bytes = std::fs::read(source).map_err(|e| format!("cannot read {source}: {e}"))?;
        (bytes, source.to_owned())
    };
    parse(&bytes).map_err(|e| format!("{name}: {e}"))
}

/// A URL with no path reads `/debug/leaks/json`; one ending in
/// `/debug/leaks` reads its `json`.
fn with_default_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let trimmed = url.trim_end_matches('/');
    if !after_scheme.trim_end_matches('/').contains('/') {
        format!("{trimmed}/debug/leaks/json")
    } else if trimmed.ends_with("/debug/leaks") {
        format!("{trimmed}/json")
    } else {
        url.to_owned()
    }
}

fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Timeout(_) => format!("{url}: no answer within {timeout:?}"),
        ureq::Error::StatusCode(code) => format!("{url}: the server answered {code}"),
        e => format!("{url}: {e}"),
    })?;
    response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .map_err(|e| format!("{url}: reading the answer: {e}"))
}

/// JSON when it starts with `{`, else pprof (gzipped or not).
fn parse(bytes: &[u8]) -> Result<Capture, String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        let text =
            std::str::from_utf8(bytes).map_err(|e| format!("not a leakwatch capture: {e}"))?;
        return Capture::from_json(text).map_err(|e| e.to_string());
    }
    if bytes.is_empty() {
        return Err("empty: neither a leakwatch capture nor a pprof profile".into());
    }
    let profile = pprof::decode(bytes)
        .map_err(|e| format!("neither a leakwatch capture (JSON) nor a pprof profile ({e})"))?;
    pprof::to_capture(&profile).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::with_default_path;

    #[test]
    fn bare_urls_read_the_json_route() {
        assert_eq!(
            with_default_path("http://h:1"),
            "http://h:1/debug/leaks/json"
        );
        assert_eq!(
            with_default_path("http://h:1/"),
            "http://h:1/debug/leaks/json"
        );
        assert_eq!(
            with_default_path("http://h:1/admin/debug/leaks"),
            "http://h:1/admin/debug/leaks/json"
        );
        assert_eq!(
            with_default_path("http://h:1/debug/leaks/pprof"),
            "http://h:1/debug/leaks/pprof"
        );
    }
}
