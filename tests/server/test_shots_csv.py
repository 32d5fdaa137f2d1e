"""The shot list as CSV over HTTP: one row per shot of the report, a file name from the
match's, the right content type, and nothing for another user's job."""

from __future__ import annotations

import csv
import io

from server.shot_csv import COLUMNS, shots_csv
from tests.server.test_shares import analysed_job

NAME = 'Fête "finale", court 1.mp4'


async def test_shots_csv_of_a_report(client, alice, bob, clip):
    job = await analysed_job(alice, clip, filename=NAME)
    report = await (await alice.call("GET", f"/api/v1/jobs/{job['id']}/report")).json()
    assert report["shots"], "the clip has shots"

    response = await alice.call("GET", f"/api/v1/jobs/{job['id']}/shots.csv")
    assert response.status == 200
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    # The ASCII fallback and the exact UTF-8 name, quotes and comma kept inside the quotes.
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"F?te 'finale', court 1-shots.csv\"; "
        "filename*=UTF-8''F%C3%AAte%20%22finale%22%2C%20court%201-shots.csv"
    )
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == list(COLUMNS)
    shots = sorted(report["shots"], key=lambda shot: shot["time"])
    assert len(rows) == len(shots) + 1
    for row, shot in zip(rows[1:], shots, strict=True):
        time_s, rally, player, kind, confidence, x, y = row
        assert float(time_s) == shot["time"]
        assert int(rally) == shot["rally_id"]
        assert (player, kind) == (shot["player"], shot["type"])
        assert float(confidence) == shot["confidence"]
        if shot["court_xy"] is None:
            assert (x, y) == ("", "")
        else:
            assert [float(x), float(y)] == shot["court_xy"]
    rallies = {int(row[1]) for row in rows[1:]}
    assert rallies == {rally["rally_id"] for rally in report["rallies"]}

    # Someone else's job, or none, is not found; without signing in, 401.
    assert (await bob.call("GET", f"/api/v1/jobs/{job['id']}/shots.csv")).status == 404
    assert (await alice.call("GET", f"/api/v1/jobs/{'0' * 32}/shots.csv")).status == 404
    assert (await client.get(f"/api/v1/jobs/{job['id']}/shots.csv")).status == 401


def test_cells_are_quoted_and_never_formulas():
    report = {
        "shots": [
            {
                "time": 2.5,
                "rally_id": 1,
                "player": "far",
                "type": 'drop, "slow"',
                "confidence": 0.5,
                "court_xy": [1.25, -0.1],
            },
            {
                "time": 1.0,
                "rally_id": 1,
                "player": '=HYPERLINK("x")',
                "type": "@clear",
                "confidence": 0.9,
                "court_xy": None,
            },
        ],
        "rallies": [],
    }
    text = shots_csv(report)
    assert text.split("\r\n")[1:] == [
        '1.0,1,"\'=HYPERLINK(""x"")",\'@clear,0.9,,',
        '2.5,1,far,"drop, ""slow""",0.5,1.25,-0.1',
        "",
    ]
