"""Pictures of a run: mask overlays, contact sheets, MP4s and the static HTML report."""
