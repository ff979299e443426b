"""Stage 3, explanations: RunResults -> why each run stopped or not (``stops``), which general sentences hold
(``sweeps``), the closed form and the student's question (``theory``), and the graph evidence of tasks 2 and 3
captured from a real loss (``capture``, ``tracing``; plain data in ``evidence``).

Every number a page states comes from here, computed from this build's runs.
"""
