//! The Management API's user import jobs: `POST /api/v2/jobs/users-imports` is answered at
//! once (`pending`); the rows are checked and applied in the background (`processing`, then
//! `completed` with a summary), and the failed rows kept for `GET /api/v2/jobs/{id}/errors`.

use super::common::{api_error, no_connection, payload_error};
use super::users::{check_type, timestamp, type_name, User};
use super::{header_pairs, Recorded, State};
use argon2::password_hash::PasswordHash;
use axum::extract::{FromRequest, Multipart, Path, Request, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type St = AxState<Arc<State>>;

/// The import jobs by id.
pub(crate) type Jobs = Mutex<HashMap<String, Job>>;

/// The properties of an import row (Auth0's import schema, the subset the dev tenant takes).
const ROW_FIELDS: &[&str] = &[
    "email",
    "email_verified",
    "user_id",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "blocked",
    "app_metadata",
    "user_metadata",
    "password_hash",
];

/// The time each of a job's two background steps takes.
const STEP: Duration = Duration::from_millis(50);

pub(crate) struct Job {
    id: String,
    status: &'static str,
    created_at: String,
    connection_id: String,
    connection: String,
    upsert: bool,
    external_id: Option<String>,
    send_completion_email: bool,
    summary: Option<Value>,
    /// `{user, errors}` for each failed row.
    errors: Vec<Value>,
}

impl Job {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "type": "users_import",
            "status": self.status,
            "created_at": self.created_at,
            "connection_id": self.connection_id,
            "connection": self.connection,
            "upsert": self.upsert,
            "send_completion_email": self.send_completion_email,
        });
        if let Some(external_id) = &self.external_id {
            v["external_id"] = json!(external_id);
        }
        if let Some(summary) = &self.summary {
            v["summary"] = summary.clone();
        }
        v
    }
}

/// `POST /api/v2/jobs/users-imports` (multipart/form-data: `users` file, `connection_id`,
/// `upsert`, `external_id`, `send_completion_email`) → `201` with the pending job.
pub(super) async fn import(AxState(s): St, req: Request) -> Response {
    let (path, query, headers) =
        (req.uri().path().to_string(), req.uri().query().unwrap_or_default().to_string(), req.headers().clone());
    let Ok(mut multipart) = Multipart::from_request(req, &()).await else {
        return payload_error("the body must be multipart/form-data");
    };
    let mut form: Vec<(String, String)> = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                match field.text().await {
                    Ok(text) => form.push((name, text)),
                    Err(_) => return payload_error("a form field could not be read"),
                }
            }
            Ok(None) => break,
            Err(_) => return payload_error("malformed multipart body"),
        }
    }
    if s.recorder.is_some() {
        s.record(Recorded { path, query, headers: header_pairs(&headers), params: form.clone() });
    }
    let get = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let Some(users) = get("users") else {
        return payload_error("Missing required property: users");
    };
    let Some(connection_id) = get("connection_id") else {
        return payload_error("Missing required property: connection_id");
    };
    let upsert = flag(get("upsert"), "upsert", false);
    let send = flag(get("send_completion_email"), "send_completion_email", true);
    let (upsert, send_completion_email) = match (upsert, send) {
        (Ok(upsert), Ok(send)) => (upsert, send),
        (Err(why), _) | (_, Err(why)) => return payload_error(&why),
    };
    let Some(connection) = s.connections.name_of(connection_id).map(str::to_string) else {
        return no_connection();
    };
    let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(users) else {
        return api_error(StatusCode::BAD_REQUEST, "Users file must be an array", "invalid_body");
    };
    let suffix: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(16).map(char::from).collect();
    let id = format!("job_{suffix}");
    let job = Job {
        id: id.clone(),
        status: "pending",
        created_at: timestamp(),
        connection_id: connection_id.to_string(),
        connection: connection.clone(),
        upsert,
        external_id: get("external_id").map(str::to_string),
        send_completion_email,
        summary: None,
        errors: Vec::new(),
    };
    let body = job.to_json();
    s.jobs.lock().expect("not poisoned").insert(id.clone(), job);
    tokio::spawn(run(s.clone(), id, connection, upsert, rows));
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /api/v2/jobs/{id}`.
pub(super) async fn status(AxState(s): St, Path(id): Path<String>) -> Response {
    let jobs = s.jobs.lock().expect("not poisoned");
    match jobs.get(&id) {
        Some(job) => Json(job.to_json()).into_response(),
        None => no_job(),
    }
}

/// `GET /api/v2/jobs/{id}/errors`: the failed rows, or `204` when there are none (yet).
pub(super) async fn errors(AxState(s): St, Path(id): Path<String>) -> Response {
    let jobs = s.jobs.lock().expect("not poisoned");
    match jobs.get(&id) {
        None => no_job(),
        Some(job) if job.errors.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Some(job) => Json(&job.errors).into_response(),
    }
}

fn no_job() -> Response {
    api_error(StatusCode::NOT_FOUND, "The job does not exist.", "inexistent_job")
}

/// A `"true"`/`"false"` form field (absent: `default`).
fn flag(value: Option<&str>, name: &str, default: bool) -> Result<bool, String> {
    match value {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(format!("Expected type boolean but found type string on property {name}")),
    }
}

/// The job's life: pending, processing, then completed with its summary.
async fn run(s: Arc<State>, id: String, connection: String, upsert: bool, rows: Vec<Value>) {
    tokio::time::sleep(STEP).await;
    update(&s, &id, |job| job.status = "processing");
    tokio::time::sleep(STEP).await;
    let (summary, errors) = apply(&s, &connection, upsert, rows);
    update(&s, &id, |job| {
        job.status = "completed";
        job.summary = Some(summary);
        job.errors = errors;
    });
}

fn update(s: &State, id: &str, change: impl FnOnce(&mut Job)) {
    if let Some(job) = s.jobs.lock().expect("not poisoned").get_mut(id) {
        change(job);
    }
}

enum Outcome {
    Inserted,
    Updated,
}

/// Apply every row: the summary, and `{user, errors}` for each failed row.
fn apply(s: &State, connection: &str, upsert: bool, rows: Vec<Value>) -> (Value, Vec<Value>) {
    let (total, mut inserted, mut updated) = (rows.len(), 0, 0);
    let mut failed = Vec::new();
    let mut all = s.users.write().expect("not poisoned");
    for row in rows {
        match import_row(&mut all, connection, upsert, &row) {
            Ok(Outcome::Inserted) => inserted += 1,
            Ok(Outcome::Updated) => updated += 1,
            Err(errors) => failed.push(json!({"user": row, "errors": errors})),
        }
    }
    let summary = json!({"failed": failed.len(), "updated": updated, "inserted": inserted, "total": total});
    (summary, failed)
}

fn import_row(all: &mut Vec<User>, connection: &str, upsert: bool, row: &Value) -> Result<Outcome, Vec<Value>> {
    let fields = check_row(row)?;
    let email = fields.get("email").and_then(Value::as_str).unwrap_or_default();
    let login = email.to_lowercase();
    let existing = all.iter().position(|u| u.connection == connection && u.is_named(&login));
    let mut user = match existing {
        Some(_) if !upsert => {
            let message = "The user already exist and upsert parameter is false";
            return Err(vec![row_error("DUPLICATED_USER", message, "")]);
        }
        Some(i) => all[i].clone(),
        None => User::new(connection, email, None),
    };
    user.apply(fields);
    if let Some(hash) = fields.get("password_hash").and_then(Value::as_str) {
        user.hash = hash.to_string();
    }
    user.updated_at = timestamp();
    match existing {
        Some(i) => {
            all[i] = user;
            Ok(Outcome::Updated)
        }
        None => {
            all.push(user);
            Ok(Outcome::Inserted)
        }
    }
}

/// The row's properties, or every reason it is refused.
fn check_row(row: &Value) -> Result<&Map<String, Value>, Vec<Value>> {
    let Some(fields) = row.as_object() else {
        let message = format!("Expected type object but found type {}", type_name(row));
        return Err(vec![row_error("INVALID_TYPE", &message, "")]);
    };
    let mut errors = Vec::new();
    for (key, value) in fields {
        if !ROW_FIELDS.contains(&key.as_str()) {
            let message = format!("Additional properties not allowed: {key}");
            errors.push(row_error("OBJECT_ADDITIONAL_PROPERTIES", &message, ""));
        } else if let Some(Err(why)) = check_type(key, value) {
            errors.push(row_error("INVALID_TYPE", &why, key));
        }
    }
    match fields.get("email") {
        None => errors.push(row_error("OBJECT_MISSING_REQUIRED_PROPERTY", "Missing required property: email", "")),
        Some(Value::String(email)) if !email.contains('@') => {
            let message = format!("Object didn't pass validation for format email: {email}");
            errors.push(row_error("INVALID_FORMAT", &message, "email"));
        }
        Some(_) => {}
    }
    if let Some(Value::String(hash)) = fields.get("password_hash") {
        if !hash.starts_with("$argon2") || PasswordHash::new(hash).is_err() {
            let message = "Object didn't pass validation for format password_hash: not an argon2 PHC string";
            errors.push(row_error("INVALID_FORMAT", message, "password_hash"));
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}

fn row_error(code: &str, message: &str, path: &str) -> Value {
    json!({"code": code, "message": message, "path": path})
}
