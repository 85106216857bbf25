//! The Cortex job folder.
