"""Stage 1, config: a TOML file (or the built-in homework) -> a validated :class:`~reportgen.config.schema.Config`,
its grid of :class:`~reportgen.config.grid.RunSpec`, and the page's layout of each sweep.

``schema`` declares every option once; ``load`` validates; ``document`` writes the commented file and the
README table; ``grid`` expands sweeps into runs; ``layout`` decides what the page shows of each sweep.
"""
