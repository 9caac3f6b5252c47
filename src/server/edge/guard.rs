//! The session guard: resolves the session once per request (the user goes into the
//! request extensions as `AuthUser`) and keeps signed-out visitors out of the pages.
//!
//! Which pages need a user comes from the router itself: [`Pages`] is built from the
//! route list leptos generates for `ui::App`, and each route's rule is `ui::access`,
//! so a page added to the app is guarded without being named here. Server functions,
//! `/ws`, `/sse` and `/frames` check the user themselves.

use crate::server::app::AppState;
use crate::server::domain::auth::{user_from_headers, AuthUser};
use crate::ui::{access, Access};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

/// The app's page routes with their access rule.
#[derive(Debug, Default)]
pub struct Pages(Vec<(Vec<Segment>, Access)>);

#[derive(Debug, PartialEq)]
enum Segment {
    Fixed(String),
    /// `:id`, `{id}` or a wildcard: any one segment.
    Param,
}

impl Pages {
    /// From the router's page paths (`/chats/:id` or axum's `/chats/{id}`).
    pub fn from_routes<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        Pages(
            paths
                .into_iter()
                .map(|path| (segments(path), access(&leptos_style(path))))
                .collect(),
        )
    }

    /// The rule of the page at `path`, if it is a page. The router renders a page for
    /// its path with one trailing slash too (`/chats/7/`), so that is the page's rule;
    /// and a path under a signed-in page (`/chats/7/x`, a 404 to anyone) is signed-in,
    /// as `/chats/…` always was. The root is a prefix of nothing.
    pub fn access(&self, path: &str) -> Option<Access> {
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        let fits = |route: &[Segment], parts: &[&str]| {
            route.len() == parts.len()
                && route.iter().zip(parts).all(|(seg, part)| match seg {
                    Segment::Fixed(f) => f == part,
                    Segment::Param => !part.is_empty(),
                })
        };
        let exact = self
            .0
            .iter()
            .find_map(|(route, access)| fits(route, &parts).then_some(*access));
        exact.or_else(|| {
            self.0.iter().find_map(|(route, access)| {
                let root = route.as_slice() == [Segment::Fixed(String::new())];
                let under = *access == Access::SignedIn
                    && !root
                    && route.len() < parts.len()
                    && fits(route, &parts[..route.len()]);
                under.then_some(Access::SignedIn)
            })
        })
    }
}

fn segments(path: &str) -> Vec<Segment> {
    path.split('/')
        .skip(1)
        .map(|s| {
            if s.starts_with(':') || s.starts_with('{') || s.starts_with('*') {
                Segment::Param
            } else {
                Segment::Fixed(s.to_string())
            }
        })
        .collect()
}

/// `/chats/{id}` as leptos writes it (`/chats/:id`), for [`access`].
fn leptos_style(path: &str) -> String {
    path.split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => s.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// What the guard needs: the state (to find the session) and the pages.
#[derive(Clone)]
pub struct Guard {
    pub state: AppState,
    pub pages: Arc<Pages>,
}

/// Middleware: resolves the session once and guards the pages.
///
/// Signed-out visitors of a signed-in page (`/`, `/chats…`, `/search`; the server's own
/// pages, `/account` among them, check for themselves)
/// go to `/login`; signed-in visitors of `/`, `/login` and `/signup` go to `/chats`.
pub async fn resolve_session(State(guard): State<Guard>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if is_public_file(path) || path == "/healthz" {
        return next.run(req).await;
    }
    let state = &guard.state;
    let secure = state.config.secure_cookies();
    let user = match user_from_headers(&state.store, secure, req.headers()).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable").into_response();
        }
    };
    if req.method() == Method::GET {
        let page = guard.pages.access(path);
        match (&user, page) {
            (None, Some(Access::SignedIn)) => return Redirect::to("/login").into_response(),
            (Some(_), Some(Access::Guests)) => return Redirect::to("/chats").into_response(),
            (Some(_), _) if path == "/" => return Redirect::to("/chats").into_response(),
            _ => {}
        }
    }
    let page = req.method() == Method::GET && guard.pages.access(path).is_some();
    let id = user.as_ref().map(|u| u.id);
    if let Some(user) = user {
        req.extensions_mut().insert(AuthUser(user));
    }
    let mut res = next.run(req).await;
    // Whose page this is (0: nobody's, signed out), for the service worker
    // (public/sw.js): it keeps the pages it may show offline per person and drops them
    // when another person's page, or a signed-out one, comes through.
    if page {
        let id = id.map_or(0, |id| id.0);
        res.headers_mut()
            .insert(PAGE_USER, http::HeaderValue::from(id));
    }
    res
}

/// The header that names a page's signed-in reader (see [`resolve_session`]).
pub const PAGE_USER: http::HeaderName = http::HeaderName::from_static("x-natter-user");

/// Files anyone may fetch, signed in or not: the WASM and CSS, the icon, and what makes
/// natter installable (the manifest, its icons, the service worker).
pub fn is_public_file(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/icons/")
        || matches!(path, "/favicon.svg" | "/sw.js" | "/manifest.webmanifest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_routes_and_their_rules() {
        let pages = Pages::from_routes([
            "/",
            "/login",
            "/signup",
            "/chats",
            "/chats/{id}",
            "/account",
        ]);
        assert_eq!(pages.access("/"), Some(Access::SignedIn));
        assert_eq!(pages.access("/chats"), Some(Access::SignedIn));
        assert_eq!(pages.access("/chats/42"), Some(Access::SignedIn));
        // What the router renders with a trailing slash, and what lies under a page.
        assert_eq!(pages.access("/chats/"), Some(Access::SignedIn));
        assert_eq!(pages.access("/chats/42/"), Some(Access::SignedIn));
        assert_eq!(pages.access("/account/"), Some(Access::SignedIn));
        assert_eq!(pages.access("/chats/42/x"), Some(Access::SignedIn));
        assert_eq!(pages.access("/chats//"), Some(Access::SignedIn));
        assert_eq!(pages.access("/login/"), Some(Access::Guests));
        assert_eq!(pages.access("/login"), Some(Access::Guests));
        assert_eq!(pages.access("/signup"), Some(Access::Guests));
        assert_eq!(pages.access("/api/sign_in"), None);
        assert_eq!(pages.access("/nowhere"), None);
    }

    /// Every page the app routes is guarded: the ones that are not for guests need a user.
    #[test]
    fn every_routed_page_has_a_rule() {
        let routes = leptos_axum::generate_route_list(crate::ui::App);
        let paths: Vec<String> = routes.iter().map(|r| r.path().to_string()).collect();
        let pages = Pages::from_routes(paths.iter().map(String::as_str));
        for page in ["/", "/chats", "/chats/7", "/chats/new", "/search"] {
            assert_eq!(
                pages.access(page),
                Some(Access::SignedIn),
                "{page} in {paths:?}"
            );
        }
        for page in ["/login", "/signup"] {
            assert_eq!(
                pages.access(page),
                Some(Access::Guests),
                "{page} in {paths:?}"
            );
        }
    }
}
