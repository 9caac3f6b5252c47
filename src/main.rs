//! The natter server binary: parse the configuration, start logging, run.

/// mimalloc instead of glibc's malloc: server-side rendering allocates a great many small
/// objects, and about a fifth of page-render time went to glibc's malloc/free.
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use tracing_subscriber::EnvFilter;

    let config = natter::server::config::Config::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        // One object per line; the request's span (its method, path and request id) is
        // in each line's "span" field.
        natter::server::config::LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        natter::server::config::LogFormat::Text => logs.init(),
    }
    match natter::server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "natter failed");
            eprintln!("natter: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser entry point is `natter::hydrate` in lib.rs.
}
