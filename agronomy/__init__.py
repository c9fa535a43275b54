"""Agronomic models: leaf wetness, disease infection and pest degree-days, per site and day.

The package reads hourly arrays (sites × hours) built from the kernel's batches and series index and
returns daily risks with the numbers behind them. It imports only the kernel (`qingyubiao`); the alert
core turns risk transitions into alerts. Every model has a vectorized form (numpy over all sites) and
a plain-Python reference in `agronomy.reference` with the same semantics; docs/agronomy.md names
each model's source.
"""
