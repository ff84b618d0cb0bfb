#!/usr/bin/env python3
"""Checks the license of every package in the dependency tree (all features,
all targets, dev- and build-dependencies included) against the allowlist
below, reading `cargo metadata`. Exits 1 and names each package whose
license expression the allowlist does not satisfy, or that declares none.

Why not cargo-deny: it is the full-featured tool, but building it from
source on a 2-core CI machine costs minutes per run, and this check needs
only the `license` field that cargo already resolves. Use cargo-deny when
the policy grows (advisories, bans, sources).

SPDX expressions: `A OR B` needs one side allowed, `A AND B` both,
`A WITH exception` is judged by A; `/` (old crates) means OR.
"""
import json
import re
import subprocess
import sys

# Permissive licenses compatible with distributing Keel as MIT OR Apache-2.0.
ALLOWED = {
    "MIT", "MIT-0", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC",
    "Zlib", "0BSD", "CC0-1.0", "Unlicense", "BSL-1.0", "Unicode-3.0",
    "Unicode-DFS-2016", "CDLA-Permissive-2.0", "OpenSSL",
    # File-level copyleft: using an unmodified MPL crate is fine for us.
    "MPL-2.0",
}


def tokens(expr):
    return re.findall(r"\(|\)|[A-Za-z0-9.+\-]+", expr.replace("/", " OR "))


def parse(toks):
    """expr := term (OR term)*; term := factor (AND factor)*;
    factor := '(' expr ')' | ID [WITH ID]"""
    pos = 0

    def expr():
        nonlocal pos
        ok = term()
        while pos < len(toks) and toks[pos] == "OR":
            pos += 1
            ok = term() or ok
        return ok

    def term():
        nonlocal pos
        ok = factor()
        while pos < len(toks) and toks[pos] == "AND":
            pos += 1
            ok = factor() and ok
        return ok

    def factor():
        nonlocal pos
        if pos >= len(toks):
            raise ValueError("unexpected end")
        t = toks[pos]
        pos += 1
        if t == "(":
            ok = expr()
            if pos >= len(toks) or toks[pos] != ")":
                raise ValueError("missing )")
            pos += 1
            return ok
        if pos < len(toks) and toks[pos] == "WITH":
            pos += 2
        return t.rstrip("+") in ALLOWED

    ok = expr()
    if pos != len(toks):
        raise ValueError(f"unexpected {toks[pos]!r}")
    return ok


def main():
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"]))
    bad = []
    for p in meta["packages"]:
        lic = p.get("license")
        name = f'{p["name"]} {p["version"]}'
        if not lic:
            bad.append(f"{name}: no SPDX license expression (license-file: {p.get('license_file')})")
            continue
        try:
            if not parse(tokens(lic)):
                bad.append(f"{name}: {lic}")
        except ValueError as e:
            bad.append(f"{name}: cannot read {lic!r} ({e})")
    print(f"licenses: {len(meta['packages'])} packages checked")
    if bad:
        print("not allowed by scripts/check-licenses.py (add the license to ALLOWED only if it is "
              "compatible with MIT OR Apache-2.0, or replace the dependency):")
        for b in bad:
            print("  " + b)
        sys.exit(1)


if __name__ == "__main__":
    main()
