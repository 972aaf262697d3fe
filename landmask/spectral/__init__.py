"""Band math: expressions, spectral indices, threshold rules and rule sets."""
