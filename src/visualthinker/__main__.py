import sys

from visualthinker.cli.main import main

sys.exit(main())
