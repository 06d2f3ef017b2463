"""Liveness and readiness, with the real database, Redis and Celery worker."""

from __future__ import annotations

import pytest


def test_healthz_answers_without_touching_services(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.worker
def test_readyz_reports_each_service_with_its_latency(client, celery_worker):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "worker"}
    for result in body["checks"].values():
        assert result["status"] == "ok"
        assert result["latency_ms"] >= 0


@pytest.mark.worker
def test_readyz_is_503_when_no_worker_answers(client, worker_process, transactional_db):
    worker_process.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failed"
    assert body["checks"]["worker"]["status"] == "failed"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
