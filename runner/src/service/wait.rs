//! `GET /v1/jobs/{id}/wait?timeout=30s`: the long poll, bounded by its timeout.

use std::sync::Arc;
use std::time::Duration;

use super::registry::{Entry, Origin};
use super::{ApiError, App};

/// The timeout when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// The first and the longest pause between two looks at another replica's claim.
const FIRST_POLL: Duration = Duration::from_millis(25);
const MAX_POLL: Duration = Duration::from_secs(1);

/// Parses `Ns`, `Nms` or `Nm` (default 30 s, at most 300 s).
pub fn parse_timeout(given: Option<&str>) -> Result<Duration, ApiError> {
    let Some(text) = given else {
        return Ok(DEFAULT_TIMEOUT);
    };
    let refuse = |why: &str| {
        ApiError::bad_request(
            "bad timeout",
            format!("timeout={text:?} {why}; expected Ns, Nms or Nm, at most 300s"),
        )
    };
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => return Err(refuse("has no unit")),
    };
    let n: u64 = number.parse().map_err(|_| refuse("has no number"))?;
    let timeout = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(refuse("has an unknown unit")),
    };
    if timeout > MAX_TIMEOUT {
        return Err(refuse("is longer than 300s"));
    }
    Ok(timeout)
}

/// Waits until the job is done, `timeout` passes or the service closes.
pub async fn until_done(app: &App, entry: &Arc<Entry>, timeout: Duration) {
    let wait = async {
        match &entry.origin {
            Origin::Local { done, .. } => {
                let mut rx = done.subscribe();
                let _ = rx.wait_for(Option::is_some).await;
            }
            Origin::Foreign { .. } => {
                // Another replica runs the job: look at its claim with backoff.
                let mut pause = FIRST_POLL;
                loop {
                    let snapshot = super::jobs::Snapshot::take(app, entry.clone()).await;
                    if snapshot.outcome.is_some() {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_POLL);
                }
            }
        }
    };
    tokio::select! {
        () = wait => {}
        () = app.closed() => {}
        () = tokio::time::sleep(timeout) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_with_their_unit_and_bound() {
        assert_eq!(parse_timeout(None).unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse_timeout(Some("250ms")).unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_timeout(Some("5s")).unwrap(), Duration::from_secs(5));
        assert_eq!(parse_timeout(Some("5m")).unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_timeout(Some("6m")).unwrap_err().detail,
            "timeout=\"6m\" is longer than 300s; expected Ns, Nms or Nm, at most 300s"
        );
        assert_eq!(
            parse_timeout(Some("5")).unwrap_err().detail,
            "timeout=\"5\" has no unit; expected Ns, Nms or Nm, at most 300s"
        );
        assert_eq!(
            parse_timeout(Some("5h")).unwrap_err().detail,
            "timeout=\"5h\" has an unknown unit; expected Ns, Nms or Nm, at most 300s"
        );
        assert_eq!(
            parse_timeout(Some("s")).unwrap_err().detail,
            "timeout=\"s\" has no number; expected Ns, Nms or Nm, at most 300s"
        );
    }
}
