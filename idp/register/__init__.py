"""Online registration with the level-2 checks: mobile subscriber, BHXH, Vietnam Post."""
