"""The trained parts of the analysis as one bundle: the shipped models by default, or others
(models trained without some clips, to score the analysis on them)."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.hit_sequence import PickerParams
from analysis.model import BoostedTrees, load_model, load_model_metadata
from analysis.shots_model import ShotModel, load_shot_model
from analysis.shuttle_detect import CandidateScorer, default_scorer


@dataclass(frozen=True)
class TrainedModels:
    shuttle: CandidateScorer  # which motion blobs are the shuttle
    hits: BoostedTrees  # whether a moment of the track is a hit
    hitter: BoostedTrees  # which player hit
    picker: PickerParams  # how the hit sequence is chosen
    shots: ShotModel  # a shot's type once the next hit is known
    shots_open: ShotModel  # a shot's type as soon as its hit is found

    @classmethod
    def shipped(cls) -> TrainedModels:
        """The models in analysis/models/."""
        return cls(
            shuttle=default_scorer(),
            hits=load_model("hits"),
            hitter=load_model("hitter"),
            picker=PickerParams.from_json(load_model_metadata("hits")["picker"]),
            shots=load_shot_model("shots"),
            shots_open=load_shot_model("shots_open"),
        )
