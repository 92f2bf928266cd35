"""Level-3 login and step-up with a SIM signature ("SIM ký số", DESIGN §3, §6).

The provider asks the MSSP to have the SIM of a phone sign a fresh hash; the page shows
the hash's 4-digit verification code and polls the provider, which does at most one
bounded long-poll to the MSSP per request, so no worker waits on the phone. `service`
holds the rules, `views` the routes.
"""
