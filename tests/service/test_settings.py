import pytest

from download_service import contract
from download_service.settings import ConfigError, Settings
from download_service.watchdog import MinRate


def test_defaults_only_need_the_bucket():
    settings = Settings.from_env({"FILES_BUCKET": "my-bucket"})
    assert settings.files_bucket == "my-bucket"
    assert settings.port == contract.PORT
    assert settings.files_prefix == ""
    assert settings.max_downloads_per_worker < settings.threads
    assert (settings.stall_timeout_s, settings.max_streams_per_client) == (30, 8)
    assert settings.stall_timeout_s < contract.ALB_IDLE_TIMEOUT_S  # freed before the ALB's own idle timer ends it
    assert (settings.min_rate_bytes_s, settings.min_rate_window_s) == (8192, 30)
    assert settings.min_rate == MinRate(8192, 30)
    assert (settings.cache_mode, settings.cache_control, settings.not_found_cache_control) == (
        "private",
        "private, max-age=300",
        "no-store",
    )
    assert settings.client_ip_header == "X-Forwarded-For"
    # Far from both readers issue 19 names: a steady 64 KiB/s one keeps 8x the floor, a 2 KiB / 2 s one is 1/8 of it.
    assert 1024 * 8 <= settings.min_rate_bytes_s <= contract.STEADY_READER_BYTES_S / 8
    assert (settings.metrics_namespace, settings.metrics_interval_s, settings.tls) == ("", 60, "off")


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "FILES_BUCKET": "b.example-1",
            "FILES_PREFIX": "public/",
            "PORT": "9000",
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "DEBUG",
            "CACHE_CONTROL": "no-cache",
            "APP_VERSION": "abc123",
            "WORKERS": "3",
            "THREADS": "16",
            "CHUNK_SIZE": "65536",
            "S3_CONNECT_TIMEOUT": "1.5",
            "S3_READ_TIMEOUT": "20",
            "S3_MAX_ATTEMPTS": "5",
            "FORWARDED_ALLOW_IPS": "*",
            "CLIENT_IP_HEADER": "cloudfront-viewer-address",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:8333",
            "STALL_TIMEOUT_S": "5.5",
            "MIN_RATE_BYTES_S": "4096",
            "MIN_RATE_WINDOW_S": "12.5",
            "MAX_STREAMS_PER_CLIENT": "3",
            "METRICS_NAMESPACE": "download-service/prod",
            "METRICS_INTERVAL_S": "10",
            "TLS": "self-signed",
        }
    )
    assert (settings.files_prefix, settings.port, settings.host, settings.log_level) == (
        "public/",
        9000,
        "127.0.0.1",
        "debug",
    )
    assert (settings.cache_control, settings.version, settings.workers, settings.threads) == (
        "no-cache",
        "abc123",
        3,
        16,
    )
    assert (settings.chunk_size, settings.s3_connect_timeout, settings.s3_read_timeout) == (65536, 1.5, 20.0)
    assert (settings.s3_max_attempts, settings.forwarded_allow_ips) == (5, "*")
    assert settings.client_ip_header == "CloudFront-Viewer-Address"  # header names are case-insensitive
    assert (settings.stall_timeout_s, settings.max_streams_per_client) == (5.5, 3)
    assert settings.min_rate == MinRate(4096, 12.5)
    assert (settings.metrics_namespace, settings.metrics_interval_s, settings.tls) == (
        "download-service/prod",
        10,
        "self-signed",
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:8333", "http://[::1]:9000", "https://s3.eu-west-1.amazonaws.com"])
def test_endpoints_botocore_accepts_pass(url):
    assert Settings.from_env({"FILES_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL_S3": url}).files_bucket == "ok-bucket"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "FILES_BUCKET: required but not set"),
        ({"FILES_BUCKET": "   "}, "FILES_BUCKET: required but not set"),
        ({"FILES_BUCKET": "Bad_Bucket"}, "FILES_BUCKET: 'Bad_Bucket' is not a valid S3 bucket name"),
        ({"FILES_BUCKET": "a..b"}, "FILES_BUCKET: 'a..b' is not a valid S3 bucket name"),
        ({"FILES_BUCKET": "ok-bucket", "PORT": "http"}, "PORT: 'http' is not an integer"),
        ({"FILES_BUCKET": "ok-bucket", "PORT": "70000"}, "PORT: 70000 is outside 1..65535"),
        ({"FILES_BUCKET": "ok-bucket", "THREADS": "2"}, "THREADS: 2 is outside 4..256"),
        ({"FILES_BUCKET": "ok-bucket", "LOG_LEVEL": "loud"}, "LOG_LEVEL: 'loud' is not one of"),
        ({"FILES_BUCKET": "ok-bucket", "FILES_PREFIX": "/abs/"}, "FILES_PREFIX: must not start with '/'"),
        ({"FILES_BUCKET": "ok-bucket", "FILES_PREFIX": "é" * 512}, "FILES_PREFIX: must be shorter than S3's 1024"),
        ({"FILES_BUCKET": "ok-bucket", "S3_READ_TIMEOUT": "soon"}, "S3_READ_TIMEOUT: 'soon' is not a number"),
        ({"FILES_BUCKET": "ok-bucket", "S3_CONNECT_TIMEOUT": "0"}, "S3_CONNECT_TIMEOUT: 0.0 is outside"),
        ({"FILES_BUCKET": "ok-bucket", "CACHE_CONTROL": "a\r\nSet-Cookie: x"}, "CACHE_CONTROL: contains control"),
        ({"FILES_BUCKET": "ok-bucket", "CACHE_CONTROL": "max-age=60 \u2192 cdn"}, "CACHE_CONTROL: only printable"),
        ({"FILES_BUCKET": "ok-bucket", "PORT": "8_080"}, "PORT: '8_080' is not an integer"),
        ({"FILES_BUCKET": "ok-bucket", "PORT": "-1"}, "PORT: '-1' is not an integer"),
        ({"FILES_BUCKET": "ok-bucket", "S3_READ_TIMEOUT": "nan"}, "S3_READ_TIMEOUT: 'nan' is not a number"),
        ({"FILES_BUCKET": "ok-bucket", "S3_READ_TIMEOUT": "1e3"}, "S3_READ_TIMEOUT: '1e3' is not a number"),
        ({"FILES_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL_S3": "localhost:8333"}, "AWS_ENDPOINT_URL_S3: 'localhost"),
        ({"FILES_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL_S3": "http://"}, "AWS_ENDPOINT_URL_S3: 'http://' is not"),
        ({"FILES_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL_S3": "http://h:99999"}, "AWS_ENDPOINT_URL_S3: 'http://h:9"),
        ({"FILES_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL_S3": "http://[::1"}, "AWS_ENDPOINT_URL_S3: 'http://[::1'"),
        ({"FILES_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL_S3": "http://bad_host!"}, "AWS_ENDPOINT_URL_S3: 'http://bad"),
        ({"FILES_BUCKET": "ok-bucket", "STALL_TIMEOUT_S": "0"}, "STALL_TIMEOUT_S: 0.0 is outside 1..600"),
        ({"FILES_BUCKET": "ok-bucket", "STALL_TIMEOUT_S": "never"}, "STALL_TIMEOUT_S: 'never' is not a number"),
        ({"FILES_BUCKET": "ok-bucket", "MIN_RATE_BYTES_S": "32769"}, "MIN_RATE_BYTES_S: 32769 is outside 0..32768"),
        ({"FILES_BUCKET": "ok-bucket", "MIN_RATE_BYTES_S": "8k"}, "MIN_RATE_BYTES_S: '8k' is not an integer"),
        ({"FILES_BUCKET": "ok-bucket", "MIN_RATE_WINDOW_S": "1"}, "MIN_RATE_WINDOW_S: 1.0 is outside 2..600"),
        ({"FILES_BUCKET": "ok-bucket", "CACHE_MODE": "public"}, "CACHE_MODE: 'public' is not one of private, shared"),
        (
            {"FILES_BUCKET": "ok-bucket", "CACHE_MODE": "shared", "CACHE_CONTROL": "public"},
            "CACHE_CONTROL: not with CACHE_MODE=shared",
        ),
        ({"FILES_BUCKET": "ok-bucket", "DOWNLOAD_TTL_S": "60"}, "DOWNLOAD_TTL_S: applies to CACHE_MODE=shared only"),
        ({"FILES_BUCKET": "ok-bucket", "NOT_FOUND_TTL_S": "5"}, "NOT_FOUND_TTL_S: applies to CACHE_MODE=shared only"),
        (
            {"FILES_BUCKET": "ok-bucket", "CACHE_MODE": "shared", "DOWNLOAD_TTL_S": "31536001"},
            "DOWNLOAD_TTL_S: 31536001 is outside 0..31536000",
        ),
        (
            {"FILES_BUCKET": "ok-bucket", "CACHE_MODE": "shared", "NOT_FOUND_TTL_S": "1h"},
            "NOT_FOUND_TTL_S: '1h' is not an integer",
        ),
        ({"FILES_BUCKET": "ok-bucket", "MAX_STREAMS_PER_CLIENT": "0"}, "MAX_STREAMS_PER_CLIENT: 0 is outside 1..4096"),
        ({"FILES_BUCKET": "ok-bucket", "METRICS_NAMESPACE": "AWS/ECS"}, "METRICS_NAMESPACE: 'AWS/ECS' is not a"),
        ({"FILES_BUCKET": "ok-bucket", "METRICS_NAMESPACE": "nsé"}, "METRICS_NAMESPACE: 'nsé' is not a"),
        ({"FILES_BUCKET": "ok-bucket", "METRICS_NAMESPACE": "x" * 256}, "METRICS_NAMESPACE: 'xxx"),
        ({"FILES_BUCKET": "ok-bucket", "METRICS_INTERVAL_S": "61"}, "METRICS_INTERVAL_S: 61 is outside 1..60"),
        ({"FILES_BUCKET": "ok-bucket", "TLS": "1"}, "TLS: '1' is not one of off, self-signed"),
        (
            {"FILES_BUCKET": "ok-bucket", "CLIENT_IP_HEADER": "X-Real-IP"},
            "CLIENT_IP_HEADER: 'X-Real-IP' is not one of X-Forwarded-For, CloudFront-Viewer-Address",
        ),
        ({"FILES_BUCKET": "ok-bucket", "FORWARDED_ALLOW_IPS": "alb"}, "FORWARDED_ALLOW_IPS: 'alb' is not '*' or"),
    ],
)
def test_bad_values_name_the_variable_in_one_line(env, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_zero_floor_turns_the_rate_rule_off():
    assert Settings.from_env({"FILES_BUCKET": "ok-bucket", "MIN_RATE_BYTES_S": "0"}).min_rate is None


@pytest.mark.parametrize(
    ("env", "downloads", "not_found"),
    [
        ({}, "public, max-age=300", "public, max-age=10"),
        ({"DOWNLOAD_TTL_S": "86400", "NOT_FOUND_TTL_S": "0"}, "public, max-age=86400", "no-store"),
    ],
)
def test_the_shared_mode_derives_both_headers_from_its_ttls(env, downloads, not_found):
    settings = Settings.from_env({"FILES_BUCKET": "ok-bucket", "CACHE_MODE": "shared", **env})
    assert (settings.cache_mode, settings.cache_control, settings.not_found_cache_control) == (
        "shared",
        downloads,
        not_found,
    )
