"""Exports for serving and devices: the SavedModel that TF Serving loads (signatures and contract), TFLite
models for LiteRT, ONNX models for onnxruntime, from a run or from any generator."""
