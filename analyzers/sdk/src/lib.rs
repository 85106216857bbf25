//! Analyzer SDK.
