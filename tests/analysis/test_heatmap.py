import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.court import (
    COURT_LENGTH,
    COURT_WIDTH,
    DOUBLES_LONG_SERVICE_FROM_BACK,
    NET_Y,
    SHORT_SERVICE_FROM_NET,
    SINGLES_MARGIN,
    Court,
)
from analysis.heatmap import (
    court_diagram,
    render_heatmap,
    render_heatmap_png,
    write_png,
)

SCALE, MARGIN = 60.0, 1.0
DATA = Path(
    os.environ.get("BADMINTON_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)


def px(x_m: float, y_m: float, scale: float = SCALE, margin: float = MARGIN) -> tuple[int, int]:
    """(row, column) of a court point in the diagram."""
    return round((margin + y_m) * scale), round((margin + x_m) * scale)


def is_line(pixel: np.ndarray) -> bool:
    return bool(pixel.min() >= 190)


def is_surface(pixel: np.ndarray) -> bool:
    b, g, r = (int(v) for v in pixel)
    return g > r + 20 and g > b + 20


def brightness(image: np.ndarray, row: int, col: int) -> float:
    return float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[row, col])


@pytest.mark.parametrize("scale, margin", [(60.0, 1.0), (40.0, 0.5), (25.0, 0.0), (100.0, 2.0)])
def test_diagram_size_follows_scale_and_margin(scale, margin):
    image = court_diagram(scale, margin)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    expected_h = (COURT_LENGTH + 2 * margin) * scale
    expected_w = (COURT_WIDTH + 2 * margin) * scale
    assert abs(image.shape[0] - expected_h) <= 1 and abs(image.shape[1] - expected_w) <= 1


@pytest.mark.parametrize(
    "name, x_m, y_m",
    [
        ("net", 1.5, NET_Y),
        ("net near the right post", COURT_WIDTH - 0.3, NET_Y),
        ("far short service line", 1.5, NET_Y - SHORT_SERVICE_FROM_NET),
        ("near short service line", 4.5, NET_Y + SHORT_SERVICE_FROM_NET),
        ("far long service line", 1.5, DOUBLES_LONG_SERVICE_FROM_BACK),
        ("near long service line", 4.5, COURT_LENGTH - DOUBLES_LONG_SERVICE_FROM_BACK),
        ("far back line", 2.0, 0.0),
        ("near back line", 2.0, COURT_LENGTH),
        ("centre line, far half", COURT_WIDTH / 2, 2.5),
        ("centre line, near half", COURT_WIDTH / 2, 10.5),
        ("left doubles side line", 0.0, 3.0),
        ("right singles side line", COURT_WIDTH - SINGLES_MARGIN, 9.0),
    ],
)
def test_diagram_draws_lines_where_the_court_has_them(name, x_m, y_m):
    image = court_diagram(SCALE, MARGIN)
    assert is_line(image[px(x_m, y_m)]), name


@pytest.mark.parametrize(
    "name, x_m, y_m",
    [
        ("left service court", 1.5, 10.0),
        ("right service court", 4.5, 3.0),
        ("centre of the net zone, near side", COURT_WIDTH / 2, NET_Y + 1.0),
        ("centre of the net zone, far side", COURT_WIDTH / 2, NET_Y - 1.0),
        ("doubles alley", SINGLES_MARGIN / 2, 9.0),
        ("back tramline", 1.5, COURT_LENGTH - DOUBLES_LONG_SERVICE_FROM_BACK / 2),
    ],
)
def test_diagram_leaves_the_playing_areas_plain(name, x_m, y_m):
    image = court_diagram(SCALE, MARGIN)
    assert is_surface(image[px(x_m, y_m)]), name


def test_diagram_run_off_differs_from_the_court_and_calls_return_new_arrays():
    first = court_diagram()
    run_off, surface = first[px(-0.5, 5.0)], first[px(1.5, 10.0)]
    assert not is_line(run_off) and int(np.abs(run_off.astype(int) - surface).sum()) > 20
    first[:] = 0
    assert court_diagram().any()


def test_heatmap_is_hottest_where_the_player_stands():
    rng = np.random.default_rng(1)
    spot = np.array([1.6, 10.2])
    positions = spot + rng.normal(0.0, 0.15, (400, 2))
    image = render_heatmap(positions)
    diagram = court_diagram()
    assert image.shape == diagram.shape

    change = np.abs(image.astype(int) - diagram.astype(int)).sum(axis=2)
    row, col = px(*spot)
    far_row, far_col = px(4.5, 3.0)
    assert change[row, col] > 150 and change[far_row, far_col] == 0
    # The change is centred on the spot.
    court_rows = slice(round(MARGIN * SCALE), round((MARGIN + COURT_LENGTH) * SCALE))
    weights = np.zeros_like(change)
    weights[court_rows] = change[court_rows]
    rows, cols = np.nonzero(weights)
    centre = np.average(np.stack([cols, rows], 1), axis=0, weights=weights[rows, cols])
    assert np.linalg.norm(centre / SCALE - MARGIN - spot) < 0.3
    assert brightness(image, row, col) > brightness(image, *px(spot[0] + 1.2, spot[1])) + 60


def test_heatmap_more_time_is_brighter():
    rng = np.random.default_rng(2)
    busy, quiet = np.array([1.5, 9.5]), np.array([4.6, 12.0])
    positions = np.vstack(
        [busy + rng.normal(0, 0.1, (300, 2)), quiet + rng.normal(0, 0.1, (100, 2))]
    )
    image = render_heatmap(positions)
    assert brightness(image, *px(*busy)) > brightness(image, *px(*quiet)) + 30
    # Less time still shows: the spot is tinted away from the plain court.
    tint = image[px(*quiet)].astype(int) - court_diagram()[px(*quiet)]
    assert np.abs(tint).sum() > 60


def test_heatmap_redraws_court_lines_over_the_heat():
    positions = np.tile([[COURT_WIDTH / 2, 10.0]], (50, 1))
    image = render_heatmap(positions)
    assert is_line(image[px(COURT_WIDTH / 2, 10.0)])


def test_empty_input_gives_the_plain_diagram():
    diagram = court_diagram()
    for empty in ([], np.empty((0, 2))):
        assert np.array_equal(render_heatmap(empty), diagram)
    titled = render_heatmap([], title="Near player")
    court_top = round(MARGIN * SCALE)
    assert not np.array_equal(titled[:court_top], diagram[:court_top])
    assert np.array_equal(titled[court_top:], diagram[court_top:])


def test_positions_outside_the_run_off_or_not_finite_are_ignored():
    inside = [[2.0, 9.0], [2.1, 9.2], [1.9, 9.1]]
    outside = [[-5.0, -5.0], [20.0, 30.0], [3.0, 40.0], [float("nan"), 9.0], [2.0, float("inf")]]
    assert np.array_equal(render_heatmap(outside), court_diagram())
    assert np.array_equal(render_heatmap(inside + outside), render_heatmap(inside))


def test_inputs_are_not_mutated():
    positions = np.array([[1.0, 2.0], [3.0, 11.0], [np.nan, 1.0]])
    kept = positions.copy()
    as_list = [[1.0, 2.0], [3.0, 11.0]]
    render_heatmap(positions, "Far player")
    render_heatmap(as_list)
    assert np.array_equal(positions, kept, equal_nan=True)
    assert as_list == [[1.0, 2.0], [3.0, 11.0]]


@pytest.mark.parametrize("bad", [[1.0, 2.0, 3.0], [[1.0, 2.0, 3.0]], np.zeros((2, 2, 2))])
def test_positions_of_the_wrong_shape_are_rejected(bad):
    with pytest.raises(ValueError, match="shape"):
        render_heatmap(bad)


def test_scale_changes_the_heatmap_size():
    image = render_heatmap([[3.0, 10.0]], "Near", scale=30.0)
    assert image.shape == court_diagram(30.0).shape


def test_write_png_round_trips(tmp_path):
    image = render_heatmap([[1.0, 10.0], [1.2, 10.1]], "Near player")
    path = tmp_path / "heatmap.png"
    write_png(image, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(cv2.imread(str(path)), image)


@pytest.mark.parametrize("target", ["missing_dir/heatmap.png", ".", "heatmap.notanimage"])
def test_write_png_raises_when_it_cannot_write(tmp_path, target):
    with pytest.raises(OSError):
        write_png(court_diagram(), tmp_path / target)


def test_render_heatmap_png_writes_the_rendered_image(tmp_path):
    positions = [[4.0, 3.0], [4.1, 3.2]]
    path = tmp_path / "far.png"
    render_heatmap_png(positions, path, title="Far player")
    assert np.array_equal(cv2.imread(str(path)), render_heatmap(positions, "Far player"))


def labelled_positions() -> tuple[np.ndarray, np.ndarray]:
    """Near and far player foot positions (court metres) at every labelled stroke."""
    root = DATA / "aicup2023_rallies"
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"test data missing: {root}")
        pytest.skip(f"test data missing: {root}")
    corners = json.loads((root / "court_corners.json").read_text())
    near, far = [], []
    for path in sorted((root / "stroke_labels").glob("*_S2.csv")):
        court = Court.from_mapping(corners[path.name.split("_")[0]])
        lines = [line.replace(" ", "") for line in path.read_text().splitlines()]
        for row in csv.DictReader(lines):
            for who in ("Hitter", "Defender"):
                feet = [float(row[f"{who}LocationX"]), float(row[f"{who}LocationY"])]
                xy = court.image_to_court(feet)
                (near if xy[1] > NET_Y else far).append(xy)
    return np.array(near), np.array(far)


def test_heatmaps_of_labelled_players_stay_in_their_half():
    near, far = labelled_positions()
    assert len(near) > 50 and len(far) > 50
    # Only the court itself: the legend below it changes too.
    top, net, bottom = px(0.0, 0.0)[0], px(0.0, NET_Y)[0], px(0.0, COURT_LENGTH)[0]
    diagram = court_diagram()[top:bottom].astype(int)
    net -= top
    for positions, own, other in (
        (near, slice(net, None), slice(None, net - 30)),
        (far, slice(None, net), slice(net + 30, None)),
    ):
        image = render_heatmap(positions)[top:bottom]
        change = np.abs(image.astype(int) - diagram).sum(axis=2)
        assert change[own].sum() > 1000 * max(change[other].sum(), 1)
        # The hottest pixel is near where the labels cluster (their median position).
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(int)
        gray[change == 0] = 0
        hot_row, hot_col = np.unravel_index(np.argmax(gray), gray.shape)
        hot = np.array([hot_col / SCALE - MARGIN, hot_row / SCALE])
        assert np.linalg.norm(hot - np.median(positions, axis=0)) < 1.2
