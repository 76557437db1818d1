"""``python -m cnnlab ...`` runs the same command line as ``cnnlab ...``."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
