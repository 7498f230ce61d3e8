"""`python -m lintseq`: the same as the `lintseq` command."""

from lintseq.cli import main

if __name__ == "__main__":
    main()
