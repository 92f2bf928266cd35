"""Level-3 login and step-up with a SIM signature ("SIM ký số", DESIGN §3, §6).

The provider asks the MSSP to have the SIM of a phone sign a fresh hash; the page shows
the hash's 4-digit verification code and polls the provider, which does at most one
bounded long-poll to the MSSP per request, so no worker waits on the phone. `service`
holds the rules, `views` the routes (its console pages join the account console).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the routes (after `idp.certificates.init_app`, whose trust anchors SIM
    certificates chain to; before `idp.account.init_app`, whose console its pages join)."""
    from idp.interaction.methods import SIM_SIGNATURE, offer
    from idp.simsign.service import sim_available
    from idp.simsign.views import bp

    app.register_blueprint(bp)
    app.add_template_global(sim_available)
    offer(app, SIM_SIGNATURE, sim_available)
