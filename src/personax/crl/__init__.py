"""Level II: causal representation learning on multimodal, multi-measurement data.

Kept light on purpose (numpy only): the model, training and baselines import torch in their
own modules. Submodules: ``dataset`` (the CRL dataset format), ``metrics`` (MCC, kernel R²,
SHD), ``model``, ``train``, ``baselines``, ``bench``, and ``encode`` (a saved model on new rows).
"""

from personax.crl.dataset import (
    CRLDataset,
    check_latent_dims,
    crl_dataset_from_table,
    load_crl_dataset,
    parse_latent_dims,
    save_crl_dataset,
    split_indices,
)

__all__ = [
    "CRLDataset",
    "check_latent_dims",
    "crl_dataset_from_table",
    "load_crl_dataset",
    "parse_latent_dims",
    "save_crl_dataset",
    "split_indices",
]
