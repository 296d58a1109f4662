"""The only code that talks to MLflow, and it imports nothing from the engine.

* :mod:`~studies.store.schema` — the layout, defined once: tag names, prefixes, param and tag
  encodings, artifact names;
* :mod:`~studies.store.writer` — what the runner logs (``StudyWriter``), through the timed,
  retrying ``Tracker`` of :mod:`~studies.store.tracker`; :mod:`~studies.store.aggregates` —
  the seed aggregates of an arm's parent run;
* :mod:`~studies.store.reader` — runs back: tidy frames for the reports
  (:func:`~studies.store.reader.load_runs`) and finished trials for the runner to reuse
  (:func:`~studies.store.reader.load_trial_results`);
* private: ``_client`` (opening MLflow, explicitly, never at import), ``_bulk`` (many metric
  values in few calls; the one version-guarded door to MLflow's internals) and ``_frames``
  (runs -> frames, no MLflow calls).
"""
