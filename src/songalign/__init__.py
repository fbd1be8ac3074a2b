"""songalign: joint embeddings of song audio, lyrics and the emotion in lyrics."""

__version__ = "0.1.0"
