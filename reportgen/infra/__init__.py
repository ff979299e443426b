"""The build's machinery, under every stage: options, errors, the cache, the build stamp, output staging and the
lock, render executors, progress, reportgen's own source files, and the command's process tuned as a batch job.

Takes what the command line asks (:class:`~reportgen.infra.options.BuildOptions`); gives the stages a content-hash
cache, atomic writes, a staged site swapped in at the end, and clean one-line errors. Imports no stage.
"""
