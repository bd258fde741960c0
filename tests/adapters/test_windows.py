"""adapters.windows gives sliding_window_view's windows: same values, shape, read-only."""

from __future__ import annotations

import numpy as np
import pytest

from nndoctor.adapters.windows import windows


@pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.int64])
def test_windows_are_numpys(dtype) -> None:
    base = np.arange(40).astype(dtype)
    arrays = [base, base[3:31], base[:-1], base[::2], base[:1], np.frombuffer(bytes(range(30)),
                                                                               dtype=np.uint8)]
    for values in arrays:
        for width in range(1, values.size + 1):
            got = windows(values, width)
            want = np.lib.stride_tricks.sliding_window_view(values, width)
            assert got.shape == want.shape and got.dtype == want.dtype
            assert np.array_equal(got, want)
            assert not got.flags.writeable


def test_a_window_wider_than_the_array_is_numpys_error() -> None:
    with pytest.raises(ValueError):
        windows(np.arange(3.0), 4)
