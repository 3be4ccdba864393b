"""The per-frame feature cache of the predictor: backbone features of the frames used lately."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable


class FeatureCache:
    """Features by frame index; the least recently *used* frame goes first when it is full.

    A frame that the current group of clips needs is never evicted, so the cache
    grows to the group's size when that is larger than ``capacity``.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[int, dict] = OrderedDict()

    def __contains__(self, frame: int) -> bool:
        return frame in self._items

    def __getitem__(self, frame: int) -> dict:
        return self._items[frame]

    def __len__(self) -> int:
        return len(self._items)

    def ensure(self, frames: list[int], compute: Callable[[list[int]], list[dict]]) -> None:
        """Make every one of ``frames`` present, computing the missing ones in one call of ``compute``."""
        for f in frames:
            if f in self._items:
                self._items.move_to_end(f)
        needed = [f for f in frames if f not in self._items]
        if needed:
            for f, feats in zip(needed, compute(needed)):
                self._items[f] = feats
            while len(self._items) > max(self.capacity, len(frames)):
                self._items.popitem(last=False)
