//! AWS Signature Version 4 (feature `aws-sigv4`) against AWS's published
//! SigV4 test suite: case `get-vanilla` (credentials AKIDEXAMPLE, region
//! us-east-1, service `service`, 2015-08-30T12:36:00Z). Source: the AWS SigV4
//! test suite (awslabs/aws-c-auth tests/aws-signing-test-suite/v4/get-vanilla,
//! header-signed-request.txt), the same vectors AWS documents for Signature
//! Version 4.
//!
//! Runs under the shared secret scan (tests/common/secrets.rs): the
//! credentials, scheme, prepared signer, request, headers and log show no
//! secret access key.
#![cfg(feature = "aws-sigv4")]

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::secrets::SecretScan;
use http::{HeaderMap, HeaderName, Method};
use keel::signing::{Credentials, Scheme, SigningRequest};
use keel::Url;

/// The test suite's secret access key.
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

#[test]
fn get_vanilla_matches_the_test_suite() {
    let mut scan = SecretScan::new(&[SECRET_ACCESS_KEY]);
    let mut url = Url::parse("https://example.amazonaws.com/").unwrap();
    let mut headers = HeaderMap::new();
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        Some(SECRET_ACCESS_KEY.as_bytes().to_vec()),
        HeaderName::from_static("api-key"),
    );
    let scheme = Scheme::aws_sigv4("us-east-1", "service");
    scan.check(
        "credentials and scheme",
        format_args!("{creds:?} {scheme:?}"),
    );
    match scheme.prepare(&creds) {
        Ok(prepared) => scan.debug("prepared signer", &prepared),
        Err(e) => scan.error("prepare", &e),
    }
    // 2015-08-30T12:36:00Z
    let t = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let mut req = SigningRequest::new(&Method::GET, &mut url, &mut headers, b"", t, 1);
    let signed = scheme.signer().sign(&mut req, &creds);
    scan.debug("signing request", &req);
    if let Err(e) = &signed {
        scan.error("signing", e);
    }
    signed.unwrap();
    assert_eq!(headers["x-amz-date"], "20150830T123600Z");
    assert_eq!(
        headers["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
    assert!(
        !format!("{headers:?}").contains("5fa00fa3"),
        "the Authorization value is marked sensitive"
    );
    scan.debug("signed headers", &headers);
    scan.finish();
}
