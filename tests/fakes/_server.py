"""Serve a werkzeug app on a real socket in a background thread (the fakes' common plumbing)."""

from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request


class _Quiet(WSGIRequestHandler):
    def log(self, *args, **kwargs) -> None:
        pass


class Served:
    """``handle(request) -> Response`` of a fake, served at ``http://127.0.0.1:<port>``."""

    def __init__(self, handle, port: int = 0) -> None:
        def app(environ, start_response):
            return handle(Request(environ))(environ, start_response)

        self.server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_Quiet)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a delayed answer must not hold the test's teardown
        self.port = self.server.server_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Served:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
