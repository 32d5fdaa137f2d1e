"""The camera behind a court picture: a pinhole model recovered from the court's corners.

The court homography is ground-plane only. Assuming square pixels and the principal point at
the frame centre, it fixes the focal length and the camera pose, and so where any point above
the court appears: a standing player's height, or the shuttle in flight.
"""

from __future__ import annotations

import numpy as np

from analysis.court import Court


def camera_projection(court: Court, frame_size: tuple[int, int]) -> np.ndarray | None:
    """3x4 projection of court metres (x, y, height) to pixels, or None when the homography
    does not determine one."""
    width, height = frame_size
    shift = np.array([[1.0, 0.0, -width / 2], [0.0, 1.0, -height / 2], [0.0, 0.0, 1.0]])
    h = shift @ court.to_image
    a, b = h[:, 0], h[:, 1]
    # The court's x and y axes are orthogonal and equally scaled: two equations in 1/f^2.
    u = np.array([a[0] * b[0] + a[1] * b[1], a[0] ** 2 + a[1] ** 2 - b[0] ** 2 - b[1] ** 2])
    v = np.array([a[2] * b[2], a[2] ** 2 - b[2] ** 2])
    if float(u @ u) == 0.0:
        return None
    inv_f2 = -float(u @ v) / float(u @ u)
    if inv_f2 <= 0:
        return None
    f = 1.0 / np.sqrt(inv_f2)
    if not 0.2 * width <= f <= 20 * width:
        return None
    k_inv = np.diag([1.0 / f, 1.0 / f, 1.0])
    c1, c2, c3 = k_inv @ h[:, 0], k_inv @ h[:, 1], k_inv @ h[:, 2]
    lam = 2.0 / (np.linalg.norm(c1) + np.linalg.norm(c2))
    r1, r2, t = c1 * lam, c2 * lam, c3 * lam
    r3 = np.cross(r1, r2)
    r3 /= np.linalg.norm(r3)
    if float(r3 @ t) > 0:  # height points toward the camera, which is above the court
        r3 = -r3
    projection = np.diag([f, f, 1.0]) @ np.column_stack([r1, r2, r3, t])
    return np.linalg.inv(shift) @ projection


def project(projection: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.column_stack([points, np.ones(len(points))]) @ projection.T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def height_above(projection: np.ndarray, ground_xy: np.ndarray, image_y: float) -> float | None:
    """The height (metres) at which a point above court position `ground_xy` appears on image
    row `image_y`, or None when the row does not tell (a point straight above the camera's
    axis)."""
    column = projection @ np.array([ground_xy[0], ground_xy[1], 0.0, 1.0])
    up = projection[:, 2]  # what one metre up adds, before the division
    denominator = image_y * up[2] - up[1]
    if abs(denominator) < 1e-9:
        return None
    return float((column[1] - image_y * column[2]) / denominator)
