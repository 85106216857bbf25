//! The ValidateObservable analyzer's logic, and the pieces of Python's behaviour it depends on.
//!
//! [`validators`] holds the original's checks, one per data type. They decide as the original
//! does because the Python library behaviour they rest on is reproduced here rather than
//! approximated by the nearest Rust crate: [`idna2008`] (the `idna` package's `encode`),
//! [`punycode`] (CPython's codec), [`pyip`] (`ipaddress`), [`pyurl`] (`urllib.parse.urlsplit`)
//! and [`unicode`] (lookups in the Unicode tables generated from CPython's own data).
//! `pyurl`, `pyip` and `unicode` are also used by the SafeLinks decoder.

pub mod idna2008;
pub mod punycode;
pub mod pyip;
pub mod pyurl;
pub mod unicode;
// Generated data: formatted by its generator, not by rustfmt.
#[rustfmt::skip]
mod unicode_tables;
pub mod validators;
