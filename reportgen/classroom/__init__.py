"""The classroom: one variant of the homework per student, an answer key, grading, and each student's own report.

``reportgen class`` reads a roster (roster.py), derives each student's data from their id under the class
secret (variants.py), trains every student's homework runs in one batched program and writes the answer key
(key.py), one self-contained assignment per student without the graded answers (assign.py) and, with
``--reveal``, each student's full report. ``reportgen grade`` compares answers with the key (grade.py).
"""
