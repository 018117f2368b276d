import sys

from riff.cli import main

sys.exit(main())
