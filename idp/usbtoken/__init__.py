"""Level-3 login, registration and step-up with a USB signing token (DESIGN §3, §6).

The page gets a one-time challenge here, the local signing agent on the user's machine
signs hash(origin) ‖ hash(challenge) with the token after the user's PIN, and the page
posts the certificate and signature back. `verification` checks them, `accounts` binds
certificates to accounts, `views.bp` holds the routes.
"""
