"""The targets of round 2 of the performance work, each computed from the figures of the same
run: ours (saying which CPU is counted) next to its reference, the target's expression, the
ratio, and met / not met — or "not measured" and why. Printed by the report and written as
the JSON's `targets` (bench/README.md, "Targets (round 2)").

  refresh     CPU per rotating refresh. SQLite: server CPU ≤ 1.0 × node oidc-provider with
              its in-memory adapter (node's CPU). PostgreSQL + Redis: server + database +
              Redis CPU ≤ 1.0 × node oidc-provider with its Redis adapter on the same Redis
              (node + redis-server CPU).
  login       server + database CPU per password + OTP login ≤ the bare argon2id verify (same
              parameters, in-process CPU) + 6 ms on SQLite, + 10 ms on PostgreSQL + Redis.
  discovery,  req/s at least 80 % of a bare Flask hello's under the same gunicorn settings.
  jwks
"""

from __future__ import annotations

HELLO = "Flask hello"
"""The name of the Flask hello's results."""
NODE_MEMORY = "node"
"""node oidc-provider with its in-memory adapter: its results are "node <load>"."""
NODE_REDIS = "node+Redis"
"""node oidc-provider with its Redis adapter on our Redis: its results are "node+Redis <load>"."""

LABELS = {HELLO: "Flask hello", NODE_MEMORY: "node oidc-provider in memory",
          NODE_REDIS: "node oidc-provider + Redis adapter"}
"""What each reference is called in the "not measured" notes."""

REFRESH_FACTOR = 1.0
"""Refresh: ours ≤ this × node's CPU per refresh (node in memory on SQLite, node + Redis
adapter on PostgreSQL + Redis)."""
LOGIN_MARGIN_MS = {"sqlite": 6.0, "postgresql": 10.0}
"""Login: server + database CPU per login ≤ argon2id + this many ms."""
HELLO_SHARE = 0.80
"""Discovery and JWKS: req/s ≥ this share of a bare Flask hello's."""


def _cpu_ms(result, with_database: bool) -> float | None:
    """CPU ms per request of a result: its server's, plus its database's (PostgreSQL backends
    and redis-server for ours, redis-server for node + Redis adapter) when `with_database`."""
    if not result.rps or result.server_cpu is None:
        return None
    cores = result.server_cpu + ((result.db_cpu or 0.0) if with_database else 0.0)
    return cores * 1000 / result.rps


def _pair(results: list, ours_name: str, ref_name: str):
    """Our result of `ours_name` and the reference's `ref_name` measured with the same tool
    (the run's first tool that has both: wrk when it ran); (ours, None) when the reference
    has none."""
    ours = [r for r in results if r.name == ours_name]
    for mine in ours:
        ref = next((r for r in results if r.name == ref_name and r.tool == mine.tool), None)
        if ref is not None:
            return mine, ref
    return (ours[0] if ours else None), None


def _flags(ours, ref) -> list[str]:
    """What makes a figure suspect: errors, or other work on the machine during it."""
    notes = []
    for label, result in (("ours", ours), (ref.name if ref else "", ref)):
        if result is None:
            continue
        if result.errors:
            notes.append(f"{label}: {result.errors} errors")
        if any(n.startswith("DISTURBED") for n in result.notes):
            notes.append(f"{label} disturbed (other work {result.other_cpu:.2f} cores)")
    return notes


def _row(target: str, what: str, *, counted: str, unit: str, reference_name: str,
         expression: str) -> dict:
    return {"target": target, "what": what, "counted": counted, "ours": None, "unit": unit,
            "reference_name": reference_name, "reference": None, "expression": expression,
            "bound": None, "ratio": None, "ratio_text": None, "met": None,
            "verdict": "not measured", "tool": None, "notes": []}


def _missing(bench, load: str, label: str | None) -> str | None:
    """Why a target of `load` against the reference `label` cannot be computed, if known."""
    if load not in bench.args.loads:
        return f"{load} is not in --only"
    if label is not None and not bench.args.reference:
        return "the reference runs with --reference only"
    if label is not None and label in bench.not_measured:
        return f"{LABELS[label]}: {bench.not_measured[label]}"
    return None


def refresh_target(bench) -> dict:
    postgres = bench.args.database == "postgresql"
    label = NODE_REDIS if postgres else NODE_MEMORY
    if postgres:
        row = _row("refresh", "CPU per rotating refresh",
                   counted="server + database + Redis (gunicorn, PostgreSQL backends, "
                           "redis-server)",
                   unit="ms CPU per refresh",
                   reference_name="node oidc-provider + Redis adapter, same Redis (node + "
                                  "redis-server CPU)",
                   expression=f"≤ {REFRESH_FACTOR:.1f} × node + Redis adapter")
    else:
        row = _row("refresh", "CPU per rotating refresh",
                   counted="server (gunicorn; SQLite runs inside the worker)",
                   unit="ms CPU per refresh",
                   reference_name="node oidc-provider, in-memory adapter (node CPU)",
                   expression=f"≤ {REFRESH_FACTOR:.1f} × node in memory")
    ours, ref = _pair(bench.results, "refresh", f"{label} refresh")
    if ours is not None:
        row["ours"], row["tool"] = _cpu_ms(ours, postgres), ours.tool
    if ref is not None:
        row["reference"] = _cpu_ms(ref, postgres)
    if row["ours"] is None or row["reference"] is None:
        row["notes"].append(_missing(bench, "refresh", label)
                            or f"no {label} refresh result with the tool of ours")
        return row
    row["bound"] = REFRESH_FACTOR * row["reference"]
    row["ratio"] = row["ours"] / row["reference"]
    row["ratio_text"] = f"{row['ratio']:.2f}× node"
    row["met"] = row["ours"] <= row["bound"]
    row["notes"] += _flags(ours, ref)
    return row


def login_target(bench) -> dict:
    postgres = bench.args.database == "postgresql"
    margin = LOGIN_MARGIN_MS["postgresql" if postgres else "sqlite"]
    row = _row("login", "CPU per password + OTP login",
               counted=("server + database + Redis (gunicorn, PostgreSQL backends, "
                        "redis-server)" if postgres
                        else "server (gunicorn; SQLite runs inside the worker)"),
               unit="ms CPU per login",
               reference_name="argon2id verify, same parameters (in-process CPU, median)",
               expression=f"≤ argon2id + {margin:g} ms")
    s = bench.login_summary
    if not s or not s.get("count"):
        row["notes"].append(_missing(bench, "login", None) or "no login succeeded")
        return row
    row["ours"] = s["server_cpu_ms_per_login"] + s["db_cpu_ms_per_login"]
    row["reference"] = s["argon2_median_ms"]
    row["tool"] = f"requests.Session, {s['count']} logins one after the other"
    row["bound"] = row["reference"] + margin
    row["ratio"] = row["ours"] / row["reference"]
    row["ratio_text"] = f"argon2id + {row['ours'] - row['reference']:.1f} ms"
    row["met"] = row["ours"] <= row["bound"]
    if s.get("errors"):
        row["notes"].append(f"ours: {s['errors']} errors")
    if s["other_cpu"] > bench.args.other_limit:
        row["notes"].append(f"ours disturbed (other work {s['other_cpu']:.2f} cores)")
    return row


def hello_target(bench, load: str) -> dict:
    row = _row(load, "requests per second, 1 × the run's workers",
               counted="req/s (server CPU per request in the notes)", unit="req/s",
               reference_name="bare Flask hello under the same gunicorn settings",
               expression=f"≥ {HELLO_SHARE:.0%} of hello's req/s".replace("%", " %"))
    ours, ref = _pair(bench.results, load, HELLO)
    if ours is not None:
        row["ours"], row["tool"] = ours.rps, ours.tool
    if ref is not None:
        row["reference"] = ref.rps
    if not row["ours"] or not row["reference"]:
        row["notes"].append(_missing(bench, load, HELLO)
                            or f"no {HELLO} result with the tool of ours")
        return row
    row["bound"] = HELLO_SHARE * row["reference"]
    row["ratio"] = row["ours"] / row["reference"]
    row["ratio_text"] = f"{row['ratio']:.0%} of hello".replace("%", " %")
    row["met"] = row["ours"] >= row["bound"]
    mine, theirs = _cpu_ms(ours, False), _cpu_ms(ref, False)
    if mine and theirs:
        row["notes"].append(f"server CPU per request: ours {mine:.2f} ms, hello's "
                            f"{theirs:.2f} ms")
    row["notes"] += _flags(ours, ref)
    return row


def compute_targets(bench) -> list[dict]:
    """One row per target, from this run's measurements."""
    rows = [refresh_target(bench), login_target(bench),
            hello_target(bench, "discovery"), hello_target(bench, "jwks")]
    for row in rows:
        row["database"] = ("postgresql+redis" if bench.args.database == "postgresql"
                           else "sqlite")
        if row["met"] is not None:
            row["verdict"] = "met" if row["met"] else "not met"
    return rows


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


SHORT_COUNTED = {
    "refresh": {"sqlite": "server (SQLite in it)", "postgresql+redis": "server + db + Redis"},
    "login": {"sqlite": "server (SQLite in it)", "postgresql+redis": "server + db + Redis"},
}
SHORT_REFERENCE = {
    "refresh": {"sqlite": "node in memory (node CPU)",
                "postgresql+redis": "node + Redis adapter (node + Redis CPU)"},
    "login": {"sqlite": "argon2id verify", "postgresql+redis": "argon2id verify"},
}


def print_targets(rows: list[dict]) -> None:
    """The targets as an aligned table, then each row's notes (tool, flags, why not
    measured)."""
    if not rows:
        return
    database = rows[0]["database"]
    print()
    print(f"Targets (round 2), {'PostgreSQL + Redis' if database != 'sqlite' else 'SQLite'} "
          "— ours and its reference from this run's measurements (CPU per request or login; "
          "req/s for discovery and JWKS):")
    table = [("target", "ours", "CPU counted", "reference", "target", "ratio", "verdict")]
    for row in rows:
        name = row["target"]
        counted = SHORT_COUNTED.get(name, {}).get(database, "— (req/s)")
        reference = SHORT_REFERENCE.get(name, {}).get(database, "Flask hello, same gunicorn")
        table.append((name, _figure(row["ours"], row["unit"]), counted,
                      f"{reference} {_figure(row['reference'], row['unit'])}",
                      row["expression"], row["ratio_text"] or "—",
                      row["verdict"].upper() if row["verdict"] == "not met"
                      else row["verdict"]))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for i, line in enumerate(table):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                          strict=True)).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * width for width in widths))
    for row in rows:
        details = [f"tool: {row['tool']}"] if row["tool"] else []
        details += row["notes"]
        print(f"  {row['target']}: ours = {row['counted']}; reference = "
              f"{row['reference_name']}" + ("; " + "; ".join(details) if details else ""))
