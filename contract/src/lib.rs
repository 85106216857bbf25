//! The Cortex job-folder contract.
