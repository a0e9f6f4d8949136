"""python -m tf_cyclegan.bench [--model MODEL[,MODEL...]] [--size 128[,256]] [--iters 5] [--json] [--only SECTIONS]

Measures what a run costs on this machine: the train iteration of the paper networks (batch 1 and 4) of each
model --model lists (cycle_gan, pix2pix, cut, fastcut, each with its own defaults; comma- or `|`-separated),
at each --size, its FLOPs counted from the traced graph and their rate against the best fp32 matmul any
library reaches here (TensorFlow's, NumPy's BLAS, PyTorch's when installed), and, with cycle_gan among
several models, each other model's step time and peak memory as ratios of CycleGAN's; the input pipeline
alone, and the first model's generator inference at 256x256 through Keras, the SavedModel, each TFLite
variant and ONNX in onnxruntime (with the `onnx` extra; without it a note says so). `--only reference`
times the PyTorch reference's iteration of the same models on the same machine (torch_reference.py; needs
the `torch` extra; CycleGAN and pix2pix only, CUT and FastCUT get a note). Every measurement runs in a
process of its own (workers.py), so the peak resident memory reported is its own.
"""
