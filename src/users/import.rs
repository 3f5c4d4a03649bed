//! `POST /users/import`: Auth0's `POST /api/v2/jobs/users-imports` multipart body, except that
//! `connection_id` is refused and `connection` (a name the management block lists, else its
//! default) becomes the `connection_id` (as auth0-client does).

use crate::config::Management;
use crate::http::error::ApiError;
use bytes::Bytes;

/// Auth0 refuses users files over 500 KB; the gateway reads a little more than that.
pub(crate) const MAX_IMPORT_BYTES: usize = 512 * 1024;

/// A users import as the caller sent it, checked.
pub(crate) struct Import {
    users: Bytes,
    file_name: String,
    connection: String,
    upsert: Option<String>,
    external_id: Option<String>,
    send_completion_email: Option<String>,
}

fn bad(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::invalid_request(description)
}

fn boolean(name: &str, value: String) -> Result<String, ApiError> {
    match value.as_str() {
        "true" | "false" => Ok(value),
        _ => Err(bad(format!("{name} must be true or false"))),
    }
}

impl Import {
    /// Read the multipart body of an import request.
    pub(crate) async fn parse(content_type: Option<&str>, body: Bytes, m: &Management) -> Result<Self, ApiError> {
        let boundary = content_type
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| ApiError::new(415, "unsupported_media_type", "Send the import as multipart/form-data."))?;
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut form = multer::Multipart::new(stream, boundary);
        let malformed = |_| bad("the multipart body is malformed");
        let (mut users, mut file_name, mut connection) = (None, String::from("users.json"), None);
        let (mut upsert, mut external_id, mut send_completion_email) = (None, None, None);
        while let Some(field) = form.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or_default().to_string();
            if let Some(f) = field.file_name() {
                file_name = f.to_string();
            }
            let value = field.bytes().await.map_err(malformed)?;
            let text = || String::from_utf8(value.to_vec()).map_err(|_| bad(format!("{name} is not UTF-8 text")));
            let slot = match name.as_str() {
                "users" => {
                    if users.replace(value.clone()).is_some() {
                        return Err(bad("the users file is given more than once"));
                    }
                    continue;
                }
                "connection_id" => return Err(bad("connection_id is not accepted: name the connection instead")),
                "connection" => &mut connection,
                "upsert" => &mut upsert,
                "external_id" => &mut external_id,
                "send_completion_email" => &mut send_completion_email,
                other => return Err(bad(format!("unknown field {other:?}"))),
            };
            if slot.replace(text()?).is_some() {
                return Err(bad(format!("{name} is given more than once")));
            }
        }
        let users = users.ok_or_else(|| bad("the users file is required"))?;
        let connection = connection
            .or_else(|| m.default_connection.clone())
            .ok_or_else(|| bad("connection is required: no default connection is configured"))?;
        if m.connection_id(&connection).is_none() {
            return Err(bad(format!("connection {connection:?} has no connection id in management.connections")));
        }
        Ok(Import {
            users,
            file_name,
            connection,
            upsert: upsert.map(|v| boolean("upsert", v)).transpose()?,
            external_id,
            send_completion_email: send_completion_email.map(|v| boolean("send_completion_email", v)).transpose()?,
        })
    }

    /// The tenant's multipart form, with the connection's id.
    pub(crate) fn form(&self, m: &Management) -> Result<reqwest::multipart::Form, ApiError> {
        let id = m.connection_id(&self.connection).ok_or_else(|| bad("unknown connection"))?;
        let file = reqwest::multipart::Part::bytes(self.users.to_vec())
            .file_name(self.file_name.clone())
            .mime_str("application/json")
            .map_err(|_| bad("the users file could not be sent"))?;
        let mut form = reqwest::multipart::Form::new().part("users", file).text("connection_id", id.to_string());
        for (name, value) in [
            ("upsert", &self.upsert),
            ("external_id", &self.external_id),
            ("send_completion_email", &self.send_completion_email),
        ] {
            if let Some(v) = value {
                form = form.text(name, v.clone());
            }
        }
        Ok(form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn management() -> Management {
        Management {
            url: url::Url::parse("https://t.example/api/v2").unwrap(),
            audience: "https://t.example/api/v2/".into(),
            client_id: "m2m".into(),
            client_secret: crate::config::Secret("s".into()),
            default_connection: Some("db1".into()),
            connections: vec![("db1".into(), "con_1".into()), ("db2".into(), "con_2".into())],
        }
    }

    fn body(fields: &[(&str, &str)]) -> (String, Bytes) {
        let mut b = String::new();
        for (name, value) in fields {
            let file = if *name == "users" { "; filename=\"u.json\"" } else { "" };
            b.push_str(&format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{value}\r\n"));
        }
        b.push_str("--XyZ--\r\n");
        ("multipart/form-data; boundary=XyZ".into(), Bytes::from(b))
    }

    async fn parse(fields: &[(&str, &str)]) -> Result<Import, u16> {
        let (ct, b) = body(fields);
        Import::parse(Some(&ct), b, &management()).await.map_err(|e| e.status)
    }

    #[tokio::test]
    async fn the_connection_name_becomes_its_id() {
        let i = parse(&[("users", "[]"), ("connection", "db2"), ("upsert", "true")]).await.unwrap();
        assert_eq!(i.connection, "db2");
        assert_eq!(i.upsert.as_deref(), Some("true"));
        assert_eq!(i.file_name, "u.json");
        let i = parse(&[("users", "[]")]).await.unwrap();
        assert_eq!(i.connection, "db1", "the default");
    }

    #[tokio::test]
    async fn what_auth0_client_forbids_is_refused() {
        assert_eq!(parse(&[("users", "[]"), ("connection_id", "con_1")]).await.err(), Some(400));
        assert_eq!(parse(&[("users", "[]"), ("connection", "other")]).await.err(), Some(400));
        assert_eq!(parse(&[("connection", "db1")]).await.err(), Some(400), "no users file");
        assert_eq!(parse(&[("users", "[]"), ("upsert", "yes")]).await.err(), Some(400));
        assert_eq!(parse(&[("users", "[]"), ("what", "x")]).await.err(), Some(400));
        assert_eq!(parse(&[("users", "[]"), ("connection", "db1"), ("connection", "db2")]).await.err(), Some(400));
        assert_eq!(parse(&[("users", "[]"), ("users", "[]")]).await.err(), Some(400), "one users file");
        let e = Import::parse(Some("application/json"), Bytes::from("[]"), &management()).await.err().unwrap();
        assert_eq!(e.status, 415);
        let e =
            Import::parse(Some("multipart/form-data; boundary=XyZ"), Bytes::from("--XyZ\r\ngarbage"), &management())
                .await
                .err()
                .unwrap();
        assert_eq!(e.status, 400);
    }
}
