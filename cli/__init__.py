"""The ``box2mask`` command line: parses arguments, calls ``pipelines``, reports with rich."""
