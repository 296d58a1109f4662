"""The catalogue: one module per study (data plus a small trial function), each defining
``STUDY``; private ``_*`` modules hold what several studies share. No study imports another."""
