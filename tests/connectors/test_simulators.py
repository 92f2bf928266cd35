"""The simulators' own HTTP behaviour and their command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.connectors.conftest import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = {
    "carrier": ("POST", "/v1/subscribers/verify"),
    "bhxh": ("GET", "/v1/insured/0000000000"),
    "post": ("POST", "/v1/registrations/verify"),
}


@pytest.mark.parametrize("system", list(ENDPOINTS))
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {API_KEY}", API_KEY])
def test_a_wrong_or_missing_key_gets_401_json(serve, system, header):
    method, path = ENDPOINTS[system]
    headers = {"Authorization": header} if header else {}
    answer = requests.request(method, serve(system).url + path, headers=headers, json={},
                              timeout=2)
    assert (answer.status_code, answer.json()) == (401, {"error": "invalid_api_key"})


BODY = {"cccd": "079090136066", "full_name": "Trần Minh Khoa", "birthdate": "1990-05-17"}


@pytest.mark.parametrize("system", ["carrier", "post"])
@pytest.mark.parametrize(
    "body",
    [None, [], {}, {**BODY, "birthdate": "17/05/1990"}, {**BODY, "cccd": 79090136066},
     {**BODY, "full_name": ""}],
)
def test_bad_requests_get_400_json(serve, system, body):
    if isinstance(body, dict) and body:
        body["phone"] = "+84963718284"
    _, path = ENDPOINTS[system]
    answer = requests.post(serve(system).url + path, headers=AUTH, json=body, timeout=2)
    assert answer.status_code == 400 and "error" in answer.json()


@pytest.mark.parametrize("phone", ["12", "+14155550123", "0243 826 2222", None])
def test_carrier_refuses_what_is_not_a_vietnamese_mobile(serve, phone):
    answer = requests.post(serve("carrier").url + ENDPOINTS["carrier"][1], headers=AUTH,
                           json={**BODY, "phone": phone}, timeout=2)
    assert answer.status_code == 400


@pytest.mark.parametrize(("code", "status"), [("123", 400), ("01234567890", 400),
                                              ("abcdefghij", 400), ("0000000000", 404)])
def test_bhxh_codes(serve, code, status):
    answer = requests.get(serve("bhxh").url + f"/v1/insured/{code}", headers=AUTH, timeout=2)
    assert answer.status_code == status
    assert answer.json() == {"error": "invalid_code" if status == 400 else "not_found"}


def test_carrier_accepts_a_phone_in_national_form(serve, people):
    person = people.one("carrier: full match")
    national = "0" + person.phone.removeprefix("+84")
    body = {"phone": national, "cccd": person.cccd, "full_name": person.full_name,
            "birthdate": person.birthdate.isoformat()}
    answer = requests.post(serve("carrier").url + ENDPOINTS["carrier"][1], headers=AUTH,
                           json=body, timeout=2).json()
    assert answer["found"] and all(answer["match"].values())


@pytest.mark.parametrize("seconds", [-1, "1", True, None])
def test_delay_control_checks_its_input_and_key(serve, seconds):
    url = serve("post").url + "/_control/delay"
    assert requests.post(url, json={"seconds": 1}, timeout=2).status_code == 401
    assert requests.post(url, headers=AUTH, json={"seconds": seconds}, timeout=2).status_code == 400


def _run_cli(*args: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "connectors.simulators", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )


def test_command_line_starts_all_three_and_prints_where(people):
    process = _run_cli("all", "--port", "0", "--api-key", "cli-key", "--delay", "0")
    try:
        urls = {}
        for _ in range(3):
            words = process.stdout.readline().split()
            urls[words[0]] = words[words.index("on") + 1]
        assert set(urls) == {"carrier", "bhxh", "post"}
        person = people.one("all: full match")
        answer = requests.get(f"{urls['bhxh']}/v1/insured/{person.bhxh_code}",
                              headers={"Authorization": "Bearer cli-key"}, timeout=5)
        assert answer.json()["cccd"] == person.cccd
    finally:
        process.terminate()
        process.wait(timeout=5)
