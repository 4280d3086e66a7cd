//! Reading a capture from a file or a URL, in either form, and keeping
//! the items asked for.

use std::time::Duration;

use leakwatch_export::{Capture, Filter, pprof};

/// The capture at `source`: a URL when it has a scheme (`http://`; other
/// schemes are refused by name), else a file. Errors are one line naming
/// the source.
pub fn read(source: &str, timeout: Duration) -> Result<Capture, String> {
    let (bytes, name) = match url(source)? {
        Some(url) => (fetch(&url, timeout)?, url),
        None => {
            let bytes = std::fs::read(source).map_err(|e| format!("cannot read {source}: {e}"))?;
            (bytes, source.to_owned())
        }
    };
    parse(&bytes).map_err(|e| format!("{name}: {e}"))
}

/// The URL to read for `source`, or `None` when it names a file.
///
/// The path decides what is read: none (or `/`) reads
/// `/debug/leaks/json`; a path ending in `/debug/leaks` reads its `/json`
/// (so a mount prefix such as `/admin` is kept); any other path is read as
/// given. The query string is kept as it is: `http://h:6060?kind=fd` reads
/// `http://h:6060/debug/leaks/json?kind=fd`.
fn url(source: &str) -> Result<Option<String>, String> {
    let Some((scheme, _)) = source.split_once("://") else {
        return Ok(None);
    };
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return Ok(None);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" => {}
        "https" => {
            return Err(format!(
                "{source}: https is not supported: leakwatch speaks plain http only (it has no \
                 TLS stack); serve the routes on loopback and forward the port (`ssh -L \
                 6060:127.0.0.1:6060 HOST` or `kubectl port-forward POD 6060`), then read \
                 http://127.0.0.1:6060"
            ));
        }
        other => {
            return Err(format!(
                "{source}: `{other}://` is not supported: leakwatch reads http:// URLs and files"
            ));
        }
    }
    let uri: http::Uri = source
        .parse()
        .map_err(|e| format!("{source}: not a URL: {e}"))?;
    let authority = uri
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| format!("{source}: not a URL: it names no host"))?;
    let given = uri.path().trim_end_matches('/');
    let path = if given.is_empty() {
        "/debug/leaks/json".to_owned()
    } else if given.ends_with("/debug/leaks") {
        format!("{given}/json")
    } else {
        uri.path().to_owned()
    };
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    Ok(Some(format!("http://{authority}{path}{query}")))
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

/// `--kind` and `--site`: which items a table or a diff shows.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Only {
    /// Only items of this kind, exactly (`fd`, `db-conn`); repeat it or
    /// separate kinds with commas.
    #[arg(long, value_delimiter = ',', value_name = "KIND")]
    kind: Vec<String>,
    /// Only items whose site (`file:line:column`) contains this text
    /// (`src/db.rs`, `db.rs:42`); repeat it or separate them with commas.
    #[arg(long, value_delimiter = ',', value_name = "TEXT")]
    site: Vec<String>,
}

impl Only {
    /// The items of `capture` of one of the kinds, at a site containing
    /// one of the texts (either list empty: any).
    pub fn apply(&self, capture: &Capture) -> Capture {
        if self.kind.is_empty() && self.site.is_empty() {
            return capture.clone();
        }
        let mut filter = Filter::new();
        for kind in &self.kind {
            filter = filter.kind(kind.as_str());
        }
        if !self.site.is_empty() {
            // `Filter` matches sites by file, line and column; each site of
            // the capture that contains a text is named to it exactly.
            let mut sites: Vec<String> = capture
                .entries()
                .iter()
                .map(|e| e.site().to_string())
                .filter(|site| self.site.iter().any(|text| site.contains(text.as_str())))
                .collect();
            sites.sort_unstable();
            sites.dedup();
            if sites.is_empty() {
                // No site matches, so nothing is kept: no item is older
                // than the longest duration there is.
                filter = filter.min_age(Duration::MAX);
            }
            for site in &sites {
                filter = filter.site(site);
            }
        }
        filter.apply(capture)
    }

    /// `  kind=fd site=src/db.rs` for a title, or nothing when every item
    /// is shown.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if !self.kind.is_empty() {
            out.push_str(&format!("  kind={}", self.kind.join(",")));
        }
        if !self.site.is_empty() {
            out.push_str(&format!("  site={}", self.site.join(",")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::url;

    #[track_caller]
    fn reads(source: &str, expected: &str) {
        assert_eq!(url(source), Ok(Some(expected.to_owned())), "{source}");
    }

    #[test]
    fn bare_urls_read_the_json_route() {
        reads("http://h:1", "http://h:1/debug/leaks/json");
        reads("http://h:1/", "http://h:1/debug/leaks/json");
        reads(
            "http://h:1/admin/debug/leaks",
            "http://h:1/admin/debug/leaks/json",
        );
        reads(
            "http://h:1/admin/debug/leaks/",
            "http://h:1/admin/debug/leaks/json",
        );
        reads(
            "http://h:1/debug/leaks/pprof",
            "http://h:1/debug/leaks/pprof",
        );
    }

    #[test]
    fn the_query_stays_after_the_path() {
        reads("http://h:1?kind=x", "http://h:1/debug/leaks/json?kind=x");
        reads("http://h:1/?kind=x", "http://h:1/debug/leaks/json?kind=x");
        reads(
            "http://h:1/debug/leaks?kind=x,y&min_age=3",
            "http://h:1/debug/leaks/json?kind=x,y&min_age=3",
        );
        reads(
            "http://h:1/debug/leaks/pprof?kind=x",
            "http://h:1/debug/leaks/pprof?kind=x",
        );
        reads("HTTP://h:1?kind=x", "http://h:1/debug/leaks/json?kind=x");
    }

    #[test]
    fn files_are_not_urls_and_other_schemes_are_refused() {
        assert_eq!(url("leaks.json"), Ok(None));
        assert_eq!(url("/tmp/a://b.json"), Ok(None));
        let https = url("https://h:1").unwrap_err();
        assert!(
            https.starts_with("https://h:1: https is not supported"),
            "{https}"
        );
        assert!(https.contains("no TLS stack"), "{https}");
        let ftp = url("ftp://h:1").unwrap_err();
        assert!(ftp.contains("`ftp://`"), "{ftp}");
        let hostless = url("http://?kind=x").unwrap_err();
        assert!(
            hostless.starts_with("http://?kind=x: not a URL"),
            "{hostless}"
        );
    }
}
