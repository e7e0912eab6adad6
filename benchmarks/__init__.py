"""Benchmarks of hipbot: run `.venv/bin/python -m benchmarks` (add `--quick` for a short run).

They print tables of measured figures beside their targets and floors, and write
`benchmarks/RESULTS.md` and `benchmarks/growth.png`. Generated data lives in a temporary folder.
"""
