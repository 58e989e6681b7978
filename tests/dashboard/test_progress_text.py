"""The words under the progress bar follow the sync's phase and counts."""

import pytest

from accounts.consumers import describe_progress


@pytest.mark.parametrize(
    ("status", "text", "percent"),
    [
        ({"phase": "labels", "done": 0, "total": 0}, "Reading folders and labels", 0),
        ({"phase": "listing", "done": 0, "total": 300}, "Listing messages", 0),
        ({"phase": "messages", "done": 0, "total": 300}, "0 of 300 messages (0%)", 0),
        (
            {"phase": "messages", "done": 150, "total": 300},
            "150 of 300 messages (50%)",
            50,
        ),
        (
            {"phase": "done", "done": 300, "total": 300},
            "300 of 300 messages (100%)",
            100,
        ),
    ],
    ids=["labels", "listing", "messages-start", "messages-half", "done"],
)
def test_progress_text(status, text, percent):
    described = describe_progress(status)

    assert described["progress_text"] == text
    assert described["percent"] == percent
