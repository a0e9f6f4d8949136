"""Translate a large photo through TF Serving's REST API, tile by tile, with shared statistics.

    python export/tiled_client.py photo.jpg out.png [--server http://localhost:8501] [--model a2b]
                                  [--tile 512] [--overlap 64] [--contract exported/a2b/1/tf_cyclegan.json]

The whole-image signatures refuse images over the export's --max_pixels, and a 12-megapixel photo would
need tens of GiB on the server. This client cuts the photo into overlapping tiles and calls the
`tile_statistics` signature once on a shrunk copy (the statistics every tile then shares) and
`translate_tile` once per tile, blending the float results as `translate` does (docs/translate.md#large-
images). It needs numpy, pillow and tf_cyclegan (for tf_cyclegan.runtime.tiling, which imports no TensorFlow); the
contract (tf_cyclegan.json of the served version) gives the statistics' layout.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request

import numpy as np


def predict(server: str, model: str, signature: str, inputs: dict, timeout: float = 600.0) -> dict:
    """One call in TF Serving's columnar ("inputs") format, which takes tensors without a batch dimension."""
    body = {"signature_name": signature, "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}
    request = urllib.request.Request(f"{server.rstrip('/')}/v1/models/{model}:predict",
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())["outputs"]


def served_model(server: str, model: str, contract: dict, call=predict):
    """tiling.TiledModel whose tiles run on the server."""
    from tf_cyclegan.runtime.tiling import TiledModel

    def run(tile, statistics, core):
        if statistics is None:
            out = call(server, model, "tile_statistics", {"tile": tile})
        else:
            core = [0.0, 0.0, 1.0, 1.0] if core is None else core  # None: no statistics wanted back
            out = call(server, model, "translate_tile", {"tile": tile, "statistics": statistics, "core": core})
        return np.asarray(out["translated"], np.float32), np.asarray(out["statistics"], np.float32)

    tiling = contract["tiling"]
    return TiledModel(run, tiling["norm_widths"], tiling["multiple"])


def main(argv=None) -> int:
    from PIL import Image

    from tf_cyclegan.runtime.tiling import TileOptions, translate_tiled

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("output")
    parser.add_argument("--server", default="http://localhost:8501")
    parser.add_argument("--model", default="a2b",
                        help="a model folder of the export: a2b, b2a or another (EXPORT_DIR/models.config "
                             "names them)")
    parser.add_argument("--contract", default="exported/a2b/1/tf_cyclegan.json",
                        help="the served version's tf_cyclegan.json")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    args = parser.parse_args(argv)
    with open(args.contract) as f:
        contract = json.load(f)
    if "tiling" not in contract:
        parser.error(f"--contract {args.contract}: this export has no tile signatures; export it again with "
                     "tf_cyclegan 0.5 or later")
    image = np.asarray(Image.open(args.image).convert("RGB"))
    model = served_model(args.server, args.model, contract)
    out = translate_tiled(model, image, TileOptions(args.tile, args.overlap, always_tile=True))
    Image.fromarray(out).save(args.output)
    print(f"{args.image} -> {args.output} ({out.shape[1]}x{out.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
