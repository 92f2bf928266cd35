"""One-time codes: the rules of sending and checking them (`codes`) and the one code step
every flow shows (`step`): login, registration, forgot password, lost phone, phone change
and the helpdesk's phone reset."""
