//! The corpus placeholders: committed `input.json` files name the stand-in's port and CA by
//! placeholders, which a harness fills in before the run and puts back in the report after it
//! (the originals' failure reports echo the input), so goldens do not depend on the run.

use serde_json::Value;

use crate::Running;

/// Stands for the stand-in's port, in `config.proxy.https` = `http://127.0.0.1:STANDIN_PORT`.
pub const PORT: &str = "STANDIN_PORT";

/// Stands for the whole of `config.cacerts`: the stand-in's CA in PEM.
pub const CA_PEM: &str = "STANDIN_CA_PEM";

/// `value` with [`PORT`] replaced by `running`'s port inside every string, and every string
/// equal to [`CA_PEM`] replaced by its CA.
pub fn fill(value: &Value, running: &Running) -> Value {
    let port = running.addr().port().to_string();
    map_strings(value, &|s| {
        if s == CA_PEM {
            running.ca_pem().to_owned()
        } else {
            s.replace(PORT, &port)
        }
    })
}

/// The inverse of [`fill`] for a report: every string equal to `running`'s CA becomes
/// [`CA_PEM`], and `127.0.0.1:<port>` inside any string becomes `127.0.0.1:STANDIN_PORT`.
pub fn restore(value: &Value, running: &Running) -> Value {
    let addr = format!("127.0.0.1:{}", running.addr().port());
    let placeholder = format!("127.0.0.1:{PORT}");
    map_strings(value, &|s| {
        if s == running.ca_pem() {
            CA_PEM.to_owned()
        } else {
            s.replace(&addr, &placeholder)
        }
    })
}

fn map_strings(value: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), map_strings(v, f)))
                .collect(),
        ),
        other => other.clone(),
    }
}
