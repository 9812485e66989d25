"""`Prefer: wait=N` on POST /trades (RFC 7240): after the broker's acknowledgement, wait up to N seconds for
the stores' verdict on that exact record and answer 201 (stored), 409 (rejected) or 202 (no verdict yet).

A 201 without the preference means "the broker holds the trade"; with it, "the stores hold it". The verdict
comes from the outcome the sinks published for the record's (partition, offset), never from a read of the
store made before publishing, so it cannot race the record it answers for.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

import orjson
from fastapi.responses import Response

from shared.outcomes import LOWER_VERSION, LOWER_VERSION_TYPE, State, Verdict
from tradedata.outcomes import OutcomeWatcher

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://tradestore.dev/problems/"


def requested_wait(values: list[str], cap_s: float) -> int | None:
    """N from `Prefer: wait=N` (any of the header's preferences, first wins), capped; None when absent."""
    for header in values:
        for preference in header.split(","):
            name, _, value = preference.split(";")[0].strip().partition("=")
            if name.strip().lower() != "wait":
                continue
            text = value.strip().strip('"')
            if text.isdigit():
                return min(int(text), int(cap_s))
    return None


def status_path(trade_id: str, version: int, book_id: str) -> str:
    """Where the record's status is answered (the `Location` of a 202)."""
    query = urlencode({"version": version, "book_id": book_id})
    return f"/trades/{quote(trade_id, safe='')}/status?{query}"


async def answer_after_verdict(
    watcher: OutcomeWatcher, accepted: Mapping[str, object], wait_s: int, location: str
) -> Response:
    """201, 409 or 202 for an acknowledged record (`accepted` is the 201 body: the trade and its position)."""
    trade_id, version, book_id = (
        str(accepted["trade_id"]),
        int(str(accepted["version"])),
        str(accepted["book_id"]),
    )
    position = (int(str(accepted["partition"])), int(str(accepted["offset"])))
    verdict = await watcher.wait((trade_id, version, book_id), position, float(wait_s))
    applied = {"Preference-Applied": f"wait={wait_s}"}
    if verdict is not None and verdict.state is State.STORED:
        # The same body as without the preference: Preference-Applied says the stores hold it too.
        return Response(orjson.dumps(accepted), 201, {**applied, "Location": location}, "application/json")
    status = status_path(trade_id, version, book_id)
    if verdict is not None and verdict.state is State.REJECTED:
        return Response(orjson.dumps(rejection(accepted, verdict, status)), 409, applied, PROBLEM_JSON)
    body = {**accepted, "state": "pending", "status": status}
    return Response(orjson.dumps(body), 202, {**applied, "Location": status}, "application/json")


def rejection(accepted: Mapping[str, object], verdict: Verdict, status: str) -> dict[str, object]:
    """The 409 problem document: a machine-readable type per reason; the detail names the stored version."""
    reason = verdict.reason or "rejected"
    deciding = verdict.deciding
    stored = verdict.max_version
    trade = f"version {accepted['version']} of trade {accepted['trade_id']} (book {accepted['book_id']})"
    if reason == LOWER_VERSION:
        detail = (
            f"{trade} was not stored: version {stored} is already stored (a lower version never replaces it)"
        )
        kind, title = LOWER_VERSION_TYPE, "Lower version"
    else:
        detail = f"{trade} was refused by the stores: {deciding.detail if deciding else reason}"
        kind, title = PROBLEM_BASE + reason.replace("_", "-"), "Refused by the stores"
    return {
        "type": kind,
        "title": title,
        "status": 409,
        "detail": detail,
        "reason": reason,
        "stored_version": stored,
        "trade_id": accepted["trade_id"],
        "version": accepted["version"],
        "book_id": accepted["book_id"],
        "partition": accepted["partition"],
        "offset": accepted["offset"],
        "sinks": verdict.summary(),
        "status_url": status,
    }
