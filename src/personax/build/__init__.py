"""Dataset build: text and image embeddings, privacy transforms, dataset card, export, fetch.

Entry points: :func:`personax.build.export.build_dataset`,
:func:`personax.build.reveal.reveal_dataset`, :func:`personax.build.fetch.fetch_dataset`.
"""
