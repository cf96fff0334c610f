//! A revealed secret as people use it: a database's credentials document (`username`,
//! `password`, `host`, `port`, `database`, as `builtin:postgres` seals it) becomes its fields
//! plus a connection string and a `psql` command ready to paste; anything else is shown as
//! written (JSON pretty-printed).

use minijinja::Value;
use serde_json::Value as Json;

/// The template context of `revealed.html` for a secret's `value`.
pub(crate) fn view(value: &str) -> Value {
    let parsed: Option<Json> = serde_json::from_str(value).ok();
    let database = parsed.as_ref().and_then(database_credentials);
    let shown = parsed
        .as_ref()
        .and_then(|v| serde_json::to_string_pretty(v).ok())
        .unwrap_or_else(|| value.to_string());
    minijinja::context! { database, shown }
}

/// A PostgreSQL credentials document's fields and the two ways to connect with them.
#[derive(serde::Serialize)]
struct Database {
    username: String,
    password: String,
    host: String,
    port: u64,
    database: String,
    url: String,
    psql: String,
}

fn database_credentials(value: &Json) -> Option<Database> {
    let text = |key: &str| value.get(key).and_then(Json::as_str).map(str::to_string);
    let username = text("username").or_else(|| text("user"))?;
    let password = text("password")?;
    let host = text("host")?;
    let database = text("database").or_else(|| text("dbname"))?;
    let port = value.get("port").and_then(Json::as_u64).unwrap_or(5432);
    // Userinfo and path percent-encoded, as libpq parses a URI.
    let url = format!(
        "postgresql://{}:{}@{}:{port}/{}",
        encode(&username),
        encode(&password),
        host_part(&host),
        encode(&database)
    );
    let psql = format!("psql '{url}'");
    Some(Database {
        username,
        password,
        host,
        port,
        database,
        url,
        psql,
    })
}

/// An IPv6 address in a URI is bracketed.
fn host_part(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_document_gives_a_connection_string_libpq_reads() {
        let value = r#"{"username":"orders_dev","password":"p@ss/w'rd","host":"127.0.0.1","port":5432,"database":"orders_dev"}"#;
        let db = database_credentials(&serde_json::from_str(value).unwrap()).unwrap();
        assert_eq!(
            db.url,
            "postgresql://orders_dev:p%40ss%2Fw%27rd@127.0.0.1:5432/orders_dev"
        );
        assert_eq!(
            db.psql,
            format!("psql '{}'", db.url),
            "no quote can end the argument"
        );
        assert!(database_credentials(&serde_json::json!({"token": "x"})).is_none());
    }
}
