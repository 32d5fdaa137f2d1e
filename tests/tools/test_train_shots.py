"""Training the shot-type models: the linear model, the rally's patterns, nested choices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.shot_features import FEATURE_NAMES
from tools import train_shots
from tools.dataset import Clip
from tools.train_shots import ShotSamples

F = len(FEATURE_NAMES)
RATES = (None,)


def test_the_linear_model_learns_from_present_and_missing_features():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0, 6, 300)
    x = np.full((300, F), np.nan)
    x[:, 2] = depth
    types = ["lift" if d > 3 else "net_shot" for d in depth]
    x[:50, 2] = np.nan  # the hitter unseen: these were smashes
    types[:50] = ["smash"] * 50
    model = train_shots.fit_linear(x, types)
    assert model.classes == ("lift", "net_shot", "smash")
    predicted = [model.classes[int(np.argmax(p))] for p in model.predict_proba(x)]
    assert np.mean([p == t for p, t in zip(predicted, types)]) > 0.95


def rally_clips(matches: int = 4, rallies: int = 3, seed: int = 0):
    """Rallies of lift-smash exchanges and of net-shot exchanges ended by a lift. Once the
    next hit is known a stroke's type shows in its features; at once nothing tells a lift
    from a net shot but the shot before it."""
    rng = np.random.default_rng(seed)
    code = {"lift": 0.0, "smash": 1.0, "net_shot": 2.0}
    clips, data = [], {}
    for m in range(matches):
        for r in range(rallies):
            if r % 2:
                types = ["lift", "smash"] * 4
            else:
                types = ["net_shot"] * 6 + ["lift", "smash"]
            n = len(types)
            final = rng.normal(0, 0.2, (n, F))
            final[:, 3] += [code[t] for t in types]
            provisional = rng.normal(0, 1.0, (n, F))
            # A smash shows at once (overhead); lifts and net shots do not.
            provisional[:, 5] = [3.0 if t == "smash" else 0.0 for t in types]
            clip = Clip(f"{m}_{r}", "test", f"match{m}", Path("/nonexistent.mp4"), np.zeros((0, 3)))
            clips.append(clip)
            data[clip.key, None] = ShotSamples(final, provisional, types)
    return clips, data


def test_the_first_guess_learns_the_rallys_patterns_held_out_by_match():
    clips, data = rally_clips()
    fits = train_shots.Fits(clips, data, RATES)
    scores = train_shots.held_out_scores(clips, data, RATES, fits)[None]
    assert scores.final["accuracy"] > 0.95
    # A lift and a net shot differ only in what came before them: a smash or a net shot.
    right = 0
    for match in {c.match for c in clips}:
        fitted = fits.without({match})
        alone = fitted.model(True, 0.0), fitted.model(False, 0.0)  # the hit alone at first
        for c in clips:
            if c.match == match:
                guesses = train_shots.typed(*alone, data[c.key, None])[1]
                right += sum(g == t for g, t in zip(guesses, data[c.key, None].types))
    alone_accuracy = right / scores.provisional["n"]
    assert alone_accuracy < 0.75
    assert scores.provisional["accuracy"] > alone_accuracy + 0.1

    settings = train_shots.choose(fits, clips)
    assert settings.sharpness is not None
    _, first = train_shots.models(fits, clips)
    assert first.follows is not None
    after = dict(zip(first.classes, first.follows[first.classes.index("smash")]))
    assert after["lift"] == pytest.approx(max(after.values()))
