"""Naming learned latents: how each latent relates to each trait and attribute.

The paper named its latents by hand, guided by the Level I results. Here the step is a table:
Spearman correlation (monotone association, signed) and mutual information (any dependence,
scikit-learn's k-nearest-neighbour estimator, seeded) between every learned latent and every
trait or attribute column, and a suggested label per latent — the column with the largest
|Spearman ρ| (for example ``z_text_2 ≈ final_c, ρ = 0.71``).

Joining latents to the table: by ``id`` when both have an ``id`` column, otherwise by row
order (``personax crl train`` writes one latents row per input row, in input order); with row
order the two must have the same number of rows.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from personax.atomic import write_text
from personax.errors import BadInput
from personax.plotting import literal_text

# z_<modality>_<i>, the modality spelled as CRL datasets allow (crl.dataset.MODALITY_RE:
# `face_emb`, `my-text`), or s_<i>.
LATENT_COLUMN = re.compile(r"^(z_[A-Za-z][A-Za-z0-9_-]*_\d+|s_\d+)$")
MAX_CATEGORIES = 40
"""A text column with at most this many distinct values enters as a categorical attribute
(mutual information only; Spearman needs an order)."""
MIN_ROWS = 10


@dataclass(frozen=True)
class LatentLabel:
    latent: str
    feature: str
    spearman: float
    mutual_information: float
    runner_up: str
    runner_up_spearman: float

    @property
    def text(self) -> str:
        if not self.feature:
            return f"{self.latent}: no trait or attribute to compare with"
        return f"{self.latent} ≈ {self.feature}, ρ = {self.spearman:.2f}"


@dataclass(frozen=True)
class ExplainResult:
    latents: tuple[str, ...]
    features: tuple[str, ...]
    spearman: pd.DataFrame  # latents × features
    spearman_p: pd.DataFrame
    mutual_information: pd.DataFrame
    n: pd.DataFrame
    labels: tuple[LatentLabel, ...]
    notes: tuple[str, ...] = ()

    def long_table(self) -> pd.DataFrame:
        rows = []
        for lat in self.latents:
            for feat in self.features:
                rows.append(
                    {
                        "latent": lat,
                        "feature": feat,
                        "spearman": self.spearman.loc[lat, feat],
                        "spearman_p": self.spearman_p.loc[lat, feat],
                        "mutual_information": self.mutual_information.loc[lat, feat],
                        "n": int(self.n.loc[lat, feat]),
                    }
                )
        return pd.DataFrame(rows)

    def labels_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "latent": lab.latent,
                    "label": lab.feature,
                    "spearman": lab.spearman,
                    "mutual_information": lab.mutual_information,
                    "runner_up": lab.runner_up,
                    "runner_up_spearman": lab.runner_up_spearman,
                    "text": lab.text,
                }
                for lab in self.labels
            ]
        )


def latent_columns(df: pd.DataFrame) -> list[str]:
    return [str(c) for c in df.columns if LATENT_COLUMN.match(str(c))]


def check_latents_numeric(latents_df: pd.DataFrame, source: str = "latents") -> None:
    """BadInput naming the column and data row of the first latent value that is text
    (``pd.to_numeric(errors="coerce")`` would silently turn it into a missing value)."""
    for lat in latent_columns(latents_df):
        series = latents_df[lat]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            parsed = series.astype(float)
        else:
            parsed = pd.to_numeric(series, errors="coerce")
        # An infinite latent is a broken encoder, not a missing value: say so rather than
        # silently leave the row out of every comparison.
        infinite = np.flatnonzero(np.isinf(parsed.to_numpy(dtype=float)))
        if infinite.size:
            raise BadInput(
                f"{source}: latent column '{lat}' holds {parsed.iloc[int(infinite[0])]} "
                f"({_row_name(latents_df, int(infinite[0]))}); latents must be finite numbers "
                "(or empty where missing)."
            )
        bad = np.flatnonzero(parsed.isna().to_numpy() & series.notna().to_numpy())
        if bad.size:
            raise BadInput(
                f"{source}: latent column '{lat}' holds the text value "
                f"{series.iloc[int(bad[0])]!r} ({_row_name(latents_df, int(bad[0]))}); "
                "latents must be numbers."
            )


def _row_name(df: pd.DataFrame, position: int) -> str:
    """How an error names the row at ``position``: its data row in the file (1-based) while
    the index is still the file's, else the index label."""
    label = df.index[position]
    return f"data row {label + 1}" if isinstance(label, (int, np.integer)) else str(label)


def align_latents(
    latents_df: pd.DataFrame,
    table_df: pd.DataFrame,
    split: str | None = None,
    latents_source: str = "latents",
    table_source: str = "table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the latents and of the table for the same people, in the same order."""
    check_latents_numeric(latents_df, latents_source)  # here, while rows are the file's
    if "id" in latents_df.columns and "id" in table_df.columns:
        lat_ids = latents_df["id"].astype(str)
        tab_ids = table_df["id"].astype(str)
        for ids, source in ((lat_ids, latents_source), (tab_ids, table_source)):
            dup = ids[ids.duplicated()]
            if len(dup):
                raise BadInput(f"{source}: id '{dup.iloc[0]}' appears more than once.")
        position = pd.Series(np.arange(len(tab_ids)), index=tab_ids.to_numpy())
        missing = ~lat_ids.isin(position.index)
        if missing.any():
            raise BadInput(
                f"{latents_source}: id '{lat_ids[missing].iloc[0]}' is not in {table_source} "
                f"({int(missing.sum())} ids are missing)."
            )
        table_rows = table_df.iloc[position.loc[lat_ids.to_numpy()].to_numpy()]
    else:
        if len(latents_df) != len(table_df):
            raise BadInput(
                f"{latents_source} has {len(latents_df)} rows but {table_source} has "
                f"{len(table_df)}; without an id column in both, rows are matched by order."
            )
        table_rows = table_df
    latents_df = latents_df.reset_index(drop=True)
    table_rows = table_rows.reset_index(drop=True)
    if split is not None:
        if "split" not in latents_df.columns:
            raise BadInput(f"{latents_source}: --split {split} needs a 'split' column.")
        keep = (latents_df["split"].astype(str) == split).to_numpy()
        if not keep.any():
            raise BadInput(f"{latents_source}: no row has split '{split}'.")
        latents_df = latents_df[keep].reset_index(drop=True)
        table_rows = table_rows[keep].reset_index(drop=True)
    return latents_df, table_rows


def _feature_columns(
    table_df: pd.DataFrame, exclude: set[str]
) -> dict[str, tuple[np.ndarray, bool]]:
    """Comparable columns: numeric ones, and text columns with few categories (as codes).
    Returns name -> (values as float with NaN for missing, is_categorical)."""
    from personax.data.table import column_groups, is_trait_score
    from personax.independence.battery import prepare_column

    groups = column_groups(table_df)
    skip = set(groups.embeddings) | {"id", "split"} | exclude
    out: dict[str, tuple[np.ndarray, bool]] = {}
    for col in table_df.columns:
        name = str(col)
        if name in skip:
            continue
        series = table_df[col]
        if pd.api.types.is_bool_dtype(series) or (
            pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_complex_dtype(series)
        ):
            # the Level I coding, so a trait score of 0 ("insufficient information") is
            # missing here too instead of the lowest level
            column = prepare_column(table_df, name, trait=is_trait_score(name))
            out[name] = (column.values, False)
        elif series.dropna().map(lambda v: isinstance(v, str)).all():
            levels = sorted(series.dropna().unique())
            if 1 < len(levels) <= MAX_CATEGORIES:
                codes = series.map({v: float(i) for i, v in enumerate(levels)})
                out[name] = (codes.astype(float).to_numpy(), True)
    return out


def explain_latents(
    latents_df: pd.DataFrame,
    table_df: pd.DataFrame,
    seed: int = 0,
    n_neighbors: int = 3,
    latents_source: str = "latents",
    table_source: str = "table",
) -> ExplainResult:
    """Spearman ρ and mutual information between each latent and each trait/attribute.

    ``latents_df`` and ``table_df`` must be aligned row by row (see :func:`align_latents`);
    the sources (file names) are what error messages call them.
    """
    from sklearn.feature_selection import mutual_info_regression

    if len(latents_df) != len(table_df):
        raise BadInput(
            f"{latents_source} ({len(latents_df)} rows) and {table_source} "
            f"({len(table_df)} rows) are not aligned."
        )
    latents = latent_columns(latents_df)
    if not latents:
        raise BadInput(
            f"{latents_source}: no latent columns (named z_<modality>_<i> or s_<i>) in "
            f"{', '.join(map(str, latents_df.columns))}."
        )
    check_latents_numeric(latents_df, latents_source)
    features = _feature_columns(table_df, exclude=set(latents))
    if not features:
        raise BadInput(
            f"{table_source}: no numeric or categorical trait/attribute column to compare with."
        )
    notes = []
    names = list(features)
    shape = (len(latents), len(names))
    rho = np.full(shape, np.nan)
    rho_p = np.full(shape, np.nan)
    mi = np.full(shape, np.nan)
    counts = np.zeros(shape, dtype=int)
    for i, lat in enumerate(latents):
        z = pd.to_numeric(latents_df[lat], errors="coerce").to_numpy(dtype=float)
        for j, feat in enumerate(names):
            values, categorical = features[feat]
            ok = np.isfinite(z) & np.isfinite(values)
            counts[i, j] = int(ok.sum())
            if ok.sum() < MIN_ROWS or np.ptp(values[ok]) == 0 or np.ptp(z[ok]) == 0:
                continue
            if not categorical:
                res = stats.spearmanr(z[ok], values[ok])
                rho[i, j], rho_p[i, j] = float(res.statistic), float(res.pvalue)
            mi[i, j] = float(
                mutual_info_regression(
                    values[ok][:, None],
                    z[ok],
                    discrete_features=categorical,
                    n_neighbors=n_neighbors,
                    random_state=seed,
                )[0]
            )
    categorical_names = [n for n in names if features[n][1]]
    if categorical_names:
        notes.append(
            "Categorical columns (" + ", ".join(categorical_names) + ") have mutual "
            "information only: Spearman ρ needs ordered values."
        )
    labels = []
    for i, lat in enumerate(latents):
        strength = np.where(np.isfinite(rho[i]), np.abs(rho[i]), -1.0)
        order = np.argsort(-strength, kind="stable")
        if strength[order[0]] < 0:
            labels.append(LatentLabel(lat, "", np.nan, np.nan, "", np.nan))
            continue
        best = order[0]
        second = order[1] if len(order) > 1 and strength[order[1]] >= 0 else None
        labels.append(
            LatentLabel(
                latent=lat,
                feature=names[best],
                spearman=float(rho[i, best]),
                mutual_information=float(mi[i, best]),
                runner_up=names[second] if second is not None else "",
                runner_up_spearman=float(rho[i, second]) if second is not None else np.nan,
            )
        )

    def frame(values):
        return pd.DataFrame(values, index=latents, columns=names)

    return ExplainResult(
        latents=tuple(latents),
        features=tuple(names),
        spearman=frame(rho),
        spearman_p=frame(rho_p),
        mutual_information=frame(mi),
        n=frame(counts),
        labels=tuple(labels),
        notes=tuple(notes),
    )


@literal_text
def draw_heatmap(result: ExplainResult):
    """Two panels: Spearman ρ (signed) and mutual information, latents × features."""
    from matplotlib.figure import Figure

    n_lat, n_feat = len(result.latents), len(result.features)
    width = max(6.0, 0.42 * n_feat + 2.5)
    height = max(3.0, 0.38 * n_lat + 1.8)
    fig = Figure(figsize=(width, 2 * height))
    panels = (
        ("Spearman ρ", result.spearman.to_numpy(), "RdBu_r", -1.0, 1.0),
        (
            "mutual information (nats)",
            result.mutual_information.to_numpy(),
            "viridis",
            0.0,
            max(float(np.nanmax(result.mutual_information.to_numpy(), initial=0.0)), 1e-6),
        ),
    )
    annotate = n_lat * n_feat <= 400
    for k, (title, values, cmap, vmin, vmax) in enumerate(panels):
        ax = fig.add_subplot(2, 1, k + 1)
        image = ax.imshow(
            np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto"
        )
        ax.set_xticks(range(n_feat), result.features, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(n_lat), result.latents, fontsize=8)
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
        if annotate:
            for i in range(n_lat):
                for j in range(n_feat):
                    if np.isfinite(values[i, j]):
                        ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.tight_layout()
    return fig


def write_explain(result: ExplainResult, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write explain.csv (one row per latent × feature), labels.csv and heatmap.png/.svg."""
    from personax.discovery.draw import save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "explain": out / "explain.csv",
        "labels": out / "labels.csv",
        "png": out / "heatmap.png",
        "svg": out / "heatmap.svg",
    }
    write_text(paths["explain"], result.long_table().to_csv(index=False, lineterminator="\n"))
    write_text(paths["labels"], result.labels_table().to_csv(index=False, lineterminator="\n"))
    save_figure(draw_heatmap(result), paths["png"], paths["svg"], dpi=130)
    return paths
