"""What a shared cache (CloudFront, or the tests' nginx) may store, under which key, and for how long.

The one place for these decisions: the service's headers (settings.py), the local shared cache's configuration
(devtools/shared_cache.py) and the CDN's cache policy, origin request policy and error responses (stages/) all read
them. Plain values and functions only: imported at synth time, like contract.py.

The origin says what may be stored, and the cache obeys it (RFC 9111):
- CACHE_MODE=shared (behind the CDN): a download (GET or HEAD; 200, 206 and the 304 of a revalidation) says
  `public, max-age=DOWNLOAD_TTL_S`. A shared cache serves it that long, then revalidates it with If-None-Match (its
  ETag, S3's): 304 costs one small S3 request and no body, and a replaced object is served new after at most the TTL.
  A missing key (404) says `public, max-age=NOT_FOUND_TTL_S`: briefly, so a burst of misses costs one S3 request a
  TTL, and a file uploaded after a miss appears soon.
- CACHE_MODE=private (no CDN, the default): downloads say CACHE_CONTROL (`private, max-age=300`), a 404 `no-store`.
- Everything else, in both modes, says `no-store`: `/`, `/health`, every other error and both refusals (400, 405,
  412, 416, 429, 5xx): an answer about this moment, or one about the server, is never anyone else's answer.

The key is the URL path and nothing else: the answer depends on nothing else (the service ignores the query string
and reads no header but Range and the conditionals, which a cache evaluates itself against what it stored).
"""

from __future__ import annotations

from . import contract

#: CACHE_MODE values.
PRIVATE = "private"
SHARED = "shared"
CACHE_MODES = (PRIVATE, SHARED)

#: Default seconds a shared cache may serve a download before revalidating it (DOWNLOAD_TTL_S): the browser
#: freshness the service has always given downloads (CACHE_CONTROL's max-age=300). An object replaced under its key is
#: served new within this time without an invalidation (docs/operations.md).
DOWNLOAD_TTL_S = 300
#: Default seconds a 404 may be served from a shared cache (NOT_FOUND_TTL_S): long enough to absorb a burst of
#: requests for a missing key (a scan, a broken link), short enough that an upload after a miss shows up soon.
NOT_FOUND_TTL_S = 10
#: The longest NOT_FOUND_TTL_S accepted.
MAX_NOT_FOUND_TTL_S = 3600

#: The CDN cache policy's TTL bounds. MinTTL 0: the origin's no-store is obeyed (with MinTTL > 0 CloudFront stores
#: even no-store answers that long). DefaultTTL 0: an answer without freshness (gunicorn's own error pages) is not
#: stored. MaxTTL: CloudFront's own default (one year); DOWNLOAD_TTL_S may not exceed it, since CloudFront would
#: silently cap a longer max-age.
MIN_TTL_S = 0
DEFAULT_TTL_S = 0
MAX_TTL_S = 365 * 24 * 3600

NO_STORE = "no-store"

#: The cache key: the URL path, and no query string, header or cookie.
CACHE_KEY_QUERY_STRINGS: tuple[str, ...] = ()
CACHE_KEY_HEADERS: tuple[str, ...] = ()
CACHE_KEY_COOKIES: tuple[str, ...] = ()
#: What the origin is sent besides the key (the origin request policy): the viewer's address, by which the service
#: counts a client's streams and logs its requests (CLIENT_IP_HEADER). Not in the key: it changes no answer.
ORIGIN_REQUEST_HEADERS: tuple[str, ...] = (contract.VIEWER_ADDRESS_HEADER,)
#: Methods whose answers are stored. HEAD answers like GET without the body.
CACHED_METHODS = ("GET", "HEAD")
#: No compression at the edge: downloads are binaries (or already compressed), and a compressed variant would be a
#: second cache entry and a second answer for the same bytes and ETag.
COMPRESS = False

#: Statuses CloudFront's custom error responses accept (an ErrorCachingMinTTL each), from AWS's list of codes that can
#: have a custom error page: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/creating-custom-error-pages.html
CLOUDFRONT_ERROR_CODES = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)
#: ErrorCachingMinTTL per status: 0 for each, so that the origin's headers alone decide. CloudFront caches an error
#: for the greater of its max-age and this minimum (10 s when not set), and for every code but 404, 410, 414 and 501
#: it ignores no-store and caches for the minimum: without these 0s, a 503 would be served from the edge for 10 s.
#: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/custom-error-pages-expiration.html
ERROR_CACHING_MIN_TTL_S = dict.fromkeys(CLOUDFRONT_ERROR_CODES, 0)


def download_cache_control(ttl_s: int) -> str:
    """Cache-Control of a download in CACHE_MODE=shared: any cache may serve it for ttl_s, then revalidates it."""
    return f"public, max-age={ttl_s}"


def not_found_cache_control(ttl_s: int) -> str:
    """Cache-Control of a 404 in CACHE_MODE=shared: served from a cache for ttl_s, or not stored when 0."""
    return f"public, max-age={ttl_s}" if ttl_s else NO_STORE
