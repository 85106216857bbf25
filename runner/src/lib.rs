//! cortex-runner library.
