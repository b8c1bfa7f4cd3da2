//! The quickstart example in a package of its own, which depends on
//! `integrations-core` alone: `cargo run --example quickstart` from the
//! repository root compiles only what it runs. See `quickstart.rs`.
