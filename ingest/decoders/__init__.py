"""Payload decoders, one module per wire format; `route` picks one by topic."""
