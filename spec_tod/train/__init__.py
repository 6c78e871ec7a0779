"""Fine-tuning with axolotl: typed settings, presets, the generated configuration, and the local and docker backends."""
