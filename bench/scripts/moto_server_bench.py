#!/usr/bin/env python3
"""infra/moto_server.py for the bench, with one change to how moto's TransactWriteItems keeps its rollback copy.

moto (5.x) deep-copies a table once per *item* of a transaction, before applying any write: a 100-item
transaction on a table of 40,000 items copies 4 million items, so a 10,000-row CSV import takes hours. Every
one of those copies is taken before the first write, so they are all equal: here the first copy of each table
is reused for the transaction's other items. Same rollback, same answers, same request counts; only the time
changes (still a copy of every touched table per transaction, so moto's time grows with the table).

    python3 bench/scripts/moto_server_bench.py -H 127.0.0.1 -p PORT    (bench/bench.py starts it through
                                                                         infra/moto.sh, MOTO_SERVER_SCRIPT)
"""
import copy
import sys
from pathlib import Path

import moto.dynamodb.models as models

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import moto_server  # noqa: E402

_transact = models.DynamoDBBackend.transact_write_items


class _OnePerTable:
    """Stands in for the `copy` module inside moto's transact_write_items: one deep copy per table."""

    def __init__(self):
        self.tables = {}

    def deepcopy(self, x, memo=None):
        if not isinstance(x, models.Table):
            return copy.deepcopy(x, memo)
        if id(x) not in self.tables:
            self.tables[id(x)] = (x, copy.deepcopy(x))
        return self.tables[id(x)][1]


def transact_write_items(self, transact_items):
    # Requests are serialised (moto_server.Serialised), so swapping the module's name is safe.
    models.copy = _OnePerTable()
    try:
        return _transact(self, transact_items)
    finally:
        models.copy = copy


models.DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    moto_server.main()
