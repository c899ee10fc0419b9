"""Recording without transcoding: each recorded track's forwarded packets into a Matroska file.

``recorder.Recordings`` (what is recorded, the records, the warnings), ``rules`` (Recording
Rules), ``trackfile.TrackFile`` (one file), ``writer`` (the disk thread).
"""

from .recorder import MEDIA_LOST_S, Recordings
from .rules import default_rules, parse_rules

__all__ = ["MEDIA_LOST_S", "Recordings", "default_rules", "parse_rules"]
