"""Alert rules: the model, validation, the rule engine, replay and the words for a rule."""
