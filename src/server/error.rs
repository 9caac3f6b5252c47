//! The server-side error: keeps the cause for the log, shows the user only an [`AppError`].

use crate::model::AppError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user-facing error: passed through as is.
    #[error(transparent)]
    App(#[from] AppError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }

    /// Whether this is a UNIQUE constraint violation (to map to a user error).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        match e {
            Error::App(app) => app,
            other => {
                // The cause stays here; the browser gets a generic message.
                tracing::error!(error = %other, "internal error");
                AppError::Internal
            }
        }
    }
}

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        let app: AppError = self.into();
        let status = axum::http::StatusCode::from_u16(app.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, app.to_string()).into_response()
    }
}

/// Finishes a server function: maps the error and sets the HTTP status.
///
/// Plain HTML form posts (JavaScript off) are the exception: leptos answers them with a
/// redirect back to the form carrying the error in the URL, and a 4xx here would
/// replace that redirect with a bare error body.
pub fn reply<T>(result: Result<T>) -> std::result::Result<T, AppError> {
    result.map_err(|e| {
        let app = AppError::from(e);
        set_status(&app);
        app
    })
}

/// Sets the response status for `err` on the current request (see [`reply`]).
pub fn set_status(err: &AppError) {
    use leptos::prelude::use_context;
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let is_form_post = use_context::<http::request::Parts>()
        .map(|p| {
            p.uri.path().starts_with("/api/")
                && p.headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
        })
        .unwrap_or(false);
    if !is_form_post {
        if let Ok(status) = http::StatusCode::from_u16(err.status()) {
            res.set_status(status);
        }
    }
}
