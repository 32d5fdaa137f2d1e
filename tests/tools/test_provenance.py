"""The shipped models say how they were made, and were made from the data and code here:
a change to the training data, the trackers, the features, the training code or the live pose
rate without `make train` fails here."""

from __future__ import annotations

import json

import pytest

from analysis.model import MODELS_DIR
from tools.train import FEATURES, data_digest, live_poses, training_code_digest

pytestmark = pytest.mark.usefixtures("shared_data")


def provenance(name: str) -> dict:
    return json.loads((MODELS_DIR / f"{name}.json").read_text())["provenance"]


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_model_was_made_from_the_data_and_code_here(name, shared_data):
    made = provenance(name)
    assert made["data_sha256"] == data_digest(shared_data), (
        f"{name}.json was trained on other data than {shared_data}: run `make train`"
    )
    assert made["code_sha256"] == training_code_digest(), (
        f"{name}.json was trained by other code than this: run `make train`"
    )
    assert tuple(made["features"]) == tuple(FEATURES[name])
    # Live streams' players are posed at the server's default rate: trained at the same.
    assert made["live_poses_per_second"] == live_poses(), (
        f"{name}.json was trained for other live pose rates than the server's: run `make train`"
    )


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_model_records_its_libraries_commit_and_held_out_scores(name):
    made = provenance(name)
    assert made["made_by"] == "make train"
    assert made["commit"] and made["libraries"]["scikit-learn"] != "missing"
    assert made["held_out"]


def test_the_hit_model_carries_how_hits_are_picked():
    from analysis.trained import TrainedModels

    picker = TrainedModels.shipped().picker
    assert picker.thresholds and all(0 < t < 1 for _, t in picker.thresholds)
