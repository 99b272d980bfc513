"""Command-line entry point: `python run_eval.py <command> ...` (also installed as `evalkit`)."""
from evalkit.cli import main

if __name__ == "__main__":
    main()
