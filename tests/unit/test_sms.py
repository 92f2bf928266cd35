"""SMS senders: the outbox file and the HTTP gateway client over real HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from prometheus_client import REGISTRY

from connectors.base import ConnectorUnavailable
from connectors.registry import UnknownConnector, load_connector
from connectors.sms import HttpSmsGateway, OutboxSmsSender, read_outbox


class _Gateway(BaseHTTPRequestHandler):
    received: list = []
    status = 202

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Authorization"], json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *_args):
        pass


@pytest.fixture
def gateway():
    _Gateway.received = []
    _Gateway.status = 202
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sms", _Gateway
    server.shutdown()


def test_outbox_appends_json_lines(tmp_path):
    sender = OutboxSmsSender(tmp_path / "nested" / "outbox.jsonl")
    sender.send("+84912345678", "Mã xác thực 123456")
    sender.send("+84987654321", "Thông báo")
    messages = read_outbox(tmp_path / "nested" / "outbox.jsonl")
    assert [m["to"] for m in messages] == ["+84912345678", "+84987654321"]
    assert messages[0]["text"] == "Mã xác thực 123456"


def test_http_gateway_posts_json_with_bearer_key(gateway):
    url, handler = gateway
    HttpSmsGateway(url, "api-key-1", (1, 2)).send("+84912345678", "Xin chào")
    assert handler.received == [("Bearer api-key-1", {"to": "+84912345678", "text": "Xin chào"})]


def test_http_gateway_error_and_unreachable_are_typed_and_counted(gateway):
    url, handler = gateway
    errors = REGISTRY.get_sample_value("idp_connector_errors_total",
                                       {"connector": "sms", "operation": "send"}) or 0
    handler.status = 500
    with pytest.raises(ConnectorUnavailable):
        HttpSmsGateway(url, "k", (1, 2)).send("+84912345678", "x")
    with pytest.raises(ConnectorUnavailable):
        HttpSmsGateway("http://127.0.0.1:9/sms", "k", (0.5, 0.5)).send("+84912345678", "x")
    assert REGISTRY.get_sample_value("idp_connector_errors_total",
                                     {"connector": "sms", "operation": "send"}) == errors + 2


def test_connectors_are_found_by_entry_point_name():
    assert load_connector("sms.outbox") is OutboxSmsSender
    assert load_connector("sms.http") is HttpSmsGateway
    with pytest.raises(UnknownConnector, match="sms.outbox"):
        load_connector("sms.pigeon")
