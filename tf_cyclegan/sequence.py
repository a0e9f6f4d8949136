"""The reference's ResnetGenerator as the list of modules its nn.Sequential holds, named by our layers.

CUT's --nce_layers are indices into this list, and the reference's state-dict keys are paths into it
(model.<index>...), so both come from here. Free of Keras: the config's checks read it before TensorFlow loads.
"""

from __future__ import annotations


def resnet_sequence(n_blocks: int, antialias: bool = False, antialias_up: bool = False,
                    norm: str = "instance") -> list[str]:
    """For each module of the reference's ResnetGenerator (CUT's, with anti-aliasing), the name of our
    layer whose output is that module's output. Norm 'none' is the reference's Identity module: the output
    of the layer before it."""
    norm_of = lambda before, name: name if norm != "none" else before  # noqa: E731
    seq = ["stem_pad", "stem_conv", norm_of("stem_conv", "stem_norm"), "stem_relu"]
    for i in range(2):
        seq += [f"down{i}_conv", norm_of(f"down{i}_conv", f"down{i}_norm"), f"down{i}_relu"]
        seq += [f"down{i}_blur"] if antialias else []
    seq += [f"block{i}_add" for i in range(n_blocks)]
    for i in range(2):
        resample = [f"up{i}_upsample", f"up{i}_conv"] if antialias_up else [f"up{i}_crop"]
        seq += resample + [norm_of(resample[-1], f"up{i}_norm"), f"up{i}_relu"]
    return seq + ["head_pad", "head_conv", "tanh"]
