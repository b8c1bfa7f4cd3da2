//! MCP's log levels and the core's [`LogLevel`], both ways: the bridge
//! reads a client's level, the pool asks servers for the hooks' level.

#![allow(deprecated)] // logging: deprecated by rmcp for a later protocol (SEP-2577)

use integrations_core::integration::LogLevel;
use rmcp::model::LoggingLevel;

/// The core's level of an MCP level.
pub(crate) fn from_mcp(level: &LoggingLevel) -> LogLevel {
    match level {
        LoggingLevel::Debug => LogLevel::Debug,
        LoggingLevel::Info => LogLevel::Info,
        LoggingLevel::Notice => LogLevel::Notice,
        LoggingLevel::Warning => LogLevel::Warning,
        LoggingLevel::Error => LogLevel::Error,
        LoggingLevel::Critical => LogLevel::Critical,
        LoggingLevel::Alert => LogLevel::Alert,
        _ => LogLevel::Emergency,
    }
}

/// The MCP level of a core level.
pub(crate) fn to_mcp(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Debug => LoggingLevel::Debug,
        LogLevel::Info => LoggingLevel::Info,
        LogLevel::Notice => LoggingLevel::Notice,
        LogLevel::Warning => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
        LogLevel::Critical => LoggingLevel::Critical,
        LogLevel::Alert => LoggingLevel::Alert,
        _ => LoggingLevel::Emergency,
    }
}

/// Asks a 2025-11-25 server for log messages at `level` and above
/// (`logging/setLevel`), within `limit`.
pub(crate) async fn ask(
    peer: rmcp::Peer<rmcp::RoleClient>,
    level: LogLevel,
    limit: std::time::Duration,
) {
    let asked = peer.set_level(rmcp::model::SetLevelRequestParams::new(to_mcp(level)));
    if let Ok(Err(error)) = tokio::time::timeout(limit, asked).await {
        tracing::debug!(%error, "the MCP server refused logging/setLevel");
    }
}

/// Asks a 2026-07-28 server for log messages at `level` and above with
/// this request (`_meta`).
pub(crate) fn set(meta: &mut Option<rmcp::model::RequestMetaObject>, level: LogLevel) {
    meta.get_or_insert_with(Default::default)
        .set_log_level(to_mcp(level));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_goes_both_ways() {
        for level in [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Notice,
            LogLevel::Warning,
            LogLevel::Error,
            LogLevel::Critical,
            LogLevel::Alert,
            LogLevel::Emergency,
        ] {
            assert_eq!(from_mcp(&to_mcp(level)), level);
        }
    }
}
