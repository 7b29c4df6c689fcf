"""moto's DynamoDB-API server with requests serialized.

moto_server answers requests on parallel threads, and its DynamoDB backend does not isolate them:
two conditional writes racing on one item can both pass their condition, which real DynamoDB
never allows. byoc-router's no-lost-update guarantee rests on that isolation, so the local server
runs each request under one lock (connections are still accepted in parallel).

Usage: python moto_server.py HOST PORT
"""
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
