//! The one router: (method, path) → what the gateway does with the request.

use crate::login::Endpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A login call the gateway answers itself.
    Login(Endpoint),
    /// A login path with the wrong method: `405` with `Allow: POST`.
    LoginWrongMethod,
    /// Everything else goes to the backend.
    Backend,
}

impl Route {
    /// A short name for logs and metrics.
    pub fn class(self) -> &'static str {
        match self {
            Route::Login(Endpoint::Token) => "token",
            Route::Login(Endpoint::RefreshToken) => "refreshtoken",
            Route::LoginWrongMethod => "login",
            Route::Backend => "backend",
        }
    }
}

pub fn route(method: &str, path: &str) -> Route {
    let endpoint = match path {
        "/oauth/token" => Endpoint::Token,
        "/oauth/refreshtoken" => Endpoint::RefreshToken,
        _ => return Route::Backend,
    };
    if method == "POST" {
        Route::Login(endpoint)
    } else {
        Route::LoginWrongMethod
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_paths_need_post_and_the_rest_goes_to_the_backend() {
        assert_eq!(route("POST", "/oauth/token"), Route::Login(Endpoint::Token));
        assert_eq!(
            route("POST", "/oauth/refreshtoken"),
            Route::Login(Endpoint::RefreshToken)
        );
        assert_eq!(route("GET", "/oauth/token"), Route::LoginWrongMethod);
        assert_eq!(route("POST", "/oauth/token/"), Route::Backend);
        assert_eq!(route("GET", "/api/things"), Route::Backend);
    }
}
