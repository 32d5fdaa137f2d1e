"""A court as the broadcast camera of the labelled rallies frames it, for tests that need
pixels and court metres to agree."""

from __future__ import annotations

from analysis.court import Court

BROADCAST_COURT = Court.from_mapping(
    {
        "far_left": [448.0, 256.0],
        "far_right": [818.0, 256.0],
        "near_right": [981.0, 646.0],
        "near_left": [279.0, 649.0],
    },
    (1280, 720),
)
