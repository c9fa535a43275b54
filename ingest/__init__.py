"""Ingest: MQTT collector, payload decoders, store writers."""
