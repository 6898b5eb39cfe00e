"""`python -m bench.ogc`: see run.py."""
import sys

from bench.ogc.run import main

sys.exit(main())
