"""Rules of Vietnamese identity data (CCCD, names, phone numbers, tax codes), pure and shared.

The provider (`idp`), the connectors and the simulators all check and compare identity
data the same way, so the rules live here, apart from all of them: no Flask, no database.
"""
