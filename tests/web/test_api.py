"""The dashboard through Starlette's TestClient: pages, the JSON API and OpenAPI, and the guards
(bearer token in constant time, 401, 413, no CORS, escaping, nothing half-stored)."""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from report.sample_register import FOCUS, HOSTILE, POLICIES, build

from tripwire.register import Register
from tripwire.web import create_app, security

TOKEN = "a-long-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Register]:
    reg = build(tmp_path_factory.mktemp("web"))
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def client(shared: Register) -> TestClient:
    """Read-only use: the module's register is not written through this client."""
    return TestClient(create_app(register=shared, token=TOKEN, policies=POLICIES, n_boot=20))


@pytest.fixture
def writable(tmp_path: Path) -> Iterator[tuple[TestClient, Register]]:
    reg = build(tmp_path)
    yield TestClient(create_app(register=reg, token=TOKEN, policies=POLICIES, n_boot=20,
                                max_body=4096)), reg
    reg.close()


def link(name: str) -> str:
    return "/models/" + urllib.parse.quote(name, safe="")


def test_pages_render_and_escape_names(client: TestClient):
    for path in ("/", "/models", "/evaluations", "/policies", "/policies/ca-sb53",
                 "/determinations", "/record", "/record/verify", link(FOCUS)):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "<script>alert(1)" not in r.text, path
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert r.headers["x-content-type-options"] == "nosniff"
    home = client.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home and "GPAI-systemic-risk" in home
    page = client.get(link(HOSTILE))
    assert page.status_code == 200 and "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in page.text
    assert "<script>alert" not in page.text
    # every script on a page is a file of this site: no inline code to inject into
    assert all(s.startswith('<script src="/static/') or 'type="application/json"' in s
               for s in page.text.split("<script")[1:] for s in ["<script" + s[:80]])


def test_unknown_model_or_policy_is_a_404_that_lists_what_exists(client: TestClient):
    r = client.get("/models/nope")
    assert r.status_code == 404 and "no model named &#39;nope&#39;" in r.text
    assert 'href="/models/Llama-3.1-405B"' in r.text and "&lt;script&gt;" in r.text
    r = client.get("/api/models/nope")
    assert r.status_code == 404 and FOCUS in r.json()["known"]
    r = client.get("/policies/asl-9")
    assert r.status_code == 404 and "eu-ai-act-gpai" in r.text
    assert client.get("/api/policies/asl-9").json()["known"] == POLICIES
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/docs").status_code == 404  # no page that would load a CDN


def test_json_api_and_openapi(client: TestClient):
    spec = client.get("/openapi.json").json()
    assert {"/api/models", "/api/ingest", "/api/attest", "/api/record/verify",
            "/api/forecasts"} <= set(spec["paths"])
    assert "401" in spec["paths"]["/api/ingest"]["post"]["responses"]
    models = client.get("/api/models").json()
    row = next(m for m in models if m["name"] == FOCUS)
    assert row["levels"] == {"eu-ai-act-gpai": "GPAI-systemic-risk", "ca-sb53": None}
    one = client.get("/api/models/" + urllib.parse.quote(HOSTILE, safe="")).json()
    assert one["model"]["name"] == HOSTILE and len(one["determinations"]) == 2
    dets = client.get("/api/determinations", params={"model": FOCUS,
                                                     "policy": "ca-sb53"}).json()
    assert [d["level"] for d in dets] == [None]
    evals = client.get("/api/evaluations", params={"model": HOSTILE}).json()
    assert {e["benchmark"] for e in evals} == {"mmlu", "arc_challenge"}
    assert client.get("/api/record/verify").json()["ok"] is True
    assert client.get("/api/summary").json()["record"]["ok"] is True


def test_writes_need_the_token(writable: tuple[TestClient, Register]):
    c, reg = writable
    body = {"model": FOCUS, "safeguard": "model-evaluation", "by": "eval lead",
            "evidence": "https://example.org/eval-report"}
    before = reg.counts()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        r = c.post("/api/attest", json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        r = c.post("/api/ingest?filename=x.csv", content=b"name\nm\n", headers=headers)
        assert r.status_code == 401
    assert reg.counts() == before
    r = c.post("/api/attest", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    record = c.get("/api/record").json()
    assert record["ok"] and record["recent"][0]["kind"] == "attestation"
    assert "model-evaluation" in record["recent"][0]["summary"]
    assert "model-evaluation" in c.get("/record").text
    r = c.post("/api/attest", json={**body, "evidence": "/etc/passwd"}, headers=AUTH)
    assert r.status_code == 400 and "http(s) link" in r.json()["error"]
    r = c.post("/api/attest", json={**body, "model": "nope"}, headers=AUTH)
    assert r.status_code == 404


def test_server_without_a_token_accepts_no_writes(shared: Register):
    c = TestClient(create_app(register=shared, policies=POLICIES))
    r = c.post("/api/attest", json={"safeguard": "x", "by": "y", "evidence": "https://z"},
               headers={"Authorization": "Bearer anything"})
    assert r.status_code == 401 and "TRIPWIRE_TOKEN" in r.json()["error"]
    assert "read-only" in c.get("/policies").text


def test_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    assert security.token_matches(TOKEN, TOKEN)
    assert not security.token_matches("x", TOKEN)
    assert not security.token_matches(TOKEN + "x" * 1000, TOKEN)
    assert not security.token_matches(TOKEN, None) and not security.token_matches("", "")
    # every comparison went through compare_digest on fixed-length digests
    assert len(calls) == 3 and all(len(a) == len(b) == 32 for a, b in calls)
    assert security.bearer("Bearer  abc ") == "abc" and security.bearer("Basic abc") is None


def test_uploads_ingest_whole_or_refuse_with_the_reason(writable: tuple[TestClient, Register]):
    c, reg = writable
    good = b"model,benchmark,value,samples\nnew-model,mmlu,0.5,100\n"
    r = c.post("/api/ingest", params={"filename": "new.csv"}, content=good, headers=AUTH)
    assert r.status_code == 400  # a results table may not invent models
    assert "new.csv:2: model 'new-model' is not in the register" in r.json()["error"]
    r = c.post("/api/ingest", params={"filename": "models.csv"}, content=b"name\nnew-model\n",
               headers=AUTH)
    assert r.status_code == 200
    r = c.post("/api/ingest", params={"filename": "new.csv"}, content=good, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "stored" and r.json()["results"] == 1
    assert "upload:new.csv" in {f.path for f in reg.source_files()}
    r = c.post("/api/ingest", params={"filename": "new.csv"}, content=good, headers=AUTH)
    assert r.json()["status"] == "unchanged"
    before = reg.counts()
    bad = b"model,benchmark,value\nnew-model,mmlu,0.5\nnew-model,gsm8k,lots\n"
    r = c.post("/api/ingest", params={"filename": "../../bad.csv"}, content=bad, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"].startswith("bad.csv:3: ") and "not a number" in r.json()["error"]
    assert "tripwire-upload" not in r.json()["error"]
    assert reg.counts() == before  # nothing of the file was stored
    r = c.post("/api/ingest", params={"filename": "x.bin"}, content=b"\x00\x01", headers=AUTH)
    assert r.status_code == 400 and "not a format" in r.json()["error"]


def test_bodies_over_the_limit_get_413(writable: tuple[TestClient, Register]):
    c, reg = writable
    before = reg.counts()
    big = b"name\n" + b"m\n" * 4000
    r = c.post("/api/ingest", params={"filename": "big.csv"}, content=big, headers=AUTH)
    assert r.status_code == 413
    def chunks() -> Iterator[bytes]:  # no Content-Length: stopped while streaming
        for _ in range(10):
            yield b"m\n" * 500
    r = c.post("/api/ingest", params={"filename": "big.csv"}, content=chunks(), headers=AUTH)
    assert r.status_code == 413
    assert reg.counts() == before


def test_no_cors_by_default(client: TestClient):
    r = client.get("/api/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = client.options("/api/attest", headers={"Origin": "https://evil.example",
                                               "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_private_reads_need_the_token(shared: Register):
    c = TestClient(create_app(register=shared, token=TOKEN, private=True, policies=POLICIES))
    assert c.get("/api/models").status_code == 401
    assert c.get("/openapi.json").status_code == 401
    r = c.get("/models", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/api/policies", headers=AUTH).status_code == 200
    assert c.post("/login", data={"token": "wrong", "next": "/models"}).status_code == 401
    r = c.post("/login", data={"token": TOKEN, "next": "https://evil.example/"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert c.get("/policies").status_code == 200  # the session cookie reads
    r = c.post("/api/attest", json={"safeguard": "x", "by": "y", "evidence": "https://z"})
    assert r.status_code == 401  # ... but never writes


def test_forecasts_show_how_far_to_trust_them(client: TestClient):
    from report.sample_register import FEW

    caps = client.get("/api/forecasts").json()["capabilities"]
    shown = [c for c in caps if c["available"]]
    assert shown and all(c["calibration"]["status"] in ("calibrated", "failed",
                                                        "not calibrated") for c in shown)
    judged = [c for c in shown if c["calibration"]["status"] != "not calibrated"]
    assert judged and all(len(c["calibration"]["reliability"]) == 9 for c in judged)
    page = client.get("/forecasts").text
    for c in shown:
        assert f'data-calibration="{c["calibration"]["status"]}"' in page
    assert page.count('id="fig-rel-') == len(judged)
    few = next(c for c in shown if c["benchmark"] == FEW)["calibration"]
    assert few["status"] == "not calibrated"
    # a model's page shows the same beside each forecast it sits on
    model = client.get(link("Qwen2-72B")).text
    assert "<b>Not calibrated</b>: too few models for a backtest" in model
    assert 'id="fig-rel-' in model
