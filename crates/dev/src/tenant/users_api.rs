//! The Management API's `/api/v2/users` endpoints over the dev tenant's users: search (`q`,
//! pages), create, read, update (metadata merged), delete. Changes apply to later logins;
//! blocking or deleting a user also ends its sessions (back-channel logouts go out) and
//! revokes its refresh tokens at once.

use super::common::{api_error, no_connection, payload_error};
use super::users::{check_type, hash_password, timestamp, type_name, User};
use super::{lucene, sessions, State};
use crate::wire::is_passwordless;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type St = AxState<Arc<State>>;

/// The properties of Auth0's `POST /api/v2/users` body the dev tenant takes.
const CREATE_FIELDS: &[&str] = &[
    "connection",
    "email",
    "password",
    "phone_number",
    "username",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "email_verified",
    "blocked",
    "app_metadata",
    "user_metadata",
    "user_id",
    "verify_email",
];

/// The properties of Auth0's `PATCH /api/v2/users/{id}` body the dev tenant takes.
const PATCH_FIELDS: &[&str] = &[
    "email",
    "email_verified",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "username",
    "blocked",
    "password",
    "app_metadata",
    "user_metadata",
    "connection",
    "phone_number",
    "verify_email",
];

const MIN_PASSWORD_CHARS: usize = 8;
const DEFAULT_PER_PAGE: usize = 50;
const MAX_PER_PAGE: usize = 100;

/// `GET /api/v2/users?q=&search_engine=v3&page=&per_page=&include_totals=`, in creation order.
pub(super) async fn list(AxState(s): St, RawQuery(query): RawQuery) -> Response {
    let (mut q, mut page, mut per_page, mut totals) = (None, 0usize, DEFAULT_PER_PAGE, false);
    let query = query.unwrap_or_default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "q" => q = Some(value),
            "search_engine" if value != "v3" => {
                return query_error(&format!("search_engine {value} is not supported, use v3"));
            }
            "page" => match value.parse() {
                Ok(n) => page = n,
                Err(_) => return query_error("page must be a non-negative integer"),
            },
            "per_page" => match value.parse() {
                Ok(n) if n <= MAX_PER_PAGE => per_page = n,
                _ => return query_error(&format!("per_page must be an integer from 0 to {MAX_PER_PAGE}")),
            },
            "include_totals" => totals = value == "true",
            _ => {}
        }
    }
    let search = match q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(lucene::parse).transpose() {
        Ok(search) => search,
        Err(why) => return query_error(&why),
    };
    let matched: Vec<Value> = s
        .users
        .read()
        .expect("not poisoned")
        .iter()
        .map(User::to_json)
        .filter(|u| search.as_ref().is_none_or(|search| lucene::matches(search, u)))
        .collect();
    let (total, start) = (matched.len(), page.saturating_mul(per_page));
    let users: Vec<Value> = matched.into_iter().skip(start).take(per_page).collect();
    if totals {
        let body = json!({"start": start, "limit": per_page, "length": users.len(), "total": total, "users": users});
        Json(body).into_response()
    } else {
        Json(users).into_response()
    }
}

/// `POST /api/v2/users` → `201` with the user.
pub(super) async fn create(AxState(s): St, body: Bytes) -> Response {
    let fields = match object_of(&body, CREATE_FIELDS) {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let Some(connection) = fields.get("connection").and_then(Value::as_str) else {
        return payload_error("Missing required property: connection");
    };
    if !s.connections.knows(connection) {
        return no_connection();
    }
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    let (email, phone, password) = (text("email").unwrap_or_default(), text("phone_number"), text("password"));
    if connection == "sms" && phone.is_none() {
        return payload_error("Missing required property: phone_number");
    }
    if connection != "sms" && email.is_empty() {
        return payload_error("Missing required property: email");
    }
    if let Some(refused) = check_email(email) {
        return refused;
    }
    if !is_passwordless(connection) {
        match password {
            None => return payload_error("Missing required property: password"),
            Some(p) if p.chars().count() < MIN_PASSWORD_CHARS => return weak_password(),
            Some(_) => {}
        }
    }
    let mut user = User::new(connection, email, phone);
    user.apply(&fields);
    if taken(&s.users.read().expect("not poisoned"), &user, None) {
        return conflict();
    }
    if let Some(password) = password {
        user.hash = match new_hash(&s, password).await {
            Ok(hash) => hash,
            Err(refused) => return refused,
        };
    }
    let mut all = s.users.write().expect("not poisoned");
    if taken(&all, &user, None) {
        return conflict();
    }
    let body = user.to_json();
    all.push(user);
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /api/v2/users/{id}`.
pub(super) async fn read(AxState(s): St, Path(id): Path<String>) -> Response {
    let all = s.users.read().expect("not poisoned");
    match index_of(&all, &id) {
        Some(i) => Json(all[i].to_json()).into_response(),
        None => no_user(),
    }
}

/// `PATCH /api/v2/users/{id}` → `200` with the updated user.
pub(super) async fn update(AxState(s): St, Path(id): Path<String>, body: Bytes) -> Response {
    let fields = match object_of(&body, PATCH_FIELDS) {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    if fields.get("connection").and_then(Value::as_str).is_some_and(|c| !s.connections.knows(c)) {
        return no_connection();
    }
    if let Some(refused) = fields.get("email").and_then(Value::as_str).and_then(check_email) {
        return refused;
    }
    if index_of(&s.users.read().expect("not poisoned"), &id).is_none() {
        return no_user();
    }
    let hash = match fields.get("password").and_then(Value::as_str) {
        Some(p) if p.chars().count() < MIN_PASSWORD_CHARS => return weak_password(),
        Some(p) => match new_hash(&s, p).await {
            Ok(hash) => Some(hash),
            Err(refused) => return refused,
        },
        None => None,
    };
    let mut all = s.users.write().expect("not poisoned");
    let Some(i) = index_of(&all, &id) else {
        return no_user();
    };
    let mut user = all[i].clone();
    user.apply(&fields);
    if let Some(hash) = hash {
        user.hash = hash;
    }
    user.updated_at = timestamp();
    if taken(&all, &user, Some(i)) {
        return conflict();
    }
    let body = user.to_json();
    let blocked = user.blocked && fields.get("blocked") == Some(&Value::Bool(true));
    let hex = user.id.clone();
    all[i] = user;
    drop(all);
    if blocked {
        log_out(&s, &hex);
    }
    Json(body).into_response()
}

/// `DELETE /api/v2/users/{id}` → `204`, whether the user existed or not (as Auth0). Its
/// sessions end and its refresh tokens stop working.
pub(super) async fn remove(AxState(s): St, Path(id): Path<String>) -> Response {
    if let Some(hex) = id.strip_prefix("auth0|") {
        s.users.write().expect("not poisoned").retain(|u| u.id != hex);
        log_out(&s, hex);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// A user blocked or deleted: its refresh tokens go, its sessions end (sending their
/// back-channel logouts).
fn log_out(s: &State, hex: &str) {
    s.refresh.lock().expect("not poisoned").forget_user(hex);
    sessions::end_user(s, hex);
}

/// The body as a JSON object of `allowed` properties of the right types, or Auth0's 400.
/// (The refusal is boxed: a `Response` is large.)
fn object_of(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, Box<Response>> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "Invalid request payload JSON format",
            "invalid_body",
        )));
    };
    let kind = type_name(&value);
    let Value::Object(fields) = value else {
        return Err(Box::new(payload_error(&format!("Expected type object but found type {kind}"))));
    };
    for (key, value) in &fields {
        if !allowed.contains(&key.as_str()) {
            return Err(Box::new(payload_error(&format!("Additional properties not allowed: {key}"))));
        }
        if let Some(Err(why)) = check_type(key, value) {
            return Err(Box::new(payload_error(&format!("{why} on property {key}"))));
        }
    }
    Ok(fields)
}

fn check_email(email: &str) -> Option<Response> {
    (!email.is_empty() && !email.contains('@'))
        .then(|| payload_error(&format!("Object didn't pass validation for format email: {email}")))
}

/// Hash a new password off the async threads.
async fn new_hash(s: &Arc<State>, password: &str) -> Result<String, Response> {
    let (state, password) = (s.clone(), password.to_string());
    match tokio::task::spawn_blocking(move || hash_password(&state.argon, &password)).await {
        Ok(Ok(hash)) => Ok(hash),
        _ => Err(api_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "internal_error")),
    }
}

/// The position of the user with this id (`auth0|<hex>`).
fn index_of(all: &[User], user_id: &str) -> Option<usize> {
    let hex = user_id.strip_prefix("auth0|")?;
    all.iter().position(|u| u.id == hex)
}

/// Whether another user (not the one at `except`) has `user`'s id, or its login name on its
/// connection.
fn taken(all: &[User], user: &User, except: Option<usize>) -> bool {
    let logins: Vec<String> =
        [Some(&user.email), user.phone_number.as_ref()].into_iter().flatten().map(|l| l.to_lowercase()).collect();
    all.iter().enumerate().filter(|(i, _)| Some(*i) != except).any(|(_, u)| {
        u.id == user.id || (u.connection == user.connection && logins.iter().any(|l| !l.is_empty() && u.is_named(l)))
    })
}

fn query_error(detail: &str) -> Response {
    let message = format!("Query validation error: '{detail}'.");
    api_error(StatusCode::BAD_REQUEST, &message, "invalid_query_string")
}

fn weak_password() -> Response {
    api_error(StatusCode::BAD_REQUEST, "PasswordStrengthError: Password is too weak", "invalid_password")
}

fn conflict() -> Response {
    api_error(StatusCode::CONFLICT, "The user already exists.", "auth0_idp_error")
}

fn no_user() -> Response {
    api_error(StatusCode::NOT_FOUND, "The user does not exist.", "inexistent_user")
}
