"""Validation of the object key taken from the request path."""

from __future__ import annotations

import unicodedata

MAX_KEY_BYTES = 1024  # S3's own limit on key length, in UTF-8 bytes


class InvalidKeyError(ValueError):
    """The key cannot name an object this service serves; the message is safe to show to the client."""


def decode_key(raw: bytes, max_bytes: int = MAX_KEY_BYTES) -> str:
    """Turn the percent-decoded path bytes after `/files/` into a validated key, or raise InvalidKeyError.

    Rules: non-empty; valid UTF-8; at most `max_bytes` (S3's 1024 less the configured prefix); no control characters
    (C0, DEL, C1) - they enable header and log injection and S3 tools mishandle them; no empty, `.` or `..` segments
    - S3 would accept them as literal names, but every proxy, cache and browser in between normalises them
    differently, so a key containing them cannot be addressed reliably and is more likely an attack than a file.
    Browsers read `\\` in a URL as `/`, and some S3-compatible servers split keys on it too, so `.` and `..` between
    backslashes are refused as well.
    """
    if not raw:
        raise InvalidKeyError("empty key")
    if len(raw) > max_bytes:
        raise InvalidKeyError(f"key longer than {max_bytes} bytes")
    try:
        key = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidKeyError("key is not valid UTF-8") from None
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        raise InvalidKeyError("key contains control characters")
    for segment in key.split("/"):
        if segment in ("", ".", "..") or any(part in (".", "..") for part in segment.split("\\")):
            raise InvalidKeyError("key contains an empty, '.' or '..' segment")
    return key
