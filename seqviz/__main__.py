import sys

from seqviz.cli import main

sys.exit(main())
