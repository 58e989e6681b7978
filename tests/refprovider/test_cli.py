"""The command line, run while the server is up on the same data directory."""

import subprocess
import sys

from tests.fixtures.refprovider import REPO_ROOT
from tests.refprovider.helpers import latest_event, list_messages
from tests.support import corpus_files


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "refprovider", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_adduser_and_seed_while_the_server_runs(refprovider):
    name = refprovider.new_username("cli")
    data = str(refprovider.data_dir)
    user_id = cli(
        "adduser",
        "--data",
        data,
        "--username",
        name,
        "--password",
        "pw",
        "--address",
        f"{name}@proton.test",
        "--address",
        f"{name}.alias@proton.test",
    ).strip()

    session = refprovider.login(name, "pw")
    assert session.auth["UserID"] == user_id
    emails = [a["Email"] for a in session.get("core/v4/addresses").json()["Addresses"]]
    assert emails == [f"{name}@proton.test", f"{name}.alias@proton.test"]

    start = latest_event(session)
    [path] = [p for p in corpus_files() if p.name == "rfc2822__example01.eml"]
    seeded = cli(
        "seed",
        "--data",
        data,
        "--username",
        name,
        "--eml",
        str(path),
        "--folder",
        "Work/Projects",
        "--label",
        "Important",
        "--starred",
        "--read",
    ).split()

    folders = session.get("core/v4/labels", params={"Type": 3}).json()["Labels"]
    [projects] = [f for f in folders if f["Path"] == "Work/Projects"]
    listed = list_messages(session, LabelID=projects["ID"])["Messages"]
    assert [m["ID"] for m in listed] == seeded
    assert "10" in listed[0]["LabelIDs"]
    assert listed[0]["Unread"] == 0

    changes = session.get(f"core/v4/events/{start}").json()
    assert [m["ID"] for m in changes["Messages"]] == seeded
    assert {label["Label"]["Name"] for label in changes["Labels"]} == {
        "Work",
        "Projects",
        "Important",
    }


def test_adduser_refuses_a_taken_name(refprovider, user):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "refprovider",
            "adduser",
            "--data",
            str(refprovider.data_dir),
            "--username",
            user.name,
            "--password",
            "pw",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "exists already" in result.stderr
