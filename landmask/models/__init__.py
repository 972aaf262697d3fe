"""Pixel classifiers: protocol and registry, chunked inference, scikit-learn, ONNX, training."""
