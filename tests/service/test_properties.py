"""Property-based tests (hypothesis) of the two functions that face attacker-chosen bytes most directly:
key validation and the Content-Disposition header built from the key."""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header

from download_service.http_rules import content_disposition
from download_service.keys import MAX_KEY_BYTES, InvalidKeyError, decode_key

# Bytes that look like paths: separators, dots, backslashes, percent signs, controls and multi-byte UTF-8 pieces.
PATHISH = st.lists(
    st.sampled_from([b"/", b".", b"..", b"\\", b"%", b"a", b"\x00", b"\r\n", b"\x7f", b"\xc3", b"\xa9", b"\xff"])
    | st.binary(max_size=8),
    max_size=40,
).map(b"".join)

NOT_CONTROL_OR_SURROGATE = st.characters(blacklist_categories=("Cc", "Cs"))
SEGMENT = st.text(NOT_CONTROL_OR_SURROGATE, min_size=1, max_size=20).filter(
    lambda s: "/" not in s and all(part not in (".", "..") for part in s.split("\\"))
)
VALID_KEYS = st.lists(SEGMENT, min_size=1, max_size=6).map("/".join).filter(lambda k: len(k.encode()) <= MAX_KEY_BYTES)

# A file name as any Unicode string could give it, controls, quotes and separators included (no lone surrogates:
# keys are valid UTF-8 by the time they are named; the last segment of a key, so never empty and without "/").
ANY_NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=60)

_ATTR_CHARS = r"A-Za-z0-9!#$&+\-.^_`|~"
_DISPOSITION = re.compile(
    r'attachment; filename="(?P<ascii>[\x20\x21\x23-\x5b\x5d-\x7e]+)"; '
    rf"filename\*=UTF-8''(?P<encoded>(?:[{_ATTR_CHARS}]|%[0-9A-F]{{2}})*)"
)


@settings(max_examples=500)
@given(st.one_of(st.binary(max_size=1100), PATHISH))
@example(b"k" * 1025)
@example(b"..\\x")
@example(b"\xc0\xaf")
def test_decode_key_accepts_only_what_it_promises(raw: bytes):
    try:
        key, message = decode_key(raw), None
    except InvalidKeyError as err:
        key, message = None, str(err)
    if key is None:
        assert 0 < len(message) < 80  # a message safe to show: ours, short, no echo of the input
        return
    assert key.encode("utf-8") == raw  # no normalisation behind the client's back
    assert 0 < len(raw) <= MAX_KEY_BYTES
    assert not any(unicodedata.category(ch) == "Cc" for ch in key)
    for segment in key.split("/"):
        assert segment not in ("", ".", "..")
        assert all(part not in (".", "..") for part in segment.split("\\"))


@settings(max_examples=300)
@given(VALID_KEYS)
def test_every_well_formed_key_is_accepted_unchanged(key: str):
    assert decode_key(key.encode("utf-8")) == key


@settings(max_examples=500)
@given(ANY_NAME, st.sampled_from(["", "dir/", "a/b/"]))
@example('"; filename="evil.exe', "")
@example("a\r\nSet-Cookie: x=1", "")
@example("%41%", "")
@example("\u202etxt.exe", "")
@example(" ", "dir/")
def test_content_disposition_is_one_safe_parseable_header(name: str, directory: str):
    value = content_disposition(directory + name)

    # One line of printable ASCII: nothing can end the header or start another one.
    assert value.isascii()
    assert all(" " <= ch <= "~" for ch in value)
    # Exactly the shape RFC 6266 §4.3 recommends, with a non-empty quoted fallback and a valid RFC 8187 value...
    match = _DISPOSITION.fullmatch(value)
    assert match, value
    # ...whose filename* decodes (strictly) to exactly the original name.
    assert urllib.parse.unquote(match["encoded"], encoding="utf-8", errors="strict") == name
    # A real parser (Werkzeug's, RFC 2231/8187 aware) agrees, and a response can carry it.
    assert parse_options_header(value) == ("attachment", {"filename": name})
    Headers().add("Content-Disposition", value)
