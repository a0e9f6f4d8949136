"""Translate images through TF Serving's REST API (standard library only).

    python export/rest_client.py photo.jpg out.png [--server http://localhost:8501] [--model a2b]

The `translate_bytes` signature takes encoded images (JPEG, PNG, GIF, BMP) and returns PNGs. TF Serving's
REST API carries binary values as {"b64": "..."}, and returns outputs whose name ends in `_bytes` in the
same form: https://www.tensorflow.org/tfx/serving/api_rest#encoding_binary_values
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.request

SIGNATURE = "translate_bytes"


def build_request(images: list[bytes]) -> dict:
    """The predict request in TF Serving's row ("instances") format; the signature has one input."""
    return {"signature_name": SIGNATURE,
            "instances": [{"b64": base64.b64encode(data).decode("ascii")} for data in images]}


def parse_response(body: dict) -> list[bytes]:
    """PNG bytes from a predict response (one output: predictions are its values)."""
    out = []
    for prediction in body["predictions"]:
        if "b64" not in prediction:  # a signature with several outputs gives a dict per instance
            prediction = prediction["translated_bytes"]
        out.append(base64.b64decode(prediction["b64"]))
    return out


def predict(server: str, model: str, images: list[bytes], timeout: float = 60.0) -> list[bytes]:
    request = urllib.request.Request(f"{server.rstrip('/')}/v1/models/{model}:predict",
                                     data=json.dumps(build_request(images)).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return parse_response(json.loads(response.read()))


def command_line(predict, default_server: str, description: str, argv=None) -> int:
    """`IMAGE OUTPUT [--server] [--model]`: one image through predict(server, model, [bytes]), the PNG written
    to OUTPUT. The gRPC client shares it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("image")
    parser.add_argument("output")
    parser.add_argument("--server", default=default_server)
    parser.add_argument("--model", default="a2b",
                        help="a model folder of the export: a2b, b2a or another (EXPORT_DIR/models.config "
                             "names them)")
    args = parser.parse_args(argv)
    with open(args.image, "rb") as f:
        (png,) = predict(args.server, args.model, [f.read()])
    with open(args.output, "wb") as f:
        f.write(png)
    print(f"{args.image} -> {args.output} ({len(png)} bytes)")
    return 0


def main(argv=None) -> int:
    return command_line(predict, "http://localhost:8501", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
