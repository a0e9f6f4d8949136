"""Running generators after training: pre- and post-processing, one opener for every model kind, batch
translators, Translator for one image of any size, tiling with shared statistics, folders of files."""
