"""The bottom layer: corpora and what they refer to.

* :mod:`spec_tod.data.dialogue` - the internal dialogue model every later stage consumes;
* :mod:`spec_tod.data.readers` - MultiWOZ 2.1, MultiWOZ 2.2 and SGD readers into that model;
* :mod:`spec_tod.data.schema` - service schemas (MultiWOZ 2.2, SGD);
* :mod:`spec_tod.data.database` - the MultiWOZ venue database and the evaluator's query;
* :mod:`spec_tod.data.normalize` - the evaluator's normalisation of responses and states
  (with its helpers :mod:`spec_tod.data.fuzzy` and :mod:`spec_tod.data.mwz_tables`).

Nothing is imported here, so that loading one of them does not load the others.
"""
