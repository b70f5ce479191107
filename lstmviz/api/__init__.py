"""The Python API: what ``lstmviz.load_model``, ``lstmviz.extract`` and ``lstmviz.open`` give.

Modules: :mod:`~lstmviz.api.extraction` (an open file: views, tables, search, figures, the
dashboard), :mod:`~lstmviz.api.views` (lazy windows of the text and the activations),
:mod:`~lstmviz.api.figure` (figures that show in a notebook), :mod:`~lstmviz.api.making`
(extracting from Python). ``docs/api.md`` is the guide.
"""
