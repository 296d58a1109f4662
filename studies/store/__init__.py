"""The only code that talks to MLflow: the layout (:mod:`~studies.store.schema`), the writer
the runner logs through (:mod:`~studies.store.writer`) and the reader that turns runs back
into tidy frames for the runner's reuse and for the reports (:mod:`~studies.store.reader`)."""
