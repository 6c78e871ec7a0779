"""Retrieval-augmented dialogue understanding (after OpenCUI's opendu): exemplars, retrieval, prompts, scores.

Imports point down: exemplars -> index -> find_k / prompts -> instances -> inference -> scores -> build / loop.
The facts carried over from opendu, with their source commits, are listed in docs/du.md.
"""
