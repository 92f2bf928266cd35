"""What a run prints and keeps: the results table, the login's figures, the comparisons
with DESIGN §8's quoted references and with the references measured in the run, the
Markdown rows for bench/README.md, and the JSON."""

from __future__ import annotations

import json
from pathlib import Path

from bench import log
from bench.drivers import LoadResult
from bench.targets import (
    HELLO,
    HELLO_SHARE,
    NODE_MEMORY,
    NODE_REDIS,
    compute_targets,
    print_targets,
)

# Quoted from DESIGN §8 (shared/DESIGN.md), NOT measured by this script.
REFERENCES = {
    "discovery": "node oidc-provider (1 process) 12,000 req/s; Flask \"hello\" on gunicorn "
                 "1 sync worker ≈4,000 req/s",
    "jwks": "node oidc-provider (1 process) 21,000 req/s; Flask \"hello\" on gunicorn "
            "1 sync worker ≈4,000 req/s",
    "userinfo": "DESIGN budget \"a few milliseconds per request\"; Flask \"hello\" on gunicorn "
                "1 sync worker ≈4,000 req/s",
    "refresh": "node oidc-provider (1 process) refresh grant (ES256) ≈2,700 req/s",
    "login": "argon2id m=19 MiB t=2 p=1 ≈21 ms; budget \"a password login costing little "
             "more than its argon2id hash\"",
}


def progress(result: LoadResult) -> None:
    log(f"  {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
        f"errors {result.errors}, server CPU {result.server_cpu:.2f} cores "
        f"({result.server_cpu * 1000 / max(result.rps, 1e-9):.2f} ms per request), "
        f"database CPU {result.db_cpu:.2f}, client CPU {result.client_cpu:.2f}, "
        f"other work {result.other_cpu:.2f} cores. "
        f"{' '.join(result.notes)}")


def comparison_line(result: LoadResult, workers: int) -> str:
    where = f"{workers} worker" + ("s" if workers > 1 else "")
    return (f"{result.name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms on {where} "
            f"[{result.tool}] — reference: {REFERENCES[result.name]} "
            "(quoted from DESIGN §8, not measured here)")


def per_request_ms(result: LoadResult) -> float | None:
    return result.server_cpu * 1000 / result.rps if result.server_cpu and result.rps else None


def with_store_ms(result: LoadResult) -> float | None:
    """Server + database CPU per request (ours: PostgreSQL backends and redis-server; node
    with its Redis adapter: redis-server)."""
    if not result.server_cpu or not result.rps:
        return None
    return (result.server_cpu + (result.db_cpu or 0.0)) * 1000 / result.rps


def dpop_comparison(results: list[LoadResult]) -> str | None:
    """A DPoP-bound refresh next to a bearer one, both driven by the python client."""
    dpop = next((r for r in results if r.name == "refresh-dpop"), None)
    bearer = next((r for r in results if r.name == "refresh" and r.tool.startswith("python")),
                  None)
    if dpop is None or bearer is None or not dpop.rps or not bearer.rps:
        return None
    line = (f"refresh-dpop: {dpop.rps:,.0f} req/s, p50 {dpop.p50_ms:.2f} ms next to a bearer "
            f"refresh's {bearer.rps:,.0f} req/s, p50 {bearer.p50_ms:.2f} ms "
            f"({dpop.rps / bearer.rps:.0%} of its rate) [{dpop.tool}]")
    mine, theirs = per_request_ms(dpop), per_request_ms(bearer)
    if mine and theirs:
        line += (f"; server CPU {mine:.2f} ms per request against {theirs:.2f} ms "
                 f"(+{mine - theirs:.2f} ms for the proof: its signature, the nonce, the jti "
                 "and the binding)")
    return line


def measured_comparisons(ours: list[LoadResult], refs: list[LoadResult],
                         floors: dict) -> list[str]:
    """Ours against the references measured in the same run with the same tool; for the
    refresh, also what its unavoidable parts (`floors`) cost next to node's whole refresh."""
    def find(name: str, tool: str) -> LoadResult | None:
        return next((r for r in refs if r.name == name and r.tool == tool), None)

    def figure(r: LoadResult) -> str:
        per = per_request_ms(r)
        return f"{r.rps:,.0f} req/s ({per:.2f} ms CPU/req)" if per else f"{r.rps:,.0f} req/s"

    lines = []
    for r in ours:
        if r.name not in ("discovery", "jwks", "refresh"):
            continue
        parts = [f"{r.name} [{r.tool}]: ours {figure(r)}"]
        hello = find(HELLO, r.tool) if r.name != "refresh" else None
        if hello and hello.rps:
            parts.append(f"Flask hello {figure(hello)} → ours = {r.rps / hello.rps:.0%} of "
                         f"hello's req/s (target ≥ {HELLO_SHARE:.0%}: "
                         f"{'met' if r.rps >= HELLO_SHARE * hello.rps else 'NOT met'})"
                         .replace("%", " %"))
        durable = find(f"{NODE_REDIS} {r.name}", r.tool)
        if durable and durable.rps:
            mine, theirs = with_store_ms(r), with_store_ms(durable)
            ratio = (f"; per request ours (server + database + Redis CPU) costs "
                     f"{mine / theirs:.1f}× node's (node + Redis CPU)" if mine and theirs
                     else "")
            parts.append(f"node oidc-provider + Redis adapter {durable.rps:,.0f} req/s"
                         + (f" ({theirs:.2f} ms node + Redis CPU/req)" if theirs else "")
                         + f" → ours = {r.rps / durable.rps:.0%} of its req/s{ratio}")
        node = find(f"{NODE_MEMORY} {r.name}", r.tool)
        if node and node.rps:
            ratio = ""
            mine, theirs = per_request_ms(r), per_request_ms(node)
            if mine and theirs:
                ratio = f"; per request ours costs {mine / theirs:.1f}× node's CPU"
            parts.append(f"node oidc-provider in memory {figure(node)} → ours = "
                         f"{r.rps / node.rps:.0%} of node's req/s{ratio}")
            hello = find(HELLO, r.tool)
            if r.name == "refresh" and theirs and hello and "rotation_ms" in floors:
                floor = (per_request_ms(hello) + floors["rotation_ms"]
                         + floors["rotation_db_ms"] + floors["signatures_ms"])
                parts.append(
                    f"floor of any refresh on this server and database: Flask hello "
                    f"{per_request_ms(hello):.2f} + durable rotation "
                    f"{floors['rotation_ms'] + floors['rotation_db_ms']:.2f} + two ES256 "
                    f"signatures {floors['signatures_ms']:.2f} = {floor:.2f} ms = "
                    f"{floor / theirs:.0%} of node's whole refresh (in memory), before "
                    "parsing, client authentication, grant checks and the response")
        if len(parts) > 1:
            lines.append(" — ".join(parts))
    return lines


def print_table(results: list[LoadResult]) -> None:
    head = (f"{'load':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
            f"{'srv CPU':>7} {'srv ms/req':>10} {'db CPU':>6} {'cli CPU':>7} {'other':>6}  tool")
    print(head)
    print("-" * len(head) + "-" * 30)
    for r in results:
        srv = f"{r.server_cpu:.2f}" if r.server_cpu is not None else "-"
        cli = f"{r.client_cpu:.2f}" if r.client_cpu is not None else "-"
        per = f"{r.server_cpu * 1000 / r.rps:.2f}" if r.server_cpu and r.rps else "-"
        other = f"{r.other_cpu:.2f}" if r.other_cpu is not None else "-"
        flag = " DISTURBED" if any(n.startswith("DISTURBED") for n in r.notes) else ""
        db = f"{r.db_cpu:.2f}" if r.db_cpu is not None else "-"
        print(f"{r.name:<20} {r.rps:>8,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>6} "
              f"{srv:>7} {per:>10} {db:>6} {cli:>7} {other:>6}  {r.tool}{flag}")


def markdown_rows(results: list[LoadResult], login: dict | None, meta: dict) -> str:
    date = meta["date"][:10]
    setup = f"{meta['database']}, {meta['workers']}w×{meta['threads']}t"
    lines = [
        f"<!-- bench/run.py {meta['date']} on {meta['cpus']} cores, {setup}, "
        f"{meta['seconds']} s per load -->",
        "| date | setup | load | tool | req/s | p50 ms | p99 ms | errors "
        "| server CPU ms/req | other work (cores) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per = f"{r.server_cpu * 1000 / r.rps:.2f}" if r.server_cpu and r.rps else "-"
        flag = " ⚠ disturbed" if any(n.startswith("DISTURBED") for n in r.notes) else ""
        lines.append(f"| {date} | {setup} | {r.name} | {r.tool} | {r.rps:,.0f} | "
                     f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {per} | "
                     f"{r.other_cpu:.2f}{flag} |")
    if login:
        lines.append(
            f"| {date} | {setup} | login (pwd+OTP, {login['count']}× sequential) | "
            f"requests.Session, {login['http_requests']} HTTP requests each | "
            f"{1000 / login['median_ms']:,.1f} logins/s | {login['median_ms']:.1f} | "
            f"{login['p99_ms']:.1f} | {login['errors']} | "
            f"{login['server_cpu_ms_per_login']:.1f} | {login['other_cpu']:.2f} |")
        lines.append(
            f"| {date} | {setup} | argon2id verify in-process (m=19 MiB t=2 p=1) | "
            f"argon2-cffi, median of {login['argon2_count']} | - | "
            f"{login['argon2_median_ms']:.1f} | - | 0 | - | - |")
    return "\n".join(lines)


def print_results(bench, meta: dict) -> tuple[list[str], list[str], list[dict], int]:
    """The table, the login's figures, the comparisons and the targets, on stdout; returns
    the comparisons with the quoted references, those with the measured ones, the targets
    (bench/targets.py) and the number of errors in total."""
    args, results, s, floors = bench.args, bench.results, bench.login_summary, bench.floors
    print()
    print(f"Results — {meta['date']}, {meta['cpus']} cores, {meta['database']}, gunicorn "
          f"{args.workers} worker(s) × {args.threads} thread(s); load generator: "
          f"{meta['client_processes']} client process(es) × "
          f"{meta['connections_per_process']} connection(s) "
          f"(sharing the machine with the server)")
    print()
    print_table(results)
    if s:
        print()
        print(f"login (password + SMS OTP, {s['count']} sequential, {s['http_requests']} HTTP "
              f"requests each, consent steps timed: {s['consent_steps']}): median "
              f"{s['median_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, min {s['min_ms']:.1f} ms, "
              f"errors {s['errors']}")
        print(f"  of which the password POST (argon2id inside): median "
              f"{s['password_post_median_ms']:.1f} ms; all other steps: "
              f"{s['rest_ms']:.1f} ms")
        print("  per HTTP request (median ms): " + ", ".join(
            f"{label} {ms:.1f}" for label, ms in s["steps_median_ms"].items()))
        print(f"  server CPU per login: {s['server_cpu_ms_per_login']:.1f} ms (+ database "
              f"{s['db_cpu_ms_per_login']:.1f} ms)")
        above = (s["server_cpu_ms_per_login"] + s["db_cpu_ms_per_login"]
                 - s["argon2_median_ms"])
        print(f"  bare argon2id verify in-process (m=19 MiB t=2 p=1): median "
              f"{s['argon2_median_ms']:.1f} ms CPU — login wall time / argon2id = "
              f"{s['ratio']:.2f}; server + database CPU per login = argon2id + "
              f"{above:.1f} ms ({s['cpu_ratio']:.2f}×; the target is in \"Targets\" below)")
        if "hello_sequential_ms" in floors:
            hello_ms, hash_ms = floors["hello_sequential_ms"], s["argon2_median_ms"]
            print(f"  floor of the server alone: a bare Flask hello under the same gunicorn "
                  f"costs {hello_ms:.2f} ms per request sent one at a time; "
                  + "; ".join(f"{n} such requests + the argon2id verify = "
                              f"{(hash_ms + n * hello_ms) / hash_ms:.2f}× the verify"
                              for n in sorted({s['http_requests'], 5}, reverse=True))
                  + " (5: the fewest a code flow with a password step and an OTP step can "
                  "make when every POST answers 303 — authorize, password, OTP page, OTP, "
                  "token), before any of the login's own work")
    print()
    print("Comparison with DESIGN §8 (the references are quoted, not measured here):")
    ours = [r for r in results if r.name in REFERENCES]
    comparisons = [comparison_line(result, args.workers) for result in ours]
    measured_lines = measured_comparisons(ours, [r for r in results if r not in ours], floors)
    if (dpop_line := dpop_comparison(results)) is not None:
        comparisons.append(dpop_line)
    if s:
        comparisons.append(
            f"login: median {s['median_ms']:.1f} ms per full login, "
            f"{s['server_cpu_ms_per_login']:.1f} ms of server CPU "
            f"({s['cpu_ratio']:.2f}× the argon2id verify's CPU; wall time "
            f"{s['ratio']:.2f}×) measured here "
            f"({s['argon2_median_ms']:.1f} ms) — reference: {REFERENCES['login']} "
            "(quoted from DESIGN §8, not measured here)")
    for line in comparisons:
        print("  " + line)
    if measured_lines:
        print()
        print("Measured side by side in this run (--reference; same tool, connections and "
              "seconds; CPU ms/req = server CPU per request):")
        for line in measured_lines:
            print("  " + line)
    targets = compute_targets(bench)
    print_targets(targets)
    total_errors = sum(r.errors for r in results) + (s or {}).get("errors", 0)
    print()
    print(f"errors in total: {total_errors}")
    return comparisons, measured_lines, targets, total_errors


def write_json(path: Path, bench, meta: dict, comparisons: list[str],
               measured_lines: list[str], targets: list[dict]) -> None:
    """Everything the run measured (bench/results/latest.json unless --output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "loads": [r.__dict__ for r in bench.results],
               "login": bench.login_summary, "comparisons": comparisons,
               "measured_comparisons": measured_lines, "profiles": bench.profiles,
               "floors": bench.floors, "references_quoted_from_design": REFERENCES,
               "targets": targets, "references_not_measured": bench.not_measured}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {path}")


def print_markdown(bench, meta: dict) -> None:
    print()
    print("Markdown rows for bench/README.md:")
    print()
    print(markdown_rows(bench.results, bench.login_summary, meta))
