"""An in-memory stand-in for the few pymongo Collection calls shared.stores.mongo_writes makes: unordered
bulk_write of InsertOne / UpdateOne / ReplaceOne (with upsert) and find, with MongoDB's duplicate-key
answer (11000) on `_id` and on the unique business key, per-operation errors reported the way pymongo
raises them (BulkWriteError.details), and scripted failures. Unit tier: no server."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

Doc = dict[str, Any]
KEY = ("trade_id", "version", "book_id")


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Equality and $in / $lt / $lte per field, as the store's filters use them."""
    for name, want in query.items():
        value = doc.get(name)
        if isinstance(want, dict):
            for op, arg in want.items():
                ok = {
                    "$in": lambda v, a: v in a,
                    "$lt": lambda v, a: v is not None and v < a,
                    "$lte": lambda v, a: v is not None and v <= a,
                }[op](value, arg)
                if not ok:
                    return False
        elif value != want or name not in doc:
            return False
    return True


@dataclass
class Result:
    modified_count: int = 0


@dataclass
class FakeCollection:
    """Documents by `_id`; `unique_key` adds the business-key unique index of the trades collection."""

    unique_key: bool = False
    docs: dict[Any, Doc] = field(default_factory=dict)
    calls: list[list[Any]] = field(default_factory=list)  # every bulk_write's operations
    # scripted per-operation errors: a function of the operation, returning an error document or None
    refuse: Any = None
    details: Doc | None = None  # raise BulkWriteError with exactly these details on the next bulk_write

    def find(self, query: Mapping[str, Any], projection: Any = None) -> Iterator[Doc]:
        assert isinstance(query, dict)
        return iter([dict(d) for d in self.docs.values() if matches(d, query)])

    def bulk_write(self, ops: list[Any], ordered: bool = True) -> Result:
        assert ordered is False, "the store's bulk writes are unordered"
        self.calls.append(list(ops))
        if self.details is not None:
            details, self.details = self.details, None
            raise BulkWriteError(details)
        errors: list[Doc] = []
        result = Result()
        for index, op in enumerate(ops):
            error = self.refuse(op) if self.refuse else None
            error = error or self._apply(op, result)
            if error is not None:
                errors.append({"index": index, **error})
        if errors:
            raise BulkWriteError({"writeErrors": errors, "writeConcernErrors": []})
        return result

    def _apply(self, op: Any, result: Result) -> Doc | None:
        if isinstance(op, InsertOne):
            return self._insert(dict(op._doc))
        query, update, upsert = op._filter, op._doc, op._upsert
        found = [d for d in self.docs.values() if matches(d, query)]
        if found:
            doc = found[0]
            new = dict(doc)
            if isinstance(op, UpdateOne):
                for name, top in update["$max"].items():
                    new[name] = max(new.get(name, top), top)
                new.update(update.get("$set", {}))
            else:
                assert isinstance(op, ReplaceOne)
                new = {**update, "_id": doc["_id"]}
            result.modified_count += new != doc
            self.docs[doc["_id"]] = new
            return None
        if not upsert:
            return None
        seed = {k: v for k, v in query.items() if not isinstance(v, dict)}
        if isinstance(op, UpdateOne):
            seed.update(update["$max"])
            seed.update(update.get("$set", {}))
        else:
            seed = {**seed, **update}
        seed.setdefault("_id", f"oid-{len(self.docs)}")
        return self._insert(seed)

    def _insert(self, doc: Doc) -> Doc | None:
        duplicate = doc["_id"] in self.docs or (
            self.unique_key and any(all(d.get(k) == doc.get(k) for k in KEY) for d in self.docs.values())
        )
        if duplicate:
            return {"code": 11000, "errmsg": f"E11000 duplicate key: {doc['_id']}"}
        self.docs[doc["_id"]] = doc
        return None

    def kinds(self, call: int) -> list[str]:
        """The operation types of bulk_write number `call`."""
        return [type(op).__name__ for op in self.calls[call]]
