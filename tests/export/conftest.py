from tests.runfixtures import folder_run, synthetic_run  # noqa: F401
