//! The bearer token every `/v1/*` request must present, compared in constant time.
//!
//! The token is never printed: [`Token`]'s `Debug` shows a mask, the 401 answer does not echo
//! what the client sent, and nothing logs the `Authorization` header.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use super::{ApiError, App};

/// The configured token, kept only as its SHA-256: comparing digests of equal length in
/// constant time reveals neither the token's bytes nor its length through timing.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(********)")
    }
}

/// Why a token cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token is empty (or only white space, in a file).
    #[error("the bearer token from {0} is empty")]
    Empty(String),
    /// The token holds a character a header value cannot carry.
    #[error("the bearer token from {0} holds a control character or a space")]
    BadCharacter(String),
}

impl Token {
    /// A token from its text; `source` names where it came from for errors (never the text).
    /// Surrounding white space (a file's final newline) is trimmed.
    pub fn new(text: &str, source: &str) -> Result<Self, TokenError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TokenError::Empty(source.to_string()));
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(TokenError::BadCharacter(source.to_string()));
        }
        Ok(Self {
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// Whether `given` is the token, in constant time.
    pub fn matches(&self, given: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(given).into();
        self.digest.ct_eq(&digest).into()
    }
}

/// The middleware of `/v1/*`: `Authorization: Bearer <token>` or 401.
pub async fn require_token(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(token) = &app.options.token else {
        return Ok(next.run(request).await);
    };
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| value.as_bytes())
        .and_then(|value| value.strip_prefix(b"Bearer "));
    match presented {
        Some(given) if token.matches(given) => Ok(next.run(request).await),
        Some(_) => Err(ApiError::unauthorized(
            "the bearer token is wrong; send Authorization: Bearer <the service's token>",
        )),
        None => Err(ApiError::unauthorized(
            "no bearer token; send Authorization: Bearer <the service's token>",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_exactly_and_never_print() {
        let token = Token::new("s3cret\n", "--token-file t").unwrap();
        assert!(token.matches(b"s3cret"));
        assert!(!token.matches(b"s3cret "));
        assert!(!token.matches(b"s3cre"));
        assert!(!token.matches(b""));
        assert_eq!(format!("{token:?}"), "Token(********)");
        assert_eq!(
            Token::new(" \n", "service.token").unwrap_err().to_string(),
            "the bearer token from service.token is empty"
        );
        assert_eq!(
            Token::new("a b", "service.token").unwrap_err().to_string(),
            "the bearer token from service.token holds a control character or a space"
        );
    }
}
