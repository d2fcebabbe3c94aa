"""`personax build` end to end: privacy, determinism, loading with `datasets`, reveal, CLI."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from build_fixtures import LLMS, make_project

from personax.build.export import BUILD_FILE, DATA_FILE, build_dataset, default_cache_path
from personax.build.privacy import pseudonym, read_key, reidentification_accuracy
from personax.build.reveal import reveal_dataset
from personax.build.text import EmbeddingCache, trait_documents
from personax.errors import BadInput


def _build(project, out: Path, minilm, key_path: Path | None = None, **kw):
    return build_dataset(
        roster=project.roster,
        traits=project.traits,
        store=project.store,
        key=read_key(key_path or project.key),
        out=out,
        images=project.images,
        text_embedder=minilm,
        **kw,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _emb_matrix(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    present = values.map(lambda v: v is not None).to_numpy()
    rows = [np.asarray(v, dtype=np.float64) for v in values[present]]
    return np.stack(rows), present


@pytest.fixture(scope="module")
def shared(tmp_path_factory, minilm):
    """One project and one build for the read-only tests (embedding is the slow part)."""
    root = tmp_path_factory.mktemp("build")
    project = make_project(root / "project")
    out = root / "dataset"
    report = _build(project, out, minilm)
    return project, out, report


@pytest.fixture
def built(shared):
    return shared


def test_report_counts(built):
    project, out, report = built
    assert report.rows == len(project.people)
    assert report.llms == LLMS
    assert report.images_missing == len(project.missing_image_ids)
    assert report.images_unreadable == len(project.unreadable_image_ids)
    assert report.texts_missing == {"chatgpt": 0, "gemini": 0, "llama": 1}
    assert report.attributes == ("league", "height")
    assert report.unique_attribute_rows == len(project.people)  # heights are all distinct
    assert sorted(_files(out)) == ["README.md", DATA_FILE, BUILD_FILE]


def test_same_inputs_and_key_give_same_bytes_and_use_the_cache(built, minilm, tmp_path):
    project, out, first = built
    assert first.texts_computed == first.texts_embedded
    again = _build(project, tmp_path / "again", minilm)
    assert again.texts_computed == 0 and again.texts_cached == first.texts_embedded
    assert _files(out) == _files(tmp_path / "again")
    # Recomputed from scratch (empty cache): still the same bytes.
    fresh = _build(project, tmp_path / "fresh", minilm, cache=tmp_path / "fresh-cache.sqlite")
    assert fresh.texts_computed == first.texts_embedded
    assert _files(out) == _files(tmp_path / "fresh")
    metadata = pq.read_metadata(out / DATA_FILE).metadata or {}
    assert b"pandas" not in metadata  # no library metadata that could carry a timestamp
    stamp = re.compile(rb"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}")  # dates or clock times
    for name in ("README.md", BUILD_FILE):
        assert not stamp.search((out / name).read_bytes()), name
    assert not stamp.search(repr(metadata).encode())


def test_different_key_gives_different_ids_and_embeddings(built, minilm, tmp_path):
    project, out, _ = built
    other = tmp_path / "other"
    _build(project, other, minilm, key_path=project.other_key)
    a = pd.read_parquet(out / DATA_FILE)
    b = pd.read_parquet(other / DATA_FILE)
    assert set(a["id"]).isdisjoint(b["id"])
    b = b.set_index(
        b["id"].map({pseudonym(read_key(project.other_key), i): i for i in project.people["id"]})
    )
    a = a.set_index(
        a["id"].map({pseudonym(read_key(project.key), i): i for i in project.people["id"]})
    )
    b = b.loc[a.index]
    for col in ("chatgpt_text_emb", "face_emb"):
        xa, _ = _emb_matrix(a[col])
        xb, _ = _emb_matrix(b[col])
        assert np.max(np.abs(xa - xb)) > 0.05
        # ... while distances are the same under both keys
        da = np.linalg.norm(xa[:, None] - xa[None], axis=-1)
        db = np.linalg.norm(xb[:, None] - xb[None], axis=-1)
        assert np.max(np.abs(da - db)) < 1e-6


def test_reveal_restores_embeddings_and_ids(built, minilm):
    project, out, _ = built
    revealed = reveal_dataset(out, read_key(project.key), roster=project.roster)
    assert set(revealed["id"]) == set(project.people["id"])
    assert revealed["pseudonym"].str.startswith("p").all()
    from personax.traits.store import TraitStore

    with TraitStore(project.store) as store:
        docs = trait_documents(store.answers())
    # The originals: what MiniLM computed during the build (kept in the cache; one recomputed).
    with EmbeddingCache(default_cache_path(project.store)) as cache:
        first = next(iter(docs.values()))
        cached = cache.get_many([EmbeddingCache.text_hash(first)], minilm.model_id)
        assert np.array_equal(next(iter(cached.values())), minilm.encode([first])[0])
        for m in LLMS:
            col = f"{m}_text_emb"
            ids = [pid for pid in revealed["id"] if (pid, m) in docs]
            hashes = [EmbeddingCache.text_hash(docs[(pid, m)]) for pid in ids]
            found = cache.get_many(hashes, minilm.model_id)
            expected = np.stack([found[h] for h in hashes])
            got, present = _emb_matrix(revealed.set_index("id").loc[ids, col])
            assert present.all()
            assert np.max(np.abs(got - expected)) < 1e-6
    nulls = revealed.set_index("id")["llama_text_emb"]
    assert nulls[project.people["id"][0]] is None
    faces = revealed.set_index("id")["face_emb"]
    no_face = set(project.missing_image_ids) | set(project.unreadable_image_ids)
    assert {pid for pid, v in faces.items() if v is None} == no_face
    # Without the roster, ids stay pseudonyms.
    assert reveal_dataset(out, read_key(project.key))["id"].str.startswith("p").all()


def test_reveal_reads_roster_ids_as_the_build_does(built, tmp_path):
    # " p000" was built as "p000", but reveal looked up " p000": no id mapped back, exit 0
    project, out, _ = built
    people = pd.read_csv(project.roster, dtype={"id": str})
    spaced = people.assign(id=" " + people["id"] + " ")
    roster = tmp_path / "spaced.csv"
    spaced.to_csv(roster, index=False)
    revealed = reveal_dataset(out, read_key(project.key), roster=roster)
    assert set(revealed["id"]) == set(people["id"])
    stranger = tmp_path / "stranger.csv"
    pd.DataFrame({"id": ["nobody"], "name": ["N"], "context": ["c"]}).to_csv(stranger, index=False)
    with pytest.raises(BadInput, match="none of its 1 ids is a person of"):
        reveal_dataset(out, read_key(project.key), roster=stranger)


def test_wrong_key_cannot_reveal_or_reidentify(built, minilm):
    project, out, _ = built
    with pytest.raises(BadInput, match="does not match"):
        reveal_dataset(out, read_key(project.other_key))
    # The attacker knows the true text embeddings and tries the wrong key's inverse.
    from personax.build.privacy import reveal as unrotate

    published = pd.read_parquet(out / DATA_FILE)
    truth = reveal_dataset(out, read_key(project.key))
    x_pub, present = _emb_matrix(published["gemini_text_emb"])
    x_true, _ = _emb_matrix(truth["gemini_text_emb"])
    guess = unrotate(x_pub, read_key(project.other_key), "gemini_text_emb")
    assert (
        reidentification_accuracy(x_true, unrotate(x_pub, read_key(project.key), "gemini_text_emb"))
        == 1.0
    )
    # 12 people: chance is 1/12; a wrong key must not do better than a few lucky hits.
    assert reidentification_accuracy(x_true, guess) <= 3 / len(x_true)


def test_no_names_descriptions_or_raw_ids_in_output(built):
    project, out, _ = built
    forbidden = (
        set(project.people["name"]) | set(project.people["context"]) | set(project.people["id"])
    )
    forbidden |= {"Fenwhistle", "Vexmoor", "trait pattern", "interviews"}
    for texts in project.descriptions.values():
        forbidden |= set(texts.values())
    raw = _files(out)
    # 1) the bytes of every file, as stored
    # 2) the decoded content of the Parquet file (compression would hide strings from 1)
    table = pq.read_table(out / DATA_FILE)
    decoded = (
        json.dumps(table.to_pylist(), default=str)
        + str(table.schema)
        + str(pq.read_metadata(out / DATA_FILE).metadata)
    )
    for needle in forbidden:
        for name, data in raw.items():
            assert needle.encode() not in data, (needle, name)
        assert needle not in decoded, needle
    assert "NBA" in decoded  # the scan does see carried-over strings


def test_roster_column_with_names_is_refused(project, minilm, tmp_path):
    roster = pd.read_csv(project.roster)
    roster["nickname"] = roster["name"]
    roster.to_csv(project.roster, index=False)
    with pytest.raises(BadInput, match="nickname"):
        _build(project, tmp_path / "x", minilm)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("zorvath fenwhistle0", "name"),  # a name in another case
        ("big fan of Quillane Fenwhistle1", "name"),  # a name inside a longer value
        ("contact me at someone@example.org", "free text"),
        ("+1-555-0107", "free text"),
        ("see https://example.org/p", "free text"),
        ("was born in a small town and moved to the capital at nine", "free text"),
    ],
)
def test_roster_columns_with_names_or_free_text_are_refused(
    project, minilm, tmp_path, value, needle
):
    roster = pd.read_csv(project.roster)
    roster["note"] = "NBA"
    roster.loc[3, "note"] = value
    roster.to_csv(project.roster, index=False)
    with pytest.raises(BadInput, match=f"'note' holds .*{needle}.*row 4"):
        _build(project, tmp_path / "x", minilm)
    assert not (tmp_path / "x").exists()


def test_short_categories_are_kept(project, minilm, tmp_path):
    roster = pd.read_csv(project.roster)
    # "Zorvath" is the first name of rows 0 and 8: elsewhere it is a one-word value equal to
    # a part of *another* person's name, which is kept (on rows 0 and 8 it is refused).
    roster["occupation"] = ["Premier League footballer", "actor", "Zorvath"] * 4
    roster.loc[8, "occupation"] = "actor"
    roster.to_csv(project.roster, index=False)
    report = _build(project, tmp_path / "x", minilm)
    assert "occupation" in report.attributes


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("final_o", "abc", "not a number"),
        ("chatgpt_o", 9, "outside 0..3"),
        ("chatgpt_o", -1, "outside 0..3"),
        ("final_o", 7.0, "outside 1..3"),
        # A text cell in a per-LLM score column once made it an attribute, dropped unchecked.
        ("chatgpt_o", "high", "trait score 'high' is not a number"),
        # validate only warns on it; a published 0 was a fourth level below the 1..3 scale
        ("final_o", 0.0, "': aggregated score 0 is not a level of the 1..3 scale"),
    ],
)
def test_invalid_trait_scores_are_refused(project, minilm, tmp_path, column, value, needle):
    traits = pd.read_csv(project.traits).astype({column: object})
    traits.loc[2, column] = value
    traits.to_csv(project.traits, index=False)
    with pytest.raises(BadInput, match=f"{column}.*{needle}"):
        _build(project, tmp_path / "x", minilm)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("row", "value"), [(2, 1.0), (2, 2.25), (3, np.nan)])
def test_an_aggregate_that_contradicts_its_per_llm_scores_is_refused(
    project, minilm, tmp_path, row, value
):
    traits = pd.read_csv(project.traits)
    llm = [c for c in traits.columns if c.endswith("_o") and not c.startswith("final")]
    traits.loc[row, llm] = 3
    traits.loc[row, "final_o"] = value
    traits.to_csv(project.traits, index=False)
    with pytest.raises(BadInput, match=f"row {row + 1}, column 'final_o': .* is not the median"):
        _build(project, tmp_path / "x", minilm)
    assert not (tmp_path / "x").exists()


def test_model_names_in_the_alias_table_keep_their_own_prefix(tmp_path):
    # `gpt` used to be published as chatgpt_* next to gpt_text_emb, and `llama` with `llama4`
    # was refused as two columns mapping to llama_o.
    from personax.build.export import _read_traits

    path = tmp_path / "traits.csv"
    pd.DataFrame(
        {"id": ["a", "b"], "gpt_o": [1, 3], "llama_o": [2, 3], "llama4_o": [2, 0]}
        | {"final_o": [2.0, 3.0]}
    ).to_csv(path, index=False)
    traits, columns = _read_traits(path)
    assert columns == ["gpt_o", "llama_o", "llama4_o", "final_o"]


def test_out_never_replaces_a_users_folder_or_file(project, minilm, tmp_path):
    inputs = sorted(p.name for p in Path(project.roster).parent.iterdir())
    with pytest.raises(BadInput, match="did not write"):
        _build(project, Path(project.roster).parent, minilm)
    assert sorted(p.name for p in Path(project.roster).parent.iterdir()) == inputs
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(BadInput, match="a file exists"):
        _build(project, afile, minilm)
    assert afile.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == before
    out = tmp_path / "dataset"
    _build(project, out, minilm)
    _build(project, out, minilm)  # a previous build is replaced as a whole
    assert (out / DATA_FILE).is_file()


def test_loads_with_datasets_and_validates(built, tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    project, out, _ = built
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    library_logger = logging.getLogger("datasets")  # has its own handler, may not propagate
    library_logger.addHandler(handler)
    try:
        ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
    finally:
        library_logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert not [m for m in messages if "dataset_info" in m or "malformed" in m], messages
    train = ds["train"]
    assert train.num_rows == len(project.people)
    assert "face_emb" in train.column_names and "name" not in train.column_names
    assert len(train[0]["chatgpt_text_emb"]) == 384
    from personax.data.validate import validate_table

    report = validate_table(out)
    assert report.ok, report.summary()
    from personax.cli.main import main

    assert main(["data", "validate", str(out)]) == 0


def test_card_has_header_and_sections(built):
    import yaml

    _, out, report = built
    text = (out / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["configs"][0]["data_files"][0]["path"] == "data/train-*.parquet"
    assert header["size_categories"] == ["n<1K"]
    assert {f["name"] for f in header["dataset_info"]["features"]} >= {"id", "face_emb", "final_o"}
    (split,) = header["dataset_info"]["splits"]
    assert split["name"] == "train" and split["num_examples"] == report.rows
    assert split["num_bytes"] == pq.read_table(out / DATA_FILE).nbytes > 0
    assert header["dataset_info"]["download_size"] == (out / DATA_FILE).stat().st_size
    for section in (
        "## Motivation",
        "## Composition",
        "## Collection process",
        "## Preprocessing",
        "## Uses",
        "## Terms of use",
        "## Distribution",
        "## Maintenance",
    ):
        assert section in text
    for phrase in (
        "non-commercial",
        "high-stakes",
        "profiling",
        "re-identification",
        "LLM-inferred",
    ):
        assert phrase in text
    assert report.prompt_version in text and "pixel-projection" in text


# -- command line ---------------------------------------------------------------------------


def _cli_args(project, out: Path, key: Path | None = None, roster: Path | None = None):
    return [
        "build",
        "--roster",
        roster or project.roster,
        "--traits",
        project.traits,
        "--store",
        project.store,
        "--key-file",
        key or project.key,
        "--out",
        out,
        "--images",
        project.images,
    ]


def test_cli_build_and_reveal(built, minilm, tmp_path, monkeypatch, capsys):
    from personax.cli.main import main

    project = built[0]
    monkeypatch.setattr("personax.build.export.TextEmbedder", lambda model=None: minilm)
    out = tmp_path / "cli-ds"
    assert main([str(a) for a in _cli_args(project, out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "2 missing, 1 unreadable" in printed
    # the builder learns which file to fix (it used to get only the count)
    (bad,) = project.unreadable_image_ids
    assert f"warning: unreadable image {project.images}/{bad}." in captured.err
    assert "llama: 1 person without descriptions" in printed
    revealed = tmp_path / "revealed.parquet"
    code = main(
        [
            "data",
            "reveal",
            str(out),
            "--key-file",
            str(project.key),
            "--out",
            str(revealed),
            "--roster",
            str(project.roster),
            "--seed",
            "3",
        ]
    )
    assert code == 0
    assert set(pd.read_parquet(revealed)["id"]) == set(project.people["id"])
    code = main(
        [
            "data",
            "reveal",
            str(out),
            "--key-file",
            str(project.other_key),
            "--out",
            str(tmp_path / "bad.parquet"),
        ]
    )
    assert code == 2 and not (tmp_path / "bad.parquet").exists()
    code = main(
        [
            "data",
            "reveal",
            str(out),
            "--key-file",
            str(project.key),
            "--out",
            str(tmp_path / "x.csv"),
        ]
    )
    assert code == 2


def test_cli_build_draws_no_model_loading_bar(built, tmp_path, capsys):
    from transformers.utils import logging as transformers_logging

    from personax.cli.main import main

    project = built[0]  # loads the real model (texts come from the shared build's cache)
    assert main([str(a) for a in _cli_args(project, tmp_path / "quiet")]) == 0
    err = capsys.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err, err
    assert transformers_logging.is_progress_bar_enabled()  # the setting is restored


@pytest.mark.parametrize(
    "problem",
    [
        "missing-key",
        "empty-key",
        "short-key",
        "roster-columns",
        "duplicate-id",
        "no-store",
        "bad-text-model",
        "bad-image-encoder",
        "no-images-folder",
        "no-shared-id",
        "encoder-without-images",
    ],
)
def test_cli_bad_input_exits_2(built, tmp_path, capsys, problem):
    from personax.cli.main import main

    project = built[0]
    key, roster = project.key, project.roster
    if problem == "missing-key":
        key = tmp_path / "absent.key"
    elif problem == "empty-key":
        key = tmp_path / "empty.key"
        key.write_bytes(b"")
    elif problem == "short-key":
        key = tmp_path / "short.key"
        key.write_bytes(b"0123456789")
    elif problem == "roster-columns":
        roster = tmp_path / "roster.csv"
        project.people.drop(columns=["name"]).to_csv(roster, index=False)
    elif problem == "duplicate-id":
        roster = tmp_path / "roster.csv"
        pd.concat([project.people, project.people.iloc[:1]]).to_csv(roster, index=False)
    args = _cli_args(project, tmp_path / "out", key=key, roster=roster)
    if problem == "no-store":
        args[args.index("--store") + 1] = tmp_path / "no-store.sqlite"
    if problem == "bad-text-model":
        args += ["--text-model", str(tmp_path / "no-such-model")]
    if problem == "bad-image-encoder":
        args += ["--image-encoder", "imagebind"]
    if problem == "no-images-folder":
        args[args.index("--images") + 1] = tmp_path / "no-images"
    if problem == "encoder-without-images":  # it was dropped, and the build went ahead
        at = args.index("--images")
        del args[at : at + 2]
        args += ["--image-encoder", "clip:/models/clip"]
    if problem == "no-shared-id":
        strangers = tmp_path / "strangers.csv"
        strangers.write_text("id,final_o\nzzz,2\n")
        args[args.index("--traits") + 1] = strangers
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    if problem in ("missing-key", "empty-key", "short-key"):
        assert "head -c 32 /dev/urandom" in err and "0123456789" not in err
    if problem == "roster-columns":
        assert "name" in err
    if problem == "no-shared-id":
        assert "strangers.csv" in err and "roster" in err
    if problem == "encoder-without-images":
        assert "'clip:/models/clip' embeds the images of --images, which is not given" in err


def test_partial_traits_overlap_warns(built, minilm, tmp_path):
    project = built[0]
    traits = pd.read_csv(project.traits)
    partial = tmp_path / "partial.csv"
    pd.concat([traits.iloc[:3], traits.iloc[:1].assign(id="stranger")]).to_csv(partial, index=False)
    report = build_dataset(
        roster=project.roster,
        traits=partial,
        store=project.store,
        key=read_key(project.key),
        out=tmp_path / "partial-ds",
        text_embedder=minilm,
    )
    assert report.traits_missing == len(project.people) - 3
    assert any("not in the roster" in w for w in report.warnings)


def test_build_without_images_has_no_face_column(built, minilm, tmp_path):
    project = built[0]
    out = tmp_path / "no-images"
    report = build_dataset(
        roster=project.roster,
        traits=project.traits,
        store=project.store,
        key=read_key(project.key),
        out=out,
        text_embedder=minilm,
    )
    assert report.image_encoder is None and report.texts_computed == 0
    assert "face_emb" not in pq.read_schema(out / DATA_FILE).names
    assert "none were given" in (out / "README.md").read_text()


def test_unique_attribute_rows():
    from personax.build.export import unique_attribute_rows

    frame = pd.DataFrame({"a": ["x", "x", "y", None, None], "b": [1, 1, 2, np.nan, np.nan]})
    assert unique_attribute_rows(frame, ["a", "b"]) == 1
    assert unique_attribute_rows(frame, ["a"]) == 1
    assert unique_attribute_rows(frame, []) == 0
    assert unique_attribute_rows(frame.iloc[:0], ["a"]) == 0


def test_store_with_several_prompt_versions_needs_a_choice(tmp_path, minilm):
    from build_fixtures import PROMPT_VERSION

    from personax.traits.store import Cell, TraitStore

    project = make_project(tmp_path / "p")
    with TraitStore(project.store) as store:
        other = "text-l5-inc-0000cafe"
        store.register_run(
            prompt={
                "version": other,
                "name": "text-l5-inc",
                "answer": "text",
                "levels": 5,
                "insufficient": True,
            },
            models=[{"name": "chatgpt"}],
            # as the fixture's store knows the person (an answered id keeps its name)
            people=project.people.loc[[0], ["id", "name", "context"]],
            cells=[Cell(project.people["id"][0], "chatgpt", other, 0)],
        )
    with pytest.raises(BadInput, match="several prompt versions"):
        _build(project, tmp_path / "out", minilm)
    with pytest.raises(BadInput, match="no answers for prompt 'number-l5'"):
        _build(project, tmp_path / "out", minilm, prompt_version="number-l5")
    with pytest.raises(BadInput, match="no ok answers for prompt version 'text-l5-inc-0000cafe'"):
        _build(project, tmp_path / "out", minilm, prompt_version="text-l5-inc")
    assert PROMPT_VERSION.startswith("number-l3-inc")
    assert not (tmp_path / "out").exists()


def test_cli_reveal_refuses_out_inside_the_dataset(tmp_path, capsys):
    from personax.cli.main import main

    # Refused before anything is read, so a stand-in dataset folder is enough.
    dataset = tmp_path / "ds"
    (dataset / "data").mkdir(parents=True)
    published = dataset / "data" / "train-00000-of-00001.parquet"
    published.write_bytes(b"hidden table")
    key = tmp_path / "KEY"
    key.write_bytes(bytes(range(32)))
    args = ["data", "reveal", str(dataset), "--key-file", str(key), "--out", str(published)]
    assert main(args) == 2
    assert published.read_bytes() == b"hidden table"
    assert "inside the input" in capsys.readouterr().err


def _names_roster(name: str, value: object) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["a1", "a2"], "name": [name, "John Doe"], "context": "-", "note": [value, "x"]}
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Jane Roe", "Roe, Jane"),  # reversed order
        (unicodedata.normalize("NFD", "José Roé"), unicodedata.normalize("NFC", "José Roé")),
        (unicodedata.normalize("NFC", "José Roé"), "Jose Roe"),  # accents dropped
        ("Li", "LI"),
    ],
)
def test_names_in_other_order_or_normalisation_are_refused(name, value):
    from personax.build.export import _check_no_names

    with pytest.raises(BadInput, match="'note' holds a person's name \\(row 1\\)"):
        _check_no_names(_names_roster(name, value), ["note"], "r.csv")


@pytest.mark.parametrize("value", ["Roe", "J. Roe", "JaneRoe", "roe jane", "Jane"])
def test_a_part_of_the_rows_own_name_is_refused(value):
    from personax.build.export import _check_no_names

    with pytest.raises(BadInput, match="'note' holds a person's name \\(row 1"):
        _check_no_names(_names_roster("Jane Roe", value), ["note"], "r.csv")


def test_a_value_that_equals_a_part_of_its_own_name_in_one_row_only_is_kept():
    # Shaun White's ethnicity, Allan Houston's team city: one coincidence is not a name column.
    from personax.build.export import _check_no_names

    roster = pd.DataFrame(
        {
            "id": ["a1", "a2", "a3", "a4"],
            "name": ["Shaun White", "Allan Houston", "Jane Roe", "Mia Hamm"],
            "ethnicity": ["White", "Black", "Asian", "White"],
            "team_city": ["Denver", "Houston", "Boston", "Miami"],
            "code": ["USA", "USA", "GBR", "MIA"],
        }
    )
    _check_no_names(roster, ["ethnicity", "team_city", "code"], "r.csv")
    roster["last"] = ["White", "Houston", "Roe", "x"]  # three of four rows: a name column
    with pytest.raises(BadInput, match="'last' holds a person's name \\(row 1: .* 3 of its 4"):
        _check_no_names(roster, ["last"], "r.csv")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("twitter.com/janeroe7", "a web address"),
        ("en.wikipedia.org/wiki/Q42", "a web address"),
        ("ftp://files.example.org/x", "a web address"),
        ("Q5284", "a Wikidata id"),
        ("555-0101", "a phone number"),
    ],
)
def test_contact_details_without_a_scheme_are_refused(value, reason):
    from personax.build.export import _check_no_names

    with pytest.raises(BadInput, match=f"row 1: it looks like {reason}\\)"):
        _check_no_names(_names_roster("Jane Roe", value), ["note"], "r.csv")


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("phone", [5550101, 5550102]),  # an integer column: no value check would see it
        ("lastName", ["x", "y"]),
        ("Twitter handle", ["x", "y"]),
        ("e_mail", ["x", "y"]),
        ("birth_name", ["x", "y"]),
    ],
)
def test_columns_named_as_contact_details_or_name_parts_are_refused(column, values):
    from personax.build.export import _check_no_names

    roster = pd.DataFrame({"id": ["a1", "a2"], "name": ["Jane Roe", "John Doe"], column: values})
    with pytest.raises(BadInput, match=f"'{column}' is refused \\(its name says"):
        _check_no_names(roster, [column], "r.csv")


def test_categories_near_the_new_patterns_are_kept():
    from personax.build.export import _check_no_names

    roster = pd.DataFrame(
        {
            "id": ["a1", "a2", "a3"],
            "name": ["Maria da Silva", "John Doe", "Li"],
            "language": ["da", "en", "zh"],  # a name particle alone is not a name part
            "season": ["2010-11", "2011-12", "2012-13"],
            "team_name": ["St. Louis Blues", "Q4 Ltd", "v1.2 club"],
            "quarter": ["Q1", "Q12", "Q99"],
            "jersey": [23, 7, 11],
            "award": ["Time 100 2019", "Forbes 400 2018", "Top 100 2015"],
            "sponsor": ["ESPN.com", "Amazon.com", "@home"],
            "span": ["2009-10/2010-11", "1995-2005", "12/05/1990"],
            "instagram_followers": [10, 20, 30],
            "last_team_name": ["a", "b", "c"],
        }
    )
    columns = [c for c in roster.columns if c not in ("id", "name")]
    _check_no_names(roster, columns, "r.csv")


def test_one_word_name_inside_a_longer_value_is_kept():
    from personax.build.export import _check_no_names

    _check_no_names(_names_roster("Li", "Li Ning store"), ["note"], "r.csv")


@pytest.mark.parametrize("copy", [["a1", "a2"], ["a1", "zz"], [" a1", None]])
def test_attribute_repeating_the_ids_is_refused(copy):
    from personax.build.export import _check_no_ids

    roster = pd.DataFrame({"id": ["a1", "a2"], "name": ["A B", "C D"], "player_id": copy})
    with pytest.raises(BadInput, match="'player_id' repeats the person's id \\(row 1\\)"):
        _check_no_ids(roster, ["player_id"], "r.csv")


def test_numbers_that_equal_a_numeric_id_by_chance_are_kept():
    from personax.build.export import _check_no_ids

    roster = pd.DataFrame({"id": ["1", "2", "3", "4"], "birth_day": [1, 9, 9, 9]})
    _check_no_ids(roster, ["birth_day"], "r.csv")
    roster["player_id"] = [1.0, 2.0, 3.0, np.nan]  # most rows: a copy of the ids
    with pytest.raises(BadInput, match="player_id"):
        _check_no_ids(roster, ["player_id"], "r.csv")


@pytest.mark.parametrize("own", [".git/HEAD", "LICENSE", ".gitattributes", "data/extra.parquet"])
def test_rebuild_refuses_a_build_folder_holding_other_files(tmp_path, own):
    from personax.build.export import _check_dataset_dir

    out = tmp_path / "ds"
    for name in (DATA_FILE, "README.md", BUILD_FILE, own):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("x")
    shown = own if own.startswith("data/") else own.split("/")[0]  # a foreign folder is named
    with pytest.raises(BadInput, match=f"holds {re.escape(shown)}, which a build does not write"):
        _check_dataset_dir(out)
    (out / own).unlink()
    if own == ".git/HEAD":
        (out / ".git").rmdir()
    _check_dataset_dir(out)  # only what a build writes: may be replaced


def test_both_roster_readers_strip_ids_alike(tmp_path):
    # infer run stored ' a1' as 'a1'; a build that kept the spaces silently lost its traits.
    from personax.build.export import _read_roster
    from personax.traits.runner import load_roster

    roster = tmp_path / "r.csv"
    roster.write_text("id,name,context\n a1,Jane Roe,NBA\na2 ,John Doe,NFL\n")
    assert list(_read_roster(roster)["id"]) == list(load_roster(roster)["id"]) == ["a1", "a2"]
    roster.write_text("id,name,context\na1,Jane Roe,NBA\na1 ,John Doe,NFL\n")
    for read in (_read_roster, load_roster):
        with pytest.raises(
            BadInput, match="'a1' appears more than once .*spaces.*data rows 1 and 2"
        ):
            read(roster)


def test_dates_are_not_free_text():
    from personax.build.export import _check_no_names

    roster = pd.DataFrame(
        {
            "id": ["a1", "a2"],
            "name": ["Jane Roe", "John Doe"],
            "birth_date": ["1990-05-12", "1991-06-13 08:30:00"],
            "born": pd.to_datetime(["1990-05-12", "1991-06-13"]),  # a Parquet datetime column
            "born_utc": pd.to_datetime(["1990-05-12", "1991-06-13"]).tz_localize("UTC"),
        }
    )
    _check_no_names(roster, ["birth_date", "born", "born_utc"], "r.csv")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("+1-555-0107", "it looks like a phone number"),
        ("a@b.org", "it looks like an e-mail address"),
        ("one two three four five six seven", "7 words, more than 6"),
    ],
)
def test_free_text_message_states_the_reason(value, reason):
    from personax.build.export import _check_no_names

    roster = pd.DataFrame({"id": ["a1"], "name": ["Jane Roe"], "note": [value]})
    with pytest.raises(BadInput, match=f"row 1: {reason}\\)"):
        _check_no_names(roster, ["note"], "r.csv")


def test_traits_headers_are_case_folded_without_renaming_models(tmp_path):
    from personax.build.export import _read_traits

    path = tmp_path / "traits.csv"
    path.write_text("ID,GPT_O,Llama4_O,Final_O\na,1,3,2\nb,3,3,3\n")
    traits, columns = _read_traits(path)
    assert columns == ["gpt_o", "llama4_o", "final_o"] and list(traits["id"]) == ["a", "b"]


def test_an_aggregate_is_checked_also_where_a_model_gave_no_answer(tmp_path):
    # A failed model leaves its score empty; the median of the others still decides.
    from personax.build.export import _read_traits

    path = tmp_path / "traits.csv"
    path.write_text("id,gpt_o,llama4_o,final_o\na,,3,1\n")
    with pytest.raises(BadInput, match="row 1, column 'final_o': 1 is not the median .* \\(3\\)"):
        _read_traits(path)
    path.write_text("id,gpt_o,llama4_o,final_o\na,,3,3\n")
    _read_traits(path)


def _edited_traits(project, tmp_path, edit) -> Path:
    """The project's traits table after ``edit``, its final_<t> recomputed (so that only the
    store check can object)."""
    table = edit(pd.read_csv(project.traits, dtype={"id": str}))
    for t in "ocean":
        per_llm = [c for c in table.columns if c.endswith(f"_{t}") and c != f"final_{t}"]
        scores = table[per_llm].replace(0, np.nan)
        table[f"final_{t}"] = scores.median(axis=1)
    path = tmp_path / "edited.csv"
    table.to_csv(path, index=False)
    return path


def _assert_refused(project, roster, traits, out, minilm, message) -> None:
    """build_dataset raises BadInput matching ``message`` and leaves no ``out``."""
    with pytest.raises(BadInput, match=message):
        build_dataset(
            roster=roster, traits=traits, store=project.store,
            key=read_key(project.key), out=out, text_embedder=minilm,
        )  # fmt: skip
    assert not out.exists()


def _bump_one_score(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[1, "chatgpt_o"] = table.loc[1, "chatgpt_o"] % 3 + 1
    return table


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # a score the store's answers do not give (another prompt version's table, an edit)
        (_bump_one_score, "id 'ath001', column 'chatgpt_o' is .*, but the answers of prompt"),
        # an LLM the store never asked
        (lambda t: t.assign(mistral_c=1), "scores of mistral, which .* has no answers from"),
    ],
)
def test_build_refuses_traits_that_are_not_the_stores_answers(tmp_path, minilm, edit, message):
    # the dataset published the table's scores beside descriptions from the store's answers,
    # whichever prompt version or models the table came from
    project = make_project(tmp_path / "project")
    traits = _edited_traits(project, tmp_path, edit)
    _assert_refused(project, project.roster, traits, tmp_path / "ds", minilm, message)


def test_build_refuses_aggregated_scores_the_store_does_not_give(tmp_path, minilm):
    # a table of id and final_* only passed the store check whatever its scores were
    project = make_project(tmp_path / "project")
    table = pd.read_csv(project.traits, dtype={"id": str})
    finals = table[["id", *(f"final_{t}" for t in "ocean")]].copy()
    path = tmp_path / "finals.csv"
    finals.to_csv(path, index=False)
    build_dataset(
        roster=project.roster, traits=path, store=project.store,
        key=read_key(project.key), out=tmp_path / "ok", text_embedder=minilm,
    )  # fmt: skip
    finals.loc[2, "final_e"] = 3.0 if finals.loc[2, "final_e"] != 3.0 else 1.0
    finals.to_csv(path, index=False)
    message = f"id '{finals.loc[2, 'id']}', column 'final_e' is .*, but the answers of prompt"
    _assert_refused(project, project.roster, path, tmp_path / "ds", minilm, message)


def test_build_refuses_a_roster_whose_id_names_another_person(tmp_path, minilm):
    # the build joined the store's traits to the roster's attributes by id alone
    project = make_project(tmp_path / "project")
    people = pd.read_csv(project.roster, dtype={"id": str})
    people.loc[2, "name"] = "Dorn Brackwell"
    roster = tmp_path / "roster.csv"
    people.to_csv(roster, index=False)
    message = (
        f"{roster}: row 3, id 'ath002' is 'Dorn Brackwell' .* asked about 'Brantley Fenwhistle2'"
    )
    _assert_refused(project, roster, project.traits, tmp_path / "ds", minilm, message)


def test_build_refuses_roster_attributes_that_validate_rejects(tmp_path, minilm):
    # a height of 0 was published, and `data validate` then rejected the dataset
    project = make_project(tmp_path / "project")
    people = pd.read_csv(project.roster, dtype={"id": str})
    people.loc[3, "height"] = 0.0
    roster = tmp_path / "roster.csv"
    people.to_csv(roster, index=False)
    with pytest.raises(BadInput, match=f"{roster}: row 4, column 'height': 0 is not positive"):
        build_dataset(
            roster=roster, traits=project.traits, store=project.store,
            key=read_key(project.key), out=tmp_path / "ds", text_embedder=minilm,
        )  # fmt: skip
    assert not (tmp_path / "ds").exists()
