//! Every rejection reason of the three verifiers, through the public API,
//! for the reasons (and the separate paths to one reason) that the other
//! signing tests leave out:
//!
//! - `verify::Verifier` (HMAC recipes): `replay store full` (and that a full
//!   store still catches replays, is not filled by forged requests and
//!   drains when its entries expire), `missing …` for a nonce, a signature,
//!   a query parameter, a form field and a passphrase, `stale timestamp`
//!   for an unreadable or future timestamp, `bad signature` for a value that
//!   does not decode, `unknown key` for a key whose configured secret does
//!   not decode. (`missing header API-Key` / `API-Timestamp`, `unknown key`,
//!   `stale timestamp`, `bad signature` and `replayed nonce` over HTTP are in
//!   `signing_demo.rs`.)
//! - `rfc9421::verify_with`: `covered component … is not in the message`,
//!   `unsupported: …` (a derived component, parameter or field Keel cannot
//!   compute, and an unusable verification key), `replay store full`, and
//!   the `malformed …`, `no signature labelled …`, `alg … does not match`
//!   and `missing header …` paths `signing_rfc9421.rs` does not take.
//! - `webhook::WebhookVerifier`: the `missing header` and `malformed header`
//!   paths `signing_webhooks.rs` does not take. The webhook verifier keeps
//!   no replay store (it returns the message id for the caller to
//!   de-duplicate), so it has no "replay store full".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use keel::signing::recipe::HmacRecipe;
use keel::signing::rfc9421::{
    self, NonceParam, Rfc9421, SignatureRejection, VerifyKey, VerifyOptions,
};
use keel::signing::verify::{MemoryReplayStore, Rejection, ReplayStore, Verifier, VerifyRequest};
use keel::signing::webhook::{WebhookRejection, WebhookVerifier};
use keel::signing::{Credentials, Scheme, Signer, SigningRequest};
use keel::Url;

const KEY: &str = "rej-key";
const SECRET: &str = "rej-secret-0123456789";
/// 64 bytes once decoded, as Kraken issues.
const SECRET_B64: &str =
    "cHJvcC1zZWNyZXQtYmFzZTY0LUxrMjItMDEyMzQ1Njc4OS1hYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMg==";
const PASSPHRASE: &str = "rej-pass";
/// 2021-04-20T02:07:53Z.
const T0_MS: u64 = 1_618_884_473_000;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0_MS)
}

fn creds(secret: &str) -> Credentials {
    Credentials::new(
        KEY,
        Some(secret.as_bytes().to_vec()),
        HeaderName::from_static("api-key"),
    )
    .with_passphrase(PASSPHRASE)
}

/// A request signed with `recipe` at `t` with `nonce`.
#[derive(Clone)]
struct Signed {
    method: Method,
    /// The path and query as sent.
    pq: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Signed {
    fn request(&self) -> VerifyRequest<'_> {
        VerifyRequest::new(&self.method, &self.pq, &self.headers, &self.body)
    }
}

fn sign_hmac(
    recipe: &HmacRecipe,
    secret: &str,
    method: Method,
    url: &str,
    body: &[u8],
    t: SystemTime,
    nonce: u64,
) -> Signed {
    let mut url = Url::parse(url).unwrap();
    let mut headers = HeaderMap::new();
    let mut req = SigningRequest::new(&method, &mut url, &mut headers, body, t, nonce);
    recipe.sign(&mut req, &creds(secret)).unwrap();
    let body = req
        .replaced_body()
        .map(<[u8]>::to_vec)
        .unwrap_or(body.to_vec());
    let pq = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    Signed {
        method,
        pq,
        headers,
        body,
    }
}

fn default_signed(nonce: u64) -> Signed {
    sign_hmac(
        &HmacRecipe::keel_default(),
        SECRET,
        Method::POST,
        "https://api.example.test/v1/orders?limit=5",
        br#"{"qty":1}"#,
        t0(),
        nonce,
    )
}

fn verifier(recipe: HmacRecipe) -> keel::signing::verify::VerifierBuilder {
    Verifier::builder(recipe).key(KEY, SECRET)
}

// ---------------------------------------------------------------------------
// verify::Verifier
// ---------------------------------------------------------------------------

#[test]
fn a_full_replay_store_refuses_new_requests_but_still_catches_replays() {
    let v = verifier(HmacRecipe::keel_default())
        .replay_capacity(2)
        .build();
    let (a, b, c) = (default_signed(1), default_signed(2), default_signed(3));
    assert!(v.verify_at(&a.request(), t0()).is_ok());
    assert!(v.verify_at(&b.request(), t0()).is_ok());
    // Full: a genuine new request is refused rather than let through unchecked …
    let full = v.verify_at(&c.request(), t0()).unwrap_err();
    assert_eq!(full, Rejection::ReplayStoreFull);
    assert_eq!(full.reason(), "replay store full");
    assert_eq!(full.to_string(), "replay store full");
    // … a replay is still a replay …
    assert_eq!(
        v.verify_at(&a.request(), t0()),
        Err(Rejection::ReplayedNonce)
    );
    // … and a forged request is refused for its signature, before the store
    // is consulted (it learns nothing about the store and fills no slot).
    let forged = sign_hmac(
        &HmacRecipe::keel_default(),
        "not-the-secret",
        Method::POST,
        "https://api.example.test/v1/orders?limit=5",
        br#"{"qty":1}"#,
        t0(),
        4,
    );
    assert_eq!(
        v.verify_at(&forged.request(), t0()),
        Err(Rejection::BadSignature)
    );
}

#[test]
fn forged_requests_take_no_slot_in_the_replay_store() {
    let v = verifier(HmacRecipe::keel_default())
        .replay_capacity(1)
        .build();
    for nonce in 10..20 {
        let forged = sign_hmac(
            &HmacRecipe::keel_default(),
            "not-the-secret",
            Method::POST,
            "https://api.example.test/v1/orders?limit=5",
            br#"{"qty":1}"#,
            t0(),
            nonce,
        );
        assert_eq!(
            v.verify_at(&forged.request(), t0()),
            Err(Rejection::BadSignature)
        );
    }
    assert!(v.verify_at(&default_signed(1).request(), t0()).is_ok());
    assert_eq!(
        v.verify_at(&default_signed(2).request(), t0()),
        Err(Rejection::ReplayStoreFull)
    );
}

#[test]
fn a_full_replay_store_accepts_again_once_its_entries_expire() {
    // The in-memory store expires entries on the monotonic clock (the
    // shortest TTL is one second), so this test waits 1.2 s once.
    let v = verifier(HmacRecipe::keel_default())
        .replay_capacity(1)
        .replay_ttl(Duration::from_secs(1))
        .build();
    assert!(v.verify_at(&default_signed(1).request(), t0()).is_ok());
    assert_eq!(
        v.verify_at(&default_signed(2).request(), t0()),
        Err(Rejection::ReplayStoreFull)
    );
    std::thread::sleep(Duration::from_millis(1_200));
    assert!(v.verify_at(&default_signed(2).request(), t0()).is_ok());
}

#[test]
fn the_nonceless_keel_v1_scheme_fills_the_store_with_signatures() {
    // keel-v1 has no nonce: the signature is the replay token, so two
    // requests at two times take two slots.
    let v = verifier(HmacRecipe::keel_v1()).replay_capacity(1).build();
    let sign_at = |ms: u64| {
        sign_hmac(
            &HmacRecipe::keel_v1(),
            SECRET,
            Method::GET,
            "https://api.example.test/v1/orders",
            b"",
            UNIX_EPOCH + Duration::from_millis(ms),
            1,
        )
    };
    let (a, b) = (sign_at(T0_MS), sign_at(T0_MS + 1));
    assert!(v.verify_at(&a.request(), t0()).is_ok());
    assert_eq!(
        v.verify_at(&a.request(), t0()),
        Err(Rejection::ReplayedNonce)
    );
    assert_eq!(
        v.verify_at(&b.request(), t0()),
        Err(Rejection::ReplayStoreFull)
    );
}

/// A shared store that is out of room (a Redis that refuses writes, say).
struct RefusingStore(AtomicUsize);
impl ReplayStore for RefusingStore {
    fn check_and_insert(&self, _token: &str, _ttl: Duration) -> Result<bool, Rejection> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(Rejection::ReplayStoreFull)
    }
}

#[test]
fn a_custom_replay_store_that_refuses_is_passed_through() {
    let store = Arc::new(RefusingStore(AtomicUsize::new(0)));
    let v = verifier(HmacRecipe::keel_default())
        .replay_store(store.clone())
        .build();
    assert_eq!(
        v.verify_at(&default_signed(1).request(), t0())
            .unwrap_err()
            .reason(),
        "replay store full"
    );
    assert_eq!(store.0.load(Ordering::SeqCst), 1);
    // The in-memory store itself, directly.
    let mem = MemoryReplayStore::new(1);
    assert_eq!(mem.check_and_insert("a", Duration::from_secs(60)), Ok(true));
    assert_eq!(
        mem.check_and_insert("a", Duration::from_secs(60)),
        Ok(false)
    );
    assert_eq!(
        mem.check_and_insert("b", Duration::from_secs(60)),
        Err(Rejection::ReplayStoreFull)
    );
    assert_eq!(mem.len(), 1);
}

#[test]
fn every_missing_value_is_named_where_it_was_looked_for() {
    let reason = |v: &Verifier, s: &Signed| v.verify_at(&s.request(), t0()).unwrap_err().reason();

    // The default scheme: the nonce and the signature headers.
    let v = verifier(HmacRecipe::keel_default()).build();
    let mut s = default_signed(1);
    s.headers.remove("api-nonce");
    assert_eq!(reason(&v, &s), "missing header API-Nonce");
    let mut s = default_signed(1);
    s.headers.remove("api-signature");
    assert_eq!(reason(&v, &s), "missing header API-Signature");
    // An empty value is a missing one.
    let mut s = default_signed(1);
    s.headers.insert("api-key", HeaderValue::from_static(""));
    assert_eq!(reason(&v, &s), "missing header API-Key");
    // The key in another header than the default.
    let v = verifier(HmacRecipe::keel_default())
        .auth_header_name("X-Client")
        .build();
    assert_eq!(reason(&v, &default_signed(1)), "missing header X-Client");

    // Binance: the timestamp and the signature are query parameters.
    let v = verifier(HmacRecipe::binance()).build();
    let s = sign_hmac(
        &HmacRecipe::binance(),
        SECRET,
        Method::GET,
        "https://api.binance.com/api/v3/account?omitZeroBalances=true",
        b"",
        t0(),
        1,
    );
    assert!(v.verify_at(&s.request(), t0()).is_ok());
    let strip = |pq: &str, name: &str| {
        let (path, query) = pq.split_once('?').unwrap();
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect();
        format!("{path}?{}", kept.join("&"))
    };
    let mut no_sig = s.clone();
    no_sig.pq = strip(&s.pq, "signature");
    assert_eq!(reason(&v, &no_sig), "missing query parameter signature");
    let mut no_ts = s.clone();
    no_ts.pq = strip(&s.pq, "timestamp");
    assert_eq!(reason(&v, &no_ts), "missing query parameter timestamp");

    // Kraken: the nonce is a form field.
    let v = Verifier::builder(HmacRecipe::kraken())
        .key(KEY, SECRET_B64)
        .build();
    let mut s = sign_hmac(
        &HmacRecipe::kraken(),
        SECRET_B64,
        Method::POST,
        "https://api.kraken.com/0/private/Balance",
        b"asset=XBT",
        t0(),
        1_616_492_376_594,
    );
    assert!(v.verify_at(&s.request(), t0()).is_ok());
    s.body = b"asset=XBT".to_vec();
    assert_eq!(reason(&v, &s), "missing form field nonce");

    // OKX: the passphrase header.
    let v = verifier(HmacRecipe::okx()).build();
    let mut s = sign_hmac(
        &HmacRecipe::okx(),
        SECRET,
        Method::GET,
        "https://www.okx.com/api/v5/account/balance?ccy=BTC",
        b"",
        t0(),
        1,
    );
    assert!(v.verify_at(&s.request(), t0()).is_ok());
    s.headers.remove("ok-access-passphrase");
    assert_eq!(
        v.verify_at(&s.request(), t0()),
        Err(Rejection::Missing("header Ok-Access-Passphrase".into()))
    );
    assert_eq!(reason(&v, &s), "missing header Ok-Access-Passphrase");
}

#[test]
fn unreadable_and_future_timestamps_are_stale() {
    let v = verifier(HmacRecipe::keel_default())
        .window(Duration::from_secs(30))
        .build();
    // Unreadable.
    let mut s = default_signed(1);
    s.headers
        .insert("api-timestamp", HeaderValue::from_static("soon"));
    assert_eq!(
        v.verify_at(&s.request(), t0()),
        Err(Rejection::StaleTimestamp)
    );
    // In the future, beyond the window (30 s is still inside).
    assert_eq!(
        v.verify_at(&default_signed(2).request(), t0() - Duration::from_secs(31)),
        Err(Rejection::StaleTimestamp)
    );
    assert!(v
        .verify_at(&default_signed(3).request(), t0() - Duration::from_secs(30))
        .is_ok());
    // The past edge, likewise.
    assert_eq!(
        v.verify_at(&default_signed(4).request(), t0() + Duration::from_secs(31))
            .unwrap_err()
            .reason(),
        "stale timestamp"
    );
}

#[test]
fn a_signature_that_does_not_decode_is_a_bad_signature() {
    let v = verifier(HmacRecipe::keel_default()).build();
    let mut s = default_signed(1);
    s.headers
        .insert("api-signature", HeaderValue::from_static("not-hex!"));
    assert_eq!(
        v.verify_at(&s.request(), t0()),
        Err(Rejection::BadSignature)
    );
    // A signature of the right length for another request (a changed query).
    let mut s = default_signed(2);
    s.pq = "/v1/orders?limit=6".into();
    assert_eq!(
        v.verify_at(&s.request(), t0()).unwrap_err().reason(),
        "bad signature"
    );
}

#[test]
fn a_key_whose_configured_secret_does_not_decode_is_unknown() {
    // Kraken secrets are base64; a verifier configured with a secret that
    // is not treats the key as unknown rather than failing open.
    let s = sign_hmac(
        &HmacRecipe::kraken(),
        SECRET_B64,
        Method::POST,
        "https://api.kraken.com/0/private/Balance",
        b"",
        t0(),
        7,
    );
    let v = Verifier::builder(HmacRecipe::kraken())
        .key(KEY, "not base64 !")
        .build();
    assert_eq!(v.verify_at(&s.request(), t0()), Err(Rejection::UnknownKey));
    assert_eq!(
        v.verify_at(&s.request(), t0()).unwrap_err().reason(),
        "unknown key"
    );
}

// ---------------------------------------------------------------------------
// RFC 9421
// ---------------------------------------------------------------------------

const RFC_SECRET: &[u8] = b"rfc-shared-secret";

/// Signs a request with `signer` (hmac-sha256, `RFC_SECRET`) at 1618884473.
fn rfc_signed(signer: Rfc9421, url: &str, headers: &[(&str, &str)]) -> (HeaderMap, Url) {
    let mut url = Url::parse(url).unwrap();
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        map.insert(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let creds = Credentials::new(
        "unused",
        Some(RFC_SECRET.to_vec()),
        HeaderName::from_static("api-key"),
    );
    let t = UNIX_EPOCH + Duration::from_secs(1_618_884_473);
    let mut req = SigningRequest::new(&Method::POST, &mut url, &mut map, b"{}", t, 7);
    Scheme::rfc9421(signer)
        .signer()
        .sign(&mut req, &creds)
        .unwrap();
    (map, url)
}

fn rfc_check(
    headers: &HeaderMap,
    url: &Url,
    opts: &VerifyOptions,
) -> Result<rfc9421::VerifiedSignature, SignatureRejection> {
    rfc9421::verify_with(
        "sig1",
        &Method::POST,
        url,
        headers,
        VerifyKey::HmacSha256(RFC_SECRET),
        opts,
    )
}

fn rfc_verify(
    headers: &HeaderMap,
    url: &Url,
) -> Result<rfc9421::VerifiedSignature, SignatureRejection> {
    rfc_check(headers, url, &VerifyOptions::new())
}

/// Headers carrying a hand-written `Signature-Input` (and a signature that
/// cannot match), for components no signer would produce.
fn forged(input: &str, extra: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("signature-input", input.parse().unwrap());
    h.insert("signature", "sig1=:AAAA:".parse().unwrap());
    for (n, v) in extra {
        h.insert(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

#[test]
fn a_covered_component_missing_from_the_message_is_named() {
    // A covered header removed on the way.
    let (mut h, url) = rfc_signed(
        Rfc9421::hmac_sha256().components(["@method", "content-type"]),
        "https://api.example.test/orders",
        &[("content-type", "application/json")],
    );
    assert!(rfc_verify(&h, &url).is_ok());
    h.remove("content-type");
    let r = rfc_verify(&h, &url).unwrap_err();
    assert_eq!(
        r,
        SignatureRejection::ComponentAbsent("content-type".into())
    );
    assert_eq!(
        r.reason(),
        "covered component content-type is not in the message"
    );

    // A covered query parameter the received URL does not have.
    let (h, url) = rfc_signed(
        Rfc9421::hmac_sha256().components(["@method", "\"@query-param\";name=\"pet\""]),
        "https://api.example.test/orders?pet=dog",
        &[],
    );
    assert!(rfc_verify(&h, &url).is_ok());
    let bare = Url::parse("https://api.example.test/orders?cat=tom").unwrap();
    assert_eq!(
        rfc_verify(&h, &bare).unwrap_err(),
        SignatureRejection::ComponentAbsent("@query-param \"pet\"".into())
    );

    // A covered dictionary member the field no longer has.
    let (mut h, url) = rfc_signed(
        Rfc9421::hmac_sha256().components(["\"example-dict\";key=\"a\""]),
        "https://api.example.test/orders",
        &[("example-dict", "a=1, b=2")],
    );
    assert!(rfc_verify(&h, &url).is_ok());
    h.insert("example-dict", "b=2".parse().unwrap());
    assert_eq!(
        rfc_verify(&h, &url).unwrap_err().reason(),
        "covered component example-dict member \"a\" is not in the message"
    );
}

#[test]
fn components_keel_cannot_compute_are_unsupported() {
    let url = Url::parse("https://api.example.test/orders?pet=dog").unwrap();
    let unsupported = |h: &HeaderMap| match rfc_verify(h, &url) {
        Err(SignatureRejection::Unsupported(why)) => why,
        other => panic!("expected Unsupported, got {other:?}"),
    };
    // A derived component of responses.
    let why = unsupported(&forged("sig1=(\"@status\");created=1", &[]));
    assert!(why.contains("\"@status\" is not supported"), "{why}");
    assert!(
        rfc_verify(&forged("sig1=(\"@status\");created=1", &[]), &url)
            .unwrap_err()
            .reason()
            .starts_with("unsupported: ")
    );
    // `@query-param` without its name.
    let why = unsupported(&forged("sig1=(\"@query-param\");created=1", &[]));
    assert!(why.contains("needs a name parameter"), "{why}");
    // The `req` and `tr` parameters (responses, trailers).
    for param in ["req", "tr"] {
        let why = unsupported(&forged(
            &format!("sig1=(\"content-type\";{param});created=1"),
            &[("content-type", "application/json")],
        ));
        assert!(why.contains("the req and tr parameters"), "{why}");
    }
    // `key` that is not a string, and `key` on a field that is not a dictionary.
    let why = unsupported(&forged(
        "sig1=(\"example-dict\";key=1);created=1",
        &[("example-dict", "a=1")],
    ));
    assert!(why.contains("must be a string"), "{why}");
    let why = unsupported(&forged(
        "sig1=(\"x-list\";key=\"a\");created=1",
        &[("x-list", "(((")],
    ));
    assert!(why.contains("not a structured dictionary"), "{why}");
    // `sf` on a field that is not a structured field.
    let why = unsupported(&forged(
        "sig1=(\"x-text\";sf);created=1",
        &[("x-text", "\"unterminated")],
    ));
    assert!(why.contains("not a valid structured field"), "{why}");
    // A verification key that cannot be read.
    let (h, url) = rfc_signed(
        Rfc9421::hmac_sha256(),
        "https://api.example.test/orders",
        &[],
    );
    match rfc9421::verify(
        "sig1",
        &Method::POST,
        &url,
        &h,
        VerifyKey::Ed25519PublicPem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"),
    ) {
        Err(SignatureRejection::Unsupported(why)) => {
            assert!(why.starts_with("the verification key"), "{why}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn a_full_rfc9421_replay_store_refuses_new_nonces() {
    let t0 = UNIX_EPOCH + Duration::from_secs(1_618_884_473);
    let signed = |nonce: &str| {
        rfc_signed(
            Rfc9421::hmac_sha256().nonce(NonceParam::Fixed(nonce.into())),
            "https://api.example.test/orders",
            &[],
        )
    };
    let store = Arc::new(MemoryReplayStore::new(1));
    let opts = VerifyOptions::new().reject_replays(store.clone()).at(t0);
    let (h1, url) = signed("n-1");
    let (h2, _) = signed("n-2");
    assert!(rfc_check(&h1, &url, &opts).is_ok());
    let r = rfc_check(&h2, &url, &opts).unwrap_err();
    assert_eq!(r, SignatureRejection::ReplayStoreFull);
    assert_eq!(r.reason(), "replay store full");
    // A replay is still a replay when the store is full.
    assert_eq!(
        rfc_check(&h1, &url, &opts).unwrap_err(),
        SignatureRejection::ReplayedNonce
    );
    // A forged signature is refused before the store is consulted.
    let fresh = Arc::new(MemoryReplayStore::new(1));
    let opts = VerifyOptions::new().reject_replays(fresh.clone()).at(t0);
    let wrong_key = rfc9421::verify_with(
        "sig1",
        &Method::POST,
        &url,
        &h2,
        VerifyKey::HmacSha256(b"another secret"),
        &opts,
    );
    assert_eq!(wrong_key.unwrap_err(), SignatureRejection::BadSignature);
    assert!(fresh.is_empty());
    assert!(rfc_check(&h2, &url, &opts).is_ok());
    // A custom store that refuses.
    let refusing = Arc::new(RefusingStore(AtomicUsize::new(0)));
    let opts = VerifyOptions::new().reject_replays(refusing).at(t0);
    assert_eq!(
        rfc_check(&h1, &url, &opts).unwrap_err(),
        SignatureRejection::ReplayStoreFull
    );
}

#[test]
fn the_other_malformed_label_alg_and_header_paths() {
    let url = Url::parse("https://api.example.test/orders").unwrap();
    let (h, url2) = rfc_signed(
        Rfc9421::hmac_sha256(),
        "https://api.example.test/orders",
        &[],
    );
    assert_eq!(url, url2);
    // Missing Signature-Input.
    let mut no_input = h.clone();
    no_input.remove("signature-input");
    assert_eq!(
        rfc_verify(&no_input, &url).unwrap_err().reason(),
        "missing header signature-input"
    );
    // The label is in Signature-Input but not in Signature.
    let mut other_sig = h.clone();
    other_sig.insert("signature", "sig2=:AAAA:".parse().unwrap());
    assert_eq!(
        rfc_verify(&other_sig, &url).unwrap_err(),
        SignatureRejection::NoSuchLabel("sig1".into())
    );
    assert_eq!(
        rfc_verify(&other_sig, &url).unwrap_err().reason(),
        "no signature labelled \"sig1\""
    );
    // Malformed: every shape the parser refuses.
    let malformed = |input: &str, signature: &str| {
        let mut m = h.clone();
        m.insert("signature-input", input.parse().unwrap());
        m.insert("signature", signature.parse().unwrap());
        match rfc_verify(&m, &url) {
            Err(SignatureRejection::Malformed(why)) => why,
            other => panic!("{input} / {signature}: expected Malformed, got {other:?}"),
        }
    };
    let why = malformed("sig1=\"@method\"", "sig1=:AAAA:");
    assert!(why.contains("not an inner list"), "{why}");
    let why = malformed("sig1=(\"@method\");created=1", "sig1=\"text\"");
    assert!(why.contains("not a byte sequence"), "{why}");
    let why = malformed("sig1=(\"@method\");created=1", "sig1=(:AAAA:)");
    assert!(why.contains("not a byte sequence"), "{why}");
    let why = malformed("sig1=(@method);created=1", "sig1=:AAAA:");
    assert!(
        why.contains("Signature-Input is not a structured dictionary"),
        "{why}"
    );
    let why = malformed("sig1=(method);created=1", "sig1=:AAAA:");
    assert!(why.contains("not a string"), "{why}");
    let why = malformed("sig1=(\"@method\");created=1", "sig1=:AAAA");
    assert!(
        why.contains("Signature is not a structured dictionary"),
        "{why}"
    );
    assert!(rfc_verify(
        &{
            let mut m = h.clone();
            m.insert("signature", "sig1=:AAAA".parse().unwrap());
            m
        },
        &url
    )
    .unwrap_err()
    .reason()
    .starts_with("malformed signature: "));
    // `alg` names no registered algorithm.
    let mut unknown_alg = h.clone();
    unknown_alg.insert(
        "signature-input",
        "sig1=(\"@method\");created=1;alg=\"hmac-sha1\""
            .parse()
            .unwrap(),
    );
    assert_eq!(
        rfc_verify(&unknown_alg, &url).unwrap_err(),
        SignatureRejection::AlgorithmMismatch {
            alg: "hmac-sha1".into(),
            key: "hmac-sha256"
        }
    );
    assert_eq!(
        rfc_verify(&unknown_alg, &url).unwrap_err().reason(),
        "alg \"hmac-sha1\" does not match the key (hmac-sha256)"
    );
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

fn hooks(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v).unwrap(),
        );
    }
    h
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn every_missing_webhook_header_is_named() {
    let sw = WebhookVerifier::standard_webhooks("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let full: [(&str, &[u8]); 3] = [
        ("webhook-id", b"msg_1"),
        ("webhook-timestamp", b"1614265330"),
        ("webhook-signature", b"v1,AAAA"),
    ];
    for missing in ["webhook-timestamp", "webhook-signature"] {
        let pairs: Vec<(&str, &[u8])> = full
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        assert_eq!(
            sw.verify_at(&hooks(&pairs), b"{}", at(1614265330)),
            Err(WebhookRejection::MissingHeader(missing))
        );
    }
    let gh = WebhookVerifier::github("gh-secret").unwrap();
    assert_eq!(
        gh.verify(&HeaderMap::new(), b"{}").unwrap_err().reason(),
        "missing header x-hub-signature-256"
    );
    let slack = WebhookVerifier::slack("slack-secret").unwrap();
    assert_eq!(
        slack.verify_at(
            &hooks(&[("x-slack-request-timestamp", b"1531420618")]),
            b"",
            at(1531420618)
        ),
        Err(WebhookRejection::MissingHeader("x-slack-signature"))
    );
}

#[test]
fn every_malformed_webhook_header_is_named() {
    let malformed = |r: Result<keel::signing::webhook::VerifiedWebhook, WebhookRejection>| match r {
        Err(WebhookRejection::MalformedHeader { header, why }) => (header, why),
        other => panic!("expected MalformedHeader, got {other:?}"),
    };
    // A header that is not visible ASCII (obs-text bytes).
    let gh = WebhookVerifier::github("gh-secret").unwrap();
    let r = gh.verify(&hooks(&[("x-hub-signature-256", b"sha256=\xff\xfe")]), b"");
    assert_eq!(malformed(r), ("x-hub-signature-256", "not visible ASCII"));
    assert_eq!(
        gh.verify(&hooks(&[("x-hub-signature-256", b"sha256=\xff")]), b"")
            .unwrap_err()
            .reason(),
        "malformed header x-hub-signature-256: not visible ASCII"
    );

    // Stripe: an item without `=`, and a timestamp that is not a number.
    let stripe = WebhookVerifier::stripe("whsec_test_secret").unwrap();
    let r = stripe.verify_at(
        &hooks(&[("stripe-signature", b"t=1492774577,v1")]),
        b"{}",
        at(1492774577),
    );
    assert_eq!(
        malformed(r),
        ("Stripe-Signature", "an item is not `key=value`")
    );
    let r = stripe.verify_at(
        &hooks(&[("stripe-signature", b"t=soon,v1=00")]),
        b"{}",
        at(1492774577),
    );
    assert_eq!(
        malformed(r),
        ("Stripe-Signature", "the timestamp (t=) is not an integer")
    );

    // Slack: a timestamp that is not a number, a signature that is not hex.
    let slack = WebhookVerifier::slack("slack-secret").unwrap();
    let r = slack.verify_at(
        &hooks(&[
            ("x-slack-request-timestamp", b"yesterday"),
            ("x-slack-signature", b"v0=00"),
        ]),
        b"",
        at(1531420618),
    );
    assert_eq!(
        malformed(r),
        (
            "X-Slack-Request-Timestamp",
            "not an integer number of seconds"
        )
    );
    let r = slack.verify_at(
        &hooks(&[
            ("x-slack-request-timestamp", b"1531420618"),
            ("x-slack-signature", b"v0=zz"),
        ]),
        b"",
        at(1531420618),
    );
    assert_eq!(
        malformed(r),
        ("X-Slack-Signature", "the signature is not hexadecimal")
    );
    assert_eq!(
        slack
            .verify_at(
                &hooks(&[
                    ("x-slack-request-timestamp", b"1531420618"),
                    ("x-slack-signature", b"v0=zz"),
                ]),
                b"",
                at(1531420618),
            )
            .unwrap_err()
            .reason(),
        "malformed header X-Slack-Signature: the signature is not hexadecimal"
    );
}

#[test]
fn a_v1_webhook_signature_that_is_not_base64_counts_as_none() {
    let sw = WebhookVerifier::standard_webhooks("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let h = hooks(&[
        ("webhook-id", b"msg_1"),
        ("webhook-timestamp", b"1614265330"),
        ("webhook-signature", b"v1,***"),
    ]);
    assert_eq!(
        sw.verify_at(&h, b"{}", at(1614265330))
            .unwrap_err()
            .reason(),
        "no v1 signature"
    );
}
