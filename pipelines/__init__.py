"""Jobs that wire the library's stages together (and onto Ray where it pays).

``pipelines`` may import ``box2mask`` and ``ray``; it never imports click or
rich.  Progress goes out through callbacks that the CLI renders.
"""
