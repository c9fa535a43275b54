"""Store writers: the embedded SQLite store (default) and InfluxDB."""
