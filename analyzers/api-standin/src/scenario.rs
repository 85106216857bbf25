//! The scenarios every API shares, chosen by the API key the client sends, and the answer type
//! the per-API modules build.
//!
//! The key header is the API's own (`Key` for AbuseIPDB, `Auth-Key` for URLhaus, `key` for
//! GreyNoise). Any key not listed in [`keys`] is a good key, and the observable then chooses the
//! data (see each API module). Key scenarios apply to every path of the API's host.

use axum::http::StatusCode;
use serde_json::Value;

/// The keys that choose a scenario.
pub mod keys {
    /// A good key (any key not listed here is good too).
    pub const GOOD: &str = "test-key";
    /// The API's answer to a wrong key (401 with its body). A missing or empty key header gets
    /// the same answer.
    pub const BAD: &str = "bad-key";
    /// 429 with the API's body and `Retry-After: 1`.
    pub const RATE_LIMITED: &str = "rate-limited";
    /// 200, `Content-Type: application/json`, a body that is not JSON ([`super::MALFORMED_BODY`]).
    pub const MALFORMED: &str = "malformed";
    /// The good key's answer after [`crate::Options::slow_delay`].
    pub const SLOW: &str = "slow";
    /// 200 with a body that never ends (`{"data": [` then `0, ` forever).
    pub const ENDLESS: &str = "endless";
    /// The good key's answer, its body sent one byte per [`crate::Options::trickle_interval`].
    pub const TRICKLE: &str = "trickle";
    /// `redirect:<URL>`: 302 with `Location: <URL>` and an empty body.
    pub const REDIRECT_PREFIX: &str = "redirect:";
}

/// The malformed scenario's body: JSON's start, then an HTML page a broken gateway could send.
pub const MALFORMED_BODY: &str = "{\"data\": <html><body>upstream maintenance</body></html>\n";

/// What the key asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scenario {
    Good,
    BadKey,
    RateLimited,
    Malformed,
    Slow,
    Endless,
    Trickle,
    Redirect(String),
}

impl Scenario {
    /// The scenario of the key header's value (`None`: no such header, or not UTF-8).
    pub(crate) fn of_key(key: Option<&str>) -> Self {
        match key.map(str::trim) {
            None | Some("" | keys::BAD) => Self::BadKey,
            Some(keys::RATE_LIMITED) => Self::RateLimited,
            Some(keys::MALFORMED) => Self::Malformed,
            Some(keys::SLOW) => Self::Slow,
            Some(keys::ENDLESS) => Self::Endless,
            Some(keys::TRICKLE) => Self::Trickle,
            Some(other) => match other.strip_prefix(keys::REDIRECT_PREFIX) {
                Some(url) => Self::Redirect(url.to_owned()),
                None => Self::Good,
            },
        }
    }
}

/// An API's answer with a complete body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// `value` as compact JSON (members in the order written), `Content-Type: application/json`.
    pub(crate) fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// A plain-text answer (unknown paths).
    pub(crate) fn text(status: StatusCode, text: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }

    /// The same reply with one more header.
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The three APIs' share of the routing: the key header and the answers that depend on the API.
pub(crate) struct Api {
    /// The header carrying the key.
    pub(crate) key_header: &'static str,
    /// The answer to a wrong or missing key.
    pub(crate) bad_key: fn() -> Reply,
    /// The answer when the key's quota is spent.
    pub(crate) rate_limited: fn() -> Reply,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_choose_scenarios() {
        assert_eq!(Scenario::of_key(None), Scenario::BadKey);
        assert_eq!(Scenario::of_key(Some("")), Scenario::BadKey);
        assert_eq!(Scenario::of_key(Some(keys::BAD)), Scenario::BadKey);
        assert_eq!(Scenario::of_key(Some(keys::GOOD)), Scenario::Good);
        assert_eq!(Scenario::of_key(Some("anything")), Scenario::Good);
        assert_eq!(Scenario::of_key(Some(keys::SLOW)), Scenario::Slow);
        assert_eq!(
            Scenario::of_key(Some("redirect:https://example.com/x")),
            Scenario::Redirect("https://example.com/x".into())
        );
    }
}
