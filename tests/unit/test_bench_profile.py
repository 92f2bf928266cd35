"""The benchmark's profile summary: what it counts, what it leaves out."""

from __future__ import annotations

import pytest

from bench.profile import summarize_profile

WORKER = "run (idp/serve.py:1);SyncWorker.handle (gunicorn/workers/sync.py:2)"


def test_samples_blocked_on_a_socket_are_left_out_and_each_sample_counts_for_one_task(tmp_path):
    profile = tmp_path / "profile-login.txt"
    profile.write_text("\n".join([
        f"{WORKER};password (idp/login/views.py:3);verify (argon2/_password_hasher.py:4) 50",
        f"{WORKER};password (idp/login/views.py:3);get (idp/store/state.py:5);"
        "execute (sqlalchemy/engine/base.py:6) 20",
        f"{WORKER};otp (idp/login/views.py:7);record_event (idp/audit.py:8);"
        "get (idp/store/state.py:5) 10",
        f"{WORKER};otp (idp/login/views.py:7);url_for (flask/app.py:9) 20",
        f"{WORKER};close_graceful (gunicorn/util.py:10) 400",
        "a line that is not a sample",
    ]))
    summary = summarize_profile(profile)
    assert summary["samples"] == 100 and summary["samples_blocked_on_a_socket"] == 400
    assert summary["tasks"] == pytest.approx({
        "argon2id verify": 0.5,
        "state store (counters, interaction, SSO session, OTP record, code)": 0.2,
        # the audit row's own state-store read belongs to the audit row
        "audit rows (hash-chained, own transaction)": 0.1,
        "the rest (Flask, gunicorn, the provider's own checks and pages)": 0.2})
    assert sum(summary["categories"].values()) == pytest.approx(1.0)
