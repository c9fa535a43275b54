"""The village twin: weather, greenhouse and soil physics, faults, publishers."""
