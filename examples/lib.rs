//! Runnable examples for the `integrations` crates; see the `*.rs` files in
//! this folder and run one with `cargo run --example NAME`.
