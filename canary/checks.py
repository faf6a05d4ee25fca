"""The smoke checks a deployed download service must pass, written once.

tests/smoke runs them after every pipeline deployment, canary/hook.py runs them against a new revision alone before
it takes production traffic, and canary/probe.py runs some of them on a schedule. Stdlib only: the hook runs in
AWS Lambda's Python runtime and the probe in CloudWatch Synthetics', neither of which installs packages.

Guarantees of every check (`CHECKS[name](target)`, or `run_checks`):

- it sends `target.headers` on each of its requests, and its result never contains a request header's value;
- it never raises for anything the service or the network does: it returns `CheckResult(name, ok, detail)`, where
  `detail` is "ok", or one line of at most DETAIL_MAX characters saying what was expected and what came (statuses,
  sizes, digests, response header values; never a body);
- it reads at most canary.target.MAX_BODY_BYTES of a body, so a wrong object cannot exhaust a function's memory.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from canary.target import DEFAULT_TIMEOUT, Response, Target, files_path, request

#: The service's errors are `{"error": ..., "request_id": ...}`; anything bigger is not one of them.
MAX_ERROR_BYTES = 1024
DETAIL_MAX = 200
HEALTH_PATH = "/health"
#: Never seeded by any stage: the same folder as the canary object, so it is under the stage's files prefix too.
MISSING_KEY = "_canary/does-not-exist.txt"
#: An empty segment in the key: the service refuses it without asking S3 (400). Chosen to pass prod's WAF untouched,
#: as the release hook's checks must: letters, "_", "-" and "/" only, no encoding, no "..", no extension, far below
#: 1 KiB, nothing any URI-path rule of the managed groups the web ACL uses says it inspects for (AWS's rule lists:
#: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html, Core rule set and
#: Known bad inputs: size over 1,024 bytes, LFI such as "../", restricted extensions, XSS, EC2 metadata, exploitable
#: paths, Log4j/Java deserialization patterns). A NUL (%00), say, is a classic LFI trick a managed rule may block
#: with a 403, failing every production release while dev (no WAF) passes.
BAD_KEY_PATH = "/files/_canary//bad-key"
#: What a HEAD must repeat of the GET's headers.
HEAD_HEADERS = ("Content-Length", "ETag", "Content-Type", "Content-Disposition")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


class CheckFailedError(Exception):
    """Raised inside a check; its message becomes the result's detail."""


#: Every check by name, in the order run_checks runs them.
CHECKS: dict[str, Callable[[Target], CheckResult]] = {}


def _check(name: str) -> Callable[[Callable[[Target], None]], Callable[[Target], CheckResult]]:
    """Registers a check body, which raises CheckFailedError (or lets OSError/HTTPException through) to fail."""

    def register(body: Callable[[Target], None]) -> Callable[[Target], CheckResult]:
        @functools.wraps(body)
        def run(target: Target) -> CheckResult:
            try:
                body(target)
            except CheckFailedError as failed:
                return CheckResult(name, False, _one_line(str(failed)))
            except (OSError, http.client.HTTPException) as err:
                return CheckResult(name, False, _one_line(f"no answer: {type(err).__name__}: {err}"))
            return CheckResult(name, True, "ok")

        CHECKS[name] = run
        return run

    return register


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def _show(value: object, limit: int = 60) -> str:
    """A response value for a detail: quoted, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _expect(condition: bool, detail: str) -> None:
    if not condition:
        raise CheckFailedError(detail)


def _expect_status(response: Response, what: str, expected: int) -> None:
    if response.status != expected:
        body = response.json()
        # The service's JSON errors say why in a few words (e.g. "storage unavailable"); worth one field.
        reason = f" (error {_show(body['error'])})" if isinstance(body, dict) and "error" in body else ""
        raise CheckFailedError(f"{what}: expected {expected}, got {response.status}{reason}")


def _expect_header(response: Response, what: str, name: str, expected: str) -> None:
    actual = response.header(name)
    _expect(actual == expected, f"{what}: expected {name} {_show(expected)}, got {_show(actual)}")


def _expect_json_error(response: Response, what: str, status: int) -> None:
    _expect_status(response, what, status)
    _expect(len(response.body) <= MAX_ERROR_BYTES, f"{what}: expected a small JSON error, got {len(response.body)} B")
    body = response.json()
    keys = sorted(body) if isinstance(body, dict) else None
    _expect(keys == ["error", "request_id"], f"{what}: expected JSON keys error, request_id, got {_show(keys)}")


def _get_object(target: Target, headers: Mapping[str, str] | None = None, status: int = 200) -> Response:
    """A GET of the object that must answer `status`; the detail names the conditional header sent, if any."""
    response = request(target, "GET", target.object_path, headers)
    _expect_status(response, " with ".join(["GET object", *(headers or {})]), status)
    return response


@_check("health")
def check_health(target: Target) -> None:
    """GET /health: 200 with exactly {"status": "ok"}."""
    response = request(target, "GET", HEALTH_PATH)
    _expect_status(response, "GET /health", 200)
    body = response.json()
    _expect(body == {"status": "ok"}, f'GET /health: expected {{"status": "ok"}}, got {_show(body)}')


@_check("index")
def check_index(target: Target) -> None:
    """GET /: 200, the service's name and a non-empty version."""
    response = request(target, "GET", "/")
    _expect_status(response, "GET /", 200)
    body = response.json()
    body = body if isinstance(body, dict) else {}
    _expect(body.get("service") == "download-service", f"GET /: expected service download-service, got {_show(body)}")
    _expect(isinstance(body.get("version"), str) and body["version"], "GET /: expected a version, got none")


@_check("download")
def check_download(target: Target) -> None:
    """GET of the object: 200, byte-exact by SHA-256, its Content-Length, an attachment, the safety headers."""
    response = _get_object(target)
    digest = hashlib.sha256(response.body).hexdigest()
    _expect(
        digest == target.sha256.lower(),
        f"GET object: expected SHA-256 {target.sha256[:16]}…, got {digest[:16]}… ({len(response.body)} B)",
    )
    _expect_header(response, "GET object", "Content-Length", str(len(response.body)))
    disposition = response.header("Content-Disposition") or ""
    _expect(disposition.startswith("attachment;"), f"GET object: expected an attachment, got {_show(disposition)}")
    _expect_header(response, "GET object", "X-Content-Type-Options", "nosniff")
    _expect_header(response, "GET object", "Accept-Ranges", "bytes")


@_check("head")
def check_head(target: Target) -> None:
    """HEAD of the object: 200, no body, the GET's Content-Length, ETag, Content-Type and Content-Disposition."""
    head = request(target, "HEAD", target.object_path)
    _expect_status(head, "HEAD object", 200)
    _expect(head.body == b"", f"HEAD object: expected no body, got {len(head.body)} B")
    get = _get_object(target)
    for name in HEAD_HEADERS:
        _expect(get.header(name) is not None, f"GET object: expected its {name} header, got none")
        _expect_header(head, "HEAD object", name, get.header(name))


@_check("range")
def check_range(target: Target) -> None:
    """One range from the middle of the object: 206, its Content-Range, exactly those bytes of the whole GET."""
    whole = _get_object(target).body
    _expect(len(whole) > 0, "GET object: expected an object to take a range of, got 0 B")
    first = len(whole) // 4
    last = max(first, len(whole) // 2 - 1)
    partial = _get_object(target, {"Range": f"bytes={first}-{last}"}, status=206)
    _expect_header(partial, "GET object with Range", "Content-Range", f"bytes {first}-{last}/{len(whole)}")
    _expect(
        partial.body == whole[first : last + 1],
        f"GET object with Range: expected bytes {first}-{last} of the object, got {len(partial.body)} B that differ",
    )


@_check("revalidation")
def check_revalidation(target: Target) -> None:
    """A GET with If-None-Match of the object's ETag: 304, no body."""
    etag = _get_object(target).header("ETag")
    _expect(bool(etag), "GET object: expected an ETag, got none")
    response = _get_object(target, {"If-None-Match": etag}, status=304)
    _expect(response.body == b"", f"GET object with If-None-Match: expected no body, got {len(response.body)} B")


@_check("missing")
def check_missing(target: Target) -> None:
    """A key nobody seeded: 404 with the small JSON error."""
    _expect_json_error(request(target, "GET", files_path(MISSING_KEY)), "GET missing key", 404)


@_check("bad_key")
def check_bad_key(target: Target) -> None:
    """A key with an empty segment: 400 with the small JSON error."""
    _expect_json_error(request(target, "GET", BAD_KEY_PATH), "GET bad key", 400)


@_check("method")
def check_method(target: Target) -> None:
    """POST to the object: 405 with the small JSON error and Allow: GET, HEAD (in any order)."""
    response = request(target, "POST", target.object_path)
    _expect_json_error(response, "POST object", 405)
    allowed = sorted(part.strip() for part in (response.header("Allow") or "").split(","))
    _expect(allowed == ["GET", "HEAD"], f"POST object: expected Allow GET, HEAD, got {_show(response.header('Allow'))}")


#: Every check, in order: what a deployment must pass before it takes traffic.
CHECK_NAMES = tuple(CHECKS)


def run_checks(
    base_url: str,
    key: str,
    sha256: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    names: Iterable[str] = CHECK_NAMES,
) -> list[CheckResult]:
    """Runs the named checks (all by default) in order, each to its end whatever the others found."""
    return run_target(Target(base_url, key, sha256, dict(headers or {}), timeout), names)


def run_target(target: Target, names: Iterable[str] = CHECK_NAMES) -> list[CheckResult]:
    """run_checks for a Target already built."""
    return [CHECKS[name](target) for name in names]
