"""``python -m herald_contract_docs [--check]``: write Herald's contract documents under docs/."""

from __future__ import annotations

import argparse
import sys

from herald_contract_docs.documents import DOCS, generate, staleness, write


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m herald_contract_docs", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a document is not current"
    )
    args = parser.parse_args()
    generated = generate()
    if args.check:
        stale = staleness(generated)
        if stale.current:
            print(f"{len(generated)} documents under {DOCS} are current")
            return 0
        print(f"not current ({stale.summary()}): run `make docs`", file=sys.stderr)
        return 1
    changed = write(generated)
    print(f"{len(generated)} documents under {DOCS}; {len(changed)} updated")
    for path in changed:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
