"""Translate images through TF Serving's gRPC API (pip install tensorflow-serving-api).

    python export/grpc_client.py photo.jpg out.png [--server localhost:8500] [--model a2b]
"""

from __future__ import annotations

import sys
from pathlib import Path

SIGNATURE = "translate_bytes"


def build_request(images: list[bytes], model: str = "a2b"):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = SIGNATURE
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    return request


def predict(server: str, model: str, images: list[bytes], timeout: float = 60.0) -> list[bytes]:
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    # Translated images can be large: raise gRPC's 4 MB default message limit.
    options = [("grpc.max_receive_message_length", 256 << 20), ("grpc.max_send_message_length", 256 << 20)]
    with grpc.insecure_channel(server, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(build_request(images, model), timeout=timeout)
    return list(response.outputs["translated_bytes"].string_val)


def main(argv=None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the command line is rest_client's, beside this file
    from rest_client import command_line

    return command_line(predict, "localhost:8500", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
