"""The pure HTTP rules, one behaviour per test."""

from datetime import UTC, datetime, timedelta

import pytest

from download_service.http_rules import (
    ANY,
    MAX_POSITION,
    ByteRange,
    EntityTag,
    Preconditions,
    content_disposition,
    content_type,
    parse_etags,
    parse_http_date,
    parse_range,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=-5", ByteRange(None, 5)),
        ("bytes=5-", ByteRange(5, None)),
        ("bytes=10-20", ByteRange(10, 20)),
        ("BYTES=1-2", ByteRange(1, 2)),  # range units compare case-insensitively
        (" bytes=1-2 ", ByteRange(1, 2)),
    ],
)
def test_single_ranges_are_parsed(header, expected):
    assert parse_range(header) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes=", "bytes=-", "bytes=5-3", "bytes=0-1,3-4", "bytes=a-b", "items=0-1", "bytes 0-1", "bytes=--1"],
)
def test_multiple_or_malformed_ranges_mean_whole_object(header):
    assert parse_range(header) is None


@pytest.mark.parametrize(
    ("byte_range", "size", "span"),
    [
        (ByteRange(0, 0), 10, (0, 0)),
        (ByteRange(None, 5), 10, (5, 9)),
        (ByteRange(None, 50), 10, (0, 9)),
        (ByteRange(5, None), 10, (5, 9)),
        (ByteRange(5, 1000), 10, (5, 9)),
        (ByteRange(10, None), 10, None),
        (ByteRange(None, 0), 10, None),
        (ByteRange(0, 0), 0, None),
        (ByteRange(None, 3), 0, None),
    ],
)
def test_ranges_resolve_against_the_size(byte_range, size, span):
    assert byte_range.resolve(size) == span


def test_header_forwarded_to_s3_is_normalised_and_bounded():
    assert ByteRange(3, None).header() == "bytes=3-"
    assert ByteRange(None, 7).header() == "bytes=-7"
    assert ByteRange(None, 10**40).header() == f"bytes=-{MAX_POSITION}"  # still "the whole object" to S3
    assert ByteRange(1, 2**70).header() == "bytes=1-"
    assert ByteRange(2**70, None).always_unsatisfiable
    assert ByteRange(None, 0).always_unsatisfiable
    assert not ByteRange(0, 0).always_unsatisfiable


def test_etag_lists_weak_tags_and_star():
    assert parse_etags('"a", W/"b" ,"c"') == [EntityTag(False, "a"), EntityTag(True, "b"), EntityTag(False, "c")]
    assert parse_etags("*") == ANY
    assert parse_etags('"unterminated') is None
    assert parse_etags("no-quotes") is None


ETAG = '"abc"'
MODIFIED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = "Sat, 03 Jan 2026 00:00:00 GMT"
EARLIER = "Thu, 01 Jan 2026 00:00:00 GMT"


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({}, 200),
        ({"If-None-Match": '"abc"'}, 304),
        ({"If-None-Match": 'W/"abc"'}, 304),  # weak comparison
        ({"If-None-Match": '"x", "abc"'}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"x"'}, 200),
        ({"If-Modified-Since": LATER}, 304),
        ({"If-Modified-Since": EARLIER}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-None-Match": '"x"', "If-Modified-Since": LATER}, 200),  # If-None-Match wins
        ({"If-Match": '"abc"'}, 200),
        ({"If-Match": '"x", "abc"'}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Match": '"x"'}, 412),
        ({"If-Match": 'W/"abc"'}, 412),  # strong comparison
        ({"If-Unmodified-Since": EARLIER}, 412),
        ({"If-Unmodified-Since": LATER}, 200),
        ({"If-Match": '"abc"', "If-Unmodified-Since": EARLIER}, 200),  # If-Match wins
        ({"If-Match": '"x"', "If-None-Match": '"abc"'}, 412),  # 412 before 304
    ],
)
def test_preconditions_follow_rfc9110_order(headers, outcome):
    assert Preconditions.from_headers(headers).evaluate(ETAG, MODIFIED) == outcome


def test_only_single_tags_and_dates_are_delegated_to_s3():
    assert Preconditions.from_headers({"If-None-Match": 'W/"abc"'}).s3_arguments() == {"IfNoneMatch": '"abc"'}
    assert Preconditions.from_headers({"If-None-Match": '"a", "b"'}).s3_arguments() == {}
    assert Preconditions.from_headers({"If-Match": "*"}).s3_arguments() == {}
    args = Preconditions.from_headers({"If-Modified-Since": EARLIER, "If-Unmodified-Since": LATER}).s3_arguments()
    assert set(args) == {"IfModifiedSince", "IfUnmodifiedSince"}
    both = Preconditions.from_headers({"If-None-Match": '"a"', "If-Modified-Since": EARLIER}).s3_arguments()
    assert both == {"IfNoneMatch": '"a"'}


@pytest.mark.parametrize(
    ("if_range", "applies"),
    [
        ('"abc"', True),
        ('"old"', False),
        ('W/"abc"', False),
        ("Fri, 02 Jan 2026 03:04:05 GMT", True),
        ("Fri, 02 Jan 2026 03:04:06 GMT", False),
        ("garbage", False),
    ],
)
def test_if_range_needs_a_strong_exact_match(if_range, applies):
    assert Preconditions.from_headers({"If-Range": if_range}).range_applies(ETAG, MODIFIED) is applies


def test_if_range_date_ignores_sub_second_precision_of_s3():
    precise = MODIFIED + timedelta(microseconds=500)
    assert Preconditions.from_headers({"If-Range": "Fri, 02 Jan 2026 03:04:05 GMT"}).range_applies(ETAG, precise)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("dir/report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        (
            "Résumé \u2013 final.txt",
            "attachment; filename=\"Resume _ final.txt\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%20final.txt",
        ),
        ("日本.pdf", "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.pdf"),
        ('a"b\\c%d.txt', "attachment; filename=\"a_b_c_d.txt\"; filename*=UTF-8''a%22b%5Cc%25d.txt"),
        (
            "x\r\nSet-Cookie: a=b",
            "attachment; filename=\"x__Set-Cookie: a=b\"; filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db",
        ),
        ("中", "attachment; filename=\"_\"; filename*=UTF-8''%E4%B8%AD"),
    ],
)
def test_content_disposition_is_safe_and_exact(key, expected):
    header = content_disposition(key)
    assert header == expected
    assert "\r" not in header
    assert "\n" not in header


@pytest.mark.parametrize(
    ("s3_type", "key", "expected"),
    [
        ("image/png", "x.bin", "image/png"),
        ("binary/octet-stream", "a.pdf", "application/pdf"),
        ("binary/octet-stream", "a.unknownext", "application/octet-stream"),
        (None, "notes.txt", "text/plain"),
        ("application/octet-stream", "data.csv", "text/csv"),
    ],
)
def test_content_type_prefers_s3_unless_generic(s3_type, key, expected):
    assert content_type(s3_type, key) == expected


# --- found in review: inputs that used to raise (500) or be misread -------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-" + "9" * 5000, ByteRange(0, MAX_POSITION + 1)),  # int() refuses > 4300 digits
        ("bytes=" + "9" * 5000 + "-", ByteRange(MAX_POSITION + 1, None)),
        ("bytes=-" + "9" * 5000, ByteRange(None, MAX_POSITION + 1)),
        ("bytes=" + "0" * 5000 + "5-6", ByteRange(5, 6)),  # leading zeros are not magnitude
        ("bytes=9223372036854775807-", ByteRange(MAX_POSITION, None)),
        ("bytes=9223372036854775808-", ByteRange(MAX_POSITION + 1, None)),
    ],
)
def test_range_numbers_of_any_length_are_bounded_not_converted(header, expected):
    assert parse_range(header) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",  # OverflowError in the parser
        "Fri, 31 Dec 9999 23:59:59 -0100",  # parses, but leaves datetime's range in UTC
        f"{EARLIER}, {LATER}",  # a list: RFC 9110 says to ignore it
    ],
)
def test_dates_that_are_not_http_dates_are_ignored(value):
    assert parse_http_date(value) is None
    preconditions = Preconditions.from_headers({"If-Modified-Since": value, "If-Unmodified-Since": value})
    assert preconditions.s3_arguments() == {}
    assert preconditions.evaluate(ETAG, MODIFIED) == 200


def test_dates_are_compared_in_utc():
    assert parse_http_date("Thu, 01 Jan 2026 01:00:00 +0100") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_http_date("Thu, 01 Jan 2026 01:00:00 +0100").tzinfo is UTC


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({"If-Match": '"x", , "y"'}, 412),  # empty list elements are allowed (RFC 9110 §5.6.1.2)...
        ({"If-Match": ', "abc",'}, 200),
        ({"If-None-Match": '"x", , "abc"'}, 304),  # ...and do not make the header "malformed"
        ({"If-None-Match": " , "}, 200),  # nothing but empty elements: no condition at all
    ],
)
def test_empty_list_elements_are_skipped(headers, outcome):
    assert Preconditions.from_headers(headers).evaluate(ETAG, MODIFIED) == outcome


@pytest.mark.parametrize(
    "if_match",
    ['"x", "y"', 'W/"abc"', "*"],  # what only the service can evaluate
)
def test_s3_never_answers_304_before_an_if_match_it_was_not_given(if_match):
    headers = {"If-Match": if_match, "If-None-Match": '"abc"', "If-Modified-Since": LATER}
    assert Preconditions.from_headers(headers).s3_arguments() == {}


@pytest.mark.parametrize("opaque", ["caf\u00e9", "x" * 129])
def test_tags_s3_might_refuse_are_evaluated_here(opaque):
    for header in ("If-Match", "If-None-Match"):
        preconditions = Preconditions.from_headers({header: f'"{opaque}"'})
        assert preconditions.s3_arguments() == {}
        assert preconditions.evaluate(ETAG, MODIFIED) == (412 if header == "If-Match" else 200)
