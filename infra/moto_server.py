#!/usr/bin/env python3
"""moto's server with one request handled at a time.

DynamoDB checks a transaction's conditions and applies its writes atomically. moto's stock server handles
requests on many threads without a lock, so two concurrent conditional transactions can both pass their
checks (seen here: 11 users created against 10 free seats). Serialising requests restores the atomicity the
real service guarantees; connections are still accepted concurrently.

One speed fix: moto (5.x) deep-copies a table once per *item* of a TransactWriteItems, before applying any
write, for its rollback; a 100-item transaction on a table of 40,000 items copies 4 million items. Here each
table's rollback copy is taken once per transaction, and it deep-copies only the items the transaction names:
the others are shared with the live table, which a transaction cannot change (puts and deletes replace
entries of the item map, which the copy has its own of; updates change an item in place, and every item a
transaction can update is one it names). Same rollback, same answers, same request counts; only the time
changes (a 100-item transaction on a table of 20,000 items took seconds with a whole deep copy).

    python3 infra/moto_server.py -H 127.0.0.1 -p PORT
"""
import argparse
import copy
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class Serialised:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_kanri/ses/raw":
            return self.sent_mail(start_response)
        with self.lock:
            # Materialise the body inside the lock so the whole request runs under it.
            return list(self.app(environ, start_response))


    def sent_mail(self, start_response):
        """The raw messages SES has 'sent', without /moto-api/data.json's dump of every other model (which
        copies every DynamoDB item and backup and grows to gigabytes in a long test run)."""
        import json

        from moto.ses.models import ses_backends

        with self.lock:
            raw = [
                {"destinations": list(m.destinations), "raw_data": m.raw_data}
                for account in ses_backends.values()
                for backend in account.values()
                for m in backend.sent_messages
                if hasattr(m, "raw_data")
            ]
        body = json.dumps(raw).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class _RollbackCopies:
    """Stands in for the `copy` module inside moto's transact_write_items: one rollback copy per table, with
    its own item map and its own copies of the items the transaction names (`touched`: table name -> set of
    (hash, range) key values)."""

    def __init__(self, models, touched):
        self.models = models
        self.touched = touched
        self.tables = {}

    def deepcopy(self, x, memo=None):
        if not isinstance(x, self.models.Table):
            return copy.deepcopy(x, memo)
        if id(x) not in self.tables:
            self.tables[id(x)] = self.rollback_copy(x)
        return self.tables[id(x)]

    def rollback_copy(self, table):
        from collections import defaultdict

        clone = copy.copy(table)
        clone.items = defaultdict(dict)
        for h, v in table.items.items():
            clone.items[h] = dict(v) if isinstance(v, dict) else v
        for h, r in self.touched.get(table.name, ()):
            if h not in table.items:
                continue
            if table.range_key_attr is None:
                clone.items[h] = copy.deepcopy(table.items[h])
            elif r in table.items[h]:
                clone.items[h][r] = copy.deepcopy(table.items[h][r])
        return clone


def _touched(models, backend, transact_items):
    """Table name -> the (hash, range) key values of the items a transaction names."""
    out = {}
    for entry in transact_items:
        for op in entry.values():
            name = op.get("TableName") if isinstance(op, dict) else None
            if name not in backend.tables:
                continue
            table = backend.tables[name]
            key = op.get("Key") or op.get("Item") or {}
            try:
                h = models.DynamoType(key[table.hash_key_attr])
                r = models.DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, TypeError):
                continue  # moto itself refuses it, before writing anything
            out.setdefault(name, set()).add((h, r))
    return out


def patch_transactions():
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        # Requests are serialised (Serialised above), so swapping the module's name is safe.
        models.copy = _RollbackCopies(models, _touched(models, self, transact_items))
        try:
            return original(self, transact_items)
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    import os

    os.environ.setdefault("MOTO_PORT", str(args.port))
    patch_transactions()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialised(app), threaded=True)


if __name__ == "__main__":
    main()
