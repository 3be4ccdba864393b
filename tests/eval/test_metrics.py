"""J and F on cases small enough to work out by hand, and the DAVIS conventions."""

import math

import numpy as np
import pytest

from box2mask.eval.metrics import (boundary_map, decay, f_measure, frame_scores, jaccard, recall, statistics,
                                   tolerance_pixels)


def grid(h, w, rows, cols):
    m = np.zeros((h, w), bool)
    m[rows, cols] = True
    return m


def test_jaccard_hand_computed():
    pred = grid(4, 4, slice(0, 2), slice(0, 2))
    gt = grid(4, 4, slice(1, 3), slice(1, 3))
    assert jaccard(pred, gt) == pytest.approx(1 / 7)         # 1 shared pixel, 7 in the union
    assert jaccard(gt, gt) == 1.0


def test_empty_conventions():
    empty, square = np.zeros((5, 5), bool), grid(5, 5, slice(1, 4), slice(1, 4))
    assert frame_scores(empty, empty) == (1.0, 1.0)           # DAVIS: empty on empty scores 1
    assert frame_scores(empty, square) == (0.0, 0.0)
    assert frame_scores(square, empty) == (0.0, 0.0)
    # DAVIS's boundary rule gives a mask covering the whole frame no boundary at all
    full = np.ones((5, 5), bool)
    assert not boundary_map(full).any() and f_measure(empty, full) == 1.0 and jaccard(empty, full) == 0.0


def test_void_pixels_count_for_neither():
    pred = grid(4, 4, slice(0, 4), slice(0, 2))
    gt = grid(4, 4, slice(0, 4), slice(0, 1))
    void = grid(4, 4, slice(0, 4), slice(1, 2))
    assert jaccard(pred, gt) == pytest.approx(0.5)
    assert jaccard(pred, gt, void) == 1.0


def test_boundary_of_a_square_by_hand():
    m = grid(6, 6, slice(1, 4), slice(1, 4))
    expected = np.zeros((6, 6), bool)
    # foreground pixels whose right / lower / lower-right neighbour is background
    for r, c in [(1, 3), (2, 3), (3, 3), (3, 1), (3, 2)]:
        expected[r, c] = True
    # background pixels whose right / lower / lower-right neighbour is foreground
    for r, c in [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (2, 0), (3, 0)]:
        expected[r, c] = True
    np.testing.assert_array_equal(boundary_map(m), expected)


def test_f_measure_hand_computed():
    gt = grid(4, 8, slice(0, 4), slice(0, 4))        # boundary: column 3, rows 0..3 (4 px)
    pred = grid(4, 8, slice(0, 2), slice(0, 4))      # boundary: (0,3) and row 1 cols 0..3 (5 px)
    assert boundary_map(gt).sum() == 4 and boundary_map(pred).sum() == 5
    # exact matching (tolerance 0 px): 2 of 5 predicted, 2 of 4 true boundary pixels match
    p, r = 2 / 5, 2 / 4
    assert f_measure(pred, gt, tolerance=0) == pytest.approx(2 * p * r / (p + r))   # 4/9
    assert jaccard(pred, gt) == pytest.approx(0.5)
    # a boundary one column off: no match without tolerance, all matched within 1 px
    shifted = grid(4, 8, slice(0, 4), slice(0, 5))
    assert f_measure(shifted, gt, tolerance=0) == 0.0
    assert f_measure(shifted, gt, tolerance=1) == 1.0


def test_tolerance_is_a_fraction_of_the_diagonal():
    assert tolerance_pixels((480, 854)) == math.ceil(0.008 * math.hypot(480, 854)) == 8
    assert tolerance_pixels((360, 640)) == 6
    assert tolerance_pixels((480, 854), 3) == 3
    # full-height stripes have only vertical edges: moved 8 px they match, 9 px they do not
    gt = grid(480, 854, slice(0, 480), slice(100, 400))
    near = grid(480, 854, slice(0, 480), slice(108, 408))
    far = grid(480, 854, slice(0, 480), slice(109, 409))
    assert f_measure(near, gt) == 1.0
    assert f_measure(far, gt) == 0.0


def test_statistics_recall_and_decay():
    values = np.array([0.5, 0.49, 0.7, 1.0])
    assert recall(values, 0.5) == 0.75 and recall(values, 0.7) == 0.5
    assert decay(np.array([1, 1, 0, 0, 0, 0, 0, 0.0])) == 1.0
    assert decay(np.array([0.2, 0.4, 0.6, 0.8, 1.0])) == pytest.approx(0.3 - 0.9)   # quarter = 2 frames
    s = statistics(np.array([1.0, 0.0]))
    assert s == {"mean": 0.5, "recall": 0.5, "recall_0.7": 0.5, "decay": 1.0}
