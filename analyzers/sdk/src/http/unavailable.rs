//! `wasm32-wasip1` has no network interface: every request fails with
//! [`HttpError::Unavailable`], so analyzers that use HTTP still compile for it.

use super::error::{HttpError, Result};
use super::response::Response;
use super::{ClientOptions, Request};

#[derive(Debug)]
pub(crate) struct Backend;

impl Backend {
    pub(crate) fn new(_options: &ClientOptions) -> Result<Backend> {
        Ok(Backend)
    }

    pub(crate) fn send(&self, _request: &Request, _max_body: usize) -> Result<Response> {
        Err(HttpError::Unavailable)
    }
}
