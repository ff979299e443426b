"""Stage 4, animations: RunResults -> each animated run's MP4, GIF, poster, filmstrip and captions.

``plan`` decides what a run's animation shows (no matplotlib); ``frames`` draws it off-screen; ``encode``
writes the files; ``render`` runs it all in parallel through the cache; ``captions`` tells it in words.
"""
