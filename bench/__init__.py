"""procnet's benchmark harness (measurement only): `python -m bench --help`, docs/performance.md."""
