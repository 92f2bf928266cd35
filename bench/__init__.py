"""What the provider costs, measured over real HTTP (bench/README.md).

The scripts (run.py, soak.py, and the in-process ones) run as `.venv/bin/python bench/X.py`;
the modules are what they share, on top of the tests' live-provider harness (tests/live):

  machine     CPU ticks of processes and of the whole machine; waiting for it to go idle
  servers     the provider under test (BenchProvider) and the servers measured beside it
  drivers     the load generators: wrk, and a multiprocess keep-alive python client
  loads/      one module per named load, in the table LOADS; the wrk Lua scripts
  references  --reference: the same loads against the reference servers; the floors
  targets     the round-2 targets from a run's figures: ours, reference, ratio, met or not
  report      the results table, comparisons, Markdown rows and JSON
  profile     py-spy samples of the worker under load
"""

import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
