"""Sequence sets such as ``1:5,7,10:*`` (RFC 3501 §9, sequence-set).

A set is kept as the ranges the client wrote; "*" stays symbolic until the
set is resolved against a mailbox, so ``1:*`` never becomes a list of
millions of numbers.
"""

import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_VALUE = 2**32 - 1

_NZ_NUMBER = re.compile(r"[1-9][0-9]*")

# None stands for "*", the largest number in use.
Bound = int | None


class SequenceSetError(ValueError):
    """Text that is not a valid sequence set."""


def _parse_bound(text: str) -> Bound:
    if text == "*":
        return None
    if not _NZ_NUMBER.fullmatch(text):
        raise SequenceSetError(f"invalid number {text[:20]!r} in sequence set")

    value = int(text)
    if value > MAX_VALUE:
        raise SequenceSetError(f"number {text[:20]} is too large")
    return value


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """Ranges of message numbers or UIDs; a bound of None means "*"."""

    ranges: tuple[tuple[Bound, Bound], ...]

    @classmethod
    def parse(cls, text: str | bytes) -> "SequenceSet":
        """Parse a sequence set; raise `SequenceSetError` when invalid."""
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        if not text:
            raise SequenceSetError("empty sequence set")
        if text == "$":
            raise SequenceSetError("the saved search result ($) is not supported")

        ranges: list[tuple[Bound, Bound]] = []
        for element in text.split(","):
            if not element:
                raise SequenceSetError("empty element in sequence set")

            first, colon, last = element.partition(":")
            start = _parse_bound(first)
            end = _parse_bound(last) if colon else start
            ranges.append((start, end))

        return cls(tuple(ranges))

    @classmethod
    def from_values(cls, values: Iterable[int]) -> "SequenceSet":
        """Return the shortest set holding exactly `values`."""
        ranges: list[tuple[Bound, Bound]] = []
        for value in sorted(set(values)):
            if value < 1:
                raise SequenceSetError("sequence set values start at 1")

            if ranges:
                start, end = ranges[-1]
                if end is not None and end + 1 == value:
                    ranges[-1] = (start, value)
                    continue
            ranges.append((value, value))

        if not ranges:
            raise SequenceSetError("a sequence set cannot be empty")
        return cls(tuple(ranges))

    def __str__(self) -> str:
        def show(bound: Bound) -> str:
            return "*" if bound is None else str(bound)

        return ",".join(
            show(start) if start == end else f"{show(start)}:{show(end)}"
            for start, end in self.ranges
        )

    @property
    def uses_star(self) -> bool:
        return any(start is None or end is None for start, end in self.ranges)

    def intervals(self, star: int) -> list[tuple[int, int]]:
        """Return sorted, merged, inclusive (low, high) intervals.

        `star` is the value "*" stands for: the highest UID, or the number of
        messages for sequence numbers.
        """
        concrete = []
        for start, end in self.ranges:
            low = star if start is None else start
            high = star if end is None else end
            concrete.append((min(low, high), max(low, high)))
        concrete.sort()

        merged: list[tuple[int, int]] = []
        for low, high in concrete:
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        return merged

    def contains(self, value: int, star: int) -> bool:
        """Return True if `value` is in the set, "*" standing for `star`."""
        return any(low <= value <= high for low, high in self.intervals(star))

    def index_ranges(
        self, sorted_values: Sequence[int], star: int | None = None
    ) -> list[range]:
        """Return index ranges into `sorted_values` of the members in the set.

        `sorted_values` must ascend without repeats (the mailbox's UIDs, or a
        ``range(1, count + 1)`` of sequence numbers). "*" stands for its last
        value unless `star` says otherwise. Cost is O(ranges * log n).
        """
        if not sorted_values:
            return []
        if star is None:
            star = sorted_values[-1]

        found = []
        for low, high in self.intervals(star):
            first = bisect_left(sorted_values, low)
            stop = bisect_right(sorted_values, high)
            if first < stop:
                found.append(range(first, stop))
        return found

    def resolve(
        self, sorted_values: Sequence[int], star: int | None = None
    ) -> list[int]:
        """Return the members of `sorted_values` in the set, ascending."""
        members: list[int] = []
        for indexes in self.index_ranges(sorted_values, star):
            members.extend(sorted_values[indexes.start : indexes.stop])
        return members
