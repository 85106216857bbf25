//! A received response.

use serde_json::Value;

use super::error::{HttpError, Result};

/// A response: status, headers in the order received, and the whole body (read up to the
/// client's bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers as received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The URL this response came from (the last hop of a redirect chain).
    pub url: String,
}

impl Response {
    /// The first value of header `name` (compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, invalid UTF-8 replaced by U+FFFD (`requests`' `.text` for a UTF-8
    /// body).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (`requests`' `.json()`), keys in their order.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(HttpError::Json)
    }
}
