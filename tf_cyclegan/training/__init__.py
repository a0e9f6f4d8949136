"""Training: the run around a model's step (data feeding, checkpoints, signals, non-finite steps,
TensorBoard, evaluation cadence) and tf.distribute."""
