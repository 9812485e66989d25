"""The operations console (/console) and the self-hosted API docs (/docs): server-rendered HTML.

`install(app)` is the one call app.py makes; everything here is server-rendered (Jinja2, inline SVG
charts, no script of our own), so it works in networks without internet egress.
"""

from __future__ import annotations

from fastapi import FastAPI

from tradedata.console import docs, pages


def install(app: FastAPI) -> None:
    """Mount the offline docs and the console routes on `app` (created with docs_url=None, redoc_url=None)."""
    docs.install(app)  # /docs; no /redoc (see tradedata.console.docs)
    app.include_router(pages.router)
