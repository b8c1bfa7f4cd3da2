//! PostgreSQL notifications for the stores of the crate family (feature
//! `postgres`): the credential store's row changes, the export outbox's
//! enqueues.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

/// The payloads of the notifications on `channel`, received on a
/// connection of its own made with `pool`'s connect options, never one of
/// `pool`'s (a host's pool of one connection would have none left for its
/// queries). The connection closes when the stream is dropped.
///
/// A lost connection is made again (notifications sent meanwhile are
/// missed); any other error ends the stream, so a listener must keep a
/// fallback such as polling.
pub async fn notifications(
    pool: &PgPool,
    channel: &str,
) -> Result<BoxStream<'static, String>, sqlx::Error> {
    // A pool of one, as `PgListener::connect` makes from a URL: it only
    // makes the connection again when it is lost.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with((*pool.connect_options()).clone())
        .await?;
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(channel).await?;
    let channel = channel.to_owned();
    let payloads = listener
        .into_stream()
        .take_while(move |notification| {
            if let Err(error) = notification {
                tracing::debug!(%error, channel, "the notification listener stopped");
            }
            std::future::ready(notification.is_ok())
        })
        .filter_map(|notification| std::future::ready(notification.ok()))
        .map(|notification| notification.payload().to_owned());
    Ok(payloads.boxed())
}
