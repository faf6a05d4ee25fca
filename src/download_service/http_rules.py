"""HTTP semantics of the download endpoint (RFC 9110 ranges and preconditions, RFC 6266/8187 file names).

Pure functions over header strings: no Flask, no S3, so every rule is unit-testable on its own.
"""

from __future__ import annotations

import email.utils
import mimetypes
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime

# Largest byte position S3 (and any int64 Content-Length) can express; beyond it a range cannot be satisfied.
MAX_POSITION = 2**63 - 1
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$", re.IGNORECASE)
_ETAG_RE = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
GENERIC_TYPES = frozenset({"binary/octet-stream", "application/octet-stream", ""})


#: What gunicorn sends as a header value: visible ASCII and spaces. Anything else makes it refuse the whole response
#: when it writes the headers, after the app has handed over its body.
_HEADER_VALUE_RE = re.compile(r"[\x20-\x7e]+")


def header_safe(value: str | None) -> str | None:
    """`value` if it can be sent as a header value, else None."""
    return value if value and _HEADER_VALUE_RE.fullmatch(value) else None


# --- Range -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ByteRange:
    """One `bytes=` range as sent: `first-last`, `first-` (last None) or suffix `-length` (first None)."""

    first: int | None
    last: int | None

    @property
    def always_unsatisfiable(self) -> bool:
        """True when no object size could satisfy it (`-0`, or a start no S3 object can reach)."""
        if self.first is None:
            return self.last == 0
        return self.first > MAX_POSITION

    def header(self) -> str:
        """The normalised Range header to forward to S3."""
        if self.first is None:
            # A suffix longer than any object means the whole object; S3 servers refuse lengths beyond int64.
            return f"bytes=-{min(self.last, MAX_POSITION)}"
        if self.last is None or self.last > MAX_POSITION:
            return f"bytes={self.first}-"
        return f"bytes={self.first}-{self.last}"

    def resolve(self, size: int) -> tuple[int, int] | None:
        """Inclusive (start, end) within an object of `size` bytes, or None when unsatisfiable."""
        if self.first is None:
            if not self.last or size == 0:
                return None
            return max(0, size - self.last), size - 1
        if self.first >= size:
            return None
        end = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, end


def parse_range(value: str | None) -> ByteRange | None:
    """The single byte range asked for, or None to serve the whole object.

    RFC 9110 §14.2 lets a server ignore Range: we do for several ranges (S3 serves only one, and multipart/
    byteranges responses are rarely what a downloader wants) and for anything malformed.
    """
    if not value:
        return None
    match = _RANGE_RE.match(value.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        return ByteRange(None, _position(last))
    start = _position(first)
    end = _position(last) if last else None
    if end is not None and end < start:
        return None
    return ByteRange(start, end)


def _position(digits: str) -> int:
    """A byte position as sent; anything beyond int64 becomes MAX_POSITION + 1 without building a huge integer
    (int() refuses strings of more than 4300 digits, and a header may carry 8000)."""
    digits = digits.lstrip("0") or "0"
    return MAX_POSITION + 1 if len(digits) > len(str(MAX_POSITION)) else min(int(digits), MAX_POSITION + 1)


# --- Preconditions -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityTag:
    weak: bool
    opaque: str

    @property
    def strong_form(self) -> str:
        return f'"{self.opaque}"'


ANY = "*"


def parse_etags(value: str | None) -> list[EntityTag] | str | None:
    """`*`, a list of entity tags, or None when absent or malformed (a malformed precondition is ignored)."""
    if value is None:
        return None
    value = value.strip()
    if value == ANY:
        return ANY
    tags, pos = [], 0
    while pos < len(value):
        if value[pos] in " \t,":  # RFC 9110 §5.6.1.2: empty list elements are accepted and ignored
            pos += 1
            continue
        match = _ETAG_RE.match(value, pos)
        if not match:
            return None
        tags.append(EntityTag(weak=bool(match.group(1)), opaque=match.group(2)))
        pos = match.end()
    return tags or None


def parse_etag(value: str | None) -> EntityTag | None:
    tags = parse_etags(value)
    return tags[0] if isinstance(tags, list) and len(tags) == 1 else None


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP-date as an aware UTC datetime, or None when it is not one (a malformed precondition is ignored).

    More than one comma means a list, which RFC 9110 §13.1.3/§13.1.4 says to ignore. Years or offsets that leave
    datetime's range are not dates either (OverflowError would otherwise surface as a 500, here or in botocore).
    """
    if not value or value.count(",") > 1:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None or parsed.tzinfo is None:
            return None
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


@dataclass(frozen=True)
class Preconditions:
    """The conditional request headers, parsed once (RFC 9110 §13)."""

    if_match: list[EntityTag] | str | None = None
    if_unmodified_since: datetime | None = None
    if_none_match: list[EntityTag] | str | None = None
    if_modified_since: datetime | None = None
    if_range: str | None = None

    @classmethod
    def from_headers(cls, headers) -> Preconditions:
        return cls(
            if_match=parse_etags(headers.get("If-Match")),
            if_unmodified_since=parse_http_date(headers.get("If-Unmodified-Since")),
            if_none_match=parse_etags(headers.get("If-None-Match")),
            if_modified_since=parse_http_date(headers.get("If-Modified-Since")),
            if_range=(headers.get("If-Range") or "").strip() or None,
        )

    def s3_arguments(self) -> dict:
        """The subset S3 evaluates itself, so a 304/412 costs S3 no body. Lists and `*` are left to evaluate()."""
        args: dict = {}
        if _one_forwardable(self.if_match) and not self.if_match[0].weak:
            args["IfMatch"] = self.if_match[0].strong_form
        elif self.if_match is None and self.if_unmodified_since:
            args["IfUnmodifiedSince"] = self.if_unmodified_since
        if self.if_match is not None and "IfMatch" not in args:
            # If-Match is decided here (a list, `*` or a weak tag): S3 must not answer 304 before it is (§13.2.2).
            return args
        if _one_forwardable(self.if_none_match):
            args["IfNoneMatch"] = self.if_none_match[0].strong_form  # weak comparison: W/ does not matter
        elif self.if_none_match is None and self.if_modified_since:
            args["IfModifiedSince"] = self.if_modified_since
        return args

    def evaluate(self, etag: str | None, last_modified: datetime | None) -> int:
        """200, 304 or 412 for a GET/HEAD of a representation with these validators (RFC 9110 §13.2.2)."""
        current = parse_etag(etag)
        if self.if_match is not None:
            if not _matches(self.if_match, current, strong=True):
                return 412
        elif self.if_unmodified_since and last_modified and last_modified > self.if_unmodified_since:
            return 412
        if self.if_none_match is not None:
            if _matches(self.if_none_match, current, strong=False):
                return 304
        elif self.if_modified_since and last_modified and last_modified <= self.if_modified_since:
            return 304
        return 200

    def range_applies(self, etag: str | None, last_modified: datetime | None) -> bool:
        """If-Range: serve the range only when the client's validator still matches (strongly)."""
        if self.if_range is None:
            return True
        if self.if_range.startswith(('"', "W/")):
            wanted, current = parse_etag(self.if_range), parse_etag(etag)
            return bool(wanted and current and not wanted.weak and not current.weak and wanted == current)
        moment = parse_http_date(self.if_range)
        return bool(moment and last_modified and moment == last_modified.replace(microsecond=0))

    @property
    def if_range_never_matches(self) -> bool:
        """An If-Range no representation satisfies: a weak tag (If-Range compares strongly), a malformed tag, or
        neither a tag nor an HTTP date. The Range is then ignored up front: the whole object in one S3 call."""
        if self.if_range is None:
            return False
        if self.if_range.startswith(('"', "W/")):
            tag = parse_etag(self.if_range)
            return tag is None or tag.weak
        return parse_http_date(self.if_range) is None


#: S3's ETags are ASCII hex, with "-<parts>" for multipart uploads: well under this.
_MAX_FORWARDED_ETAG = 128


def _one_forwardable(condition: list[EntityTag] | str | None) -> bool:
    """A single tag S3 can be asked about. Anything else (lists, `*`, obs-text, absurd lengths that S3 might refuse
    with a 400 we would have to call a 502) is evaluated here; such a tag can never equal S3's ETag anyway."""
    if not isinstance(condition, list) or len(condition) != 1:
        return False
    opaque = condition[0].opaque
    return opaque.isascii() and len(opaque) <= _MAX_FORWARDED_ETAG


def _matches(condition: list[EntityTag] | str, current: EntityTag | None, *, strong: bool) -> bool:
    if current is None:
        return False
    if condition == ANY:
        return True
    if strong and current.weak:
        return False
    return any(tag.opaque == current.opaque and not (strong and tag.weak) for tag in condition)


# --- Content-Disposition and Content-Type ------------------------------------------------------------------------

# RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else is percent-encoded.
_ATTR_SAFE = "!#$&+-.^_`|~"


def content_disposition(key: str) -> str:
    """`attachment` with the key's last segment as file name: an ASCII `filename=` for old clients and the exact
    UTF-8 name in `filename*=` (RFC 6266 §4.3). Quotes, backslashes and control characters cannot break out."""
    name = key.rsplit("/", 1)[-1]
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(_ascii_fallback(c) for c in decomposed if not unicodedata.combining(c))
    ascii_name = ascii_name.strip() or "download"
    encoded = urllib.parse.quote(name, safe=_ATTR_SAFE)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


def _ascii_fallback(char: str) -> str:
    if char in '"\\%' or not " " <= char <= "~":
        return "_"
    return char


def content_type(s3_type: str | None, key: str) -> str:
    """S3's type, unless it is the generic default S3 stores when the uploader said nothing."""
    if s3_type and s3_type.lower() not in GENERIC_TYPES:
        return s3_type
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"
