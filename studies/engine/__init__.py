"""The study engine: the spec (Study, Arm, Stage, Claim, Plot, TrialResult), the runner, the
executors (local pool, Dask), the registry of the catalogue, progress and the code version."""
