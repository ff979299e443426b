"""Stage 2, training: RunSpecs -> :class:`~reportgen.train.run.RunResult`, one per run.

``batched`` trains every run of the grid together by autograd (torch is imported only here); ``course`` is the
course's own loop, the reference it must match; ``analysis`` adds each run's closed-form facts; ``store``
keeps trained runs in the cache; ``run`` holds the types every later stage reads.
"""
