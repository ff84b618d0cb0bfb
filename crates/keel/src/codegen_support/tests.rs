use serde_json::json;

use super::form::form_text;
use super::*;

fn pairs(name: &str, v: serde_json::Value, style: Style, explode: bool) -> Vec<(String, String)> {
    style_pairs(name, &v, style, explode).unwrap()
}

fn p(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn query_styles_follow_the_openapi_table() {
    let arr = json!(["blue", "black", "brown"]);
    let obj = json!({"R": 100, "G": 200, "B": 150});
    assert_eq!(
        pairs("color", json!("blue"), Style::Form, true),
        p(&[("color", "blue")])
    );
    assert_eq!(
        pairs("color", arr.clone(), Style::Form, true),
        p(&[("color", "blue"), ("color", "black"), ("color", "brown")])
    );
    assert_eq!(
        pairs("color", arr.clone(), Style::Form, false),
        p(&[("color", "blue,black,brown")])
    );
    assert_eq!(
        pairs("color", arr.clone(), Style::SpaceDelimited, false),
        p(&[("color", "blue black brown")])
    );
    assert_eq!(
        pairs("color", arr, Style::PipeDelimited, false),
        p(&[("color", "blue|black|brown")])
    );
    assert_eq!(
        pairs("color", obj.clone(), Style::Form, true),
        p(&[("R", "100"), ("G", "200"), ("B", "150")])
    );
    assert_eq!(
        pairs("color", obj.clone(), Style::Form, false),
        p(&[("color", "R,100,G,200,B,150")])
    );
    assert_eq!(
        pairs("color", obj, Style::DeepObject, true),
        p(&[
            ("color[R]", "100"),
            ("color[G]", "200"),
            ("color[B]", "150")
        ])
    );
    // null is an empty value, never a dropped parameter
    assert_eq!(pairs("q", json!(null), Style::Form, true), p(&[("q", "")]));
    // nested deeper than the style describes: JSON text, nothing lost
    assert_eq!(
        pairs("q", json!([{"a": 1}]), Style::Form, true),
        p(&[("q", "{\"a\":1}")])
    );
}

#[test]
fn path_and_header_styles() {
    let arr = json!(["blue", "black"]);
    let obj = json!({"R": 100, "G": 200});
    let v = |v: &serde_json::Value, s, e| style_value("color", v, s, e).unwrap();
    assert_eq!(v(&json!(5), Style::Simple, false), "5");
    assert_eq!(v(&arr, Style::Simple, false), "blue,black");
    assert_eq!(v(&obj, Style::Simple, false), "R,100,G,200");
    assert_eq!(v(&obj, Style::Simple, true), "R=100,G=200");
    assert_eq!(v(&arr, Style::Label, false), ".blue,black");
    assert_eq!(v(&arr, Style::Label, true), ".blue.black");
    assert_eq!(v(&json!(5), Style::Matrix, false), ";color=5");
    assert_eq!(v(&arr, Style::Matrix, true), ";color=blue;color=black");
    assert_eq!(v(&obj, Style::Matrix, true), ";R=100;G=200");
}

#[test]
fn form_bodies_follow_their_encoding_like_stripe_expects() {
    let body = json!({
        "customer": "cus_1",
        "expand": ["customer", "invoice"],
        "metadata": {"order": "6735", "note": "a b&c"},
        "items": [{"price": "p_1", "quantity": 2}],
        "tags": ["x", "y"],
    });
    let enc = [
        Encoding {
            property: "expand",
            style: Style::DeepObject,
            explode: true,
        },
        Encoding {
            property: "metadata",
            style: Style::DeepObject,
            explode: true,
        },
        Encoding {
            property: "items",
            style: Style::DeepObject,
            explode: true,
        },
    ];
    let text = form_text(&body, &enc).unwrap();
    let decoded: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect();
    let mut got = decoded.clone();
    got.sort();
    let mut want = p(&[
        ("customer", "cus_1"),
        ("expand[0]", "customer"),
        ("expand[1]", "invoice"),
        ("metadata[order]", "6735"),
        ("metadata[note]", "a b&c"),
        ("items[0][price]", "p_1"),
        ("items[0][quantity]", "2"),
        ("tags", "x"),
        ("tags", "y"),
    ]);
    want.sort();
    assert_eq!(got, want, "{text}");
    assert!(text.contains("metadata%5Bnote%5D=a+b%26c"), "{text}");
    // not an object: an error that says so, not an empty body
    let err = form_text(&json!([1, 2]), &[]).unwrap_err().to_string();
    assert!(err.contains("must be an object"), "{err}");
}

#[test]
fn values_that_cannot_be_serialized_are_errors_naming_the_parameter() {
    struct Bad;
    impl serde::Serialize for Bad {
        fn serialize<S: serde::Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no way"))
        }
    }
    let client = crate::HttpClient::new("http://127.0.0.1:9").unwrap();
    let err = query(client.get("/x"), "limit", &Bad, Style::Form, true)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("\"limit\"") && err.contains("no way"), "{err}");
    let err = path(client.get("/x/{id}"), "id", &"", Style::Simple, false)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("empty"), "{err}");
    let err = cookie_header(client.get("/x"), "a=1; junk")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("junk"), "{err}");
}

#[test]
fn optional_nullable_fields_keep_three_states() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Patch {
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        name: Option<Option<String>>,
    }
    let absent: Patch = serde_json::from_str("{}").unwrap();
    let null: Patch = serde_json::from_str(r#"{"name": null}"#).unwrap();
    let set: Patch = serde_json::from_str(r#"{"name": "x"}"#).unwrap();
    assert_eq!(absent.name, None);
    assert_eq!(null.name, Some(None));
    assert_eq!(set.name, Some(Some("x".into())));
    assert_eq!(serde_json::to_string(&absent).unwrap(), "{}");
    assert_eq!(serde_json::to_string(&null).unwrap(), r#"{"name":null}"#);
}

#[test]
fn the_unexpected_status_error_never_shows_the_query() {
    let url = url::Url::parse("http://127.0.0.1:9/thing?api_key=s3cr3t-key&x=1").unwrap();
    let resp = Response::<()>::raw(
        http::StatusCode::IM_A_TEAPOT,
        http::HeaderMap::new(),
        bytes::Bytes::from_static(b"short and stout"),
        url,
    );
    let e = unexpected(&resp);
    let text = format!("{e} {e:?}");
    assert!(!text.contains("s3cr3t-key"), "{text}");
    assert!(text.contains("/thing") && text.contains("418"), "{text}");
    assert_eq!(e.status(), Some(http::StatusCode::IM_A_TEAPOT));
}

#[test]
fn schema_less_bodies_are_any_json_or_nothing() {
    let url = url::Url::parse("http://127.0.0.1:9/x").unwrap();
    let empty = Response::<()>::raw(
        http::StatusCode::NO_CONTENT,
        http::HeaderMap::new(),
        bytes::Bytes::new(),
        url.clone(),
    );
    assert_eq!(any_json(&empty).unwrap(), None);
    let some = Response::<()>::raw(
        http::StatusCode::OK,
        http::HeaderMap::new(),
        bytes::Bytes::from_static(b"{\"a\":1}"),
        url,
    );
    assert_eq!(any_json(&some).unwrap(), Some(json!({"a": 1})));
}
