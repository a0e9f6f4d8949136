import sys

from tf_cyclegan.bench.cli import main

sys.exit(main())
