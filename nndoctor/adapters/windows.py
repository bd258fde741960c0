"""Sliding windows over a 1-D array, made directly: readers and detectors take dozens per run."""

from __future__ import annotations

import numpy as np


def windows(values: np.ndarray, width: int) -> np.ndarray:
    """``np.lib.stride_tricks.sliding_window_view(values, width)``: the same read-only
    (len - width + 1, width) view, built with one ``np.ndarray`` call where the array allows it
    (1-D, contiguous) instead of through the checks of ``sliding_window_view`` or
    ``as_strided`` (~5 µs a call). Anything else goes to numpy's own function."""
    if values.ndim != 1 or not values.flags.c_contiguous or not 0 < width <= values.size:
        return np.lib.stride_tricks.sliding_window_view(values, width)
    step = values.strides[0]
    view = np.ndarray((values.size - width + 1, width), values.dtype, values, 0, (step, step))
    view.flags.writeable = False
    return view
