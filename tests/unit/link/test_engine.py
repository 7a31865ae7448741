"""The linkage engine seam (``joinedup.link.engine``) without starting Spark: settings, the
model's SQL on Spark, the engine-independent artefact, and the node's engine setting."""

from __future__ import annotations

import random
import re
from pathlib import Path

import duckdb
import jellyfish
import pyarrow as pa
import pytest

from joinedup.config import load_node
from joinedup.errors import ConfigError, LinkageError
from joinedup.ingest import init_node
from joinedup.link.engine import EngineSpec, settings_for_spark, spark_sql, with_sql_of
from joinedup.link.probabilistic import untrained_settings
from joinedup.link.refresh import node_engine
from joinedup.link.settings import COMPARED_STANDARD_COLUMNS, model_spec

DUCKDB_ONLY = re.compile(r"jaro_winkler_similarity|list_intersect|\blen\(|date_diff|strptime", re.I)


def _conditions(settings: dict[str, object]) -> list[str]:
    out = []
    for comparison in settings["comparisons"]:  # type: ignore[attr-defined]
        for level in comparison["comparison_levels"]:
            out.append(level["sql_condition"])
    return out


def test_person_index_settings_on_spark_use_no_duckdb_function() -> None:
    duck = untrained_settings()
    spark = settings_for_spark(duck)
    assert any(DUCKDB_ONLY.search(c) for c in _conditions(duck))
    assert not any(DUCKDB_ONLY.search(c) for c in _conditions(spark))
    assert len(_conditions(spark)) == len(_conditions(duck))
    assert duck == untrained_settings()  # the input is not changed


def test_link_files_settings_for_spark_quote_columns_as_columns() -> None:
    # custom levels in DuckDB SQL quote columns with "..."; in Spark SQL that is a string
    model = model_spec(COMPARED_STANDARD_COLUMNS)
    spark = model.splink_settings(link_type="dedupe_only", dialect="spark")
    duck = model.splink_settings(link_type="dedupe_only")
    assert any('"given_name_l"' in c for c in _conditions(duck))
    assert not any('"' in c for c in _conditions(spark))
    assert not any(DUCKDB_ONLY.search(c) for c in _conditions(spark))


def test_a_model_keeps_its_parameters_and_takes_the_other_sql() -> None:
    duck = untrained_settings()
    trained = settings_for_spark(duck)
    trained["probability_two_random_records_match"] = 0.001
    trained["comparisons"][0]["comparison_levels"][1]["m_probability"] = 0.7
    back = with_sql_of(trained, duck)
    assert _conditions(back) == _conditions(duck)
    assert back["comparisons"][0]["comparison_levels"][1]["m_probability"] == 0.7
    assert back["probability_two_random_records_match"] == 0.001
    other = model_spec(("given_name",)).splink_settings(link_type="dedupe_only")
    with pytest.raises(LinkageError, match="different comparisons"):
        with_sql_of(trained, other)


def test_unknown_duckdb_function_is_refused_by_name() -> None:
    with pytest.raises(LinkageError, match="list_reverse"):
        spark_sql("list_reverse(a_l) = a_r")
    with pytest.raises(LinkageError, match="months"):
        spark_sql("date_diff('month', a_l, a_r) <= 1")


def test_jellyfish_jaro_winkler_is_duckdbs() -> None:
    # the Spark engine's jaro_winkler is jellyfish's; it must give DuckDB's values
    rng = random.Random(5)
    names = ["choudhury", "chowdhury", "martha", "marhta", "", "a", "mohammed", "muhammad"]
    names += [
        "".join(rng.choice("abdeilmnorstu") for _ in range(rng.randint(1, 11))) for _ in range(120)
    ]
    left = [a for a in names for _ in names]
    right = [b for _ in names for b in names]
    pairs = pa.table({"a": left, "b": right})
    con = duckdb.connect()
    con.register("pairs", pairs)
    got = [r[0] for r in con.execute("SELECT jaro_winkler_similarity(a, b) FROM pairs").fetchall()]
    want = [jellyfish.jaro_winkler_similarity(a, b) for a, b in zip(left, right, strict=True)]
    assert max(abs(g - w) for g, w in zip(got, want, strict=True)) < 1e-12


def test_node_engine_setting_is_read_and_checked(tmp_path: Path) -> None:
    node = init_node(tmp_path / "node")
    text = (node.root / "node.toml").read_text()
    assert 'linkage = "duckdb"' in text and 'spark_master = "local[2]"' in text
    assert node_engine(load_node(node.root)).name == "duckdb"
    (node.root / "node.toml").write_text(
        text.replace('linkage = "duckdb"', 'linkage = "spark"').replace(
            '"local[2]"', '"spark://linkage-master:7077"'
        )
    )
    engine = node_engine(load_node(node.root))
    assert engine.is_spark and engine.spark_master == "spark://linkage-master:7077"
    assert engine.checkpoint_dir == node.root / "tmp" / "spark"
    assert engine.spark_driver_memory == "1g"
    assert node_engine(load_node(node.root), "duckdb").name == "duckdb"
    (node.root / "node.toml").write_text(text.replace('linkage = "duckdb"', 'linkage = "flink"'))
    with pytest.raises(ConfigError, match=r"engine\.linkage"):
        load_node(node.root)
    (node.root / "node.toml").write_text(text.replace('"1g"', '"lots"'))
    with pytest.raises(ConfigError, match=r"engine\.spark_driver_memory"):
        load_node(node.root)
    with pytest.raises(ConfigError, match="unknown linkage engine 'flink'"):
        EngineSpec(name="flink")


def test_refresh_refuses_an_unknown_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from joinedup.cli.main import main

    node = init_node(tmp_path / "node")
    assert main(["node", "refresh", str(node.root), "--engine", "flink"], {}) == 2
    assert "Unknown engine 'flink'" in capsys.readouterr().out


def test_link_files_refuses_a_bad_driver_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from joinedup.cli.main import main

    f = tmp_path / "people.csv"
    f.write_text("record_id,given_name\n1,Ann\n")
    args = ["link", "files", str(f), "--out", str(tmp_path / "out"), "--engine", "spark"]
    assert main([*args, "--spark-driver-memory", "lots"], {}) == 2
    assert "--spark-driver-memory lots" in capsys.readouterr().err
