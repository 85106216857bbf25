//! Paths of the guest test programs.
