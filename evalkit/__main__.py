"""`python -m evalkit <command> ...`: the same command line as run_eval.py and the `evalkit` script."""
from evalkit.cli import main

if __name__ == "__main__":
    main()
