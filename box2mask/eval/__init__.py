"""Scoring masks: DAVIS J and F, and ground-truth-free quality signals."""
