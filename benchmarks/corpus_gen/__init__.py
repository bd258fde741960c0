"""Generator of the labelled accuracy corpus (issue #8): real runs logged by the real frameworks.

Modules: ``recipe`` (the framework-neutral description of one run and its fault), ``data`` (the
datasets, from sklearn's bundled data or generated arrays), ``torch_parts`` (models, losses and
fault injection shared by the PyTorch-based backends), one backend per framework
(``backend_torch``, ``backend_lightning``, ``backend_hf``, ``backend_keras``), ``scenarios`` (the
scenario families and their dev/test split), ``checks`` (the symptom each fault must produce, read
back from the written logs) and ``benchmarks/make_corpus.py`` (the parallel, resumable driver).
"""
