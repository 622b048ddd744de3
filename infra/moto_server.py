#!/usr/bin/env python3
"""moto's server with one request handled at a time.

DynamoDB checks a transaction's conditions and applies its writes atomically. moto's stock server handles
requests on many threads without a lock, so two concurrent conditional transactions can both pass their
checks (seen here: 11 users created against 10 free seats). Serialising requests restores the atomicity the
real service guarantees; connections are still accepted concurrently.

One speed fix: moto (5.x) deep-copies a table once per *item* of a TransactWriteItems, before applying any
write, for its rollback; a 100-item transaction on a table of 40,000 items copies 4 million items. All those
copies are taken before the first write, so they are equal: here the first copy of each table is reused for
the transaction's other items. Same rollback, same answers, same request counts; only the time changes.

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


class _OneCopyPerTable:
    """Stands in for the `copy` module inside moto's transact_write_items: one deep copy per table."""

    def __init__(self, models):
        self.models = models
        self.tables = {}

    def deepcopy(self, x, memo=None):
        if not isinstance(x, self.models.Table):
            return copy.deepcopy(x, memo)
        if id(x) not in self.tables:
            self.tables[id(x)] = copy.deepcopy(x)
        return self.tables[id(x)]


def patch_transactions():
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        # Requests are serialised (Serialised above), so swapping the module's name is safe.
        models.copy = _OneCopyPerTable(models)
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
