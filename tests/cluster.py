"""Provider nodes for the multi-node tests: `idp serve` (gunicorn, two workers) sharing one
PostgreSQL database and one Redis (a plain URL or Sentinel), each on its own port, behind
whatever front a test puts before them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_person
from tests.live import LiveProvider, free_port


class ClusterNode(LiveProvider):
    """A LiveProvider configured by the test: database URL, `[state]` lines, issuer and the
    trusted proxy hops, plus any extra TOML; SMS go to one outbox shared by the nodes."""

    def __init__(self, directory: Path, *, database_url: str, state: str, issuer: str | None,
                 port: int | None = None, proxy_hops: int = 0, extra_config: str = "") -> None:
        self.database_url, self.state_config = database_url, state
        self.port = port or free_port()
        self.issuer = issuer or f"http://127.0.0.1:{self.port}"
        self.proxy_hops = proxy_hops
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(directory, workers=2, threads=2, extra_config=extra_config)

    def _config_text(self) -> str:
        secure = "true" if self.issuer.startswith("https://") else "false"
        return (
            "[server]\n"
            f'issuer = "{self.issuer}"\nport = {self.port}\nworkers = 2\nthreads = 2\n'
            f"trust_proxy_headers = {self.proxy_hops}\n"
            'secret_key = "cluster-secret-key-0123456789abcdef"\n'
            'pairwise_salt = "cluster-pairwise-salt"\n'
            f'[database]\nurl = "{self.database_url}"\n'
            f"[state]\n{self.state_config}\n"
            '[keys]\npassphrase = "cluster-passphrase"\n'
            f"[session]\ncookie_secure = {secure}\n"
            '[passwords]\nmemory_kib = 8192\ntime_cost = 1\n'
            # Load from one address and a few phones: lift the caps a crowd would spread.
            '[limits]\n"login.attempts.address" = "100000 per hour"\n'
            '"sms.login.phone" = "100000 per hour"\n"sms.login.phone_daily" = "100000 per day"\n'
            '"sms.login.address" = "100000 per hour"\n'
            f'[sms]\noutbox_path = "{self.directory.parent / "sms.jsonl"}"\n'
        ) + self.extra_config


def person_fields(n: int):
    """A test citizen and the fields LiveProvider.add_account takes."""
    person = make_person(n)
    return person, {k: getattr(person, k) for k in
                    ("cccd", "full_name", "birthdate", "gender", "phone", "email")}
