"""Alert rules: model, validation, compiled rules, observation, engine, replay, presets, words."""
