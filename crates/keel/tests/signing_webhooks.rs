//! Webhook verification against each provider's published test vector (or
//! an independent computation where none is published), and every
//! rejection reason.
//!
//! Every test runs under the shared secret scan (tests/common/secrets.rs):
//! no verifier, result, rejection, error or log line shows a webhook secret
//! (as given, or the key bytes a `whsec_` secret decodes to).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::secrets::SecretScan;
use http::HeaderMap;
use keel::signing::webhook::{WebhookRejection, WebhookScheme, WebhookVerifier};

/// The scan for a test's webhook secrets: each as given and, for a
/// `whsec_<base64>` secret, the key it decodes to (hex, base64, `Debug`).
fn scan(secrets: &[&str]) -> SecretScan {
    let mut all: Vec<String> = Vec::new();
    for s in secrets {
        all.push(s.to_string());
        let key = s
            .strip_prefix("whsec_")
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
        if let Some(key) = key.filter(|k| k.len() >= 8) {
            all.push(hex::encode(&key));
            all.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&key));
            all.push(format!("{key:?}"));
        }
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    SecretScan::new(&all)
}

/// Passes a result through the scan (its `Debug`, or the error's whole
/// chain) and returns it unchanged.
fn seen<T: std::fmt::Debug, E: std::error::Error + 'static>(
    scan: &mut SecretScan,
    r: Result<T, E>,
) -> Result<T, E> {
    let what = std::any::type_name::<Result<T, E>>();
    match &r {
        Ok(v) => scan.debug(what, v),
        Err(e) => scan.error(what, e),
    }
    r
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

// Standard Webhooks specification, "Verifying webhook signatures" test vector (also in the
// reference libraries' tests): secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id
// msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body {"test": 2432232314}.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn sw(sig: &str, ts: &str) -> HeaderMap {
    headers(&[
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", ts),
        ("webhook-signature", sig),
    ])
}

#[test]
fn standard_webhooks_test_vector() {
    let mut scan = scan(&[SW_SECRET, "whsec_b3RoZXI=", "whsec_not base64!"]);
    let v = seen(&mut scan, WebhookVerifier::standard_webhooks(SW_SECRET)).unwrap();
    let ok = seen(
        &mut scan,
        v.verify_at(&sw(SW_SIG, "1614265330"), SW_BODY, at(1614265330)),
    )
    .unwrap();
    assert_eq!(ok.id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
    assert_eq!(ok.timestamp, Some(1614265330));
    // Several signatures in one header (secret rotation): any one matching passes.
    let many = format!("v1,Zm9vYmFy {SW_SIG} v2,whatever");
    assert!(seen(
        &mut scan,
        v.verify_at(&sw(&many, "1614265330"), SW_BODY, at(1614265330))
    )
    .is_ok());
    // Rejections.
    assert_eq!(
        seen(
            &mut scan,
            v.verify_at(
                &sw(SW_SIG, "1614265330"),
                br#"{"test": 2432232315}"#,
                at(1614265330)
            )
        ),
        Err(WebhookRejection::NoMatch)
    );
    assert_eq!(
        seen(
            &mut scan,
            v.verify_at(&sw(SW_SIG, "1614265330"), SW_BODY, at(1614265330 + 301))
        ),
        Err(WebhookRejection::OutsideTolerance { age_secs: 301 })
    );
    assert_eq!(
        seen(
            &mut scan,
            v.verify_at(&sw(SW_SIG, "1614265330"), SW_BODY, at(1614265330 - 301))
        )
        .unwrap_err()
        .reason(),
        "timestamp outside the tolerance (301 s in the future)"
    );
    assert_eq!(
        seen(
            &mut scan,
            v.verify_at(&sw("v2,abc", "1614265330"), SW_BODY, at(1614265330))
        ),
        Err(WebhookRejection::NoSignatureOfVersion("v1"))
    );
    assert!(matches!(
        seen(
            &mut scan,
            v.verify_at(&sw(SW_SIG, "soon"), SW_BODY, at(1614265330))
        ),
        Err(WebhookRejection::MalformedHeader {
            header: "webhook-timestamp",
            ..
        })
    ));
    assert!(matches!(
        seen(
            &mut scan,
            v.verify_at(&sw("nocomma", "1614265330"), SW_BODY, at(1614265330))
        ),
        Err(WebhookRejection::MalformedHeader {
            header: "webhook-signature",
            ..
        })
    ));
    let mut h = sw(SW_SIG, "1614265330");
    h.remove("webhook-id");
    assert_eq!(
        seen(&mut scan, v.verify_at(&h, SW_BODY, at(1614265330)))
            .unwrap_err()
            .reason(),
        "missing header webhook-id"
    );
    // A wider tolerance; another secret during rotation.
    let wide = seen(
        &mut scan,
        WebhookVerifier::standard_webhooks("whsec_b3RoZXI="),
    )
    .unwrap()
    .also_secret(SW_SECRET)
    .unwrap()
    .tolerance(Duration::from_secs(3600));
    assert!(seen(
        &mut scan,
        wide.verify_at(&sw(SW_SIG, "1614265330"), SW_BODY, at(1614265330 + 3000))
    )
    .is_ok());
    // Secrets that cannot be right are refused up front.
    assert!(seen(
        &mut scan,
        WebhookVerifier::standard_webhooks("whsec_not base64!")
    )
    .is_err());
    assert!(seen(&mut scan, WebhookVerifier::standard_webhooks("  ")).is_err());
    assert!(!format!("{wide:?}").contains("MfKQ9r8"));
    scan.debug("verifier", &v);
    scan.debug("verifier with two secrets", &wide);
    scan.finish();
}

// Stripe "Verify webhook signatures manually": signed_payload = t + "." + body,
// HMAC-SHA256 keyed by the endpoint secret (the whole whsec_… text), hex, in v1=.
// Stripe publishes no vector; the value was computed independently with Python:
// hmac.new(b"whsec_test_secret", b'1492774577.{"id":"evt_test"}', hashlib.sha256).hexdigest()
#[test]
fn stripe_signature() {
    let mut scan = scan(&["whsec_test_secret"]);
    let v = seen(&mut scan, WebhookVerifier::stripe("whsec_test_secret")).unwrap();
    let sig = "22f7d74836ddad3284a2b80853dd2fe731655c1bfddcff3c3666a500cf3abd80";
    let body = br#"{"id":"evt_test"}"#;
    let h = headers(&[(
        "stripe-signature",
        &format!("t=1492774577,v1=00ff,v1={sig},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"),
    )]);
    assert_eq!(
        seen(&mut scan, v.verify_at(&h, body, at(1492774577)))
            .unwrap()
            .timestamp,
        Some(1492774577)
    );
    assert_eq!(
        seen(&mut scan, v.verify_at(&h, b"{}", at(1492774577))),
        Err(WebhookRejection::NoMatch)
    );
    assert_eq!(
        seen(&mut scan, v.verify_at(&h, body, at(1492774577 + 600))),
        Err(WebhookRejection::OutsideTolerance { age_secs: 600 })
    );
    let no_v1 = headers(&[("stripe-signature", "t=1492774577,v0=abcd")]);
    assert_eq!(
        seen(&mut scan, v.verify_at(&no_v1, body, at(1492774577))),
        Err(WebhookRejection::NoSignatureOfVersion("v1"))
    );
    let no_t = headers(&[("stripe-signature", &format!("v1={sig}"))]);
    assert_eq!(
        seen(&mut scan, v.verify_at(&no_t, body, at(1492774577)))
            .unwrap_err()
            .reason(),
        "malformed header Stripe-Signature: no timestamp (t=)"
    );
    assert_eq!(
        seen(&mut scan, v.verify_at(&HeaderMap::new(), body, at(1))),
        Err(WebhookRejection::MissingHeader("stripe-signature"))
    );
    scan.debug("verifier", &v);
    scan.finish();
}

// GitHub "Validating webhook deliveries", "Testing the webhook payload validation": secret
// "It's a Secret to Everybody", payload "Hello, World!", X-Hub-Signature-256
// sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17.
#[test]
fn github_test_vector() {
    let mut scan = scan(&["It's a Secret to Everybody"]);
    let v = seen(
        &mut scan,
        WebhookVerifier::github("It's a Secret to Everybody"),
    )
    .unwrap();
    let h = headers(&[
        (
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ]);
    let ok = seen(&mut scan, v.verify(&h, b"Hello, World!")).unwrap();
    assert_eq!(
        ok.id.as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    assert_eq!(
        seen(&mut scan, v.verify(&h, b"Hello, World")),
        Err(WebhookRejection::NoMatch)
    );
    let sha1 = headers(&[("x-hub-signature-256", "sha1=abcd")]);
    assert!(matches!(
        seen(&mut scan, v.verify(&sha1, b"")),
        Err(WebhookRejection::MalformedHeader {
            header: "X-Hub-Signature-256",
            ..
        })
    ));
    let not_hex = headers(&[("x-hub-signature-256", "sha256=zz")]);
    assert!(matches!(
        seen(&mut scan, v.verify(&not_hex, b"")),
        Err(WebhookRejection::MalformedHeader { .. })
    ));
    scan.debug("verifier", &v);
    scan.finish();
}

// Slack "Verifying requests from Slack" worked example: signing secret
// 8f742231b10e8888abcd99yyyzzz85a5, X-Slack-Request-Timestamp 1531420618, the slash-command
// body below, X-Slack-Signature v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503.
#[test]
fn slack_test_vector() {
    let mut scan = scan(&["8f742231b10e8888abcd99yyyzzz85a5"]);
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let v = seen(
        &mut scan,
        WebhookVerifier::slack("8f742231b10e8888abcd99yyyzzz85a5"),
    )
    .unwrap();
    let h = headers(&[
        ("x-slack-request-timestamp", "1531420618"),
        (
            "x-slack-signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
    ]);
    assert!(seen(&mut scan, v.verify_at(&h, body, at(1531420618))).is_ok());
    assert_eq!(
        seen(&mut scan, v.verify_at(&h, &body[1..], at(1531420618))),
        Err(WebhookRejection::NoMatch)
    );
    assert_eq!(
        seen(&mut scan, v.verify_at(&h, body, at(1531420618 + 301))),
        Err(WebhookRejection::OutsideTolerance { age_secs: 301 })
    );
    let v1 = headers(&[
        ("x-slack-request-timestamp", "1531420618"),
        ("x-slack-signature", "v1=00"),
    ]);
    assert_eq!(
        seen(&mut scan, v.verify_at(&v1, body, at(1531420618))),
        Err(WebhookRejection::NoSignatureOfVersion("v0"))
    );
    assert_eq!(
        seen(&mut scan, v.verify_at(&HeaderMap::new(), body, at(1))),
        Err(WebhookRejection::MissingHeader("x-slack-request-timestamp"))
    );
    assert_eq!(
        WebhookScheme::from_name("slack"),
        Some(WebhookScheme::Slack)
    );
    scan.debug("verifier", &v);
    scan.finish();
}
