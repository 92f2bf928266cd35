"""A FAPI 2.0 relying party, panva's openid-client, against the running provider.

openid-client (tests/rp/rp.mjs) pushes its requests (RFC 9126), authenticates with
private_key_jwt (RFC 7523), binds tokens with DPoP (RFC 9449) and answers the
provider's nonces, signs request objects (RFC 9101), checks `iss` in the response
(RFC 9207) and the ID token. The tests play the browser (tests.functional.
test_independent_rp.UserAgent) and ask the RP for each step, sometimes with one thing
wrong; every refusal must carry the RFC's error and leave the rightful flow working.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.conftest import Person, make_person
from tests.functional.test_independent_rp import Live, UserAgent, query
from tests.live import LiveProvider, RegisteredPortal, free_port
from tests.node_rp import NodeRelyingParty, client_key, public_jwks, require_node

SCOPE = "openid profile cccd offline_access"
PAR_TTL = 5


class FapiProvider(LiveProvider):
    """The live provider with pushed requests expiring quickly (the expiry test), and SMS
    caps that let one citizen log in afresh in every test."""

    def _config_text(self) -> str:
        return super()._config_text() + (
            f"[oauth]\npar_ttl = {PAR_TTL}\n"
            '[limits]\n"sms.login.phone" = "500 per hour"\n'
            '"sms.login.phone_daily" = "500 per day"\n"sms.login.address" = "500 per hour"\n')


@dataclass
class Fapi:
    provider: LiveProvider
    rp: NodeRelyingParty
    portals: dict[str, RegisteredPortal]
    person: Person

    def browser(self, portal: str = "bank") -> UserAgent:
        return UserAgent(Live(self.provider, self.portals[portal], self.person))

    def login(self, portal: str = "bank", **request) -> tuple[dict, UserAgent]:
        """A whole login through the RP: PAR, the browser, the code exchange."""
        request.setdefault("scope", SCOPE)
        pushed = self.rp.call("authorize", client=portal, **request)
        assert "url" in pushed, pushed
        browser = self.browser(portal)
        callback = browser.sign_in(pushed["url"])
        tokens = self.rp.call("exchange", url=callback)
        assert "session" in tokens, tokens
        return tokens, browser


@pytest.fixture(scope="module")
def fapi(tmp_path_factory) -> Iterator[Fapi]:
    require_node()
    directory = tmp_path_factory.mktemp("fapi2")
    provider = FapiProvider(directory)
    rp = None
    try:
        provider.start()
        portals, clients = {}, {}
        for name, profile in (("bank", "fapi2"), ("insurer", "fapi2"), ("ministry", "standard")):
            key = client_key(f"{name}-key-1")
            base = f"http://127.0.0.1:{free_port()}"
            portals[name] = provider.add_portal(
                name, base, profile=profile, token_endpoint_auth_method="private_key_jwt",
                jwks=public_jwks(key), backchannel_logout_uri=None,
                scopes=["openid", "profile", "phone", "email", "cccd", "verified_claims",
                        "offline_access"])
            clients[name] = {"client_id": name, "jwk": key.as_dict(private=True),
                             "redirect_uri": f"{base}/callback",
                             "id_token_alg": "ES256" if profile == "fapi2" else "RS256"}
        person = make_person(77)
        provider.add_account(
            {k: getattr(person, k)
             for k in ("cccd", "full_name", "birthdate", "gender", "phone", "email")},
            person.password)
        rp = NodeRelyingParty(directory, provider.issuer, clients)
        yield Fapi(provider, rp, portals, person)
    finally:
        if rp is not None:
            rp.stop()
        provider.stop()


# --- the happy path ------------------------------------------------------------------------


def test_par_private_key_jwt_and_dpop_bound_tokens(fapi):
    tokens, browser = fapi.login()
    assert browser.visited[:2] == ["/login", "/login/otp"]
    assert tokens["token_type"].lower() == "dpop"
    claims = tokens["id_token_claims"]  # verified by openid-client against the JWKS
    assert claims["iss"] == fapi.provider.issuer and claims["aud"] == "bank"
    assert claims["acr"] == "urn:vn:sso:loa:2"


def test_userinfo_with_dpop(fapi):
    tokens, _ = fapi.login()
    answer = fapi.rp.call("userinfo", session=tokens["session"])
    assert answer.get("claims", {}).get("cccd") == fapi.person.cccd, answer


def test_dpop_bound_refresh_and_introspection(fapi):
    tokens, _ = fapi.login()
    refreshed = fapi.rp.call("refresh", session=tokens["session"])
    assert refreshed.get("token_type", "").lower() == "dpop", refreshed
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    answer = fapi.rp.call("introspect", session=tokens["session"])["introspection"]
    assert answer["active"] is True and answer["token_type"] == "DPoP"
    assert answer["cnf"]["jkt"]
    refresh = fapi.rp.call("introspect", session=tokens["session"], token="refresh")
    assert refresh["introspection"]["cnf"] == answer["cnf"]


def test_claims_parameter(fapi):
    """Individual claims for the ID token and for userinfo, with an essential acr."""
    claims = {"id_token": {"cccd": {"essential": True},
                           "acr": {"essential": True, "values": ["urn:vn:sso:loa:2"]}},
              "userinfo": {"birthdate": None}}
    tokens, _ = fapi.login(scope="openid", claims=claims)
    id_token = tokens["id_token_claims"]
    assert id_token["cccd"] == fapi.person.cccd and id_token["acr"] == "urn:vn:sso:loa:2"
    info = fapi.rp.call("userinfo", session=tokens["session"])["claims"]
    assert info["birthdate"] == fapi.person.birthdate and "name" not in info


def test_verified_claims(fapi):
    """OIDC4IDA through openid-client: the verified claims and how they were verified."""
    request = {"verification": {"trust_framework": None, "assurance_level": None},
               "claims": {"name": None, "cccd": None}}
    tokens, _ = fapi.login(scope="openid", claims={"userinfo": {"verified_claims": request}})
    verified = fapi.rp.call("userinfo", session=tokens["session"])["claims"]["verified_claims"]
    assert verified["verification"] == {"trust_framework": "vn_sso", "assurance_level": "ial2"}
    assert verified["claims"] == {"name": fapi.person.full_name, "cccd": fapi.person.cccd}


def test_signed_request_object_pushed(fapi):
    tokens, _ = fapi.login(mode="jar-par")
    assert tokens["token_type"].lower() == "dpop"


def test_signed_request_object_on_the_front_channel(fapi):
    """A standard client may send its signed request through the browser; without a DPoP
    proof its tokens are bearer tokens."""
    tokens, _ = fapi.login("ministry", mode="jar", dpop=False)
    assert tokens["token_type"].lower() == "bearer"
    assert fapi.rp.call("userinfo", session=tokens["session"])["claims"]["sub"]


# --- what the provider must refuse, changing nothing -----------------------------------------


def error_page_code(response) -> str:
    """The OAuth error code a Vietnamese error page names (the browser is not redirected)."""
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    return response.text.split("không hợp lệ (", 1)[1].split(":", 1)[0]


def test_replayed_request_uri(fapi):
    pushed = fapi.rp.call("authorize", client="bank", scope=SCOPE)
    fapi.browser().sign_in(pushed["url"])
    assert error_page_code(fapi.browser().get(pushed["url"])) == "invalid_request_uri"


def test_expired_request_uri(fapi):
    pushed = fapi.rp.call("authorize", client="bank", scope=SCOPE)
    time.sleep(PAR_TTL + 1)
    assert error_page_code(fapi.browser().get(pushed["url"])) == "invalid_request_uri"


def test_request_uri_used_concurrently_works_once(fapi):
    pushed = fapi.rp.call("authorize", client="bank", scope=SCOPE)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: fapi.browser().get(pushed["url"]), range(4)))
    assert sorted(a.status_code for a in answers) == [302, 400, 400, 400]


def test_another_clients_request_uri(fapi):
    pushed = fapi.rp.call("authorize", client="bank", scope=SCOPE)
    stolen = pushed["url"].replace("client_id=bank", "client_id=insurer")
    assert error_page_code(fapi.browser("insurer").get(stolen)) == "invalid_request_uri"
    # The rightful client's request is untouched.
    tokens = fapi.rp.call("exchange", url=fapi.browser().sign_in(pushed["url"]))
    assert tokens.get("token_type", "").lower() == "dpop", tokens


@pytest.mark.parametrize("aud", ["{issuer}/token", ["{issuer}"], "https://other.example"])
def test_client_assertion_with_another_audience(fapi, aud):
    issuer = fapi.provider.issuer
    aud = [a.format(issuer=issuer) for a in aud] if isinstance(aud, list) \
        else aud.format(issuer=issuer)
    answer = fapi.rp.call("authorize", client="bank", scope=SCOPE, tamper={"aud": aud})
    assert answer.get("error") == "invalid_client", answer


def test_replayed_client_assertion(fapi):
    assert "url" in fapi.rp.call("authorize", client="bank", scope=SCOPE, dpop=False)
    replay = fapi.rp.call("replay")
    assert replay["url"].endswith("/par")
    assert replay["status"] in (400, 401) and replay["body"]["error"] == "invalid_client"


def test_fapi2_client_with_a_secret(fapi):
    answer = fapi.rp.call("authorize", client="bank", scope=SCOPE, tamper={"secret": "s" * 43})
    assert answer.get("error") == "invalid_client", answer


def test_fapi2_client_with_plain_pkce(fapi):
    answer = fapi.rp.call("authorize", client="bank", scope=SCOPE, tamper={"plain_pkce": True})
    assert answer.get("error") == "invalid_request", answer


def test_fapi2_client_on_the_front_channel(fapi):
    answer = fapi.rp.call("authorize", client="bank", scope=SCOPE, mode="front")
    response = fapi.browser().get(answer["url"])
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(fapi.portals["bank"].base_url + "/callback?")
    assert query(location)["error"] == "invalid_request"
    assert query(location)["iss"] == fapi.provider.issuer and "code" not in query(location)


@pytest.mark.parametrize("mode, tamper", [("jar-par", {"unregistered_key": True}),
                                          ("none-par", {})])
def test_request_object_not_signed_by_a_registered_key(fapi, mode, tamper):
    answer = fapi.rp.call("authorize", client="bank", scope=SCOPE, mode=mode, tamper=tamper)
    assert answer.get("error") == "invalid_request_object", answer


def test_request_object_not_signed_by_a_registered_key_on_the_front_channel(fapi):
    answer = fapi.rp.call("authorize", client="ministry", scope=SCOPE, mode="jar",
                          tamper={"unregistered_key": True}, dpop=False)
    assert error_page_code(fapi.browser("ministry").get(answer["url"])) == \
        "invalid_request_object"


def test_code_exchange_without_dpop_proof_spends_nothing(fapi):
    pushed = fapi.rp.call("authorize", client="bank", scope=SCOPE)
    callback = fapi.browser().sign_in(pushed["url"])
    refused = fapi.rp.call("exchange", url=callback, dpop=False)
    assert refused.get("error") == "invalid_dpop_proof", refused
    tokens = fapi.rp.call("exchange", url=callback)  # the same code, now with the proof
    assert tokens.get("token_type", "").lower() == "dpop", tokens


def test_dpop_bound_token_presented_as_bearer(fapi):
    tokens, _ = fapi.login()
    answer = fapi.rp.call("userinfo", session=tokens["session"], dpop="none")
    assert answer.get("error") == "invalid_token" and answer.get("status") == 401, answer


def test_dpop_proof_made_with_another_key(fapi):
    tokens, _ = fapi.login()
    answer = fapi.rp.call("userinfo", session=tokens["session"], dpop="other")
    assert answer.get("error") == "invalid_dpop_proof", answer
    assert "claims" in fapi.rp.call("userinfo", session=tokens["session"])


def test_replayed_dpop_proof(fapi):
    tokens, _ = fapi.login()
    assert "claims" in fapi.rp.call("userinfo", session=tokens["session"])
    replay = fapi.rp.call("replay")
    assert replay.get("url", "").endswith("/userinfo") and replay["status"] == 401, replay
    assert 'error="invalid_dpop_proof"' in replay["www_authenticate"]


@pytest.mark.parametrize("dpop, error", [("none", "invalid_dpop_proof"),
                                         ("other", "invalid_grant")])
def test_refresh_without_the_dpop_key(fapi, dpop, error):
    tokens, _ = fapi.login()
    refused = fapi.rp.call("refresh", session=tokens["session"], dpop=dpop)
    assert refused.get("error") == error, refused
    refreshed = fapi.rp.call("refresh", session=tokens["session"])  # the same refresh token
    assert refreshed.get("token_type", "").lower() == "dpop", refreshed
