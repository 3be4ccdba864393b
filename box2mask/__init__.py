"""box2mask: masks from the boxes of video tracking datasets.

The library: readers, motion, the box-to-mask network, losses, metrics and
writers.  It imports neither Ray, click nor rich; ``pipelines`` wires it onto
Ray and ``cli`` is the command line.
"""

__version__ = "0.1.0"
