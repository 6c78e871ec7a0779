"""Synthetic task-oriented dialogues from a state-transition graph (SynTOD, Samarinas et al., 2024).

graph (format, validation) -> walk (skeletons) -> simulate (LLM turns, retrieval) -> convert
(Spec-TOD records); nlu scores a model's intents and slots on them. See docs/synth.md.
"""
