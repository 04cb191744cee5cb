"""dmftc verify: checks of a derivation."""
