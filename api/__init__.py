"""FastAPI app and pages (read side)."""
