"""The video box-to-mask network (seed 001) and its predictor."""
