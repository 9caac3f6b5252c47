//! The HTTP surface, the top layer (with [`crate::server::conn`] and the server
//! functions of `crate::api`, the only code that names `AppState`).
//!
//! - [`router`]: `fn app(state) -> Router`, the whole HTTP surface and its middleware.
//! - [`serve`]: the accept loop, with header-read timeouts and a cap per network.
//! - [`guard`]: the session guard, with the page rules taken from the app's routes.
//! - [`origin`]: refusal of state-changing requests from other origins.
//! - [`client_ip`]: each request's client address.
//! - [`metrics`]: the operator's `GET /metrics` and request timings.
//! - [`calls`]: the glue of server functions: state, user, address, `reply`.
//! - [`files`]: uploading and fetching shared files.
//! - [`pages`]: `/admin`, `/reset` and `/channels`, rendered here only (`ui::plain`), no client.
//! - [`profiles`]: avatars (upload, pictures) and `/people/{id}`, a profile page.

pub mod calls;
pub mod client_ip;
pub mod files;
pub mod guard;
pub mod metrics;
pub mod origin;
pub mod pages;
pub mod profiles;
pub mod router;
pub mod serve;
