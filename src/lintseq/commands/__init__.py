"""Subcommands of the `lintseq` CLI, one module each (exporting `command`)."""
