"""Hostile requests and the exact answer each must get: the data behind test_hostile.py (Flask test client over
moto) and tests/integration/test_hostile_wire.py (raw sockets against the production gunicorn).

`status` is the app's answer; `wire` is what the real server answers when it differs, because gunicorn refuses the
request before the app sees it (oversized request line or headers, malformed HTTP). `s3` says whether the request
may reach S3 at all: an invalid key never does. Range cases answer 200/206/416 on purpose (RFC 9110 lets a server
ignore a Range it does not like) - those are documented in README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Objects both runs seed, so that "valid but odd" keys reach a real 200.
OBJECTS: dict[str, bytes] = {
    "a.txt": b"0123456789" * 10,
    'quote".txt': b"quote",
    "x;filename=evil.exe": b"semicolon",
    "back\\slash.txt": b"backslash",
    "\u202etxt.exe": b"right-to-left override",
    "Set-Cookie: x=1.txt": b"header-looking name",
}
SIZE_A = len(OBJECTS["a.txt"])


@dataclass(frozen=True)
class Case:
    id: str
    target: str  # the request target exactly as sent: percent-encoded path (+ query)
    status: int
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    s3: bool = False
    wire: int | None = None  # gunicorn's own answer, when it refuses before the app
    wire_only: bool = False  # not expressible through the WSGI test client (malformed HTTP)
    raw: bytes | None = None  # the whole request, for wire-only cases

    @property
    def wire_status(self) -> int:
        return self.wire if self.wire is not None else self.status


KEY_1025 = "k" * 1025
KEY_1024 = "k" * 1024
E_ACUTE_513 = "%C3%A9" * 513  # 1026 bytes once decoded

CASES: list[Case] = [
    # --- traversal, plain and encoded ---------------------------------------------------------------------------
    Case("dotdot-plain", "/files/../etc/passwd", 400),
    Case("dotdot-inner", "/files/a/../../secret", 400),
    Case("dotdot-encoded", "/files/%2e%2e/secret", 400),
    Case("dotdot-encoded-upper", "/files/a/%2E%2E/b", 400),
    Case("dotdot-encoded-slash", "/files/..%2fsecret", 400),
    Case("dotdot-all-encoded", "/files/a%2f..%2f..%2fb", 400),
    Case("dot-segment", "/files/./a.txt", 400),
    Case("dot-trailing", "/files/a.txt/.", 400),
    Case("dotdot-only", "/files/..", 400),
    Case("leading-slash-encoded", "/files/%2fetc/passwd", 400),
    # Double encoding is not decoded twice: the key is literally "%2e%2e/secret", a legal name S3 does not have.
    Case("dotdot-double-encoded", "/files/%252e%252e/secret", 404, s3=True),
    # Browsers read "\\" as "/" and SeaweedFS splits keys on it: dot segments between backslashes are refused too.
    Case("backslash-dotdot", "/files/..%5csecret", 400),
    Case("backslash-dotdot-inner", "/files/a%5c..%5cb", 400),
    Case("backslash-dot", "/files/.%5ca.txt", 400),
    # --- empty keys and double slashes ---------------------------------------------------------------------------
    Case("empty-key", "/files/", 400),
    Case("double-slash-leading", "/files//etc/passwd", 400),
    Case("double-slash-inner", "/files/a//a.txt", 400),
    Case("trailing-slash", "/files/a.txt/", 400),
    Case("no-files-slash", "/files", 400),  # the files route without a key: empty key
    Case("double-slash-root", "//files/a.txt", 400),  # Werkzeug routes it to /files/, the key starts empty
    # --- NUL and control characters ------------------------------------------------------------------------------
    Case("nul", "/files/a%00.txt", 400),
    Case("crlf", "/files/a%0d%0aSet-Cookie:%20x=1", 400),
    Case("lf", "/files/a%0a.txt", 400),
    Case("lf-only", "/files/%0a", 400),
    Case("lf-after-files", "/files%0a", 404),  # not a /files/ path at all
    Case("tab", "/files/a%09.txt", 400),
    Case("escape", "/files/a%1b[31m.txt", 400),
    Case("del", "/files/a%7f.txt", 400),
    Case("c1-nel", "/files/a%c2%85.txt", 400),
    Case("c1-csi", "/files/a%c2%9b.txt", 400),
    # --- invalid UTF-8 -------------------------------------------------------------------------------------------
    Case("utf8-lone-ff", "/files/%ff", 400),
    Case("utf8-truncated", "/files/caf%c3", 400),
    Case("utf8-overlong-slash", "/files/a%c0%afb", 400),
    Case("utf8-overlong-dot", "/files/%c0%ae%c0%ae/secret", 400),
    Case("utf8-surrogate", "/files/%ed%a0%80.txt", 400),
    Case("utf8-five-bytes", "/files/%f8%88%80%80%80", 400),
    Case("utf8-latin1", "/files/caf%e9.txt", 400),
    # --- key length ----------------------------------------------------------------------------------------------
    Case("key-1025-bytes", f"/files/{KEY_1025}", 400),
    Case("key-1026-bytes-multibyte", f"/files/{E_ACUTE_513}", 400),
    Case("key-1024-bytes-is-fine", f"/files/{KEY_1024}", 404, s3=True),
    Case("key-4000-bytes", "/files/" + "k" * 4000, 400),
    Case("request-line-5000", "/files/" + "k" * 5000, 400, wire=414),
    # --- header injection through the file name: a 200 whose Content-Disposition stays one safe header --------------
    Case("name-crlf-injection", "/files/x%0d%0aContent-Type:%20text/html", 400),
    Case("name-quote", "/files/quote%22.txt", 200, s3=True),
    Case("name-semicolon-param", "/files/x;filename=evil.exe", 200, s3=True),
    Case("name-backslash", "/files/back%5cslash.txt", 200, s3=True),
    Case("name-rtl-override", "/files/%e2%80%aetxt.exe", 200, s3=True),
    Case("name-header-lookalike", "/files/Set-Cookie:%20x=1.txt", 200, s3=True),
    # --- absurd Range headers ------------------------------------------------------------------------------------
    Case("range-end-beyond-int64", "/files/a.txt", 206, headers=(("Range", "bytes=0-" + "9" * 40),), s3=True),
    Case("range-start-beyond-int64", "/files/a.txt", 416, headers=(("Range", "bytes=" + "9" * 40 + "-"),), s3=True),
    Case("range-suffix-huge", "/files/a.txt", 206, headers=(("Range", "bytes=-" + "9" * 40),), s3=True),
    # beyond Python's 4300-digit int() limit, still under gunicorn's 8190-byte header limit
    Case("range-end-5000-digits", "/files/a.txt", 206, headers=(("Range", "bytes=0-" + "9" * 5000),), s3=True),
    Case("range-start-5000-digits", "/files/a.txt", 416, headers=(("Range", "bytes=" + "9" * 5000 + "-"),), s3=True),
    Case("range-suffix-zero", "/files/a.txt", 416, headers=(("Range", "bytes=-0"),), s3=True),
    Case("range-start-past-end", "/files/a.txt", 416, headers=(("Range", "bytes=100-200"),), s3=True),
    Case("range-reversed", "/files/a.txt", 200, headers=(("Range", "bytes=5-1"),), s3=True),
    Case("range-negative", "/files/a.txt", 200, headers=(("Range", "bytes=--1"),), s3=True),
    Case("range-1000-ranges", "/files/a.txt", 200, headers=(("Range", "bytes=" + ",".join(["0-0"] * 1000)),), s3=True),
    Case("range-other-unit", "/files/a.txt", 200, headers=(("Range", "chars=0-1"),), s3=True),
    Case("range-garbage", "/files/a.txt", 200, headers=(("Range", "bytes=\u00e9-\u00e9"),), s3=True),
    Case("range-empty", "/files/a.txt", 200, headers=(("Range", "bytes="),), s3=True),
    Case("if-range-garbage", "/files/a.txt", 200, headers=(("Range", "bytes=0-1"), ("If-Range", "x" * 500)), s3=True),
    # --- other preconditions and headers -------------------------------------------------------------------------
    Case("if-none-match-garbage", "/files/a.txt", 200, headers=(("If-None-Match", '"unterminated'),), s3=True),
    Case(
        "date-year-overflow",
        "/files/a.txt",
        200,
        headers=(("If-Modified-Since", "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"),),
        s3=True,
    ),
    Case(
        "date-utc-overflow",
        "/files/a.txt",
        200,
        headers=(("If-Unmodified-Since", "Fri, 31 Dec 9999 23:59:59 -0100"),),
        s3=True,
    ),
    Case(
        "if-match-list-beats-if-none-match",
        "/files/a.txt",
        412,
        headers=(("If-Match", '"x", "y"'), ("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")),
        s3=True,
    ),
    Case("if-modified-since-garbage", "/files/a.txt", 200, headers=(("If-Modified-Since", "yesterday"),), s3=True),
    Case("host-header-evil", "/health", 200, headers=(("Host", "evil.example"),)),
    Case("forwarded-junk", "/files/a.txt", 200, headers=(("X-Forwarded-For", "<script>, ' OR 1=1"),), s3=True),
    Case("header-8000-bytes", "/health", 200, headers=(("X-Junk", "j" * 8000),)),
    Case("header-9000-bytes", "/health", 200, headers=(("X-Junk", "j" * 9000),), wire=431),
    Case(
        "headers-120-fields",
        "/health",
        200,
        headers=tuple((f"X-Junk-{i}", "j") for i in range(120)),
        wire=431,
    ),
    # --- methods other than GET and HEAD -------------------------------------------------------------------------
    Case("post", "/files/a.txt", 405, method="POST"),
    Case("put", "/files/a.txt", 405, method="PUT"),
    Case("delete", "/files/a.txt", 405, method="DELETE"),
    Case("patch", "/files/a.txt", 405, method="PATCH"),
    Case("options", "/files/a.txt", 405, method="OPTIONS"),
    Case("trace", "/files/a.txt", 405, method="TRACE"),
    Case("propfind", "/files/a.txt", 405, method="PROPFIND"),
    Case("post-health", "/health", 405, method="POST"),
    Case("delete-root", "/", 405, method="DELETE"),
    Case("post-invalid-key", "/files/../x", 405, method="POST"),
    Case("post-unroutable-key", "/files/a%0Ab", 405, method="POST"),
    Case("delete-leading-slash-key", "/files//etc/passwd", 405, method="DELETE"),
    Case("head-leading-slash-key", "/files//etc/passwd", 400, method="HEAD"),
    Case("head-unroutable-key", "/files/a%0Ab", 400, method="HEAD"),
    # --- query strings: ignored, never forwarded to S3 ------------------------------------------------------------
    Case(
        "query-s3-overrides",
        "/files/a.txt?response-content-type=text/html&response-content-disposition=inline",
        200,
        s3=True,
    ),
    Case("query-version-id", "/files/a.txt?versionId=null&partNumber=1", 200, s3=True),
    Case("query-3000", "/health?q=" + "q" * 3000, 200),
    Case("query-8000", "/files/a.txt?q=" + "q" * 8000, 200, s3=True, wire=414),
    # --- malformed HTTP: only a real server sees these --------------------------------------------------------------
    Case("http-garbage-line", "", 400, wire_only=True, raw=b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
    Case("http-no-version", "", 400, wire_only=True, raw=b"GET /health\r\n\r\n"),
    Case("http-bad-version", "", 400, wire_only=True, raw=b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n"),
    Case("http-nul-in-header", "", 400, wire_only=True, raw=b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    Case("http-bad-header-name", "", 400, wire_only=True, raw=b"GET /health HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n"),
    Case(
        "http-smuggling-cl-te",
        "",
        400,
        wire_only=True,
        raw=b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    Case("http-raw-space-in-target", "", 400, wire_only=True, raw=b"GET /files/a b.txt HTTP/1.1\r\nHost: x\r\n\r\n"),
]

#: Strings no answer may contain: bucket names, AWS vocabulary, S3's own error words, stack traces.
LEAKS = ("arn:aws", "amazonaws", "NoSuchKey", "AccessDenied", "Traceback", "botocore", "boto3", "<Error>", "x-amz")
