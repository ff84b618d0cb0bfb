"""RFC 9421 interop peer for crates/keel/tests/signing_interop.rs.

Reads one JSON job on stdin and writes one JSON answer on stdout, using the
independent Python implementation `http-message-signatures` (pyauth):

  {"mode": "verify", "alg": ..., "key": <base64 bytes: HMAC secret or public PEM>,
   "method": ..., "url": ..., "headers": [[name, value], ...], "body": <base64>}
      -> {"ok": true, "covered": [...], "params": {...}} or {"ok": false, "error": "..."}

  {"mode": "sign", "alg": ..., "key": <base64: HMAC secret or private PEM>, "key_id": ...,
   "created": <unix seconds>, "nonce": ..., "components": [...], "include_alg": bool,
   "method": ..., "url": ..., "headers": [...], "body": <base64>}
      -> {"headers": [[name, value], ...]}
"""

import base64
import datetime
import json
import sys

import requests
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)

ALGORITHMS = {
    "hmac-sha256": algorithms.HMAC_SHA256,
    "ed25519": algorithms.ED25519,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
}


def message(job):
    body = base64.b64decode(job["body"]) or None
    req = requests.Request(job["method"], job["url"], data=body).prepare()
    for name, value in job["headers"]:
        req.headers[name] = value
    if body is None:
        req.headers.pop("Content-Length", None)
    return req


def main():
    job = json.load(sys.stdin)
    alg = ALGORITHMS[job["alg"]]
    key = base64.b64decode(job["key"])
    req = message(job)
    if job["mode"] == "verify":
        resolver = MappingKeyResolver(public_keys={job.get("key_id", ""): key}, private_keys={})

        class AnyKey(MappingKeyResolver):
            def resolve_public_key(self, key_id):
                return key

        verifier = HTTPMessageVerifier(signature_algorithm=alg, key_resolver=AnyKey(public_keys={}, private_keys={}))
        del resolver
        try:
            results = verifier.verify(req, max_age=None)
        except Exception as e:  # the reason goes back to the Rust test
            print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
            return
        r = results[0]
        print(json.dumps({
            "ok": True,
            "label": r.label,
            "params": {k: (v if isinstance(v, (int, str)) else str(v)) for k, v in dict(r.parameters).items()},
        }))
    else:
        signer = HTTPMessageSigner(
            signature_algorithm=alg,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={job["key_id"]: key}),
        )
        signer.sign(
            req,
            key_id=job["key_id"],
            created=datetime.datetime.fromtimestamp(job["created"], tz=datetime.timezone.utc),
            nonce=job.get("nonce"),
            label="pyhms",
            include_alg=job["include_alg"],
            covered_component_ids=job["components"],
        )
        print(json.dumps({"headers": [[k, v] for k, v in req.headers.items()]}))


if __name__ == "__main__":
    main()
