//! Runnable examples for the `integrations` crates; see the `*.rs` files in
//! this folder and run one with `cargo run --example NAME`.

/// Compiles the README's code example as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
