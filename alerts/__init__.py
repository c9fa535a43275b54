"""Alert core: rules, vectorized engine, lifecycle, notifications."""
