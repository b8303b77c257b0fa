"""The dashboard: pages for people and a JSON API for machines, over one register.

Every page has a JSON twin under /api; the OpenAPI document is /openapi.json. Pages render
what `tripwire.report.data` gathers from the library and decide nothing. Writes (ingest a log,
attest a safeguard) need the bearer token; see `tripwire.web.security` for the guards.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import tempfile
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from tripwire import __version__
from tripwire.errors import InputError, InsufficientEvidence, TripwireError
from tripwire.register import Register, open_register
from tripwire.report import data as rdata
from tripwire.report import figures as figs
from tripwire.report.html import environment, figure, plotly_source, report_figures, static_text
from tripwire.web.security import (
    DEFAULT_MAX_BODY,
    SESSION_COOKIE,
    BodyLimit,
    BodyTooLarge,
    SecurityHeaders,
    bearer,
    session_matches,
    session_value,
    token_matches,
)

__all__ = ["create_app"]

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
PAGE_ROWS = 1000
"""Rows a listing page shows; the JSON twin returns all of them."""
KNOWN_SHOWN = 200
"""Names a 404 page lists (the closest first)."""
"""Computed views are reused until the register changes, or for at most this long."""


class NotFound(Exception):
    """An unknown model, policy or page: answered with 404 naming what exists."""

    def __init__(self, kind: str, name: str, known: Sequence[str], hint: str = "") -> None:
        super().__init__(f"no {kind} named {name!r}")
        self.kind, self.name, self.known, self.hint = kind, name, list(known), hint


class NotReady(Exception):
    """A page's view is still being computed after the page's wait: answered with a page that
    says what is being computed and reloads itself."""

    def __init__(self, what: str, since: float) -> None:
        super().__init__(f"{what} still being computed")
        self.what, self.since = what, since


class Unauthorized(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AttestRequest(BaseModel):
    """A safeguard declared in place."""

    model: str | None = Field(default=None, description="Model name; omit (or `*`) for every "
                                                        "model.")
    safeguard: str = Field(description="Safeguard id as the policies name it.")
    by: str = Field(description="Who attests it.")
    evidence: str = Field(description="An http(s) link to the evidence (audit, report).")
    note: str | None = None
    policy: str | None = Field(default=None, description="Check the safeguard id against "
                                                         "this policy.")


class ErrorBody(BaseModel):
    error: str
    known: list[str] = Field(default_factory=list)


class _Views:
    """Computed views of the register, reused until its contents change."""

    def __init__(self, reg: Register, *, policies: Sequence[str] | None, n_boot: int,
                 thresholds: Mapping[str, Sequence[float]] | None = None) -> None:
        self.reg = reg
        self.thresholds = {k: list(v) for k, v in (thresholds or {}).items()}
        self.policy_names = list(policies) if policies is not None else None
        self.n_boot = n_boot
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], float, Any]] = {}
        self._running: dict[tuple[Any, ...], tuple[threading.Event, float, list[Any]]] = {}
        self._policies: list[Any] | None = None

    def policies(self) -> list[Any]:
        if self._policies is None:
            self._policies = rdata.load_policies(self.policy_names)
        return self._policies

    def fingerprint(self) -> tuple[Any, ...]:
        return tuple(sorted(self.reg.counts().items()))

    def get(self, key: tuple[Any, ...], make: Callable[[], Any], *,
            wait: float | None = None, what: str = "this view") -> Any:
        """The view `key`, from the cache while the register is unchanged, else made once:
        callers asking while it is being made wait for that computation instead of starting
        another. With `wait`, give up after that many seconds (raise NotReady) and let the
        computation finish in the background for the next ask."""
        stamp = self.fingerprint()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp and now - hit[1] < CACHE_SECONDS:
                return hit[2]
            running = self._running.get(key)
            if running is None:
                running = self._running[key] = (threading.Event(), now, [])
                owner = True
            else:
                owner = False
        done, since, outcome = running
        if owner:
            if wait is None:
                self._make(key, make, stamp, running)
            else:
                threading.Thread(target=self._make, args=(key, make, stamp, running),
                                 name="tripwire-view", daemon=True).start()
        if not done.wait(wait):
            raise NotReady(what, since)
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def _make(self, key: tuple[Any, ...], make: Callable[[], Any], stamp: tuple[Any, ...],
              running: tuple[threading.Event, float, list[Any]]) -> None:
        done, since, outcome = running
        try:
            outcome.append((True, make()))
        except Exception as e:  # handed to every caller waiting for this view
            outcome.append((False, e))
        with self._lock:
            if outcome[0][0]:
                self._cache[key] = (stamp, since, outcome[0][1])
            self._running.pop(key, None)
        done.set()

    OVERVIEW = ("determinations", "record")
    FORECASTS = ("anomalies", "backtests", "forecasts", "scaling", "trends")

    def warm(self) -> None:
        """Compute the overview and the forecasts ahead of the first request."""
        for sections in (self.OVERVIEW, self.FORECASTS):
            try:
                self.report(sections=sections)
            except Exception:  # a failure here is shown when the page is asked for
                log.exception("precomputing the dashboard's views failed")

    def report(self, *, models: Sequence[str] | None = None,
               sections: Iterable[str] = (), wait: float | None = None) -> rdata.ReportData:
        sections = tuple(sorted(sections))
        key = ("report", tuple(models) if models is not None else None, sections)
        what = ("the forecasts (every benchmark's fit, backtests, trends and anomaly checks)"
                if sections == self.FORECASTS and models is None else
                "every model's determination under every policy" if models is None else
                f"{', '.join(models)}: determinations and forecasts")
        return self.get(key, lambda: rdata.gather_report(
            self.reg, models=models, policies=self.policies(), sections=sections,
            thresholds=self.thresholds, n_boot=self.n_boot), wait=wait, what=what)


def _model_link(name: str) -> str:
    return "/models/" + urllib.parse.quote(name, safe="")


def _policy_link(name: str) -> str:
    return "/policies/" + urllib.parse.quote(name, safe="")


def create_app(
    db: str | None = None,
    *,
    token: str | None = None,
    private: bool = False,
    max_body: int = DEFAULT_MAX_BODY,
    cors_origins: Sequence[str] = (),
    policies: Sequence[str] | None = None,
    n_boot: int = rdata.DEFAULT_BOOT,
    register: Register | None = None,
    thresholds: Mapping[str, Sequence[float]] | None = None,
    warm: bool = False,
    page_wait: float | None = None,
) -> FastAPI:
    """The dashboard over the register at `db` (or an open `register`).

    `token` enables writes (and is what private reads need); without one the dashboard is
    read-only. `private` closes reads too. `max_body` bounds uploads (413 above it).
    `cors_origins` lists origins allowed to call the API from other sites (none by default).
    `policies` are the policies judged on the pages (default: every built-in); `thresholds`
    adds score thresholds to forecast (benchmark -> values) beside the policies'. With `warm`,
    the slow views (every determination, every forecast) are computed in a background thread
    at once, so the first visitor does not wait for them. With `page_wait`, a page whose
    view is not ready after that many seconds answers at once with a page saying what is
    being computed, which reloads itself until the view is there (the JSON API always waits).
    """
    if private and not token:
        raise InputError("reads can only be closed with a token",
                         hint="set TRIPWIRE_TOKEN, or serve without --private")
    if max_body <= 0:
        raise InputError(f"the body limit must be positive, not {max_body}")
    reg = register if register is not None else open_register(db)
    views = _Views(reg, policies=policies, n_boot=n_boot, thresholds=thresholds)
    env = environment([str(resources.files("tripwire.web") / "templates")])
    env.globals.update(model_link=_model_link, policy_link=_policy_link, version=__version__,
                       active="", private=private, writable=bool(token),
                       plots=False)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm:  # once the server is up, so the computation does not slow its start
            threading.Thread(target=views.warm, name="tripwire-warm", daemon=True).start()
        yield

    app = FastAPI(title="tripwire", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan,
                  description="The register, forecasts, determinations and record of a "
                              "tripwire register. Reads are GET; writes need "
                              "`Authorization: Bearer <TRIPWIRE_TOKEN>`.")
    app.state.register = reg
    app.state.views = views

    # ---------------------------------------------------------------- guards and errors

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"

    def require_read(request: Request) -> None:
        if not private:
            return
        if token_matches(bearer(request.headers.get("authorization")), token):
            return
        if session_matches(request.cookies.get(SESSION_COOKIE), token):
            return
        raise Unauthorized("this dashboard is private: send the token as "
                           "`Authorization: Bearer <token>`, or log in")

    def require_write(request: Request) -> None:
        if not token:
            raise Unauthorized("this server accepts no writes: start it with TRIPWIRE_TOKEN set")
        given = bearer(request.headers.get("authorization"))
        if given is None:
            raise Unauthorized("writes need the token: send `Authorization: Bearer <token>`")
        if not token_matches(given, token):
            raise Unauthorized("the token is wrong")

    read = [Depends(require_read)]
    write = [Depends(require_write)]

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> Response:
        if not is_api(request) and request.method == "GET" and private:
            return RedirectResponse("/login?next=" + urllib.parse.quote(request.url.path),
                                    status_code=303)
        return JSONResponse({"error": exc.message}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="tripwire"'})

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=413)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        message = f"There is no {exc.kind} named {exc.name!r} in this register."
        if is_api(request):
            return JSONResponse({"error": message, "known": exc.known}, status_code=404)
        return page("error.html.j2", 404, title=f"No such {exc.kind}", message=message,
                    kind=exc.kind, known=exc.known, hint=exc.hint)

    @app.exception_handler(404)
    async def _no_page(request: Request, exc: Exception) -> Response:
        paths = ["/", "/models", "/evaluations", "/forecasts", "/policies",
                 "/determinations", "/record"]
        if is_api(request):
            return JSONResponse({"error": f"no API endpoint {request.url.path}",
                                 "known": ["/openapi.json"]}, status_code=404)
        return page("error.html.j2", 404, title="No such page",
                    message=f"There is no page {request.url.path}.", kind="page",
                    known=paths, hint="")

    @app.exception_handler(NotReady)
    async def _not_ready(request: Request, exc: NotReady) -> Response:
        return page("computing.html.j2", 503, title="Computing", what=exc.what,
                    seconds=int(time.monotonic() - exc.since))

    @app.exception_handler(TripwireError)
    async def _tripwire_error(request: Request, exc: TripwireError) -> Response:
        status = 422 if isinstance(exc, InsufficientEvidence) else 400
        if is_api(request):
            return JSONResponse({"error": str(exc)}, status_code=status)
        return page("error.html.j2", status, title="Cannot show this", message=str(exc),
                    kind="", known=[], hint="")

    # ---------------------------------------------------------------- lookups

    def model_name(name: str) -> str:
        try:
            return reg.get_model(name).name
        except InputError:
            known = [m.name for m in reg.models()]
            close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
            shown = close + [k for k in known if k not in close]
            raise NotFound("model", name, shown[:KNOWN_SHOWN],
                           hint=(f"Did you mean {', '.join(close)}? " if close else "")
                           + (f"{len(known) - KNOWN_SHOWN} more are on the models page."
                              if len(known) > KNOWN_SHOWN else "")) from None

    def policy_obj(name: str) -> Any:
        pols = views.policies()
        for p in pols:
            if p.name == name:
                return p
        raise NotFound("policy", name, [p.name for p in pols])

    # ---------------------------------------------------------------- static files

    # Read on first request (plotly.js is 4.8 MB: loading it must not delay the start).
    assets: dict[str, tuple[Callable[[], bytes], str]] = {
        "plotly.min.js": (lambda: plotly_source().encode(), "text/javascript"),
        "tripwire.css": (lambda: static_text("tripwire.css").encode(), "text/css"),
        "figures.js": (lambda: static_text("figures.js").encode(), "text/javascript"),
        "app.js": (lambda: (resources.files("tripwire.web") / "static" / "app.js").read_bytes(),
                   "text/javascript"),
    }
    loaded: dict[str, bytes] = {}

    def asset(name: str) -> tuple[bytes, str]:
        if name not in assets:
            raise NotFound("file", name, sorted(assets))
        if name not in loaded:
            loaded[name] = assets[name][0]()
        return loaded[name], assets[name][1]

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        body, kind = asset(name)
        return Response(body, media_type=kind,
                        headers={"Cache-Control": "public, max-age=3600"})

    # ---------------------------------------------------------------- login (private reads)

    @app.get("/login", include_in_schema=False)
    def login_page(next: str = "/") -> Response:
        return page("login.html.j2", title="Log in", next=_local(next), failed=False,
                    active="")

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        target = _local((form.get("next") or ["/"])[0])
        if not private or not token_matches(given, token):
            return page("login.html.j2", 401, title="Log in", next=target, failed=True,
                        active="")
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(SESSION_COOKIE, session_value(token or ""), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
        return resp

    # ---------------------------------------------------------------- JSON API

    @app.get("/openapi.json", include_in_schema=False, dependencies=read)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/summary", dependencies=read, tags=["read"])
    def api_summary() -> dict[str, Any]:
        """Register counts, each model's level under each policy, and the record's status."""
        d = views.report(sections=views.OVERVIEW)
        return {"register": d.register_at, "counts": d.counts,
                "policies": [p.model_dump(mode="json") for p in d.policies],
                "levels": {m.name: m.levels for m in d.models},
                "record": d.record.model_dump(mode="json", exclude={"recent"})}

    @app.get("/api/models", dependencies=read, tags=["read"],
             response_model=list[rdata.ModelRow])
    def api_models() -> list[rdata.ModelRow]:
        """Every model with compute, the regulatory lines it passes and its levels."""
        return views.report(sections=views.OVERVIEW).models

    @app.get("/api/models/{name:path}", dependencies=read, tags=["read"],
             responses={404: {"model": ErrorBody}})
    def api_model(name: str) -> dict[str, Any]:
        """One model: facts, determinations under each policy, results, forecasts."""
        d = views.report(models=[model_name(name)],
                         sections=("changes", "determinations", "forecasts"))
        m = d.model(d.focus[0])
        changed = d.changes_for(d.focus[0])
        return {"model": m.model_dump(mode="json") if m else None,
                "determinations": [x.model_dump(mode="json") for x in d.determinations],
                "results": [r.model_dump(mode="json") for r in d.results],
                "forecasts": [c.model_dump(mode="json") for c in d.capabilities],
                "changes": changed.model_dump(mode="json") if changed else None}

    @app.get("/api/evaluations", dependencies=read, tags=["read"],
             response_model=list[rdata.ResultRow])
    def api_evaluations(model: str | None = None,
                        benchmark: str | None = None) -> list[rdata.ResultRow]:
        """Evaluation results with their source file and its sha256."""
        if model is not None:
            model = model_name(model)
        return [rdata.result_row(r) for r in reg.results(model=model, benchmark=benchmark)]

    @app.get("/api/forecasts", dependencies=read, tags=["read"])
    def api_forecasts() -> dict[str, Any]:
        """Capability forecasts, the scaling law, time trends, backtests and anomaly flags."""
        d = views.report(sections=views.FORECASTS)
        return {"capabilities": [c.model_dump(mode="json") for c in d.capabilities],
                "scaling": d.scaling.model_dump(mode="json"),
                "trends": [t.model_dump(mode="json") for t in d.trends],
                "backtests": [b.model_dump(mode="json") for b in d.backtests],
                "anomalies": [a.model_dump(mode="json") for a in d.anomalies],
                "notices": [n.model_dump(mode="json") for n in d.notices]}

    @app.get("/api/policies", dependencies=read, tags=["read"],
             response_model=list[rdata.PolicyRow])
    def api_policies() -> list[rdata.PolicyRow]:
        """The policies judged here."""
        return [rdata.policy_row(p) for p in views.policies()]

    @app.get("/api/policies/{name}", dependencies=read, tags=["read"],
             responses={404: {"model": ErrorBody}})
    def api_policy(name: str) -> dict[str, Any]:
        """One policy as written (levels, thresholds, safeguards) and its sha256."""
        p = policy_obj(name)
        return {"sha256": p.sha256, "builtin": bool(p.builtin),
                "policy": p.policy.model_dump(mode="json")}

    @app.get("/api/determinations", dependencies=read, tags=["read"],
             response_model=list[rdata.DeterminationView])
    def api_determinations(model: str | None = None,
                           policy: str | None = None) -> list[rdata.DeterminationView]:
        """Current determinations of every model (or one) under every policy (or one)."""
        models = [model_name(model)] if model is not None else None
        if policy is not None:
            policy_obj(policy)
        d = views.report(models=models, sections=views.OVERVIEW)
        return [x for x in d.determinations if policy is None or x.policy == policy]

    @app.get("/api/obligations", dependencies=read, tags=["read"],
             response_model=list[rdata.ObligationRow])
    def api_obligations(model: str | None = None) -> list[rdata.ObligationRow]:
        """The calendar: every clocked obligation (of one model, or all), overdue first, with
        the attestation that met it (TRIPWIRE_TODAY sets "now")."""
        return rdata.obligation_rows(reg, [model_name(model)] if model else None)

    @app.get("/api/record", dependencies=read, tags=["read"],
             response_model=rdata.RecordSection)
    def api_record() -> rdata.RecordSection:
        """The record: verification status, last signed tree head, latest entries."""
        return rdata.record_section(reg, recent=200)

    @app.get("/api/record/verify", dependencies=read, tags=["read"])
    def api_verify() -> dict[str, Any]:
        """Re-hash the chain, recompute the tree and check every checkpoint now."""
        from tripwire.register import record_store as store

        return store.verify_register(reg).to_dict()

    @app.post("/api/ingest", dependencies=write, tags=["write"],
              responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody},
                         413: {"model": ErrorBody}})
    async def api_ingest(request: Request, filename: str, format: str | None = None
                         ) -> dict[str, Any]:
        """Ingest one file sent as the request body (CSV table, Inspect log, lm-eval results).

        The file is stored whole or not at all; a malformed file is refused with the
        reader's sentence naming the place."""
        body = await request.body()
        return await _run_sync(lambda: _ingest_bytes(reg, filename, body, format))

    @app.post("/api/attest", dependencies=write, tags=["write"],
              responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}})
    def api_attest(req: AttestRequest) -> dict[str, Any]:
        """Record a safeguard as in place for a model (or every model), with evidence."""
        from tripwire.assess import attest

        if not req.evidence.startswith(("https://", "http://")):
            raise InputError("evidence must be an http(s) link when attesting over the web",
                             hint="upload the document somewhere and link it")
        everyone = req.model in (None, "", "*")
        target = "*" if everyone else model_name(req.model or "")
        att, warnings = attest(reg, target, req.safeguard,
                               evidence=req.evidence, by=req.by, note=req.note,
                               policy=req.policy)
        return {"attestation": att.model_dump(mode="json"), "warnings": list(warnings)}

    # ---------------------------------------------------------------- pages

    @app.get("/", response_class=HTMLResponse, dependencies=read, include_in_schema=False)
    def index() -> HTMLResponse:
        d = views.report(sections=views.OVERVIEW, wait=page_wait)
        return page("index.html.j2", d=d, active="home", title="Overview")

    @app.get("/models", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def models_page() -> HTMLResponse:
        d = views.report(sections=views.OVERVIEW, wait=page_wait)
        return page("models.html.j2", d=d, active="models", title="Models")

    @app.get("/models/{name:path}", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def model_page(name: str) -> HTMLResponse:
        d = views.report(models=[model_name(name)],
                         sections=("changes", "determinations", "forecasts"), wait=page_wait)
        m = d.model(d.focus[0])
        shown = [c for c in d.capabilities if any(p.highlight for p in c.points)]
        figures = {c.benchmark: figure(f"fig-cap-{i}", figs.capability_figure(
            c, d.regulatory_lines)) for i, c in enumerate(shown) if c.available}
        reliability = {c.benchmark: figure(f"fig-rel-{i}", figs.reliability_figure(c))
                       for i, c in enumerate(shown) if c.available}
        changed = d.changes_for(d.focus[0])
        if changed is not None:
            figures["changes"] = figure("fig-changes", figs.forest_figure(changed))
        attested = []
        try:
            from tripwire.assess import attestations

            attested = attestations(reg, d.focus[0])
        except TripwireError:
            attested = []
        missing = sorted({s for x in d.determinations for v in x.missing_safeguards.values()
                          for s in v})
        calendar = rdata.obligation_rows(reg, d.focus[:1])
        return page("model.html.j2", d=d, m=m, shown=shown, figures=figures,
                    reliability=reliability, active="models",
                    plots=any(figures.values()), changed=changed,
                    title=m.name if m else name, attested=attested, missing=missing,
                    calendar=calendar)

    @app.get("/evaluations", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def evaluations_page(model: str | None = None, benchmark: str | None = None,
                         ) -> HTMLResponse:
        if model:
            model = model_name(model)
        found = reg.results(model=model or None, benchmark=benchmark or None)
        results = [rdata.result_row(r) for r in found[:PAGE_ROWS]]
        return page("evaluations.html.j2", results=results, total=len(found),
                    active="evaluations",
                    title="Evaluations", model=model, benchmark=benchmark,
                    benchmarks=[b.id for b in reg.benchmarks()],
                    files=reg.source_files())

    @app.get("/forecasts", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def forecasts_page() -> HTMLResponse:
        d = views.report(sections=views.FORECASTS, wait=page_wait)
        return page("forecasts.html.j2", d=d, figs=report_figures(d), active="forecasts",
                    plots=True,
                    title="Forecasts")

    @app.get("/policies", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def policies_page() -> HTMLResponse:
        return page("policies.html.j2", policies=views.policies(), active="policies",
                    title="Policies")

    @app.get("/policies/{name}", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def policy_page(name: str) -> HTMLResponse:
        p = policy_obj(name)
        d = views.report(sections=views.OVERVIEW, wait=page_wait)
        dets = [x for x in d.determinations if x.policy == p.name]
        return page("policy.html.j2", p=p, dets=dets, active="policies", title=p.name)

    @app.get("/determinations", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def determinations_page() -> HTMLResponse:
        d = views.report(sections=views.OVERVIEW, wait=page_wait)
        recorded = [e for e in rdata.record_section(reg, recent=100000).recent
                    if e.kind == "determination"][:200]
        return page("determinations.html.j2", d=d, recorded=recorded,
                    active="determinations", title="Determinations")

    @app.get("/record", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def record_page() -> HTMLResponse:
        r = rdata.record_section(reg, recent=200)
        return page("record.html.j2", r=r, atts=rdata.attestation_rows(reg), active="record",
                    title="Record", verified=None)

    @app.get("/record/verify", response_class=HTMLResponse, dependencies=read,
             include_in_schema=False)
    def record_verify_page() -> HTMLResponse:
        r = rdata.record_section(reg, recent=200)
        return page("record.html.j2", r=r, atts=rdata.attestation_rows(reg), active="record",
                    title="Record", verified=time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                           time.gmtime()))

    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=max_body)
    return app


def _local(target: str) -> str:
    """A redirect target on this site only (no scheme, no host, no `//`)."""
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def _run_sync(fn: Callable[[], Any]) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn)


def _ingest_bytes(reg: Register, filename: str, body: bytes, fmt: str | None) -> dict[str, Any]:
    """Ingest an uploaded file: read it under its own (bare) name in a private temporary
    folder, store it in one transaction, and report the outcome."""
    from tripwire import ingest

    name = Path(filename.replace("\\", "/")).name
    if not name or name in (".", ".."):
        raise InputError("the upload needs a file name", hint="?filename=results.json")
    if not body:
        raise InputError("the uploaded file is empty", source=name)
    with tempfile.TemporaryDirectory(prefix="tripwire-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(body)
        try:
            batch = ingest.read_file(path, format=fmt)
        except TripwireError as e:
            # Name the file as the user knows it, never the server's temporary folder.
            if e.source and os.path.basename(e.source) == name:
                e.source = name
            e.message = e.message.replace(str(path), name).replace(folder, "")
            raise
        batch.path = f"upload:{name}"
        outcome = reg.ingest(batch)
    return {"path": name, "kind": outcome.kind, "sha256": outcome.sha256,
            "status": outcome.status, "version": outcome.version, "models": outcome.models,
            "results": outcome.results, "loss_points": outcome.loss,
            "samples": outcome.samples, "warnings": outcome.warnings,
            "reason": outcome.reason}
