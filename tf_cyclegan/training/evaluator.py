"""--eval_every: evaluate's measures on fixed test images during training, logged to TensorBoard under eval/
with evaluate's names (a2b is the A -> B generator, whichever of the model's networks that is; a model with
one direction has only its own)."""

from __future__ import annotations

import tensorflow as tf

from tf_cyclegan.core import directions
from tf_cyclegan.core.config import Config
from tf_cyclegan.data.pipeline import TrainingData
from tf_cyclegan.evaluation.measures import measure, summary_lines
from tf_cyclegan.models.modes import inference_generator
from tf_cyclegan.runtime.translators import keras_translator


class Evaluator:
    """The generators measured as evaluate measures them, with the weights of now."""

    def __init__(self, model, data: TrainingData, config: Config):
        real_x, real_y = data.eval_images(config)
        self.test_a, self.test_b = directions.swap_ab((real_x, real_y), config.direction)
        self.model = model
        # Train-mode copies of the generators and their translators, made once and brought up to the
        # generators' weights at each measurement.
        self.copies = {d: inference_generator(net, "train") for d, net in model.translators().items()}
        self.translators = {d: keras_translator(copy) for d, copy in self.copies.items()}
        self.paired = data.paired
        self.domains = directions.ab_names({"X": data.name_x, "Y": data.name_y}, config.direction)

    def __call__(self, writer, step: int) -> str:
        # The generators as evaluate runs them by default: the reference's test mode, with the weights of now.
        for direction, net in self.model.translators().items():
            inference_generator(net, "train", copy=self.copies[direction])
        t = self.translators
        results, _ = measure(t.get("a2b"), t.get("b2a"), self.test_a, self.test_b, self.paired)
        with writer.as_default(step=step):
            for direction, values in results.items():
                for name, value in values.items():
                    if name != "images":
                        tf.summary.scalar(f"eval/{direction}_{name}", value)
        lines = summary_lines({"domains": self.domains, **results})
        return (f"step {step}: eval on {len(self.test_a)} + {len(self.test_b)} test images\n" + "\n".join(lines))
