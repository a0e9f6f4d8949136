"""python -m tf_cyclegan.bench [--model cycle_gan|pix2pix] [--size 128] [--iters 5] [--json] [--only SECTIONS]

Measures what a run costs on this machine: the train iteration of the paper networks (batch 1 and 4;
CycleGAN's, or pix2pix's with --model pix2pix), its FLOPs counted from the traced graph and their rate
against the best fp32 matmul any library reaches here (TensorFlow's, NumPy's BLAS, PyTorch's when
installed), the input pipeline alone, and the model's generator inference at 256x256 through Keras, the
SavedModel and each TFLite variant. `--only reference` times the PyTorch reference's iteration of the same
model on the same machine (torch_reference.py; needs the `torch` extra). Every measurement runs in a process
of its own (workers.py), so the peak resident memory reported is its own.
"""
