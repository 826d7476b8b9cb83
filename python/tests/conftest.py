import os
import sys

# The helpers module lives next to the tests.
sys.path.insert(0, os.path.dirname(__file__))
