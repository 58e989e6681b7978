"""Fill an account with generated sample mail: the demo mailbox and benchmark data.

    python -m refprovider.demo --data DIR --username demo --count 300

Messages come from :mod:`refprovider.samples`, so the same seed gives the same
mailbox. Each lands in its location, folder and labels with its read and
starred state, the way the provider would keep it.
"""

import argparse
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from . import seed as seeding
from . import store
from .samples import SampleMessage, generate_mailbox

logger = logging.getLogger(__name__)


def seed_samples(
    data_dir: Path,
    username: str,
    samples: Iterable[SampleMessage],
    *,
    mode: str = "import",
) -> int:
    """Store every sample for ``username``; return how many were stored."""
    conn = store.connect(data_dir)
    stored = 0
    try:
        for sample in samples:
            location = "inbox" if sample.location == "folder" else sample.location
            seeding.seed(
                data_dir,
                username,
                [sample.raw],
                folder=sample.folder,
                label_names=sample.labels,
                location=location,
                starred=sample.starred,
                unread=sample.unread,
                date=sample.date,
                mode=mode,
                conn=conn,
            )
            stored += 1
    finally:
        conn.close()
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refprovider.demo")
    parser.add_argument("--data", required=True, help="the provider's data directory")
    parser.add_argument("--username", required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--attachment-ratio", type=float, default=0.1)
    parser.add_argument("--owner-email", help="the account's own address")
    parser.add_argument("--mode", default="import", choices=seeding.MODES)
    options = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING)
    owner = ("Demo User", options.owner_email or f"{options.username}@proton.test")
    samples = generate_mailbox(
        options.count,
        seed=options.seed,
        attachment_ratio=options.attachment_ratio,
        owner=owner,
    )
    try:
        stored = seed_samples(
            Path(options.data), options.username, samples, mode=options.mode
        )
    except seeding.SeedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print(f"stored {stored} sample messages for {options.username}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
