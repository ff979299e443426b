"""Stage 5, figures: RunResults and graph evidence -> every SVG of a page (loss overlays, heatmaps, loss charts,
the two graphs) and its code listings, cached.

``draw`` is the stage; ``plots`` draws with matplotlib, ``loss_chart`` and ``dag`` write SVG by hand, ``svg``
makes a drawing fit the page.
"""
