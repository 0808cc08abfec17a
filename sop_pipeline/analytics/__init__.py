"""Pure S&OP algorithms: pandas/numpy in, pandas out. No Dagster import anywhere below."""
