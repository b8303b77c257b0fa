"""The web dashboard (`tripwire serve`): models, evaluations, forecasts, policies,
determinations and the record, with a JSON API and an OpenAPI document.

    from tripwire.web import create_app
    app = create_app("tripwire.db", token=os.environ.get("TRIPWIRE_TOKEN"))

Binds 127.0.0.1 by default; writes need the bearer token; no CORS unless origins are given.
"""

from collections.abc import Mapping, Sequence

from tripwire.register import Register
from tripwire.web.app import create_app
from tripwire.web.security import DEFAULT_MAX_BODY

__all__ = ["DEFAULT_MAX_BODY", "PAGE_WAIT", "create_app", "serve"]

PAGE_WAIT = 0.5
"""Seconds a page waits for a view being computed before answering that it is computing."""


def serve(db: str | None = None, *, register: Register | None = None,
          host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          private: bool = False, max_body: int = DEFAULT_MAX_BODY,
          thresholds: Mapping[str, Sequence[float]] | None = None,
          log_level: str = "warning") -> None:
    """Run the dashboard with uvicorn until interrupted: its slow views are computed in the
    background from the start, and a page whose view is not ready within PAGE_WAIT seconds
    answers at once with a page that says so and reloads itself."""
    import uvicorn

    app = create_app(db, register=register, token=token, private=private, max_body=max_body,
                     thresholds=thresholds, warm=True, page_wait=PAGE_WAIT)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False,
                proxy_headers=False)
