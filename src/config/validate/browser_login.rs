//! Browser login (`/authorize` and its callback): the callback paths the gateway serves, and
//! the client `login_redirect` sends browsers to.

use super::Problems;
use crate::config::model::{Client, Routes};

pub(super) fn routes(p: &mut Problems, mut routes: Routes, clients: &[Client]) -> Routes {
    for c in clients {
        let Some(url) = &c.redirect_url else { continue };
        let key = format!("clients.{}.redirect_url", c.name);
        if c.same_site == Some(crate::config::model::SameSite::Strict) {
            p.push(
                &key,
                "needs same_site Lax or None: after the tenant's redirect a browser does not send a Strict cookie",
            );
        }
        let path = url.path().to_string();
        if crate::routing::path::normalize(&path, routes.strictness).as_deref() != Ok(path.as_str()) || path == "/" {
            p.push(&key, format!("{path:?}: the callback must be a normalised path other than /"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            p.push(&key, "the callback URL has no query or fragment");
        }
        if crate::routing::endpoints::route("GET", &path) != crate::routing::endpoints::Route::Backend
            || path.starts_with("/users")
        {
            p.push(&key, format!("{path:?} is one of the gateway's own paths"));
        }
        match routes.callbacks.iter().find(|(other, _)| *other == path) {
            Some((_, other)) => p.push(&key, format!("{path:?} is already the callback of client {other:?}")),
            None => routes.callbacks.push((path, c.name.clone())),
        }
    }
    let redirects = routes.default_login_redirect || routes.rules.iter().any(|r| r.login_redirect);
    let browser_clients: Vec<&Client> = clients.iter().filter(|c| c.redirect_url.is_some()).collect();
    match (&routes.login_client, redirects) {
        (Some(name), _) => {
            if !browser_clients.iter().any(|c| &c.name == name) {
                p.push("routes.login_client", format!("{name:?} is not a client with a redirect_url"));
            }
        }
        (None, true) if browser_clients.len() == 1 => routes.login_client = Some(browser_clients[0].name.clone()),
        (None, true) => p.push(
            "routes.login_client",
            "login_redirect needs the client to send browsers to: name one with a redirect_url",
        ),
        (None, false) => {}
    }
    routes
}
