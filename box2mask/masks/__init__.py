"""Mask encodings and mask files (RLE, palette PNGs)."""
