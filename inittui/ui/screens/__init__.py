"""The modal screens: the help (every key and formula) and the preset chooser."""
