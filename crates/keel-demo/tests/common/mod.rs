//! Helpers shared by the integration tests (reqwest is built without its
//! `json` feature in this workspace).

use serde_json::Value;

/// Read a response body as JSON.
#[allow(async_fn_in_trait, dead_code)]
pub trait RespJson {
    async fn json_value(self) -> Value;
}

impl RespJson for reqwest::Response {
    async fn json_value(self) -> Value {
        let bytes = self.bytes().await.unwrap();
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    }
}

/// Send a JSON body.
#[allow(dead_code)]
pub trait ReqJson {
    fn json_body(self, v: &Value) -> Self;
}

impl ReqJson for reqwest::RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(v.to_string())
    }
}
