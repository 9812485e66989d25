"""The MongoDB write of a batch: conditional on the trade's head, one upsert on `_id` per business key.

Why a head, and why the write is correct on MongoDB. The version rule ("never store a version below a
stored higher version of the same trade_id") spans documents, and MongoDB makes only single-document
operations atomic without a replica-set transaction. So each trade_id has one small *head* document in
`<collection>_heads`: `{_id: trade_id, version: highest admitted version, admitted: [origins]}`. Before
its documents are written, a batch raises each of its trade_ids' heads to the batch's highest version for
it with one atomic upsert whose filter matches only a head at or below the batch's lowest version for it
(`raise_head`). If a higher version was admitted before (by this consumer, or by a second one during a
rebalance), the filter misses, the upsert tries to insert a second document with the same `_id`, and
MongoDB refuses it with a duplicate key (11000): the head is read, the records below it are stale and not
written, and the raise is retried for the versions at or above it. The head upsert is the linearisation
point: every admitted batch is ordered by its head raise, so the store always equals some serial order of
the writers in which no version was written after a higher one was admitted.

A batch can raise a head and fail before its documents are written (a crash, a timeout, a failover); the
head is then ahead of the documents, and the batch comes again (retried, or re-delivered from the last
stored offset, perhaps with other bounds). Its records below the head were admitted by that raise and must
not be refused by it: so a raise also records, in `admitted`, the origins (partition:offset) of the
records it admits, and a record the head lists is never refused by it (`Head.refuses`). A record below the
head that it does not list is refused as before: a late copy, or a record already written or refused when
the log first passed it (offsets are stored only after a batch's writes). Two first raises of a new
trade_id can also collide on the insert; the head is then read and the raise retried, so a collision is
never mistaken for a stale version.

First heads. For a trade_id the caller believes new (no stored version when it read them: `new_ids`), the
head is inserted, `{_id, version: top, admitted}`, instead of the conditional upsert: one plain insert,
the cheapest write on MongoDB (no query) and on nx-27017 (measured: ~2x cheaper, bench/mongo_ops.py). The
belief is only a hint: if a head exists (a crash after a raise, another writer, a refused document), the
insert fails with the same duplicate key as a missed raise and the head is read and raised as above, so a
wrong hint costs a round, never correctness.

Documents are upserts on `_id` (the key, see mongo_mapping): idempotent, and the same cost whatever the
collection size, on MongoDB and on nx-27017 alike. A document stored with another `_id` (before `_id` was
the key) fails the `_id` upsert with a duplicate key on the unique business-key index and is upserted on
the key instead. A document the server still refuses is a per-record failure (`refused`).
"""

from __future__ import annotations

from collections.abc import Collection as Items
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from pymongo import ReplaceOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from shared.errors import StoreUnavailable
from shared.ports import Key, StoredTrade, WriteResult
from shared.stores.mongo_mapping import (
    Admission,
    Document,
    Head,
    head_marks,
    insert_head,
    raise_head,
    replace_by_id,
    replace_by_key,
)
from shared.stores.records import latest_per_key

DUPLICATE_KEY = 11000
# Server error codes that mean "not now" (failover, shutdown, timeouts, write conflicts): retried.
TRANSIENT_CODES = frozenset({6, 7, 50, 89, 91, 112, 189, 251, 262, 9001, 10107, 11600, 11602, 13435, 13436})
HEAD_ATTEMPTS = 3
HEADS_COMPLETE = "heads"  # the `_meta` document saying every stored trade has a head (seed_heads)


def write_batch(
    trades: Collection[Document],
    heads: Collection[Document],
    records: Sequence[StoredTrade],
    new_ids: Items[str] = (),
) -> WriteResult:
    """Admit the batch's trade_ids through their heads (inserted for `new_ids`), then upsert the admitted
    records' documents."""
    batch = [(r, admission(r)) for r in latest_per_key(records)]
    asks: dict[str, list[Admission]] = {}
    for record, asked in batch:
        asks.setdefault(record.trade.trade_id, []).append(asked)
    higher = admit(heads, asks, new_ids)
    stale = {r.key: h.version for r, a in batch if (h := higher.get(r.key[0])) is not None and h.refuses(a)}
    admitted = [r for r, _ in batch if r.key not in stale]
    refused = write_documents(trades, admitted)
    return WriteResult(written=len(admitted) - len(refused), stale=stale, refused=refused)


def admission(record: StoredTrade) -> Admission:
    return Admission(record.trade.version, f"{record.partition}:{record.offset}")


def admit(
    heads: Collection[Document], asks: Mapping[str, Sequence[Admission]], new_ids: Items[str] = ()
) -> dict[str, Head]:
    """Raise each trade_id's head over the records about to be written (insert it for `new_ids`, first
    round only), marking the records it admits; for the trade_ids whose head refused some of them, that
    head (those records must not be written)."""
    pending = {t: list(a) for t, a in asks.items()}
    higher: dict[str, Head] = {}
    first = set(new_ids)
    for _attempt in range(HEAD_ATTEMPTS + 1):
        ops = [_head_op(t, wanted, asks[t], higher.get(t), t in first) for t, wanted in pending.items()]
        first = set()
        ids = list(pending)
        failed = [ids[i] for i in _duplicates(heads, ops, "raising")]
        if not failed:
            return higher
        stored = {d["_id"]: Head.of(d) for d in heads.find({"_id": {"$in": failed}})}
        retry: dict[str, list[Admission]] = {}
        for t in failed:
            head = stored.get(t, Head.of(None))
            if any(head.refuses(a) for a in asks[t]):
                higher[t] = head
            # a first-insert race lost, or records the head neither refuses nor covers: raise again
            need = [a for a in pending[t] if not head.refuses(a) and a.origin not in head.admitted]
            if need:
                retry[t] = need
        pending = retry
        if not pending:
            return higher
    raise StoreUnavailable(f"heads of {len(pending)} trade_ids kept colliding; retrying the batch")


def _head_op(
    trade_id: str, wanted: list[Admission], asked: Sequence[Admission], head: Head | None, first: bool
) -> Any:
    """The head write for `wanted`, marking every record of the batch the head will have admitted."""
    marks = head_marks([a for a in asked if head is None or not head.refuses(a)])
    top = max(a.version for a in wanted)
    if first:
        return insert_head(trade_id, top, marks)
    return raise_head(trade_id, min(a.version for a in wanted), top, marks)


def write_documents(trades: Collection[Document], records: Sequence[StoredTrade]) -> dict[Key, str]:
    """Upsert every record's document; the records the server refused, with its reason."""
    if not records:
        return {}
    failures = _write_errors(trades, [replace_by_id(r) for r in records])
    retry = [records[i] for i, e in failures.items() if e.get("code") == DUPLICATE_KEY]
    refused = {records[i].key: _reason(e) for i, e in failures.items() if e.get("code") != DUPLICATE_KEY}
    if retry:
        again = _write_errors(trades, [replace_by_key(r) for r in retry])
        refused.update({retry[i].key: _reason(e) for i, e in again.items()})
    return refused


def expire_matured(trades: Collection[Document], today: date, chunk: int = 1000) -> int:
    """Flag every live trade whose maturity date is before `today`; the count flagged.

    Each document is rewritten whole, on the condition that it is still the one read (same `_id`,
    persisted_at and offset, still live): a document a consumer rewrote meanwhile is left to the
    consumer's own maturity check, never overwritten with older content. (A `$set` would be set-based,
    but nx-27017 stores a `$set` boolean as the integer 1; whole documents keep their types on both.)
    """
    live = {"maturity_date": {"$lt": today.isoformat()}, "expired": False}
    flagged = 0
    batch: list[Any] = []
    for doc in trades.find(live):
        same = {
            "_id": doc["_id"],
            "persisted_at": doc["persisted_at"],
            "offset": doc["offset"],
            "expired": False,
        }
        batch.append(ReplaceOne(same, {**doc, "expired": True}))
        if len(batch) >= chunk:
            flagged += trades.bulk_write(batch, ordered=False).modified_count
            batch = []
    if batch:
        flagged += trades.bulk_write(batch, ordered=False).modified_count
    return flagged


def seed_heads(
    trades: Collection[Document], heads: Collection[Document], meta: Collection[Document], chunk: int = 1000
) -> int:
    """Give every stored trade a head at its highest stored version: the upgrade of a store written before
    heads existed, which `max_versions` relies on (a trade_id without a head has no stored version). Done
    once: `meta` then holds `{_id: "heads", complete: true}`, written only after every head was inserted,
    so a seeding interrupted by a crash is resumed by the next start. Only missing heads are inserted; a
    head that exists is left as it is (it was raised before its documents were written, and may list the
    records it admitted). The number of heads inserted."""
    if meta.find_one({"_id": HEADS_COMPLETE}) is not None:
        return 0
    group: list[Document] = [{"$group": {"_id": "$trade_id", "max_version": {"$max": "$version"}}}]
    seeded = 0
    ops: list[Any] = []
    for row in trades.aggregate(group):
        ops.append(insert_head(str(row["_id"]), int(row["max_version"])))
        if len(ops) >= chunk:
            seeded += len(ops) - len(_duplicates(heads, ops, "seeding"))
            ops = []
    seeded += len(ops) - len(_duplicates(heads, ops, "seeding"))
    meta.replace_one({"_id": HEADS_COMPLETE}, {"_id": HEADS_COMPLETE, "complete": True}, upsert=True)
    return seeded


def _duplicates(heads: Collection[Document], ops: list[Any], action: str) -> list[int]:
    """The indexes of the head writes that failed with a duplicate key (any other failure raises)."""
    errors = _write_errors(heads, ops)
    unexpected = [e for e in errors.values() if e.get("code") != DUPLICATE_KEY]
    if unexpected:
        raise StoreUnavailable(f"{action} trade heads failed: {_reason(unexpected[0])}")
    return list(errors)


def _write_errors(coll: Collection[Document], ops: list[Any]) -> dict[int, dict[str, Any]]:
    """Run an unordered bulk write; its per-operation errors by index. Transient ones raise."""
    if not ops:
        return {}
    try:
        coll.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        details = exc.details
        if details.get("writeConcernErrors"):
            raise StoreUnavailable(f"write concern not met: {details['writeConcernErrors'][0]}") from None
        errors = {int(e["index"]): e for e in details.get("writeErrors", [])}
        transient = [e for e in errors.values() if e.get("code") in TRANSIENT_CODES]
        if transient:
            raise StoreUnavailable(f"MongoDB asked to retry: {_reason(transient[0])}") from None
        return errors
    return {}


def _reason(error: Mapping[str, Any]) -> str:
    return f"MongoDB error {error.get('code')}: {str(error.get('errmsg', ''))[:300]}"
