//! Each preset against its provider's own published example.
//!
//! Signing runs on a `SigningRequest` with the example's fixed time and
//! nonce, exactly as `keel sign --timestamp --nonce` does.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, Method};
use keel::signing::recipe::{HmacRecipe, Part, TimestampFormat};
use keel::signing::{Credentials, Scheme, SigningRequest};
use keel::Url;

#[derive(Debug)]
struct Signed {
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
    string_to_sign: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn sign(
    scheme: &Scheme,
    creds: &Credentials,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    ts_ms: u64,
    nonce: u64,
) -> keel::Result<Signed> {
    let mut url = Url::parse(url).unwrap();
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        map.insert(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let t = UNIX_EPOCH + Duration::from_millis(ts_ms);
    let mut req = SigningRequest::new(&method, &mut url, &mut map, body, t, nonce)
        .capture_string_to_sign(true);
    scheme.signer().sign(&mut req, creds)?;
    let body = req
        .replaced_body()
        .map(<[u8]>::to_vec)
        .unwrap_or(body.to_vec());
    let string_to_sign = req.string_to_sign().unwrap_or_default().to_vec();
    Ok(Signed {
        url,
        headers: map,
        body,
        string_to_sign,
    })
}

fn creds(key: &str, secret: &str) -> Credentials {
    Credentials::new(
        key,
        Some(secret.as_bytes().to_vec()),
        HeaderName::from_static("api-key"),
    )
}

fn header<'a>(s: &'a Signed, name: &str) -> &'a str {
    s.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

// Source: Kraken, "Spot REST Authentication" (docs.kraken.com/api/docs/guides/spot-rest-auth),
// section "Examples": private key, nonce, encoded payload, URI path and the resulting API-Sign.
const KRAKEN_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
const KRAKEN_PAYLOAD: &str =
    "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
const KRAKEN_SIGN: &str =
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==";

#[test]
fn kraken_matches_the_published_example() {
    let s = sign(
        &Scheme::kraken(),
        &creds("kraken-public-key", KRAKEN_SECRET),
        Method::POST,
        "https://api.kraken.com/0/private/AddOrder",
        &[("content-type", "application/x-www-form-urlencoded")],
        KRAKEN_PAYLOAD.as_bytes(),
        0,
        999, // the body's own nonce wins
    )
    .unwrap();
    assert_eq!(header(&s, "api-sign"), KRAKEN_SIGN);
    assert_eq!(header(&s, "api-key"), "kraken-public-key");
    assert_eq!(
        s.body,
        KRAKEN_PAYLOAD.as_bytes(),
        "body unchanged when it has a nonce"
    );
}

#[test]
fn kraken_adds_the_nonce_first_when_the_body_has_none() {
    // The same example, with the nonce supplied by the client instead of the caller.
    let s = sign(
        &Scheme::kraken(),
        &creds("k", KRAKEN_SECRET),
        Method::POST,
        "https://api.kraken.com/0/private/AddOrder",
        &[],
        b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
        0,
        1616492376594,
    )
    .unwrap();
    assert_eq!(s.body, KRAKEN_PAYLOAD.as_bytes());
    assert_eq!(header(&s, "api-sign"), KRAKEN_SIGN);
    assert_eq!(
        header(&s, "content-type"),
        "application/x-www-form-urlencoded"
    );
}

// Source: Binance, spot API docs "SIGNED Endpoint Examples for POST /api/v3/order - HMAC Keys"
// (github.com/binance/binance-spot-api-docs, rest-api.md): apiKey/secretKey table, Example 1
// (all parameters in the query string) and Example 3 (mixed query string and body).
const BINANCE_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const BINANCE_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

#[test]
fn binance_example_1_query_string() {
    let s = sign(
        &Scheme::binance(),
        &creds(BINANCE_KEY, BINANCE_SECRET),
        Method::POST,
        "https://api.binance.com/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        &[],
        b"",
        1,
        1,
    )
    .unwrap();
    assert_eq!(
        s.url.as_str(),
        "https://api.binance.com/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    );
    assert_eq!(header(&s, "x-mbx-apikey"), BINANCE_KEY);
}

#[test]
fn binance_example_1_with_the_timestamp_added_by_the_client() {
    let s = sign(
        &Scheme::binance(),
        &creds(BINANCE_KEY, BINANCE_SECRET),
        Method::POST,
        "https://api.binance.com/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000",
        &[],
        b"",
        1499827319559,
        1,
    )
    .unwrap();
    assert!(s.url.as_str().ends_with(
        "&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    ));
}

#[test]
fn binance_example_3_mixed_query_and_body() {
    let s = sign(
        &Scheme::binance(),
        &creds(BINANCE_KEY, BINANCE_SECRET),
        Method::POST,
        "https://api.binance.com/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        42,
        1,
    )
    .unwrap();
    // The body carries the timestamp, so none is added to the query.
    assert_eq!(
        s.string_to_sign,
        b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    );
    assert_eq!(
        s.url.query(),
        Some("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")
    );
}

// Source: Bybit V5 "Integration Guidance" (bybit-exchange.github.io/docs/v5/guide), "Example for
// generating plain text to encrypt" (GET): the published string to sign. The doc's example
// signature is computed with a secret it does not publish, so only the string is compared
// byte for byte; the signature is checked against an independent HMAC.
#[test]
fn bybit_string_to_sign_matches_the_guide() {
    let s = sign(
        &Scheme::bybit(),
        &creds("XXXXXXXXXX", "bybit-secret"),
        Method::GET,
        "https://api-testnet.bybit.com/v5/order/realtime?category=option&symbol=BTC-29JUL22-25000-C",
        &[],
        b"",
        1658384314791,
        1,
    )
    .unwrap();
    let expected = "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C";
    assert_eq!(s.string_to_sign, expected.as_bytes());
    assert_eq!(header(&s, "x-bapi-timestamp"), "1658384314791");
    assert_eq!(header(&s, "x-bapi-recv-window"), "5000");
    assert_eq!(header(&s, "x-bapi-api-key"), "XXXXXXXXXX");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"bybit-secret").unwrap();
    mac.update(expected.as_bytes());
    assert_eq!(
        header(&s, "x-bapi-sign"),
        hex::encode(mac.finalize().into_bytes())
    );
}

// Source: OKX API v5 docs, "REST Authentication → Signature": example
// `sign = Base64(HmacSHA256(timestamp + 'GET' + '/api/v5/account/balance?ccy=BTC', SecretKey))`
// with the documented timestamp 2020-12-08T09:08:57.715Z. OKX publishes no resulting
// signature, so the string is compared byte for byte and the signature against an
// independent HMAC.
#[test]
fn okx_prehash_matches_the_docs() {
    let c = creds("okx-key", "22582BD0CFF14C41EDBF1AB98506286D").with_passphrase("okx-pass");
    let s = sign(
        &Scheme::okx(),
        &c,
        Method::GET,
        "https://www.okx.com/api/v5/account/balance?ccy=BTC",
        &[],
        b"",
        1_607_418_537_715,
        1,
    )
    .unwrap();
    let expected = "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC";
    assert_eq!(s.string_to_sign, expected.as_bytes());
    assert_eq!(
        header(&s, "ok-access-timestamp"),
        "2020-12-08T09:08:57.715Z"
    );
    assert_eq!(header(&s, "ok-access-passphrase"), "okx-pass");
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(b"22582BD0CFF14C41EDBF1AB98506286D").unwrap();
    mac.update(expected.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(header(&s, "ok-access-sign"), b64);
}

// Source: Coinbase Exchange REST API, "Authentication → Signing a Message"
// (docs.cdp.coinbase.com/exchange/rest-api/authentication): prehash = timestamp + method +
// requestPath + body, key = base64-decoded secret, output base64; CB-ACCESS-TIMESTAMP in
// seconds. No published signature exists, so the signature is checked against an
// independent HMAC with the decoded secret.
#[test]
fn coinbase_prehash_and_signature() {
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(b"coinbase-secret-bytes");
    let c = creds("cb-key", &secret_b64).with_passphrase("cb-pass");
    let body = br#"{"price":"1.0","size":"1.0","side":"buy","product_id":"BTC-USD"}"#;
    let s = sign(
        &Scheme::coinbase(),
        &c,
        Method::POST,
        "https://api.exchange.coinbase.com/orders",
        &[],
        body,
        1_618_884_473_000,
        1,
    )
    .unwrap();
    let mut expected = b"1618884473POST/orders".to_vec();
    expected.extend_from_slice(body);
    assert_eq!(s.string_to_sign, expected);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"coinbase-secret-bytes").unwrap();
    mac.update(&expected);
    let b64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(header(&s, "cb-access-sign"), b64);
    assert_eq!(header(&s, "cb-access-passphrase"), "cb-pass");
    assert_eq!(header(&s, "cb-access-key"), "cb-key");
    assert_eq!(header(&s, "cb-access-timestamp"), "1618884473");
}

#[test]
fn default_scheme_is_exactly_as_documented() {
    let s = sign(
        &Scheme::default_hmac(),
        &creds("k-123", "s3cr3t"),
        Method::POST,
        "http://127.0.0.1:9/v1/orders?limit=5",
        &[],
        br#"{"qty":1}"#,
        1_700_000_000_123,
        1,
    )
    .unwrap();
    let expected = br#"1700000000123POST/v1/orders?limit=5{"qty":1}"#;
    assert_eq!(s.string_to_sign, expected);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cr3t").unwrap();
    mac.update(expected);
    assert_eq!(
        header(&s, "api-signature"),
        hex::encode(mac.finalize().into_bytes())
    );
    // The value the README documents (computed independently with Python's
    // hmac module).
    assert_eq!(
        header(&s, "api-signature"),
        "0a0c7b66dde04dbac9f14cc8c82d8db917efff0cad6451fd1a37571be3974bee"
    );
    assert_eq!(header(&s, "api-timestamp"), "1700000000123");
    assert_eq!(header(&s, "api-key"), "k-123");
}

#[test]
fn recipe_secret_encodings_and_errors() {
    // A base64 recipe refuses a secret that is not base64, with a clear message.
    let err = sign(
        &Scheme::kraken(),
        &creds("k", "not base64!!"),
        Method::POST,
        "https://x.test/0/private/A",
        &[],
        b"",
        0,
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not valid base64"), "{err}");
    // Hex secrets decode before keying the HMAC.
    let recipe = HmacRecipe::new("hex")
        .parts([Part::Method, Part::Path])
        .secret_encoding(keel::signing::recipe::SecretEncoding::Hex)
        .timestamp(
            keel::signing::recipe::Placement::Omit,
            TimestampFormat::UnixSeconds,
        );
    let s = sign(
        &Scheme::hmac(recipe),
        &creds("k", "00ff10"),
        Method::GET,
        "https://x.test/a",
        &[],
        b"",
        0,
        1,
    )
    .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&[0x00, 0xff, 0x10]).unwrap();
    mac.update(b"GET/a");
    assert_eq!(
        header(&s, "api-signature"),
        hex::encode(mac.finalize().into_bytes())
    );
    // A passphrase scheme without one fails with a clear error.
    let err = sign(
        &Scheme::okx(),
        &creds("k", "s"),
        Method::GET,
        "https://x.test/a",
        &[],
        b"",
        0,
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("passphrase"), "{err}");
}
