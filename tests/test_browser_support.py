"""The browser tests' app server (browser_support.app_process): a port it holds, and a log of its own.

A port is picked free and the server binds it a moment later, so another process can take it first;
a server answering there is then not ours. app_process starts again on another port, and accepts a
server only when its own log says it bound the port and the listening socket is its own."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import browser_support
from browser_support import _holds_socket, _listening_inodes, app_process

SCRIPT = "import streamlit as st\nst.write('hello')\n"


class Healthy(BaseHTTPRequestHandler):
    """Answers every request as a Streamlit server's health check does."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "hello.py"
    path.write_text(SCRIPT)
    return str(path)


def test_a_port_taken_before_the_server_binds_it_means_another_port(script, monkeypatch):
    foreign = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)  # took the port between pick and bind
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    taken = foreign.server_address[1]
    picks = iter([taken])
    free_port = browser_support.free_port
    monkeypatch.setattr(browser_support, "free_port", lambda: next(picks, None) or free_port())
    try:
        with app_process(script=script) as (url, proc):
            port = int(url.rsplit(":", 1)[1])
            assert port != taken
            assert _holds_socket(proc.pid, _listening_inodes(port))  # the server answering is ours
            assert not _holds_socket(proc.pid, _listening_inodes(taken))
            assert f"URL: {url}" in proc.log_path.read_text()
            log = proc.log_path
        assert proc.returncode is not None and not log.exists()  # stopped; its log removed, all went well
    finally:
        foreign.shutdown()
        foreign.server_close()


def test_a_failure_in_the_block_names_the_servers_own_log_and_keeps_it(script):
    with pytest.raises(AssertionError) as failure:
        with app_process(script=script) as (url, proc):
            log = proc.log_path
            raise AssertionError("the page did not say what it should")
    try:
        assert f"the app server's log: {log}" in failure.value.__notes__
        assert log.is_file() and f"URL: {url}" in log.read_text()
        assert log.name.startswith("vae-core-app-") and log.parent != browser_support.ROOT
    finally:
        log.unlink()
