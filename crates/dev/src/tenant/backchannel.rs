//! OpenID Connect Back-Channel Logout 1.0, the tenant's side: the logout token (a JWT of
//! `typ` `logout+jwt`, for one client, naming the user and the session) and its delivery, a
//! form `POST` of `logout_token` to the client's `backchannel_logout_uri`. Deliveries run on
//! their own task, so the request that ended the session does not wait on the client; each
//! outcome is kept for tests.

use super::common::{now, random_token};
use super::State;
use serde_json::json;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long a client has to answer a logout.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a logout token is valid (the spec asks for a short life).
const TOKEN_SECONDS: u64 = 120;
/// The outcomes kept, the newest: a bound, in case a demo logs out in a loop.
const MAX_KEPT: usize = 10_000;

#[derive(Default)]
pub(crate) struct Backchannel {
    /// Built on the first logout: most tenants (benchmarks) never send one.
    http: OnceLock<Result<reqwest::Client, String>>,
    /// (uri, status code or error text) of each delivery, in the order they finished.
    deliveries: Arc<Mutex<Vec<(String, String)>>>,
}

impl Backchannel {
    fn client(&self) -> Result<reqwest::Client, String> {
        let built = self.http.get_or_init(|| {
            // No proxy: the clients are the gateway, normally on this machine; an HTTP_PROXY
            // meant for the outside world must not carry the tenant's logouts.
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .no_proxy()
                .build()
                .map_err(|e| format!("the back-channel logout client: {e}"))
        });
        built.clone()
    }

    #[cfg(any(test, feature = "test-support"))]
    pub(crate) fn deliveries(&self) -> Vec<(String, String)> {
        self.deliveries.lock().expect("not poisoned").clone()
    }
}

/// A logout token for `client_id` about user `sub` (and session `sid`), signed with the
/// current key. It carries the back-channel logout event and never a `nonce` (so it cannot
/// pass for an id_token).
pub(super) fn logout_token(s: &State, client_id: &str, sub: &str, sid: Option<&str>) -> String {
    let iat = now();
    let mut claims = json!({
        "iss": s.issuer, "aud": client_id, "iat": iat, "exp": iat + TOKEN_SECONDS, "jti": random_token(),
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}}, "sub": sub,
    });
    if let Some(sid) = sid {
        claims["sid"] = json!(sid);
    }
    s.signer().sign_typed(&claims, "logout+jwt")
}

/// Post `token` to `uri` on a task of its own and keep the outcome: the status code, or
/// why there is none.
pub(super) fn send(s: &State, uri: String, token: String) {
    let deliveries = s.backchannel.deliveries.clone();
    let keep = move |uri: String, outcome: String| {
        let mut kept = deliveries.lock().expect("not poisoned");
        if kept.len() >= MAX_KEPT {
            kept.remove(0);
        }
        kept.push((uri, outcome));
    };
    // Sessions end from request handlers, on the runtime; a caller off it is told, not panicked.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        keep(uri, "no tokio runtime to send the logout from".into());
        return;
    };
    let http = match s.backchannel.client() {
        Ok(http) => http,
        Err(why) => {
            keep(uri, why);
            return;
        }
    };
    runtime.spawn(async move {
        let sent = http.post(uri.as_str()).form(&[("logout_token", token.as_str())]).send().await;
        let outcome = match sent {
            Ok(answer) => answer.status().as_u16().to_string(),
            Err(e) => e.to_string(),
        };
        keep(uri, outcome);
    });
}
