"""Start moto in server mode with DynamoDB requests serialized and cheap transactions.

Two changes to moto 5.2.5's DynamoDB, both for the local stack's load:
- moto keeps tables in dicts without locks. Under concurrent TransactWriteItems it fails with
  "RuntimeError: dictionary changed size during iteration" and returns a 500 HTML page. This
  wrapper runs moto's own server application with one lock around DynamoDB requests. Other
  services stay concurrent, so SQS long polling does not hold anything up.
- moto's TransactWriteItems deep-copies every table it touches, once per item, to roll back on
  failure, so each transaction costs time in proportion to the table size. The wrapper keeps
  copies of the touched items only and restores those on failure.
- moto handles a Query by sorting every item of the table before filtering by partition key.
  The wrapper hands a table Query the items of the queried partition only, and an index Query
  the table's items unsorted (moto sorts the matches itself).

Usage: python scripts/moto_server.py -H 127.0.0.1 -p 4566
"""

import argparse
import copy
import os
import threading
import types

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def keep_tables_uncopied() -> None:
    """Make moto's per-transaction table backup a no-op; `snapshot_touched_items` replaces it."""

    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy)
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        snapshots = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op.get("Key")
            if key is None:
                continue
            current = self.get_item(table.name, key)
            before = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            snapshots.append((table.name, key, before))
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, before in reversed(snapshots):
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def query_one_partition() -> None:
    """Make a table Query read only the queried partition, and skip the sort of an index Query."""
    original = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name") or (args[6] if len(args) > 6 else None)
        if not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        if index_name or hash_key is None:
            partition = [item for items in self.items.values() for item in items.values()]
        else:
            partition = sorted(
                self.items.get(hash_key, {}).values(), key=lambda item: item.range_key
            )
        # An instance attribute shadows the method for this call only. DynamoDB requests run one
        # at a time, so no other request reads it.
        self.all_items = lambda: partition
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def serialize_dynamodb(app):
    """Wrap a WSGI app so DynamoDB requests (X-Amz-Target DynamoDB_*) run one at a time."""
    lock = threading.Lock()

    def wrapped(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with lock:
                # Build the whole body inside the lock, because moto reads its tables lazily.
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("-p", "--port", type=int, default=4566, help="port to listen on")
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    keep_tables_uncopied()
    query_one_partition()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialize_dynamodb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
