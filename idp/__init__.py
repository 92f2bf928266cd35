"""National single sign-on: an OpenID Connect provider for public-service portals."""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from idp import errors, ops
from idp.audit_labels import event_label, result_label
from idp.clients import RegisteredClients
from idp.compiled_routes import CompiledRule
from idp.compiled_templates import COMPILED_TEMPLATES
from idp.config import Settings, load_settings
from idp.db import Database
from idp.limits import Limiter
from idp.login.devices import write_device_cookie
from idp.oidc.client_keys import ClientKeySets
from idp.oidc.plain_refresh import PlainRefreshes
from idp.oidc.published import PublishedDocuments
from idp.otp.queue import SmsQueue
from idp.params import IdConverter
from idp.provider import Provider, build_connectors
from idp.security import headers, host
from idp.security.form_session import FormSessionInterface
from idp.security.passwords import PasswordHasher
from idp.sessions import cookie_name, write_cookies
from idp.store import data_keys
from idp.store.state import make_state_store
from idp.vntime import vietnam_time
from keys import KeyRing, make_backends

csrf = CSRFProtect()

# Endpoints that portals call server-to-server or by redirect: no browser form, no CSRF token.
CSRF_EXEMPT = ("oidc.token", "oidc.introspect", "oidc.revoke", "oidc.userinfo",
               "oidc.authorize", "oidc.end_session_view",
               # A verifier's API, and the clerk's upload form, which checks its token
               # itself once it has allowed a photo's size (idp/sharing/web.py).
               "sharing.verify_api", "sharing.clerk", "oidc.par")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the provider from `settings` (or from `--config` / `$IDP_CONFIG`)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": COMPILED_TEMPLATES}
    app.url_rule_class = CompiledRule
    app.url_map.converters["int"] = IdConverter  # before any route: ids the database holds
    app.config.update(
        SECRET_KEY=settings.server.secret_key,
        SESSION_COOKIE_NAME=cookie_name("idp_form", settings),
        SESSION_COOKIE_SECURE=settings.session.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024,
        WTF_CSRF_TIME_LIMIT=settings.session.transaction_ttl,
        WTF_CSRF_SSL_STRICT=False,  # Referer is never sent (Referrer-Policy: no-referrer)
    )
    app.session_interface = FormSessionInterface()
    if settings.server.trust_proxy_headers:
        hops = settings.server.trust_proxy_headers
        # Not x_host: no URL is built from the request's host (see Provider.origin).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db = Database()
    # A request holds its session's connection while the audit trail (and the SQL state
    # store) commit on a second one: two per thread, or every such request would open and
    # close a database connection (a new server process on PostgreSQL).
    db.init_app(app, settings.database_url, pool_size=2 * settings.server.threads,
                echo=settings.database.echo)
    data_keys.bind(db.engine, settings)
    pw = settings.passwords
    state = make_state_store(settings, db.engine)
    app.extensions["idp.provider"] = Provider(
        settings=settings,
        db=db,
        state=state,
        keys=KeyRing(db.sessions, make_backends(settings.keys), settings.keys.reload_seconds),
        connectors=build_connectors(settings),
        passwords=PasswordHasher(pw.memory_kib, pw.time_cost, pw.parallelism),
        clients=RegisteredClients(db.engine, state),
        limits=Limiter(state, settings.limits, settings.server.secret_key,
                       settings.session.transaction_ttl),
        client_keys=ClientKeySets(settings.oauth.client_jwks_timeout,
                                  settings.oauth.client_jwks_cache_seconds,
                                  settings.oauth.client_jwks_refresh_floor),
    )

    app.extensions["idp.sms_queue"] = SmsQueue(app)
    csrf.init_app(app)
    errors.init_app(app)
    ops.init_app(app)
    headers.init_app(app, hsts=settings.server.issuer.startswith("https://"))

    from idp import (
        account,
        certificates,
        helpdesk,
        login,
        oidc,
        register,
        sharing,
        simsign,
        usbtoken,
    )

    # Each area registers its own routes. Login methods are offered in this order (the
    # first that reaches the level asked for is where a login starts), the packages that
    # add pages to the account console come before it, and the trust anchors of the
    # certificate methods before them.
    for area in (oidc, login, register, certificates, usbtoken, simsign, sharing, account,
                 helpdesk):
        area.init_app(app)
    csrf.exempt(app.view_functions["ops.metrics"])
    for endpoint in CSRF_EXEMPT:
        csrf.exempt(app.view_functions[endpoint])

    if settings.server.enforce_host:
        app.before_request(host.refuse_other_hosts)

    @app.before_request
    def _reload_keys():
        if request.endpoint != "static":
            app.extensions["idp.provider"].keys.maybe_reload()

    app.add_template_filter(vietnam_time, "vn_time")
    app.add_template_filter(event_label)
    app.add_template_filter(result_label)
    app.after_request(write_cookies)
    app.after_request(write_device_cookie)
    app.wsgi_app = PlainRefreshes(app, app.wsgi_app)
    app.wsgi_app = PublishedDocuments(app, app.wsgi_app)
    if settings.logging.access_log:
        app.wsgi_app = ops.AccessLog(app.wsgi_app)
    for name in ("idp", "connectors"):  # audit lines and connector latency
        logging.getLogger(name).setLevel(logging.INFO)
    return app
