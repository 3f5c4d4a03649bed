//! The one router: (method, path) → what the gateway does with the request.

use crate::login::Endpoint;

/// Endpoints the gateway answers itself besides the login calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Own {
    Userinfo,
    Logout,
    Jwks,
    OpenidConfiguration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A login call the gateway answers itself.
    Login(Endpoint),
    /// A session or discovery endpoint the gateway answers itself.
    Own(Own),
    /// A known path with the wrong method: `405` with this `Allow`.
    WrongMethod(&'static str),
    /// Everything else goes to the backend, guarded.
    Backend,
}

impl Route {
    /// A short name for logs and metrics.
    pub fn class(self) -> &'static str {
        match self {
            Route::Login(Endpoint::Token) => "token",
            Route::Login(Endpoint::RefreshToken) => "refreshtoken",
            Route::Login(Endpoint::Ro) => "ro",
            Route::Login(Endpoint::PasswordsApi) => "passwords_api",
            Route::Own(Own::Userinfo) => "userinfo",
            Route::Own(Own::Logout) => "logout",
            Route::Own(Own::Jwks | Own::OpenidConfiguration) => "discovery",
            Route::WrongMethod(_) => "wrong_method",
            Route::Backend => "backend",
        }
    }
}

pub fn route(method: &str, path: &str) -> Route {
    let (target, allow) = match path {
        "/oauth/token" => (Route::Login(Endpoint::Token), "POST"),
        "/oauth/refreshtoken" => (Route::Login(Endpoint::RefreshToken), "POST"),
        "/oauth/ro" => (Route::Login(Endpoint::Ro), "POST"),
        "/v1/auth/password/authenticate" => (Route::Login(Endpoint::PasswordsApi), "POST"),
        "/userinfo" => (Route::Own(Own::Userinfo), "GET"),
        "/logout" => (Route::Own(Own::Logout), "GET, POST"),
        "/.well-known/jwks.json" => (Route::Own(Own::Jwks), "GET"),
        "/.well-known/openid-configuration" => (Route::Own(Own::OpenidConfiguration), "GET"),
        _ => return Route::Backend,
    };
    let allowed = allow.split(", ").any(|m| m == method);
    if allowed {
        target
    } else {
        Route::WrongMethod(allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_paths_need_their_methods_and_the_rest_goes_to_the_backend() {
        assert_eq!(route("POST", "/oauth/token"), Route::Login(Endpoint::Token));
        assert_eq!(route("POST", "/oauth/refreshtoken"), Route::Login(Endpoint::RefreshToken));
        assert_eq!(route("GET", "/oauth/token"), Route::WrongMethod("POST"));
        assert_eq!(route("GET", "/userinfo"), Route::Own(Own::Userinfo));
        assert_eq!(route("POST", "/logout"), Route::Own(Own::Logout));
        assert_eq!(route("DELETE", "/logout"), Route::WrongMethod("GET, POST"));
        assert_eq!(route("GET", "/.well-known/jwks.json"), Route::Own(Own::Jwks));
        assert_eq!(route("POST", "/oauth/token/"), Route::Backend);
        assert_eq!(route("GET", "/api/things"), Route::Backend);
    }
}
