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
