"""The vocabulary every stage shares: number formats, languages and their catalogs, fonts, colours, even spacing.

Imports nothing of reportgen outside itself.
"""
