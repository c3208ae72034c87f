"""Start moto in server mode with DynamoDB requests serialized.

moto 5.2.5 keeps DynamoDB tables in dicts without locks. Under concurrent TransactWriteItems it
fails with "RuntimeError: dictionary changed size during iteration" and returns a 500 HTML page,
which the SDK retries and the provisioning steps then report as transient errors. This wrapper
runs moto's own server application with one lock around DynamoDB requests. Other services stay
concurrent, so SQS long polling does not hold anything up.

Usage: python scripts/moto_server.py -H 127.0.0.1 -p 4566
"""

import argparse
import os
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


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
