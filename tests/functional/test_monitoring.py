"""The shipped Grafana dashboard and Prometheus alert rules use only metrics the provider
exposes (so they cannot silently rot when a metric is renamed), and are well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.conftest import Flow

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
METRIC = re.compile(r"\bidp_[a-z_]+\b")


def _exposed(metrics_text: str) -> set[str]:
    names = set(re.findall(r"^# TYPE (idp_[a-z_]+) ", metrics_text, re.M))
    names |= {name + suffix for name in names for suffix in ("_total", "_bucket", "_count",
                                                             "_sum")}
    return names


def _queries() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"]
             for target in panel.get("targets", [])]
    rules = yaml.safe_load((MONITORING / "prometheus-alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= rule.keys(), rule
            assert rule["labels"]["severity"] in ("page", "ticket")
            assert rule["annotations"]["summary"]
            exprs.append(rule["expr"])
    return exprs


def test_dashboard_and_alerts_use_exposed_metrics(browser, settings, make_portal, make_account):
    from connectors import http, sms  # noqa: F401 - the connector metrics are defined there

    _, person = make_account()
    Flow(browser, settings, make_portal()).login(person)
    exposed = _exposed(browser.get("/metrics").get_data(as_text=True))
    used = {name for expr in _queries() for name in METRIC.findall(expr)}
    assert used, "no metric found in the dashboard or the alert rules"
    assert used <= exposed, used - exposed
    # The signals an on-call needs (issue: logins, OTP per gateway, registries, 5xx,
    # back-channel backlog, key expiry) each have at least one alert.
    alerts = " ".join(_queries())
    for signal in ("idp_logins_total", "idp_connector_errors_total{connector=\"sms\"",
                   "idp_connector_duration_seconds_bucket", 'status=~"5..',
                   "idp_backchannel_oldest_pending_seconds", "idp_signing_key_age_seconds"):
        assert signal in alerts, signal
