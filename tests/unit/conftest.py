import os
import sys

# The sources live at the top of the repository.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
