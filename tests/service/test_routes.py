"""Routes other than the download itself: index, health, unknown paths and methods."""

import pytest

from download_service import contract


def test_index_names_service_and_version(make_service):
    service = make_service(version="1a2b3c")
    response = service.client.get("/")
    assert response.status_code == 200
    assert response.get_json() == {"service": contract.SERVICE_NAME, "version": "1a2b3c"}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_never_calls_s3(service):
    response = service.client.get(contract.HEALTH_PATH)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert service.s3_calls() == []


def test_every_response_carries_a_request_id(service):
    first = service.client.get("/").headers["X-Request-Id"]
    second = service.client.get("/nope").headers["X-Request-Id"]
    assert len(first) == 32
    assert first != second


def test_unknown_path_is_json_404(service):
    response = service.client.get("/nope")
    assert response.status_code == 404
    assert set(response.get_json()) == {"error", "request_id"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/files/a.txt", contract.HEALTH_PATH, "/"])
def test_other_methods_get_405_with_allow(service, method, path):
    response = service.client.open(path, method=method)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert response.get_json()["error"] == "method not allowed"
    assert service.s3_calls() == []
