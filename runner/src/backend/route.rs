//! Where a job goes: a [`Decision`] names a backend to run it, or refuses it, and says why.
//!
//! The scheduler makes decisions and a backend receives the one that sent it the job, so the
//! types live beside [`BackendKind`], below both.

use serde::Serialize;

use super::BackendKind;

/// Where a job goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "route", rename_all = "lowercase")]
pub enum Route {
    /// Run on this backend.
    Run {
        /// The backend.
        backend: BackendKind,
    },
    /// Do not run; the job fails with `message` in its report.
    Refused {
        /// The report's `errorMessage`.
        message: String,
    },
}

/// A decision and the reason for it, logged with the job and kept in its run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Where the job goes.
    #[serde(flatten)]
    pub route: Route,
    /// Why, in one sentence.
    pub reason: String,
}

impl Decision {
    /// Run on `backend`, because of `reason`.
    pub fn run(backend: BackendKind, reason: String) -> Self {
        Self {
            route: Route::Run { backend },
            reason,
        }
    }

    /// Refuse with `message` as the report's `errorMessage`, because of `reason`.
    pub fn refuse(message: impl Into<String>, reason: String) -> Self {
        Self {
            route: Route::Refused {
                message: message.into(),
            },
            reason,
        }
    }

    /// The backend, unless the job is refused.
    pub fn backend(&self) -> Option<BackendKind> {
        match self.route {
            Route::Run { backend } => Some(backend),
            Route::Refused { .. } => None,
        }
    }
}
