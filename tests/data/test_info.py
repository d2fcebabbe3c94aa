from __future__ import annotations

import json

from personax.data.info import table_info
from personax.data.sample import make_sample, write_sample


def test_info_of_sample(tmp_path):
    out = tmp_path / "c.csv"
    sample = make_sample("celebrity", n=200, seed=2, face_dim=6, text_dim=4)
    write_sample(sample, out)
    info = table_info(out)
    assert (info.n_rows, info.n_columns) == sample.table.shape
    assert len(info.attributes) == 23 and info.llms == ("chatgpt", "gemini", "llama")
    levels = {t.column: t for t in info.llm_traits}
    expected = sample.table["llama_o"].value_counts()
    assert levels["llama_o"].counts == {k: int(expected.get(k, 0)) for k in (0, 1, 2, 3)}
    final = {f.column: f for f in info.final_traits}["final_o"]
    assert final.missing == int(sample.table["final_o"].isna().sum())
    dims = {e.column: e.dims for e in info.embeddings}
    assert dims == {
        "face_emb": (6,),
        "chatgpt_text_emb": (4,),
        "gemini_text_emb": (4,),
        "llama_text_emb": (4,),
    }
    assert info.missing["weight"] == int(sample.table["weight"].isna().sum())
    json.dumps(info.to_json_dict())


def test_info_lists_renamed_and_unrecognised(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ID,Height(cm),Shoe size\na,180,44\n")
    info = table_info(path)
    assert info.renamed == {"ID": "id", "Height(cm)": "height"}
    assert info.unrecognised == ("Shoe size",)
