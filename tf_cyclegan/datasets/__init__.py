"""The dataset commands: python -m tf_cyclegan.datasets.combine (the aligned layout pix2pix reads) and
python -m tf_cyclegan.datasets.seasons (the embedded dataset); their library is tf_cyclegan.data."""
