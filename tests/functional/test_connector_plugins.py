"""A connector added as a plugin touches nothing in idp/: an installed distribution whose
entry point idp/ never names, configured in its own section and checked by its own model,
built by the provider and probed by /readyz."""

from __future__ import annotations

import sys

import pytest

from idp.config import ConfigError
from tests.conftest import config

# A rain gauge network: an outside system the provider has never heard of.
PLUGIN = '''
from pathlib import Path

from connectors.base import ConnectorSettings


class GaugeSettings(ConnectorSettings):
    station: str
    online: bool = True


class RainGauge:
    settings_model = GaugeSettings

    def __init__(self, station: str, online: bool) -> None:
        self.station, self.online = station, online

    @classmethod
    def from_settings(cls, section: GaugeSettings, base_dir: Path) -> "RainGauge":
        return cls(section.station, section.online)

    def probe(self) -> None:
        if not self.online:
            raise ConnectionError(self.station)
'''


@pytest.fixture(autouse=True)
def rain_gauge_installed(tmp_path_factory, monkeypatch):
    """The plugin installed as pip would leave it: a module and its dist-info on sys.path."""
    site = tmp_path_factory.mktemp("site-packages")
    (site / "rain_gauge.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "rain_gauge-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rain-gauge\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[idp.connectors]\ngauge.hanoi = rain_gauge:RainGauge\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("rain_gauge", None)


@config(gauge={"connector": "gauge.hanoi", "station": "Láng"})
def test_a_plugin_section_is_built_by_the_provider_and_probed(browser, provider):
    gauge = provider.connectors["gauge"]
    assert type(gauge).__module__ == "rain_gauge" and gauge.station == "Láng"
    ready = browser.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["gauge"] == "ok"
    assert ready.get_json()["status"] == "ready"


@config(gauge={"connector": "gauge.hanoi", "station": "Láng", "online": False})
def test_a_plugin_whose_system_is_down_leaves_the_node_degraded(browser):
    ready = browser.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "degraded"
    assert ready.get_json()["checks"]["gauge"] == "unavailable: ConnectionError"


def test_a_plugin_section_is_checked_by_the_plugins_model(settings_for):
    with pytest.raises(ConfigError) as error:
        settings_for(gauge={"connector": "gauge.hanoi", "statoin": "Láng"})
    message = str(error.value)
    assert "gauge.statoin: unknown key" in message
    assert "gauge.station: Field required" in message


def test_a_section_naming_no_installed_plugin_is_refused(settings_for):
    with pytest.raises(ConfigError, match=r"gauge\.connector: no connector named 'gauge\.hue'"):
        settings_for(gauge={"connector": "gauge.hue", "station": "Phú Bài"})
