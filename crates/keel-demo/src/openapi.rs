//! The OpenAPI 3.1.0 document of the demo API, served at `/openapi.json`.
//!
//! The document is written by hand. The `apiKey` security scheme (header
//! `API-Key`) is declared in `components.securitySchemes` for the signed
//! endpoints; their paths are added by whoever adds the routes, with
//! [`crate::DemoServerBuilder::openapi_extension`].

use serde_json::{json, Map, Value};

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn resp(description: &str, schema_name: &str) -> Value {
    json!({ "description": description, "content": json_content(schema_ref(schema_name)) })
}

fn error(description: &str) -> Value {
    resp(description, "Error")
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema })
}

fn header_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "header", "required": false, "description": description, "schema": { "type": "string" } })
}

fn int(min: i64, max: Option<i64>) -> Value {
    let mut s = json!({ "type": "integer", "format": "int64", "minimum": min });
    if let Some(max) = max {
        s["maximum"] = json!(max);
    }
    s
}

fn fault_params(extra: Vec<Value>) -> Value {
    let mut params = vec![
        header_param(
            "X-Fault-Key",
            "Groups requests for counting; wins over the `key` query parameter.",
        ),
        query(
            "key",
            "Fault key (when no X-Fault-Key header).",
            json!({ "type": "string" }),
        ),
        header_param(
            "Idempotency-Key",
            "Counted per value and recorded in /fault/arrivals.",
        ),
    ];
    params.extend(extra);
    Value::Array(params)
}

fn times_param(default: &str) -> Value {
    query(
        "times",
        &format!("How many arrivals (for this key) get the fault; default {default}."),
        int(0, None),
    )
}

/// A fault path item with the same operation for GET and POST.
fn fault_path(op_id: &str, summary: &str, params: Vec<Value>, responses: Value) -> Value {
    let op = |method_suffix: &str, with_body: bool| {
        let mut op = json!({
            "operationId": format!("{op_id}{method_suffix}"),
            "tags": ["faults"],
            "summary": summary,
            "responses": responses.clone(),
        });
        if with_body {
            op["requestBody"] = json!({
                "required": false,
                "description": "Read in full, then ignored.",
                "content": json_content(json!({})),
            });
        }
        op
    };
    json!({
        "parameters": fault_params(params),
        "get": op("", false),
        "post": op("Post", true),
    })
}

fn echo_op(op_id: &str, with_body: bool) -> Value {
    let mut op = json!({
        "operationId": op_id,
        "tags": ["echo"],
        "summary": "Describe the request exactly as it arrived",
        "responses": { "200": resp("What arrived", "Echo") },
    });
    if with_body {
        op["requestBody"] = json!({
            "required": false,
            "content": json_content(json!({})),
        });
    }
    op
}

fn components() -> Value {
    json!({
        "schemas": {
            "Health": {
                "type": "object",
                "required": ["status"],
                "properties": { "status": { "type": "string", "enum": ["ok"] } }
            },
            "BenchItem": {
                "type": "object",
                "required": ["id", "name", "price", "tags", "in_stock", "note"],
                "properties": {
                    "id": { "type": "integer", "format": "int64" },
                    "name": { "type": "string" },
                    "price": { "type": "number", "format": "double" },
                    "tags": { "type": "array", "items": { "type": "string" } },
                    "in_stock": { "type": "boolean" },
                    "note": { "type": "string" }
                }
            },
            "BenchReceived": {
                "type": "object",
                "required": ["received"],
                "properties": { "received": { "type": "integer", "format": "int64", "minimum": 0 } }
            },
            "Item": {
                "type": "object",
                "required": ["id", "name", "price", "tags"],
                "properties": {
                    "id": { "type": "integer", "format": "int64", "minimum": 1 },
                    "name": { "type": "string" },
                    "price": { "type": "number", "format": "double", "minimum": 0 },
                    "tags": { "type": "array", "items": { "type": "string" } }
                }
            },
            "NewItem": {
                "type": "object",
                "required": ["name", "price"],
                "properties": {
                    "name": { "type": "string", "minLength": 1 },
                    "price": { "type": "number", "format": "double", "minimum": 0 },
                    "tags": { "type": "array", "items": { "type": "string" } }
                }
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": { "error": { "type": "string" } }
            },
            "Echo": {
                "type": "object",
                "required": ["method", "path", "query_pairs", "headers", "cookies", "body", "body_base64", "body_length", "version"],
                "properties": {
                    "method": { "type": "string" },
                    "path": { "type": "string", "description": "Raw path, still percent-encoded." },
                    "query": { "type": "string", "description": "Raw query string; absent when the URL had none." },
                    "query_pairs": {
                        "type": "array",
                        "description": "Decoded query pairs in order, each [name, value].",
                        "items": { "type": "array", "items": { "type": "string" }, "minItems": 2, "maxItems": 2 }
                    },
                    "headers": {
                        "type": "object",
                        "description": "Lower-case header name to all its values, in order.",
                        "additionalProperties": { "type": "array", "items": { "type": "string" } }
                    },
                    "cookies": {
                        "type": "object",
                        "description": "Cookies from the Cookie headers.",
                        "additionalProperties": { "type": "string" }
                    },
                    "body": { "type": "string", "description": "The body as UTF-8 (lossy)." },
                    "body_base64": { "type": "string", "description": "The body, base64 (standard alphabet, padded)." },
                    "body_length": { "type": "integer", "format": "int64", "minimum": 0 },
                    "content_type": { "type": "string" },
                    "content_length": { "type": "integer", "format": "int64", "minimum": 0 },
                    "version": { "type": "string" }
                }
            },
            "Redirect": {
                "type": "object",
                "required": ["location"],
                "properties": { "location": { "type": "string" } }
            },
            "Slow": {
                "type": "object",
                "required": ["slept_ms"],
                "properties": { "slept_ms": { "type": "integer", "format": "int64", "minimum": 0 } }
            },
            "StatusBody": {
                "type": "object",
                "required": ["status"],
                "properties": { "status": { "type": "integer", "format": "int32" } }
            },
            "Message": {
                "type": "object",
                "required": ["message"],
                "properties": { "message": { "type": "string" } }
            },
            "FaultOk": {
                "type": "object",
                "required": ["ok", "arrival"],
                "properties": {
                    "ok": { "type": "boolean" },
                    "arrival": { "type": "integer", "format": "int64", "minimum": 1 }
                }
            },
            "FaultDelayed": {
                "type": "object",
                "required": ["ok", "arrival", "delayed_ms"],
                "properties": {
                    "ok": { "type": "boolean" },
                    "arrival": { "type": "integer", "format": "int64", "minimum": 1 },
                    "delayed_ms": { "type": "integer", "format": "int64", "minimum": 0 }
                }
            },
            "FaultError": {
                "type": "object",
                "required": ["error", "arrival"],
                "properties": {
                    "error": { "type": "string" },
                    "arrival": { "type": "integer", "format": "int64", "minimum": 1 }
                }
            },
            "RateLimited": {
                "type": "object",
                "required": ["error", "arrival", "retry_after"],
                "properties": {
                    "error": { "type": "string" },
                    "arrival": { "type": "integer", "format": "int64", "minimum": 1 },
                    "retry_after": { "type": "string", "description": "The Retry-After header value." }
                }
            },
            "Arrivals": {
                "type": "object",
                "required": ["key", "arrivals", "idempotency_keys", "by_idempotency_key"],
                "properties": {
                    "key": { "type": "string" },
                    "arrivals": { "type": "integer", "format": "int64", "minimum": 0 },
                    "idempotency_keys": { "type": "array", "items": { "type": "string" } },
                    "by_idempotency_key": {
                        "type": "object",
                        "additionalProperties": { "type": "integer", "format": "int64", "minimum": 1 }
                    }
                }
            },
            "FaultReset": {
                "type": "object",
                "required": ["key", "reset"],
                "properties": { "key": { "type": "string" }, "reset": { "type": "boolean" } }
            }
        },
        "securitySchemes": {
            "apiKey": { "type": "apiKey", "in": "header", "name": "API-Key" }
        }
    })
}

fn paths() -> Value {
    let id_param = path_param("id", "Item id.", int(1, None));
    let location = json!({ "Location": { "description": "Where to go next.", "schema": { "type": "string" } } });
    let mut paths = Map::new();
    paths.insert(
        "/health".into(),
        json!({
            "get": {
                "operationId": "getHealth", "tags": ["meta"], "summary": "Liveness check",
                "responses": { "200": resp("The server is up", "Health") }
            }
        }),
    );
    paths.insert("/bench".into(), json!({
        "get": {
            "operationId": "getBench", "tags": ["meta"], "summary": "A small fixed JSON body, as cheap as possible",
            "responses": { "200": resp("A fixed item", "BenchItem") }
        },
        "post": {
            "operationId": "postBench", "tags": ["meta"],
            "summary": "Read a body and say how long it was, as cheaply as possible",
            "requestBody": { "required": false, "content": json_content(json!({})) },
            "responses": { "200": resp("How many body bytes arrived", "BenchReceived") }
        }
    }));
    paths.insert("/openapi.json".into(), json!({
        "get": {
            "operationId": "getOpenApi", "tags": ["meta"], "summary": "This document",
            "responses": { "200": { "description": "The OpenAPI document", "content": json_content(json!({ "type": "object" })) } }
        }
    }));
    paths.insert("/items".into(), json!({
        "get": {
            "operationId": "listItems", "tags": ["items"], "summary": "List items in id order",
            "parameters": [query("limit", "Return at most this many items.", int(0, None))],
            "responses": {
                "200": { "description": "The items", "content": json_content(json!({ "type": "array", "items": schema_ref("Item") })) },
                "400": error("Malformed `limit`")
            }
        },
        "post": {
            "operationId": "createItem", "tags": ["items"], "summary": "Create an item",
            "requestBody": { "required": true, "content": json_content(schema_ref("NewItem")) },
            "responses": {
                "201": { "description": "Created", "headers": { "Location": { "description": "The new item's path.", "schema": { "type": "string" } } }, "content": json_content(schema_ref("Item")) },
                "400": error("Malformed JSON"),
                "422": error("Empty name or negative price")
            }
        }
    }));
    paths.insert("/items/{id}".into(), json!({
        "parameters": [id_param],
        "get": {
            "operationId": "getItem", "tags": ["items"], "summary": "Get one item",
            "responses": { "200": resp("The item", "Item"), "400": error("Malformed id"), "404": error("No such item") }
        },
        "put": {
            "operationId": "updateItem", "tags": ["items"], "summary": "Replace an item",
            "requestBody": { "required": true, "content": json_content(schema_ref("NewItem")) },
            "responses": {
                "200": resp("The updated item", "Item"),
                "400": error("Malformed id or JSON"),
                "404": error("No such item"),
                "422": error("Empty name or negative price")
            }
        },
        "delete": {
            "operationId": "deleteItem", "tags": ["items"], "summary": "Delete an item",
            "responses": { "204": { "description": "Deleted" }, "400": error("Malformed id"), "404": error("No such item") }
        }
    }));
    paths.insert(
        "/echo".into(),
        json!({
            "get": echo_op("echoGet", false),
            "post": echo_op("echoPost", true),
            "put": echo_op("echoPut", true),
            "patch": echo_op("echoPatch", true),
            "delete": echo_op("echoDelete", false),
        }),
    );
    paths.insert("/echo/{rest}".into(), json!({
        "parameters": [path_param("rest", "Any path (the server accepts several segments).", json!({ "type": "string" }))],
        "get": echo_op("echoPathGet", false),
        "post": echo_op("echoPathPost", true),
    }));
    let redirect_status = query(
        "status",
        "Redirect status, 300..=399; default 302.",
        int(300, Some(399)),
    );
    paths.insert("/redirect".into(), json!({
        "get": {
            "operationId": "redirect", "tags": ["redirects"], "summary": "Redirect to `to`",
            "parameters": [
                query("to", "Absolute or relative target; default /echo.", json!({ "type": "string" })),
                redirect_status.clone()
            ],
            "responses": {
                "3XX": { "description": "Redirect", "headers": location.clone(), "content": json_content(schema_ref("Redirect")) },
                "400": error("Bad status or target")
            }
        }
    }));
    paths.insert("/redirect/{n}".into(), json!({
        "get": {
            "operationId": "redirectChain", "tags": ["redirects"], "summary": "A chain of n redirects ending at /echo",
            "parameters": [path_param("n", "Hops left.", int(1, Some(100))), redirect_status],
            "responses": {
                "3XX": { "description": "Redirect to /redirect/{n-1}, or /echo when n is 1", "headers": location, "content": json_content(schema_ref("Redirect")) },
                "400": error("Bad hop count or status")
            }
        }
    }));
    paths.insert("/slow".into(), json!({
        "get": {
            "operationId": "getSlow", "tags": ["timing"], "summary": "Wait, then answer",
            "parameters": [query("ms", "Milliseconds to wait (capped at 60000).", int(0, Some(60_000)))],
            "responses": { "200": resp("Waited", "Slow"), "400": error("Malformed `ms`") }
        }
    }));
    paths.insert("/status/{code}".into(), json!({
        "get": {
            "operationId": "getStatus", "tags": ["status"], "summary": "Answer with exactly this status",
            "parameters": [path_param("code", "Status code, 200..=999 (non-IANA codes such as 520 included).", int(200, Some(999)))],
            "responses": { "default": resp("The requested status (no body for 204, 205 and 304)", "StatusBody") }
        }
    }));
    paths.insert(
        "/undocumented".into(),
        json!({
            "get": {
                "operationId": "getUndocumented", "tags": ["status"],
                "summary": "Documented as 200 only; really answers another status",
                "responses": { "200": resp("A message", "Message") }
            }
        }),
    );

    let ok = |d: &str| json!({ "200": resp(d, "FaultOk") });
    paths.insert(
        "/fault/fail".into(),
        fault_path(
            "faultFail",
            "The first `times` arrivals answer `status`, later ones 200",
            vec![
                times_param("1"),
                query(
                    "status",
                    "Status of the failures; default 503.",
                    int(200, Some(999)),
                ),
            ],
            json!({
                "200": resp("Past the failures", "FaultOk"),
                "503": resp("Injected failure", "FaultError"),
                "default": resp("Injected failure with the requested status", "FaultError")
            }),
        ),
    );
    paths.insert("/fault/retry-after".into(), fault_path(
        "faultRetryAfter",
        "The first `times` arrivals answer 429 with Retry-After, later ones 200",
        vec![
            times_param("1"),
            query("seconds", "Retry-After delay in seconds; default 1.", int(0, Some(86_400))),
            query("form", "`seconds` (default) or `date` (an HTTP-date that far in the future, rounded up to a whole second).", json!({ "type": "string", "enum": ["seconds", "date"] })),
        ],
        json!({
            "200": resp("Past the rate limit", "FaultOk"),
            "429": {
                "description": "Injected rate limit",
                "headers": { "Retry-After": { "description": "Seconds, or an HTTP-date.", "schema": { "type": "string" } } },
                "content": json_content(schema_ref("RateLimited"))
            }
        }),
    ));
    paths.insert(
        "/fault/delay".into(),
        fault_path(
            "faultDelay",
            "The first `times` arrivals (default all) wait `ms` before answering",
            vec![
                times_param("all"),
                query(
                    "ms",
                    "Milliseconds to wait (capped at 60000).",
                    int(0, Some(60_000)),
                ),
            ],
            json!({ "200": resp("Answered, perhaps late", "FaultDelayed") }),
        ),
    );
    paths.insert(
        "/fault/close".into(),
        fault_path(
            "faultClose",
            "The first `times` arrivals get the connection closed without any response",
            vec![times_param("1")],
            ok("Past the closed connections"),
        ),
    );
    paths.insert("/fault/reset-mid-body".into(), fault_path(
        "faultResetMidBody",
        "The first `times` arrivals get a 200 head and half the body, then the connection is dropped",
        vec![times_param("1")],
        ok("Past the truncated bodies"),
    ));
    paths.insert(
        "/fault/flap".into(),
        fault_path(
            "faultFlap",
            "Alternates `period` failures (503) and `period` successes, failures first",
            vec![query(
                "period",
                "Length of each run; default 1.",
                int(1, None),
            )],
            json!({ "200": resp("A success", "FaultOk"), "503": resp("A failure", "FaultError") }),
        ),
    );
    paths.insert(
        "/fault/arrivals".into(),
        json!({
            "get": {
                "operationId": "getFaultArrivals", "tags": ["faults"],
                "summary": "What arrived under /fault/ for a key (this request is not counted)",
                "parameters": [
                    header_param("X-Fault-Key", "Fault key; wins over the `key` query parameter."),
                    query("key", "Fault key.", json!({ "type": "string" }))
                ],
                "responses": { "200": resp("The counters", "Arrivals") }
            }
        }),
    );
    paths.insert("/fault/reset".into(), json!({
        "post": {
            "operationId": "resetFault", "tags": ["faults"], "summary": "Forget a key's counters",
            "parameters": [
                header_param("X-Fault-Key", "Fault key; wins over the `key` query parameter."),
                query("key", "Fault key.", json!({ "type": "string" }))
            ],
            "responses": { "200": resp("Reset", "FaultReset") }
        }
    }));
    Value::Object(paths)
}

/// The OpenAPI 3.1.0 document of the demo API (without `servers`, which
/// `/openapi.json` fills in from the request's host).
///
/// ```
/// let doc = keel_demo::openapi::document();
/// assert_eq!(doc["openapi"], "3.1.0");
/// assert_eq!(doc["paths"]["/items/{id}"]["get"]["operationId"], "getItem");
/// ```
pub fn document() -> Value {
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Keel demo API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The demo and fault-injection server used by Keel's tests, benchmarks and examples."
        },
        "tags": [
            { "name": "meta" }, { "name": "items" }, { "name": "echo" }, { "name": "redirects" },
            { "name": "timing" }, { "name": "status" }, { "name": "faults" }, { "name": "signed" },
            { "name": "sdk" }
        ],
        "paths": paths(),
        "components": components(),
    });
    merge(&mut doc, &crate::signed::openapi());
    merge(&mut doc, &crate::sdk::openapi());
    doc
}

/// Deep-merge `extension` into `base`: objects are merged key by key,
/// anything else in `extension` replaces what `base` had.
///
/// ```
/// use serde_json::json;
/// let mut doc = keel_demo::openapi::document();
/// keel_demo::openapi::merge(&mut doc, &json!({
///     "paths": { "/signed/whoami": { "get": { "operationId": "whoami", "responses": {} } } }
/// }));
/// assert!(doc["paths"]["/items"].is_object());
/// assert!(doc["paths"]["/signed/whoami"].is_object());
/// ```
pub fn merge(base: &mut Value, extension: &Value) {
    match (base, extension) {
        (Value::Object(base), Value::Object(ext)) => {
            for (k, v) in ext {
                match base.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (base, ext) => *base = ext.clone(),
    }
}
