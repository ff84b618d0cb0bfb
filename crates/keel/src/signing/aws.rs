//! AWS Signature Version 4 (feature `aws-sigv4`), through the official
//! [`aws-sigv4`](https://docs.rs/aws-sigv4) crate — not re-implemented.
//!
//! The API key is the access key id, the API secret the secret access key,
//! and the passphrase, when set, the session token (`X-Amz-Security-Token`).
//! The signature goes in the `Authorization` header with `X-Amz-Date`.
//!
//! ```
//! let client = keel::HttpAuthenticatedClient::builder("https://sts.us-east-1.amazonaws.com")
//!     .api_key("AKIDEXAMPLE")
//!     .api_secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
//!     .scheme(keel::signing::Scheme::aws_sigv4("us-east-1", "sts"))
//!     .build()?;
//! # let _ = client;
//! # Ok::<(), keel::Error>(())
//! ```

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use zeroize::Zeroizing;

use super::{Credentials, Scheme, Signer, SigningRequest};
use crate::error::{Error, Result};

/// AWS Signature Version 4 for one region and service.
#[derive(Debug, Clone)]
pub struct AwsSigV4 {
    region: String,
    service: String,
}

impl AwsSigV4 {
    /// A signer for `region` (`us-east-1`) and `service` (`s3`, `execute-api` …).
    pub fn new(region: impl Into<String>, service: impl Into<String>) -> Self {
        AwsSigV4 {
            region: region.into(),
            service: service.into(),
        }
    }

    /// The signing settings: SigV4's defaults, except for S3, whose path is
    /// URI-encoded once and not normalized, and which requires the
    /// `x-amz-content-sha256` header (AWS, "Create a signed AWS API
    /// request" and S3's "Signature Calculations for the Authorization
    /// Header"; the AWS SDK signs S3 requests the same way).
    fn settings(&self) -> SigningSettings {
        let mut settings = SigningSettings::default();
        if self.service == "s3" {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        settings
    }
}

impl Scheme {
    /// AWS Signature Version 4 ([`AwsSigV4`]).
    pub fn aws_sigv4(region: impl Into<String>, service: impl Into<String>) -> Self {
        Scheme::custom(AwsSigV4::new(region, service))
    }
}

impl Signer for AwsSigV4 {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        let secret = std::str::from_utf8(c.api_secret()?)
            .map_err(|_| Error::Signing("the AWS secret access key must be text".into()))?;
        let token = if c.has_passphrase() {
            Some(c.passphrase()?.to_owned())
        } else {
            None
        };
        let identity: Identity =
            AwsCredentials::new(c.api_key(), secret, token, None, "keel").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(req.timestamp)
            .settings(self.settings())
            .build()
            .map_err(|e| Error::Signing(format!("AWS SigV4 parameters: {e}")))?
            .into();
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let url = Zeroizing::new(req.url.as_str().to_owned());
        let method = req.method.as_str().to_owned();
        let body = req.body().to_vec();
        let signable = SignableRequest::new(
            &method,
            url.as_str(),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| Error::Signing(format!("AWS SigV4 cannot sign this request: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| Error::Signing(format!("AWS SigV4 signing failed: {e}")))?
            .into_parts();
        let (new_headers, new_params) = instructions.into_parts();
        for h in new_headers {
            let name = HeaderName::from_static(h.name());
            let mut value = HeaderValue::from_str(h.value()).map_err(|_| {
                Error::Signing(format!("AWS SigV4 produced an invalid {} header", h.name()))
            })?;
            value.set_sensitive(h.sensitive() || name == AUTHORIZATION);
            req.headers.insert(name, value);
        }
        for (k, v) in new_params {
            req.url.query_pairs_mut().append_pair(k, &v);
        }
        Ok(())
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        vec![
            HeaderName::from_static("x-amz-date"),
            HeaderName::from_static("x-amz-security-token"),
            HeaderName::from_static("x-amz-content-sha256"),
        ]
    }

    fn requires_secret(&self) -> bool {
        true
    }
}
