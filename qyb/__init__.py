"""qyb: the command and composition root."""
