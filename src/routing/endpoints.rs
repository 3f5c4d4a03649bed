//! The gateway's own endpoints as data: what each is (`Route`), the paths and methods it
//! answers, and `route`, which tells one of them from the backend's paths. No configuration
//! here: the paths that depend on it (the browser login's, the user management's) are decided
//! in `router`.

/// Which login endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    RefreshToken,
    /// Legacy `/oauth/ro`.
    Ro,
    /// The Passwords API's `/v1/auth/password/authenticate`.
    PasswordsApi,
}

/// What a `/users…` request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserOp {
    List,
    Create,
    Get,
    Update,
    Delete,
    Import,
    ImportStatus,
    ImportErrors,
    Me,
}

impl UserOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            UserOp::List => "list",
            UserOp::Create => "create",
            UserOp::Get => "get",
            UserOp::Update => "update",
            UserOp::Delete => "delete",
            UserOp::Import => "import",
            UserOp::ImportStatus => "import_status",
            UserOp::ImportErrors => "import_errors",
            UserOp::Me => "me",
        }
    }
}

/// Endpoints the gateway answers itself besides the login calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnEndpoint {
    Userinfo,
    Logout,
    Jwks,
    OpenidConfiguration,
    /// `GET /users/active` (management clients).
    ActiveUsers,
    /// `DELETE /sessions/{userId}` (management clients).
    UserSessions,
    /// The user-management endpoints (with a `management` block).
    Users(UserOp),
    /// `GET /authorize`: start a browser login (when a client has a `redirect_url`).
    Authorize,
    /// `GET <a client's redirect_url path>`: the browser login's callback.
    Callback,
    /// The forward-auth endpoints (`forward_auth.enabled`): the decision for a proxy in front.
    ForwardAuth(ForwardAuth),
    /// `POST <session.backchannel_logout_path>`: the tenant ends sessions (OpenID Connect
    /// Back-Channel Logout).
    BackchannelLogout,
}

/// Which proxy's convention a forward-auth request follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ForwardAuth {
    /// nginx `auth_request`: `X-Original-Method`, `X-Original-URI`.
    Nginx,
    /// Traefik `forwardAuth` and Caddy `forward_auth`: `X-Forwarded-Method`, `X-Forwarded-Uri`.
    Traefik,
    /// Envoy's HTTP `ext_authz`: the original method, the original path after the prefix.
    Envoy,
}

/// Where the forward-auth endpoints live.
pub(crate) const AUTH_REQUEST_PATH: &str = "/authz/auth-request";
pub(crate) const FORWARD_AUTH_PATH: &str = "/authz/forward-auth";
pub(crate) const EXT_AUTHZ_PREFIX: &str = "/authz/ext-authz";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// A login call the gateway answers itself.
    Login(Endpoint),
    /// A session or discovery endpoint the gateway answers itself.
    Own(OwnEndpoint),
    /// A known path with the wrong method: `405` with this `Allow`.
    WrongMethod(&'static str),
    /// Another spelling (case, trailing slash) of a path the gateway answers itself: `404`,
    /// never proxied, so no login call reaches the backend in disguise.
    Reserved,
    /// Everything else goes to the backend, guarded.
    Backend,
}

impl Route {
    /// A short name for logs and metrics.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Route::Login(Endpoint::Token) => "token",
            Route::Login(Endpoint::RefreshToken) => "refreshtoken",
            Route::Login(Endpoint::Ro) => "ro",
            Route::Login(Endpoint::PasswordsApi) => "passwords_api",
            Route::Own(OwnEndpoint::Userinfo) => "userinfo",
            Route::Own(OwnEndpoint::Logout) => "logout",
            Route::Own(OwnEndpoint::Jwks | OwnEndpoint::OpenidConfiguration) => "discovery",
            Route::Own(OwnEndpoint::ActiveUsers | OwnEndpoint::UserSessions) => "management",
            Route::Own(OwnEndpoint::Users(UserOp::Me)) => "users_me",
            Route::Own(OwnEndpoint::Users(_)) => "management",
            Route::Own(OwnEndpoint::Authorize) => "authorize",
            Route::Own(OwnEndpoint::Callback) => "callback",
            Route::Own(OwnEndpoint::ForwardAuth(_)) => "forward_auth",
            Route::Own(OwnEndpoint::BackchannelLogout) => "backchannel_logout",
            Route::WrongMethod(_) => "wrong_method",
            Route::Reserved => "reserved",
            Route::Backend => "backend",
        }
    }
}

/// The paths the gateway answers itself, with their methods (the `Allow` header's text).
pub(crate) const OWN_PATHS: &[(&str, Route, &str)] = &[
    ("/oauth/token", Route::Login(Endpoint::Token), "POST"),
    ("/oauth/refreshtoken", Route::Login(Endpoint::RefreshToken), "POST"),
    ("/oauth/ro", Route::Login(Endpoint::Ro), "POST"),
    ("/v1/auth/password/authenticate", Route::Login(Endpoint::PasswordsApi), "POST"),
    ("/userinfo", Route::Own(OwnEndpoint::Userinfo), "GET"),
    ("/logout", Route::Own(OwnEndpoint::Logout), "GET, POST"),
    ("/.well-known/jwks.json", Route::Own(OwnEndpoint::Jwks), "GET"),
    ("/.well-known/openid-configuration", Route::Own(OwnEndpoint::OpenidConfiguration), "GET"),
    ("/users/active", Route::Own(OwnEndpoint::ActiveUsers), "GET"),
];

/// Paths the gateway answers below a prefix: `/sessions/{userId}`.
pub(crate) const OWN_PREFIXES: &[(&str, Route, &str)] =
    &[("/sessions/", Route::Own(OwnEndpoint::UserSessions), "DELETE")];

/// The user-management endpoints (auth0-client's `/users`), the gateway's only when a `management` block
/// is configured: path pattern (`{…}` is one non-empty segment), the `Allow` text, and the
/// operation of each method in it. The first pattern that matches decides.
pub(crate) const USER_PATHS: &[(&str, &str, &[UserOp])] = &[
    ("/users", "GET, POST", &[UserOp::List, UserOp::Create]),
    ("/users/me", "GET", &[UserOp::Me]),
    ("/users/import", "POST", &[UserOp::Import]),
    ("/users/import/status/{jobId}", "GET", &[UserOp::ImportStatus]),
    ("/users/import/status/{jobId}/errors", "GET", &[UserOp::ImportErrors]),
    ("/users/{userId}", "GET, PATCH, DELETE", &[UserOp::Get, UserOp::Update, UserOp::Delete]),
];

fn matches_pattern(pattern: &str, path: &str, same: impl Fn(&str, &str) -> bool) -> bool {
    let (mut p, mut s) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(want), Some(got)) if want.starts_with('{') && !got.is_empty() => {}
            (Some(want), Some(got)) if same(want, got) => {}
            _ => return false,
        }
    }
}

/// The route of a `/users…` path when user management is on: an operation, a wrong method,
/// or `Reserved` for another spelling (letter case, a trailing slash) of one of its paths.
pub(crate) fn user_route(method: &str, path: &str) -> Option<Route> {
    // Every user path starts with /users in some letter case: the rest of the backend's paths
    // pay one comparison, not a pattern match per entry.
    if !path.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("/users")) {
        return None;
    }
    if let Some((_, allow, ops)) = USER_PATHS.iter().find(|(p, _, _)| matches_pattern(p, path, |a, b| a == b)) {
        return Some(match allow.split(", ").position(|m| m == method) {
            Some(i) => Route::Own(OwnEndpoint::Users(ops[i])),
            None => Route::WrongMethod(allow),
        });
    }
    let folded = path.strip_suffix('/').unwrap_or(path);
    let similar = |(p, _, _): &&(&str, &str, &[UserOp])| matches_pattern(p, folded, |a, b| a.eq_ignore_ascii_case(b));
    // Below /users/import/ everything is the gateway's: no half-spelt job path reaches the backend.
    let below_import = folded.len() >= 13
        && folded.as_bytes()[..13].eq_ignore_ascii_case(b"/users/import")
        && folded.as_bytes().get(13).is_none_or(|b| *b == b'/');
    (USER_PATHS.iter().any(|p| similar(&p)) || below_import).then_some(Route::Reserved)
}

/// Where browser logins start.
pub(crate) const AUTHORIZE_PATH: &str = "/authorize";

/// The longest own path, to skip the reserved-spelling check on longer paths.
const LONGEST_OWN_PATH: usize = 34;

/// The route of a normalised `path`.
pub(crate) fn route(method: &str, path: &str) -> Route {
    // Below a prefix only the method the gateway answers is taken: `GET /sessions/1` stays
    // the backend's.
    let own = OWN_PATHS.iter().find(|(p, _, _)| *p == path).or_else(|| {
        OWN_PREFIXES.iter().find(|(p, _, allow)| {
            *allow == method && path.strip_prefix(p).is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
        })
    });
    if let Some((_, target, allow)) = own {
        return if allow.split(", ").any(|m| m == method) { *target } else { Route::WrongMethod(allow) };
    }
    if path.len() <= LONGEST_OWN_PATH + 1 {
        let folded = path.strip_suffix('/').unwrap_or(path);
        if OWN_PATHS.iter().any(|(p, _, _)| p.eq_ignore_ascii_case(folded)) {
            return Route::Reserved;
        }
    }
    let below_prefix_in_another_case = |(p, _, allow): &&(&str, Route, &str)| {
        *allow == method
            && path.len() > p.len()
            && !path.starts_with(p)
            && path.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    };
    if OWN_PREFIXES.iter().any(|p| below_prefix_in_another_case(&p)) {
        return Route::Reserved;
    }
    Route::Backend
}
