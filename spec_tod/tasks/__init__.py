"""Spec-TOD instruction data: function specifications, prompts, records, sampling and writers.

:mod:`~spec_tod.tasks.prompts` holds every text piece of the conversation format and is shared with
inference; :mod:`~spec_tod.tasks.build` builds one data set (what ``spec-tod build-data`` runs).
"""
