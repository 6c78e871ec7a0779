"""Model folders spec-tod makes itself (the tiny test model) and the chat template it relies on."""
