"""`python -m connectors.simulators carrier|bhxh|post|mssp|all`: run simulators on werkzeug.

    python -m connectors.simulators carrier --port 5101 [--api-key K] [--delay SECONDS]
    python -m connectors.simulators all    # carrier 5101, bhxh 5102, post 5103, mssp 5104
    python -m connectors.simulators mssp   # SIM signatures with the test PKI in var/testpki
    python -m connectors.simulators all --pki-dir var/demo/pki   # the MSSP's SIMs from there

Without --api-key each system expects the development key that
`idp.config.Settings` sends by default (dev-carrier-key, dev-bhxh-key, dev-post-key,
dev-mssp-key). With `all`, --port is the carrier's port and the next ports go to BHXH,
Post and the MSSP. Drive pending SIM requests with the MSSP's control API (see
connectors/simulators/mssp.py), e.g.

    curl -H 'Authorization: Bearer dev-mssp-key' -H 'Content-Type: application/json' \\
      -d '{"action": "approve"}' http://127.0.0.1:5104/_control/phones/+84900000001
"""

from __future__ import annotations

import argparse
import logging
import threading
from pathlib import Path

from connectors.simulators import DEFAULT_API_KEYS, DEFAULT_PORTS, SIMULATORS
from connectors.simulators.fixtures import PEOPLE_JSON, load_fixtures
from connectors.simulators.serving import RunningSimulator, start


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.simulators", description="Run registry simulators."
    )
    parser.add_argument("system", choices=[*SIMULATORS, "all"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int,
                        help="default: 5101 carrier, 5102 bhxh, 5103 post, 5104 mssp")
    parser.add_argument("--api-key", help="bearer key to expect (default: the dev key)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fixtures", default=str(PEOPLE_JSON), help="a people.json file")
    parser.add_argument("--pki-dir", type=Path, help="the MSSP's test PKI (connectors.testpki; "
                        "generated there when missing; default var/testpki)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Start the chosen simulators and serve until interrupted."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    fixtures = load_fixtures(args.fixtures)
    systems = list(SIMULATORS) if args.system == "all" else [args.system]
    first_port = DEFAULT_PORTS[systems[0]] if args.port is None else args.port
    running: list[RunningSimulator] = []
    try:
        for offset, system in enumerate(systems):
            api_key = args.api_key or DEFAULT_API_KEYS[system]
            options = {"pki_dir": args.pki_dir} if system == "mssp" and args.pki_dir else {}
            app = SIMULATORS[system](fixtures, api_key, args.delay, **options)
            # Port 0 asks the system for a free port, for each simulator separately.
            port = first_port + offset if first_port else 0
            server = start(app, args.host, port)
            running.append(server)
            print(f"{system} simulator listening on {server.url} "
                  f"({len(fixtures.people)} fixture people, delay {args.delay:g} s)", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in running:
            server.stop()


if __name__ == "__main__":
    main()
