"""Sub-commands of `sop` beyond the core ones in `sop_pipeline.cli`.

Each module exposes `add_parser(subparsers)` and `run(args) -> int` (exit code).
"""
