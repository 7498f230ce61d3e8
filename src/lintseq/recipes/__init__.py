"""Experiment recipes (`lintseq experiment --recipe NAME`): TOML files read with importlib.resources."""
