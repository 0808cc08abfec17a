"""Warehouse engines other than the embedded DuckDB default (PostgreSQL so far).

Each engine module gives the IO manager's table operations (read / replace / describe) for its
engine; DuckDB's are `sop_pipeline.io_manager.DuckDBTables`.
"""
