//! The session endpoints for management clients (a client marked `management: true`):
//! `GET /users/active` (auth0-client's: each user with a live session, once) and
//! `DELETE /sessions/{userId}` (end every session of a user, on every replica). 401 without a
//! `secret`, 403 for any other client; limited per client like the login calls.

use super::endpoints::store_unavailable;
use super::SessionEndpoints;
use crate::config::Client;
use crate::http::error::ApiError;
use crate::http::exchange::{Reply, Request};

impl SessionEndpoints {
    /// The calling management client, under its rate limit.
    async fn management_client(&self, req: &Request) -> Result<(&Client, crate::limits::RateInfo), ApiError> {
        crate::users::management_client(&self.config, &self.limits, req).await
    }

    /// `GET /users/active`: `[{"userId": …}, …]`.
    pub(crate) async fn active_users(&self, req: &Request) -> Reply {
        let answer = async {
            let (client, rate) = self.management_client(req).await?;
            tracing::info!(client = client.name.as_str(), "active users listed");
            let subjects = self.sessions.active_subjects().await.map_err(store_unavailable)?;
            let users: Vec<serde_json::Value> =
                subjects.into_iter().map(|s| serde_json::json!({"userId": s})).collect();
            let mut reply = Reply::json(200, &users);
            rate.stamp(&mut reply.headers);
            Ok::<_, ApiError>(reply)
        };
        answer.await.unwrap_or_else(ApiError::into_reply)
    }

    /// `DELETE /sessions/{userId}`: `{"userId", "sessionsEnded"}`.
    pub(crate) async fn end_user_sessions(&self, user_id: &str, req: &Request) -> Reply {
        let answer = async {
            let (client, rate) = self.management_client(req).await?;
            if user_id.is_empty() {
                return Err(ApiError::invalid_request("a user id is required: DELETE /sessions/{userId}"));
            }
            let sessions = self.sessions.end_all(user_id).await.map_err(store_unavailable)?;
            // Their refresh tokens too: ending the sessions must also stop new tokens.
            for s in &sessions {
                if let (Some(c), Some(rt)) = (self.config.client_by_name(&s.client), self.sessions.refresh_token(s)) {
                    if let Err(e) = self.tenant.revoke(c, &rt, req.client_ip).await {
                        tracing::warn!(error = %e, "the tenant did not revoke an ended session's refresh token");
                    }
                }
            }
            let ended = sessions.len();
            tracing::info!(client = client.name.as_str(), ended, "sessions of a user ended");
            crate::audit::sessions_ended("admin", user_id, ended, Some(&client.name));
            let mut reply = Reply::json(200, &serde_json::json!({"userId": user_id, "sessionsEnded": ended}));
            rate.stamp(&mut reply.headers);
            Ok(reply)
        };
        answer.await.unwrap_or_else(ApiError::into_reply)
    }
}
