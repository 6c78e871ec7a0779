"""Chat templates: rendering conversations the way ``transformers`` does, and the role mapping
that lets a template without Spec-TOD's ``function`` and ``observation`` roles carry them."""
